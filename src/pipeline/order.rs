//! Canonical event order: valid events are held until their feed's watermark passes
//! them, then released sorted by event time and natural key, one watermark step at a
//! time. Detectors therefore see the same sequence whatever the interleaving of
//! partitions (or files) was: the same input gives the same cases, replayed or
//! streamed. The price is a hold of up to the allowed lateness in event time.

use crate::model::Event;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How events reach detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOrder {
    /// Held until the watermark, released in canonical order (deterministic).
    #[default]
    EventTime,
    /// Delivered on arrival: lowest latency; cross-key detectors (farms, identity
    /// linking) may then depend on how partitions interleave.
    Arrival,
}

/// One held event; ordered by event time, then the contract's natural key, then
/// (only for two records sharing a natural key) their full content.
pub(crate) struct Held {
    pub t: i64,
    pub event: Event,
}

fn tie(a: &Event, b: &Event) -> Ordering {
    let by_key = match (a, b) {
        (Event::Sms(x), Event::Sms(y)) => (&x.operator, &x.sim, x.window_start_ms, x.window_secs)
            .cmp(&(&y.operator, &y.sim, y.window_start_ms, y.window_secs)),
        (Event::Measurement(x), Event::Measurement(y)) => {
            (&x.reporter, x.ts_ms, x.cell).cmp(&(&y.reporter, y.ts_ms, y.cell))
        }
        (Event::Sms(_), Event::Measurement(_)) => Ordering::Less,
        (Event::Measurement(_), Event::Sms(_)) => Ordering::Greater,
    };
    by_key.then_with(|| {
        let sa = serde_json::to_string(a).unwrap_or_default();
        let sb = serde_json::to_string(b).unwrap_or_default();
        sa.cmp(&sb)
    })
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.t
            .cmp(&other.t)
            .then_with(|| tie(&self.event, &other.event))
    }
}

/// The held events of one feed, earliest first.
#[derive(Default)]
pub(crate) struct HoldQueue {
    heap: BinaryHeap<std::cmp::Reverse<Held>>,
}

impl HoldQueue {
    pub fn push(&mut self, event: Event) {
        self.heap.push(std::cmp::Reverse(Held {
            t: event.event_time_ms(),
            event,
        }));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Earliest held event time.
    pub fn min_time(&self) -> Option<i64> {
        self.heap.peek().map(|h| h.0.t)
    }

    /// Pop the earliest event if its time is at or before `boundary`.
    pub fn pop_until(&mut self, boundary: i64) -> Option<Event> {
        if self.heap.peek().is_some_and(|h| h.0.t <= boundary) {
            self.heap.pop().map(|h| h.0.event)
        } else {
            None
        }
    }

    /// Pop the earliest event whatever its time (end of input).
    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|h| h.0.event)
    }
}
