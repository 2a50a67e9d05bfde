//! Canonical event order: valid events are held until their feed's watermark passes
//! them, then released sorted by event time and natural key, one watermark step at a
//! time. Detectors therefore see the same sequence whatever the interleaving of
//! partitions (or files) was: the same input gives the same cases, replayed or
//! streamed. The price is a hold of up to the allowed lateness in event time.

use crate::model::Event;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The canonical order of two held events (see [`Event::canonical_cmp`]).
pub(crate) fn canonical(ta: i64, a: &Event, tb: i64, b: &Event) -> Ordering {
    ta.cmp(&tb).then_with(|| a.tie_cmp(b))
}

/// Events of one bucket of event time, and the order to deliver them in.
#[derive(Default)]
pub(crate) struct Ready {
    events: Vec<(i64, Event)>,
    order: Vec<u32>,
    min_t: i64,
}

impl Ready {
    fn push(&mut self, t: i64, event: Event) {
        if self.events.is_empty() || t < self.min_t {
            self.min_t = t;
        }
        self.events.push((t, event));
    }

    /// Sort (indices only: events never move once held).
    fn sort(&mut self) {
        self.order.clear();
        self.order.extend(0..self.events.len() as u32);
        let events = &self.events;
        self.order.sort_unstable_by(|&a, &b| {
            let (ta, ea) = &events[a as usize];
            let (tb, eb) = &events[b as usize];
            canonical(*ta, ea, *tb, eb)
        });
    }

    /// The events in canonical order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Event> + '_ {
        self.order.iter().map(|&i| &self.events[i as usize].1)
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    fn clear(&mut self) {
        self.events.clear();
        self.order.clear();
    }
}

/// The held events of one feed in buckets of one watermark step of event time
/// (bucket `k` holds `(k−1)·step < t ≤ k·step`), each sorted once when released:
/// appending is O(1) and events never move, where a binary heap moved every event
/// log n times. Emptied buckets are kept for reuse, so holding costs no allocation
/// in steady state.
pub(crate) struct HoldQueue {
    step: i64,
    buckets: BTreeMap<i64, Ready>,
    len: usize,
    spare: Vec<Ready>,
}

/// Emptied buckets kept for reuse.
const SPARE_BUCKETS: usize = 64;

impl HoldQueue {
    pub(crate) fn new(step_ms: i64) -> Self {
        HoldQueue {
            step: step_ms.max(1),
            buckets: BTreeMap::new(),
            len: 0,
            spare: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, event: Event) {
        let t = event.event_time_ms();
        // ceil(t / step): a bucket ends at a multiple of the step, where releases happen
        let key = -(-t).div_euclid(self.step);
        let spare = &mut self.spare;
        self.buckets
            .entry(key)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(t, event);
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Earliest held event time.
    pub(crate) fn min_time(&self) -> Option<i64> {
        self.buckets.values().next().map(|b| b.min_t)
    }

    /// The earliest events at or before `boundary`, sorted, or `None` when there are
    /// none. Call until `None`; give each result back with [`HoldQueue::recycle`].
    pub(crate) fn take_until(&mut self, boundary: i64) -> Option<Ready> {
        let mut entry = self.buckets.first_entry()?;
        if entry.get().min_t > boundary {
            return None;
        }
        if *entry.key() * self.step <= boundary {
            let mut ready = entry.remove();
            self.len -= ready.len();
            ready.sort();
            return Some(ready);
        }
        // Only part of the bucket is due (a boundary that is not a multiple of the
        // step): split it.
        let bucket = entry.get_mut();
        let mut ready = self.spare.pop().unwrap_or_default();
        let mut rest = Vec::with_capacity(bucket.events.len());
        for (t, e) in bucket.events.drain(..) {
            if t <= boundary {
                ready.push(t, e);
            } else {
                rest.push((t, e));
            }
        }
        bucket.min_t = rest.iter().map(|(t, _)| *t).min().unwrap_or(i64::MAX);
        bucket.events = rest;
        self.len -= ready.len();
        ready.sort();
        Some(ready)
    }

    /// The earliest bucket whatever its time (end of input), sorted.
    pub(crate) fn take_next(&mut self) -> Option<Ready> {
        let (_, mut ready) = self.buckets.pop_first()?;
        self.len -= ready.len();
        ready.sort();
        Some(ready)
    }

    /// Give a released bucket back for reuse.
    pub(crate) fn recycle(&mut self, mut ready: Ready) {
        ready.clear();
        if self.spare.len() < SPARE_BUCKETS {
            self.spare.push(ready);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{CellKey, CellMeasurement, MeasurementEvent, Rat};

    pub(crate) fn m(reporter: &str, ts_ms: i64) -> Event {
        Event::Measurement(CellMeasurement {
            source: "probe".into(),
            reporter: reporter.into(),
            ts_ms,
            lat: 0.0,
            lon: 0.0,
            accuracy_m: None,
            rat: Rat::Gsm,
            cell: CellKey {
                mcc: 452,
                mnc: 4,
                lac: 1,
                cid: 1,
            },
            arfcn: None,
            pci: None,
            signal_dbm: None,
            ta: None,
            neighbors: None,
            cipher: None,
            event: MeasurementEvent::Camped,
            sms_sender: None,
        })
    }

    fn drain_until(q: &mut HoldQueue, boundary: i64) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        while let Some(r) = q.take_until(boundary) {
            for e in r.iter() {
                if let Event::Measurement(x) = e {
                    out.push((x.reporter.clone(), x.ts_ms));
                }
            }
            q.recycle(r);
        }
        out
    }

    #[test]
    fn releases_in_canonical_order_up_to_the_boundary() {
        let mut q = HoldQueue::new(10);
        for (r, t) in [
            ("b", 15),
            ("a", 20),
            ("a", 15),
            ("c", 5),
            ("z", 21),
            ("a", 30),
        ] {
            q.push(m(r, t));
        }
        assert_eq!(q.min_time(), Some(5));
        assert_eq!(
            drain_until(&mut q, 20),
            vec![
                ("c".into(), 5),
                ("a".into(), 15),
                ("b".into(), 15),
                ("a".into(), 20)
            ]
        );
        assert_eq!(q.len(), 2);
        // an event at the boundary already passed comes first next time
        q.push(m("y", 20));
        // a boundary off the step splits a bucket
        assert_eq!(
            drain_until(&mut q, 25),
            vec![("y".into(), 20), ("z".into(), 21)]
        );
        assert_eq!(q.min_time(), Some(30));
        let r = q.take_next().unwrap();
        assert_eq!(r.len(), 1);
        q.recycle(r);
        assert!(q.take_next().is_none());
        assert_eq!(q.len(), 0);
    }
}
