//! Canonical event order: valid events are held until their feed's watermark passes
//! them, then released sorted by event time and natural key, one watermark step at a
//! time. Detectors therefore see the same sequence whatever the interleaving of
//! partitions (or files) was: the same input gives the same cases, replayed or
//! streamed. The price is a hold of up to the allowed lateness in event time.

use crate::model::Event;
use crate::window::prefetch_lines;
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
    order: Vec<SortKey>,
    min_t: i64,
}

/// How many events ahead [`Ready::iter`] prefetches: a detector's work on one event
/// (≈ 1 µs) covers a miss, two give the hint room when one is quick.
const AHEAD: usize = 2;

/// What the sort compares first, next to the event's index: its time and the first
/// bytes of its natural key as integers, so most comparisons read neither the event
/// nor its strings (the full canonical comparison decides only ties of both).
/// 32 bytes, built for each sort and freed when the bucket is given back (spare
/// buckets keep only their events' capacity).
#[derive(Clone, Copy)]
struct SortKey {
    t: i64,
    /// The prefix's high and low halves (a `u128` would align the key to 16 bytes).
    prefix: [u64; 2],
    index: u32,
    /// SMS before measurements, as [`Event::tie_cmp`] orders them.
    kind: u8,
    /// Whether `prefix` orders as the natural key does (see [`key_prefix`]).
    exact: bool,
}

/// Up to `N` bytes of `s` big-endian from bit `shift` up (zero-padded), or `None` when
/// one of them is a NUL byte: a NUL would compare equal to the padding.
#[inline]
fn pack<const N: usize>(s: &[u8]) -> Option<u128> {
    const { assert!(N >= 1 && N <= 16) };
    let head = &s[..s.len().min(N)];
    if memchr::memchr(0, head).is_some() {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..head.len()].copy_from_slice(head);
    Some(u128::from_be_bytes(buf) >> (8 * (16 - N)))
}

/// The natural key's first bytes as one integer whose order agrees with
/// [`Event::tie_cmp`]'s wherever two prefixes differ: a measurement's reporter (its
/// first 16 bytes), an SMS record's operator (when it has at most 8 bytes, so that
/// equal prefixes mean equal operators) then its SIM's first 8 bytes. `None` when
/// the key does not fit that shape (the sort then compares the events themselves).
fn key_prefix(event: &Event) -> Option<u128> {
    match event {
        Event::Measurement(m) => pack::<16>(m.reporter.as_bytes()),
        Event::Sms(r) if r.operator.len() <= 8 => {
            let op = pack::<8>(r.operator.as_bytes())?;
            let sim = pack::<8>(r.sim.as_bytes())?;
            Some((op << 64) | sim)
        }
        Event::Sms(_) => None,
    }
}

impl Ready {
    #[inline(always)]
    fn push(&mut self, t: i64, event: Event) {
        if self.events.is_empty() || t < self.min_t {
            self.min_t = t;
        }
        self.events.push((t, event));
    }

    /// Sort (keys and indices only: events never move once held).
    fn sort(&mut self) {
        self.order.clear();
        self.order
            .extend(self.events.iter().enumerate().map(|(i, (t, e))| {
                let prefix = key_prefix(e);
                let p = prefix.unwrap_or(0);
                SortKey {
                    t: *t,
                    prefix: [(p >> 64) as u64, p as u64],
                    index: i as u32,
                    kind: u8::from(matches!(e, Event::Measurement(_))),
                    exact: prefix.is_some(),
                }
            }));
        let events = &self.events;
        self.order.sort_unstable_by(|a, b| {
            a.t.cmp(&b.t)
                .then(a.kind.cmp(&b.kind))
                .then_with(|| {
                    if a.exact && b.exact {
                        a.prefix.cmp(&b.prefix)
                    } else {
                        Ordering::Equal
                    }
                })
                .then_with(|| {
                    let (ta, ea) = &events[a.index as usize];
                    let (tb, eb) = &events[b.index as usize];
                    canonical(*ta, ea, *tb, eb)
                })
        });
    }

    /// The events in canonical order. The order visits the held events out of
    /// their arrival order, so each is a cache miss on a large bucket: the event
    /// [`AHEAD`] places further on is asked for while this one is delivered.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Event> + '_ {
        self.order.iter().enumerate().map(|(i, k)| {
            let ahead = self.order.get(i + AHEAD);
            prefetch_lines(ahead.map(|a| &self.events[a.index as usize]), 0..8);
            &self.events[k.index as usize].1
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    fn clear(&mut self) {
        self.events.clear();
        self.order = Vec::new();
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

    #[inline(always)]
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
                    out.push((x.reporter.to_string(), x.ts_ms));
                }
            }
            q.recycle(r);
        }
        out
    }

    fn sms(operator: &str, sim: &str, window_start_ms: i64, sms_out: u32) -> Event {
        Event::Sms(crate::model::SmsVolume {
            operator: operator.into(),
            sim: sim.into(),
            window_start_ms,
            window_secs: 300,
            sms_out,
            sms_in: None,
            distinct_recipients: None,
            new_recipients: None,
            offnet_out: None,
            calls_out: None,
            calls_in: None,
            device: None,
            imei_tac: None,
            cell: None,
            sim_age_days: None,
            kyc_verified: None,
            content_fps: Vec::new(),
        })
    }

    #[test]
    fn the_integer_sort_keys_give_the_canonical_order() {
        // keys that share prefixes, are prefixes of each other, hold NUL bytes, or
        // are longer than the packed bytes; several events per time
        let strings = [
            "",
            "a",
            "a\0",
            "a\0b",
            "ab",
            "abc",
            "4520",
            "45201",
            "45202",
            "452010000",
            "0123456789abcdef",
            "0123456789abcdef0",
            "0123456789abcdef1",
            "0123456789abcdeg",
            "ffff",
            "\u{7f}x",
        ];
        let mut events = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..600u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = strings[(x % strings.len() as u64) as usize];
            let b = strings[((x >> 8) % strings.len() as u64) as usize];
            let t = ((x >> 16) % 3) as i64;
            events.push(if x >> 40 & 1 == 0 {
                m(a, t * 1000)
            } else {
                sms(a, b, t * 1000 - 300_000, i % 3)
            });
        }
        let mut expected = events.clone();
        expected.sort_by(|a, b| a.canonical_cmp(b));
        let mut ready = Ready::default();
        for e in events {
            ready.push(e.event_time_ms(), e);
        }
        ready.sort();
        let got: Vec<Event> = ready.iter().cloned().collect();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g.canonical_cmp(e), Ordering::Equal, "{g:?} vs {e:?}");
        }
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

    /// The byte-by-byte packing the fast one replaced: the sort's order rests on it.
    fn pack_bytewise<const N: usize>(s: &[u8]) -> Option<u128> {
        let mut v = 0u128;
        for i in 0..N {
            let b = s.get(i).copied().unwrap_or(0);
            if b == 0 && i < s.len() {
                return None;
            }
            v = (v << 8) | u128::from(b);
        }
        Some(v)
    }

    #[test]
    fn pack_is_the_big_endian_zero_padded_prefix() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"a",
            b"45204",
            b"0123456789abcdef",
            b"0123456789abcdef0123",
            b"ab\0cd",
            b"abcdefgh\0",
            b"\xff\xfe",
        ];
        for s in inputs {
            assert_eq!(pack::<8>(s), pack_bytewise::<8>(s), "{s:?}");
            assert_eq!(pack::<16>(s), pack_bytewise::<16>(s), "{s:?}");
            assert_eq!(pack::<1>(s), pack_bytewise::<1>(s), "{s:?}");
        }
    }
}
