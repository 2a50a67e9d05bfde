//! Event-time watermarks with allowed lateness, per source. The watermark of a feed
//! read from several sources (the minimum over its partitions) is the pipeline's:
//! [`crate::pipeline::Pipeline::on_watermark`].
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

    /// The watermark: highest on-time event time minus the allowed lateness; `None`
    /// until the first record.
    pub(crate) fn current(&self) -> Option<i64> {
        self.max_event_ms
            .map(|m| m.saturating_sub(self.allowed_lateness_ms))
    }

    /// Highest event time admitted so far.
    pub(crate) fn max_event_ms(&self) -> Option<i64> {
        self.max_event_ms
    }

    /// Continue from a checkpoint: as if records up to `max_event_ms` had been
    /// admitted (a new owner of a Kafka partition, [`crate::service`]).
    pub(crate) fn resume_at(&mut self, max_event_ms: i64) {
        self.max_event_ms = Some(
            self.max_event_ms
                .map_or(max_event_ms, |m| m.max(max_event_ms)),
        );
    }

    #[cfg(test)]
    pub(crate) fn allowed_lateness_ms(&self) -> i64 {
        self.allowed_lateness_ms
    }

    /// Records admitted as on time.
    #[cfg(test)]
    pub(crate) fn on_time_count(&self) -> u64 {
        self.on_time
    }

    /// Records refused as late.
    #[cfg(test)]
    pub(crate) fn late_count(&self) -> u64 {
        self.late
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
    }
}
