//! Several window resolutions per key in one value: short / medium / long rings.
//!
//! The usual spam-detector set is 5 min, 1 h and 24 h ([`MultiSpec::standard`]:
//! 5 × 1 min, 12 × 5 min, 24 × 1 h; DOMAIN.md: "sliding-window send rate (5 min, 1 h,
//! 24 h)"). Every ring keeps its own head, so each follows the exact
//! [`super::sliding`] semantics at its own resolution.
//!
//! `size_of` of [`StandardWindows`] (checked by a test):
//!
//! | counter     | short `<5>` | medium `<12>` | long `<24>` | total |
//! |-------------|-------------|---------------|-------------|-------|
//! | `u16`       | 16          | 28            | 52          | 96    |
//! | `u32`       | 24          | 52            | 100         | 176   |
//! | `[u16; 2]`  | 24          | 52            | 100         | 176   |
//! | `[u16; 3]`  | 36          | 76            | 148         | 260   |
//!
//! For three quantities in ≤ 256 bytes, read the 5-min window from the last bucket of
//! the 12 × 5 min ring ([`super::BucketRing::sum_last`]) and drop the short ring:
//! `BucketRing<12, [u16; 3]>` + `BucketRing<24, [u16; 3]>` = 76 + 148 = 224 bytes.

use super::counter::Counter;
use super::sliding::{AddOutcome, BucketRing, RingSpec};

const MINUTE_MS: i64 = 60_000;

/// The bucket widths of a [`MultiWindow`], shared by every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiSpec<const A: usize, const B: usize, const C: usize> {
    pub short: RingSpec<A>,
    pub medium: RingSpec<B>,
    pub long: RingSpec<C>,
}

impl<const A: usize, const B: usize, const C: usize> MultiSpec<A, B, C> {
    pub const fn new(short: RingSpec<A>, medium: RingSpec<B>, long: RingSpec<C>) -> Self {
        MultiSpec {
            short,
            medium,
            long,
        }
    }
}

impl MultiSpec<5, 12, 24> {
    /// 5 min (5 × 1 min), 1 h (12 × 5 min), 24 h (24 × 1 h).
    pub const fn standard() -> Self {
        match (
            RingSpec::<5>::new(MINUTE_MS),
            RingSpec::<12>::new(5 * MINUTE_MS),
            RingSpec::<24>::new(60 * MINUTE_MS),
        ) {
            (Ok(short), Ok(medium), Ok(long)) => MultiSpec {
                short,
                medium,
                long,
            },
            _ => panic!("the standard bucket widths are positive constants"),
        }
    }
}

/// Three rings of counter `T` at three resolutions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiWindow<const A: usize, const B: usize, const C: usize, T: Counter> {
    pub short: BucketRing<A, T>,
    pub medium: BucketRing<B, T>,
    pub long: BucketRing<C, T>,
}

/// 5 × 1 min, 12 × 5 min, 24 × 1 h; use with [`MultiSpec::standard`].
pub type StandardWindows<T> = MultiWindow<5, 12, 24, T>;

/// What each ring did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiAddOutcome {
    pub short: AddOutcome,
    pub medium: AddOutcome,
    pub long: AddOutcome,
}

impl MultiAddOutcome {
    /// Counted in at least one ring (the longest ring has the longest span).
    pub fn counted_anywhere(&self) -> bool {
        [self.short, self.medium, self.long].contains(&AddOutcome::Counted)
    }
}

/// The three window sums ending at the same `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiSums<T> {
    pub short: T,
    pub medium: T,
    pub long: T,
}

impl<const A: usize, const B: usize, const C: usize, T: Counter> Default
    for MultiWindow<A, B, C, T>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const A: usize, const B: usize, const C: usize, T: Counter> MultiWindow<A, B, C, T> {
    pub const fn new() -> Self {
        MultiWindow {
            short: BucketRing::new(),
            medium: BucketRing::new(),
            long: BucketRing::new(),
        }
    }

    /// Count one event in every ring.
    #[inline]
    pub fn add(
        &mut self,
        spec: &MultiSpec<A, B, C>,
        ts_ms: i64,
        amount: T::Amount,
    ) -> MultiAddOutcome {
        MultiAddOutcome {
            short: self.short.add(&spec.short, ts_ms, amount),
            medium: self.medium.add(&spec.medium, ts_ms, amount),
            long: self.long.add(&spec.long, ts_ms, amount),
        }
    }

    /// The three window sums ending at `now_ms`.
    #[inline]
    pub fn sums(&self, spec: &MultiSpec<A, B, C>, now_ms: i64) -> MultiSums<T::Total> {
        MultiSums {
            short: self.short.sum(&spec.short, now_ms),
            medium: self.medium.sum(&spec.medium, now_ms),
            long: self.long.sum(&spec.long, now_ms),
        }
    }

    /// No ring holds a count.
    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.medium.is_empty() && self.long.is_empty()
    }

    /// Every ring is expired at `now_ms`: the key's state may be evicted.
    pub fn is_expired(&self, spec: &MultiSpec<A, B, C>, now_ms: i64) -> bool {
        self.short.is_expired(&spec.short, now_ms)
            && self.medium.is_expired(&spec.medium, now_ms)
            && self.long.is_expired(&spec.long, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn documented_sizes() {
        assert_eq!(size_of::<StandardWindows<u16>>(), 96);
        assert_eq!(size_of::<StandardWindows<u32>>(), 176);
        assert_eq!(size_of::<StandardWindows<[u16; 2]>>(), 176);
        assert_eq!(size_of::<StandardWindows<[u16; 3]>>(), 260);
        assert_eq!(
            size_of::<BucketRing<12, [u16; 3]>>() + size_of::<BucketRing<24, [u16; 3]>>(),
            224
        );
    }

    #[test]
    fn standard_windows_count_5_min_1_h_24_h() {
        let spec = MultiSpec::standard();
        assert_eq!(spec.short.width_ms(), 5 * MINUTE_MS);
        assert_eq!(spec.medium.width_ms(), 60 * MINUTE_MS);
        assert_eq!(spec.long.width_ms(), 24 * 60 * MINUTE_MS);
        let mut w: StandardWindows<u16> = MultiWindow::new();
        let day0 = 1_700_006_400_000; // a multiple of one hour
                                      // one record per 5-min interval (event time = interval end) over 25 hours, 2 SMS each
        for i in 1..=300 {
            let out = w.add(&spec, day0 + i * 5 * MINUTE_MS, 2);
            assert!(out.counted_anywhere());
        }
        let now = day0 + 300 * 5 * MINUTE_MS;
        assert_eq!(
            w.sums(&spec, now),
            MultiSums {
                short: 2,
                medium: 24,
                long: 576
            }
        );
        // an event 2 h late is too old for the short and medium rings but counted in the long one
        let out = w.add(&spec, now - 120 * MINUTE_MS, 1);
        assert_eq!(out.short, AddOutcome::TooOld);
        assert_eq!(out.medium, AddOutcome::TooOld);
        assert_eq!(out.long, AddOutcome::Counted);
        assert_eq!(w.sums(&spec, now).long, 577);
        assert!(!w.is_expired(&spec, now + 23 * 60 * MINUTE_MS));
        assert!(w.is_expired(&spec, now + 24 * 60 * MINUTE_MS));
    }
}
