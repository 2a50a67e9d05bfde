//! Stage A's burst count per SIM, what `REPEATED_BURSTS` reads: how many times the SIM
//! sent `burst_min_sms` or more within `burst_within_secs` after a pause (fewer than
//! `burst_quiet_sms` in the `burst_gap_secs` before a record), within the long window.
//! A "send to all" is one burst and a school sends 2–3 notices a day; a SIM that
//! pulses a contact book's worth every half hour is neither (docs/detection.md,
//! "Repeated bursts").
//!
//! The windows the SIM state keeps show an hour at 5-minute resolution and a day at
//! hourly resolution, neither of which can count pulses over hours; the count lives in
//! a column beside the SIM table (4 bytes a SIM, `SimState` has no room left):
//! bits 0–4 the bursts (saturating at 31), bit 5 set from a counted burst until the
//! next pause, bits 6–17 the medium bucket (mod 4 096) at which the SIM last paused
//! (only what it sent from there on makes the next burst: a burst that ended just
//! before a pause is not counted again after it), bits 18–31 the hour (mod 16 384)
//! of the first burst counted.

use super::state::{SimState, Specs};
use crate::config::SpamConfig;

/// The most bursts the column counts (`spam.burst_repeats` is at most this).
const COUNT: u32 = 0x1f;
const DISARMED: u32 = 1 << 5;
const SINCE_SHIFT: u32 = 6;
const SINCE_MASK: i64 = 0xfff;
const HOUR_SHIFT: u32 = 18;
const HOUR_MASK: i64 = 0x3fff;
const HOUR_MS: i64 = 3_600_000;

/// The burst thresholds in medium-window buckets.
#[derive(Debug, Clone, Copy)]
pub(super) struct BurstSpec {
    min_sms: u64,
    within_buckets: i64,
    gap_buckets: usize,
    quiet_sms: u64,
    /// The long window in whole hours: bursts older than that no longer count.
    long_hours: i64,
}

impl BurstSpec {
    pub(super) fn new(c: &SpamConfig, specs: &Specs) -> BurstSpec {
        let bucket_s = (specs.medium.bucket_ms() / 1000).max(1);
        let buckets = |secs: u32| (i64::from(secs) / bucket_s).max(1);
        BurstSpec {
            min_sms: u64::from(c.burst_min_sms),
            within_buckets: buckets(c.burst_within_secs),
            gap_buckets: buckets(c.burst_gap_secs) as usize,
            quiet_sms: u64::from(c.burst_quiet_sms),
            long_hours: (i64::from(c.long_window_secs) / 3_600).max(1),
        }
    }

    /// Whether the SIM paused before a record starting at `start_ms`: its first
    /// record, or fewer than `quiet_sms` in the `gap_buckets` buckets up to that start
    /// (read before the record is folded in).
    #[inline]
    pub(super) fn paused_before(&self, st: &SimState, specs: &Specs, start_ms: i64) -> bool {
        st.records == 0
            || st
                .medium
                .sum_last(&specs.medium, start_ms, self.gap_buckets)[0]
                < self.quiet_sms
    }

    /// Update the column after a record starting at `start_ms` and ending at `end_ms`
    /// was folded in (`paused`: [`BurstSpec::paused_before`] of it) and return the
    /// bursts within the long window.
    #[inline]
    pub(super) fn update(
        &self,
        cell: &mut u32,
        paused: bool,
        st: &SimState,
        specs: &Specs,
        (start_ms, end_ms): (i64, i64),
    ) -> u32 {
        let now_bucket = specs.medium.bucket_of(end_ms);
        if paused {
            let since = specs.medium.bucket_of(start_ms + 1) & SINCE_MASK;
            *cell = (*cell & !(DISARMED | (SINCE_MASK as u32) << SINCE_SHIFT))
                | (since as u32) << SINCE_SHIFT;
        }
        let hour = end_ms.div_euclid(HOUR_MS);
        let fresh = |c: u32| (hour - i64::from(c >> HOUR_SHIFT)) & HOUR_MASK < self.long_hours;
        if *cell & DISARMED == 0 {
            // only what was sent since the pause, at most `within_buckets` back
            let since = i64::from(*cell >> SINCE_SHIFT) & SINCE_MASK;
            let age = (now_bucket - since) & SINCE_MASK;
            let n = (age + 1).min(self.within_buckets) as usize;
            if st.medium.sum_last(&specs.medium, end_ms, n)[0] >= self.min_sms {
                let count = *cell & COUNT;
                *cell = if count == 0 || !fresh(*cell) {
                    (*cell & !(COUNT | (HOUR_MASK as u32) << HOUR_SHIFT))
                        | ((hour & HOUR_MASK) as u32) << HOUR_SHIFT
                        | 1
                } else {
                    (*cell & !COUNT) | (count + 1).min(COUNT)
                };
                *cell |= DISARMED;
            }
        }
        if *cell & COUNT != 0 && fresh(*cell) {
            *cell & COUNT
        } else {
            0
        }
    }
}
