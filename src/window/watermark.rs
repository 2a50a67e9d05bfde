//! Event-time watermarks with allowed lateness, per source and combined over sources.
//!
//! A *source* is one ordered input: a file in replay, a Kafka partition in streaming.
//! Within a source records arrive roughly in event-time order; the watermark says
//! "every record older than this has been seen", so windows ending before it can be
//! closed and a record older than it is *late*: it is counted here and the caller
//! dead-letters it with reason `late` ([`crate::model::InvalidReason::Late`]).
//!
//! Semantics of [`Watermark`]:
//! - `max_event_ms` = highest event time observed on time so far;
//! - `current()` = `max_event_ms − allowed_lateness_ms` (`None` before the first record);
//! - a record with `event_ms < current()` is [`Admission::Late`] and does not move the
//!   watermark; `event_ms == current()` is still on time;
//! - the watermark never goes backwards;
//! - arithmetic saturates, so extreme timestamps never overflow (validation bounds event
//!   times to 2000-01-01 .. now + 1 day before they get here anyway).
//!
//! Event time only: nothing here reads the wall clock.

use std::collections::HashMap;
use std::hash::Hash;

/// Verdict on one record's event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// At or after the watermark: process it.
    OnTime,
    /// Before the watermark: count it and dead-letter it with reason `late`.
    Late {
        /// The watermark the record was checked against.
        watermark_ms: i64,
        /// How far behind the watermark the record is: `watermark_ms − event_ms` (> 0).
        lateness_ms: i64,
    },
}

impl Admission {
    pub fn is_late(self) -> bool {
        matches!(self, Admission::Late { .. })
    }
}

/// The watermark of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    allowed_lateness_ms: i64,
    max_event_ms: Option<i64>,
    on_time: u64,
    late: u64,
}

impl Watermark {
    /// A source that accepts records up to `allowed_lateness_ms` behind the highest event
    /// time it has seen. A negative lateness is treated as 0 (strictly ordered input).
    pub fn new(allowed_lateness_ms: i64) -> Self {
        Watermark {
            allowed_lateness_ms: allowed_lateness_ms.max(0),
            max_event_ms: None,
            on_time: 0,
            late: 0,
        }
    }

    /// Check one record's event time against the watermark and advance it.
    pub fn observe(&mut self, event_ms: i64) -> Admission {
        if let Some(watermark_ms) = self.current() {
            if event_ms < watermark_ms {
                self.late += 1;
                return Admission::Late {
                    watermark_ms,
                    lateness_ms: watermark_ms.saturating_sub(event_ms),
                };
            }
        }
        self.on_time += 1;
        self.max_event_ms = Some(self.max_event_ms.map_or(event_ms, |m| m.max(event_ms)));
        Admission::OnTime
    }

    /// What [`Watermark::observe`] would answer, without counting or advancing.
    pub fn check(&self, event_ms: i64) -> Admission {
        match self.current() {
            Some(watermark_ms) if event_ms < watermark_ms => Admission::Late {
                watermark_ms,
                lateness_ms: watermark_ms.saturating_sub(event_ms),
            },
            _ => Admission::OnTime,
        }
    }

    /// The watermark: highest on-time event time minus the allowed lateness; `None`
    /// until the first record.
    pub fn current(&self) -> Option<i64> {
        self.max_event_ms
            .map(|m| m.saturating_sub(self.allowed_lateness_ms))
    }

    /// Highest event time admitted so far.
    pub fn max_event_ms(&self) -> Option<i64> {
        self.max_event_ms
    }

    pub fn allowed_lateness_ms(&self) -> i64 {
        self.allowed_lateness_ms
    }

    /// Records admitted as on time.
    pub fn on_time_count(&self) -> u64 {
        self.on_time
    }

    /// Records refused as late.
    pub fn late_count(&self) -> u64 {
        self.late
    }
}

