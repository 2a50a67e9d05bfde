//! The demo's producer side: the scenario's two feeds merged in event-time order,
//! keyed as the contract recommends, and paced to the consumer so librdkafka's
//! mock cluster (which keeps a bounded log per partition) never drops a record.

use crate::model::{Feed, TimeBounds};
use crate::validate::parse_bytes;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Records produced but not yet consumed, at most. The mock cluster keeps a
/// bounded log per partition: staying far below it means nothing is dropped.
const MAX_IN_FLIGHT: u64 = 8_000;

/// One line to produce: topic index (0 = SMS, 1 = measurements), key, bytes, event time.
pub struct FeedLine {
    pub feed: usize,
    pub key: Option<String>,
    pub bytes: Vec<u8>,
    pub(crate) event_ms: i64,
    /// Whether the line is a valid record (its event time is its own).
    pub(crate) valid: bool,
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    sim: Option<Cow<'a, str>>,
    #[serde(default)]
    mcc: Option<i64>,
    #[serde(default)]
    mnc: Option<i64>,
    #[serde(default)]
    lac: Option<i64>,
    #[serde(default)]
    cid: Option<i64>,
}

impl FeedLine {
    /// The line's event time (best effort: the previous line's for a line without one).
    pub fn event_ms(&self) -> i64 {
        self.event_ms
    }
}

/// Read a JSON Lines file, keeping every line (malformed ones included: they must
/// reach the dead-letter path) with its best-effort event time and key.
pub fn read_lines(path: &Path, feed: usize) -> std::io::Result<Vec<FeedLine>> {
    let mut out = Vec::new();
    let mut last_ms = 0i64;
    let feeds = [Feed::SmsVolume, Feed::Measurements];
    let bounds = TimeBounds::from_wall_clock();
    let depth = crate::config::PipelineConfig::default().max_json_depth;
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        // The event time the pipeline will give the record; a refused line (a bad
        // timestamp too) keeps the previous valid line's, so it cannot stretch the
        // span or the pacing.
        let parsed = parse_bytes(feeds[feed], &bounds, depth, &buf).ok();
        let valid = parsed.is_some();
        let (event_ms, key) = match serde_json::from_slice::<Peek>(&buf) {
            Ok(p) => {
                let t = parsed.map_or(last_ms, |e| e.event_time_ms());
                let key = if feed == 0 {
                    p.sim.map(Cow::into_owned)
                } else {
                    match (p.mcc, p.mnc, p.lac, p.cid) {
                        (Some(a), Some(b), Some(c), Some(d)) => Some(format!("{a}-{b}-{c}-{d}")),
                        _ => None,
                    }
                };
                (t, key)
            }
            Err(_) => (last_ms, None),
        };
        last_ms = event_ms.max(last_ms);
        out.push(FeedLine {
            feed,
            key,
            bytes: buf.clone(),
            event_ms: last_ms,
            valid,
        });
    }
    Ok(out)
}

/// Merge two feeds by event time, keeping each feed's own order.
pub fn merge(a: Vec<FeedLine>, b: Vec<FeedLine>) -> Vec<FeedLine> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.event_ms <= y.event_ms,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.push(if take_a { a.next() } else { b.next() }.expect("peeked"));
    }
    out
}

/// Produce `lines` to `topics` (SMS, measurements) in order, never more than
/// [`MAX_IN_FLIGHT`] ahead of `processed`; with `speed` > 0, `speed` seconds of event
/// time per wall second. Returns how many records were produced.
pub(super) fn produce_paced(
    brokers: &str,
    topics: &[String; 2],
    lines: Vec<FeedLine>,
    processed: &AtomicU64,
    progress: bool,
    speed: f64,
) -> Result<u64, KafkaError> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()?;
    let total = lines.len() as u64;
    let bar = progress.then(|| progress_bar(total));
    let first_ms = lines
        .iter()
        .find(|l| l.valid)
        .map(|l| l.event_ms)
        .unwrap_or(0);
    let started = Instant::now();
    let mut produced = 0u64;
    for line in lines {
        while produced.saturating_sub(processed.load(Ordering::Relaxed)) >= MAX_IN_FLIGHT {
            producer.poll(Duration::from_millis(2));
        }
        if speed > 0.0 {
            let due =
                Duration::from_secs_f64((line.event_ms - first_ms).max(0) as f64 / 1000.0 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(&topics[line.feed]).payload(line.bytes.as_slice());
        if let Some(k) = &line.key {
            record = record.key(k.as_str());
        }
        send(&producer, record)?;
        produced += 1;
        if let Some(b) = &bar {
            if produced % 1000 == 0 {
                b.set_position(processed.load(Ordering::Relaxed).min(produced));
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    if let Some(b) = bar {
        b.set_position(total);
        b.finish_with_message("all records produced");
    }
    Ok(produced)
}

/// Send one record, waiting while the producer's queue is full.
fn send(producer: &BaseProducer, record: BaseRecord<'_, str, [u8]>) -> Result<(), KafkaError> {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, back)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// The progress bar on standard error: records consumed of `total`.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} streaming {bar:40} {pos}/{len} records, {per_sec}, eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
