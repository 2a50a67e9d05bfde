//! Producing a scenario into the feed topics: its two files merged in event-time
//! order and keyed as the contract recommends, handed to the local broker as fast as
//! possible or at a fixed rate.

use crate::bench::scenario::Scenario;
use crate::demo::feed::{self, FeedLine};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The scenario's two feeds merged in event-time order and keyed as the contract
/// recommends (the demo's producer side).
pub(crate) fn load_lines(scenario: &Scenario) -> Result<Vec<FeedLine>, String> {
    let sms = feed::read_lines(&scenario.sms(), 0).map_err(|e| e.to_string())?;
    let meas = feed::read_lines(&scenario.measurements(), 1).map_err(|e| e.to_string())?;
    Ok(feed::merge(sms, meas))
}

/// Producer figures.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Produced {
    pub(crate) records: u64,
    pub(crate) seconds: f64,
    pub(crate) records_per_sec: f64,
}

/// How to produce: the pace and what to record of it.
pub(super) struct Pacing<'a> {
    /// Records per second; `None`: as fast as possible.
    pub(crate) rate: Option<f64>,
    pub(crate) linger_ms: u32,
    /// `sent[i]` gets the milliseconds since `t0` at which line `i` was handed over.
    pub(crate) t0: Instant,
    pub(crate) sent: Option<&'a [AtomicU64]>,
    /// Counts the lines handed over.
    pub(crate) counter: &'a AtomicU64,
}

/// The whole of `lines` as fast as possible (a backlog for the service to drain),
/// without blocking the async runtime's other tasks.
pub(super) fn produce_backlog(
    brokers: &str,
    topics: &[String; 2],
    lines: &[FeedLine],
) -> Result<Produced, String> {
    let counter = AtomicU64::new(0);
    let pacing = Pacing {
        rate: None,
        linger_ms: 20,
        t0: Instant::now(),
        sent: None,
        counter: &counter,
    };
    tokio::task::block_in_place(|| produce(brokers, topics, lines, &pacing))
}

/// Produce `lines` into `topics` (SMS volume, measurements) at the given pace.
pub(super) fn produce(
    brokers: &str,
    topics: &[String; 2],
    lines: &[FeedLine],
    pacing: &Pacing,
) -> Result<Produced, String> {
    let Pacing {
        rate,
        linger_ms,
        t0,
        sent,
        counter,
    } = *pacing;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "500000")
        .create()
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    let started = Instant::now();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rate) = rate {
            // pace: line i is due at i / rate seconds
            let due = Duration::from_secs_f64(i as f64 / rate);
            let elapsed = started.elapsed();
            if due > elapsed {
                let wait = due - elapsed;
                if wait > Duration::from_millis(1) {
                    producer.poll(Duration::ZERO);
                    std::thread::sleep(wait);
                }
            }
        }
        let mut rec = BaseRecord::to(&topics[l.feed]).payload(l.bytes.as_slice());
        if let Some(k) = &l.key {
            rec = rec.key(k.as_str());
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
        if let Some(sent) = sent {
            sent[i].store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        counter.fetch_add(1, Ordering::Relaxed);
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("producer flush failed: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Produced {
        records: lines.len() as u64,
        seconds,
        records_per_sec: lines.len() as f64 / seconds.max(1e-9),
    })
}