/// One source's entry in [`Watermarks`].
#[derive(Debug, Clone)]
struct SourceState {
    watermark: Watermark,
    /// Set by [`Watermarks::finish`]; cleared by the source's next record.
    finished: bool,
    /// Made known by [`Watermarks::register`]: holds the minimum back even before its
    /// first on-time record. A source first seen through a late record does not.
    registered: bool,
}

/// The watermarks of several sources feeding one cross-source detector; the combined
/// watermark is the minimum over the *active* sources.
///
/// Idle sources, kept simple and event-time only:
/// - a source counts only once it has delivered an on-time record (an unknown source
///   never holds the others back — register it with [`Watermarks::register`] if it
///   must: a registered source holds the combined watermark at `None` until its first
///   record or [`Watermarks::finish`]);
/// - [`Watermarks::finish`] marks a source done (its file ended, its partition was
///   revoked); it stops holding the minimum back until it delivers a record again;
/// - optionally ([`Watermarks::with_idle_timeout_ms`]) a source whose highest event time
///   is more than `idle_timeout_ms` behind the highest event time of all sources is
///   *idle* and left out of the minimum, so a silent partition cannot stall the others
///   forever. Without the option (default) the minimum is strict;
/// - if no source is active, the combined watermark is the maximum of all sources'
///   watermarks (everything that will come has been seen);
/// - the combined watermark never goes backwards: when an idle source wakes up behind
///   it, its records older than the combined watermark are late.
///
/// A record is late if it is older than its own source's watermark *or* than the
/// combined watermark.
///
/// Cost: [`Watermarks::observe`] is a hash lookup, plus a pass over all sources when the
/// record advanced its source's watermark — fine for the tens of partitions a worker
/// owns.
#[derive(Debug, Clone)]
pub struct Watermarks<S: Eq + Hash + Clone> {
    allowed_lateness_ms: i64,
    idle_timeout_ms: Option<i64>,
    sources: HashMap<S, SourceState>,
    combined_ms: Option<i64>,
    late: u64,
    on_time: u64,
}

impl<S: Eq + Hash + Clone> Watermarks<S> {
    /// An empty set; every source gets [`Watermark::new`]`(allowed_lateness_ms)`.
    pub fn new(allowed_lateness_ms: i64) -> Self {
        Watermarks {
            allowed_lateness_ms: allowed_lateness_ms.max(0),
            idle_timeout_ms: None,
            sources: HashMap::new(),
            combined_ms: None,
            late: 0,
            on_time: 0,
        }
    }

    /// Leave a source out of the minimum while its highest event time is more than
    /// `idle_timeout_ms` behind the highest event time over all sources.
    pub fn with_idle_timeout_ms(mut self, idle_timeout_ms: i64) -> Self {
        self.idle_timeout_ms = Some(idle_timeout_ms.max(0));
        self
    }

    /// Make a source known before its first record, so it holds the combined watermark
    /// back (at "no watermark") until it delivers or is finished.
    pub fn register(&mut self, source: S) {
        let lateness = self.allowed_lateness_ms;
        let state = self.sources.entry(source).or_insert_with(|| SourceState {
            watermark: Watermark::new(lateness),
            finished: false,
            registered: false,
        });
        state.registered = true;
    }

    /// Check one record of `source` and advance its watermark and the combined one.
    pub fn observe(&mut self, source: &S, event_ms: i64) -> Admission {
        let lateness = self.allowed_lateness_ms;
        let state = match self.sources.get_mut(source) {
            Some(state) => state,
            None => self
                .sources
                .entry(source.clone())
                .or_insert_with(|| SourceState {
                    watermark: Watermark::new(lateness),
                    finished: false,
                    registered: false,
                }),
        };
        if let Some(watermark_ms) = self.combined_ms {
            if event_ms < watermark_ms {
                self.late += 1;
                state.watermark.late += 1;
                return Admission::Late {
                    watermark_ms,
                    lateness_ms: watermark_ms.saturating_sub(event_ms),
                };
            }
        }
        let before = state.watermark.max_event_ms;
        let admission = state.watermark.observe(event_ms);
        if admission.is_late() {
            self.late += 1;
            return admission;
        }
        let woke_up = std::mem::replace(&mut state.finished, false);
        let advanced = state.watermark.max_event_ms != before;
        self.on_time += 1;
        // O(sources) only when this source's watermark moved or it came back
        if advanced || woke_up {
            self.recompute();
        }
        admission
    }

