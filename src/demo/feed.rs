//! The demo's producer side: the scenario's two feeds merged in event-time order,
//! keyed as the contract recommends, and paced to the consumer so librdkafka's
//! mock cluster (which keeps a bounded log per partition) never drops a record.

use crate::model::RawTs;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// One line to produce: topic index (0 = SMS, 1 = measurements), key, bytes, event time.
pub struct FeedLine {
    pub feed: usize,
    pub key: Option<String>,
    pub bytes: Vec<u8>,
    pub event_ms: i64,
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    sim: Option<Cow<'a, str>>,
    #[serde(default)]
    window_start: Option<RawTs>,
    #[serde(default)]
    ts: Option<RawTs>,
    #[serde(default)]
    mcc: Option<i64>,
    #[serde(default)]
    mnc: Option<i64>,
    #[serde(default)]
    lac: Option<i64>,
    #[serde(default)]
    cid: Option<i64>,
}

/// Read a JSON Lines file, keeping every line (malformed ones included: they must
/// reach the dead-letter path) with its best-effort event time and key.
pub fn read_lines(path: &Path, feed: usize) -> std::io::Result<Vec<FeedLine>> {
    let mut out = Vec::new();
    let mut last_ms = 0i64;
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
        let (event_ms, key) = match serde_json::from_slice::<Peek>(&buf) {
            Ok(p) => {
                let t = p.window_start.or(p.ts).map(|t| t.0).unwrap_or(last_ms);
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