    /// The source ended (file done, partition revoked): stop waiting for it.
    pub fn finish(&mut self, source: &S) {
        if let Some(state) = self.sources.get_mut(source) {
            state.finished = true;
        }
        self.recompute();
    }

    /// Forget a source entirely (its counters included).
    pub fn remove(&mut self, source: &S) {
        self.sources.remove(source);
        self.recompute();
    }

    /// The combined watermark; `None` until it is defined.
    pub fn current(&self) -> Option<i64> {
        self.combined_ms
    }

    /// One source's watermark.
    pub fn source(&self, source: &S) -> Option<&Watermark> {
        self.sources.get(source).map(|s| &s.watermark)
    }

    pub fn sources(&self) -> impl Iterator<Item = (&S, &Watermark)> {
        self.sources.iter().map(|(k, s)| (k, &s.watermark))
    }

    /// Records admitted over all sources.
    pub fn on_time_count(&self) -> u64 {
        self.on_time
    }

    /// Records refused as late over all sources.
    pub fn late_count(&self) -> u64 {
        self.late
    }

    fn recompute(&mut self) {
        let highest = self
            .sources
            .values()
            .filter_map(|s| s.watermark.max_event_ms)
            .max();
        let mut active_min: Option<Option<i64>> = None;
        let mut all_max: Option<i64> = None;
        for state in self.sources.values() {
            let wm = state.watermark.current();
            all_max = all_max.max(wm);
            if state.finished || (wm.is_none() && !state.registered) {
                continue;
            }
            if let (Some(timeout), Some(hi), Some(own)) =
                (self.idle_timeout_ms, highest, state.watermark.max_event_ms)
            {
                if hi.saturating_sub(own) > timeout {
                    continue;
                }
            }
            // An active source without a record yet holds everything back (`None`).
            active_min = Some(match active_min {
                None => wm,
                Some(prev) => match (prev, wm) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                },
            });
        }
        let candidate = match active_min {
            Some(min) => min,
            None => all_max,
        };
        if let Some(c) = candidate {
            self.combined_ms = Some(self.combined_ms.map_or(c, |prev| prev.max(c)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_record_defines_the_watermark() {
        let mut w = Watermark::new(1_000);
        assert_eq!(w.current(), None);
        assert_eq!(w.observe(10_000), Admission::OnTime);
        assert_eq!(w.current(), Some(9_000));
        assert_eq!(w.max_event_ms(), Some(10_000));
    }

    #[test]
    fn record_at_the_watermark_is_on_time_and_before_it_is_late() {
        let mut w = Watermark::new(1_000);
        w.observe(10_000);
        assert_eq!(w.observe(9_000), Admission::OnTime);
        assert_eq!(
            w.observe(8_999),
            Admission::Late {
                watermark_ms: 9_000,
                lateness_ms: 1
            }
        );
        assert_eq!(w.late_count(), 1);
        assert_eq!(w.on_time_count(), 2);
        // a late record does not move the watermark; an older on-time one neither
        assert_eq!(w.current(), Some(9_000));
    }

    #[test]
    fn negative_lateness_means_strict_order_and_extremes_saturate() {
        let mut w = Watermark::new(-5);
        assert_eq!(w.allowed_lateness_ms(), 0);
        w.observe(100);
        assert!(w.observe(99).is_late());
        let mut w = Watermark::new(i64::MAX);
        w.observe(i64::MIN);
        assert_eq!(w.current(), Some(i64::MIN));
        assert_eq!(w.observe(i64::MIN), Admission::OnTime);
    }

    #[test]
    fn combined_watermark_is_the_minimum_over_sources() {
        let mut ws: Watermarks<u32> = Watermarks::new(0);
        ws.observe(&0, 100);
        assert_eq!(ws.current(), Some(100));
        // never goes backwards: a source joining later behind it is late, it does
        // not pull the combined watermark down
        assert!(ws.observe(&1, 50).is_late());
        assert_eq!(ws.current(), Some(100));
        ws.observe(&1, 150);
        ws.observe(&0, 200);
        assert_eq!(ws.current(), Some(150));
        ws.observe(&1, 300);
        assert_eq!(ws.current(), Some(200));
        assert_eq!(ws.late_count(), 1);
        assert_eq!(ws.source(&1).unwrap().late_count(), 1);
    }

    #[test]
    fn a_registered_silent_source_holds_back_until_finished() {
        let mut ws: Watermarks<&str> = Watermarks::new(10);
        ws.register("b");
        ws.observe(&"a", 1_000);
        assert_eq!(ws.current(), None);
        ws.finish(&"b");
        assert_eq!(ws.current(), Some(990));
        ws.finish(&"a");
        assert_eq!(ws.current(), Some(990));
    }

    #[test]
    fn idle_timeout_releases_a_silent_source() {
        let mut ws: Watermarks<u8> = Watermarks::new(0).with_idle_timeout_ms(1_000);
        ws.observe(&0, 0);
        ws.observe(&1, 0);
        ws.observe(&0, 1_000);
        assert_eq!(
            ws.current(),
            Some(0),
            "within the timeout the minimum holds"
        );
        ws.observe(&0, 1_001);
        assert_eq!(ws.current(), Some(1_001), "source 1 is idle now");
        // it wakes up behind the combined watermark: late
        assert!(ws.observe(&1, 500).is_late());
        ws.observe(&1, 1_200);
        assert_eq!(ws.current(), Some(1_001));
        ws.observe(&0, 1_500);
        assert_eq!(ws.current(), Some(1_200));
    }

    proptest! {
        /// Against a naive model: late iff below (max of earlier on-time times − L).
        #[test]
        fn watermark_matches_naive_model(
            lateness in 0i64..500,
            times in proptest::collection::vec(0i64..5_000, 0..200),
        ) {
            let mut w = Watermark::new(lateness);
            let mut admitted: Vec<i64> = Vec::new();
            for &t in &times {
                let naive_wm = admitted.iter().max().map(|m| m - lateness);
                let got = w.observe(t);
                match naive_wm {
                    Some(wm) if t < wm => prop_assert_eq!(got, Admission::Late { watermark_ms: wm, lateness_ms: wm - t }),
                    _ => { prop_assert_eq!(got, Admission::OnTime); admitted.push(t); }
                }
                prop_assert_eq!(w.current(), admitted.iter().max().map(|m| m - lateness));
            }
            prop_assert_eq!(w.on_time_count() as usize, admitted.len());
            prop_assert_eq!((w.late_count() + w.on_time_count()) as usize, times.len());
        }

        /// The combined watermark never decreases and never exceeds any active source's.
        #[test]
        fn combined_watermark_is_monotone_and_bounded(
            records in proptest::collection::vec((0u8..3, 0i64..10_000), 1..200),
        ) {
            let mut ws: Watermarks<u8> = Watermarks::new(100);
            let mut prev: Option<i64> = None;
            for (src, t) in records {
                ws.observe(&src, t);
                let cur = ws.current();
                prop_assert!(cur >= prev);
                let min_src = ws.sources().filter_map(|(_, w)| w.current()).min();
                prop_assert!(cur.is_some());
                // the minimum over sources, held up only by never going back
                prop_assert_eq!(cur, prev.max(min_src));
                prev = cur;
            }
        }
    }
}
