//! Compact event-time sliding windows: a fixed ring of `N` time buckets per key.
//!
//! The bucket width lives in a shared [`RingSpec`] passed by reference, so per-key
//! state is only the counts and a 4-byte head: `size_of::<BucketRing<5, u16>>() == 16`,
//! `BucketRing<12, u16>` = 28, `BucketRing<24, u16>` = 52 bytes.
//!
//! # Semantics (exact)
//!
//! With bucket width `w` (ms) and `N` buckets, the window width is `N·w`.
//! - Buckets are right-closed: bucket `k` holds event times in `(k·w, (k+1)·w]`, so
//!   `bucket(t) = ⌈t / w⌉ − 1`. An SMS-volume record (event time = end of its
//!   reporting interval) of an interval aligned to `w` lands in the bucket of exactly
//!   that interval.
//! - The ring's *head* is the highest bucket any [`BucketRing::add`] reached. The ring
//!   retains buckets `head − N + 1 ..= head`.
//! - `add(t)` with `bucket(t) > head` advances the head to `bucket(t)` and clears the
//!   buckets that fall out; an event with `bucket(t) ≤ head − N` (older than the ring's
//!   span) is ignored and reported as [`AddOutcome::TooOld`]; anything in between is
//!   counted whatever the arrival order, so out-of-order events within the lateness a
//!   [`super::Watermark`] allows are exact as long as `allowed_lateness ≤ (N − 1)·w`.
//! - `sum(now)` is the window ending at `now`, nominally `(now − N·w, now]`, realised at
//!   bucket granularity: it sums buckets `bucket(now) − N + 1 ..= bucket(now)`, i.e.
//!   event times in `(⌈now/w⌉·w − N·w, ⌈now/w⌉·w]`. When `now` is a multiple of `w` this
//!   is exactly `(now − N·w, now]`; otherwise the window is shifted forward by
//!   `⌈now/w⌉·w − now < w` ms (the end of `now`'s bucket).
//! - Buckets after `bucket(now)` ("future" relative to `now`, e.g. when summing at the
//!   watermark while newer events were already added) are not counted; buckets already
//!   evicted because the head moved past them count as zero.
//! - Future events are not refused here (validation bounds event time to now + 1 day):
//!   a far-future event advances the head and clears the ring.
//! - Counts saturate ([`Counter`]); sums are wide and never saturate.
//! - Bucket indices are stored in 32 bits: an event must satisfy
//!   `1 ≤ bucket(t) ≤ u32::MAX`, otherwise it is ignored as [`AddOutcome::OutOfRange`].
//!   With `w ≥ 1000` ms every timestamp from 1970 to 2106 fits; use `w ≥ 1000` for
//!   epoch timestamps.

use super::counter::Counter;

/// Bucket width of a ring of `N` buckets, shared by every key's [`BucketRing<N, _>`].
///
/// The number of buckets is the type parameter, so a ring can only be used with a
/// spec of the same length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSpec<const N: usize> {
    bucket_ms: i64,
}

/// A window specification that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowSpecError {
    #[error("bucket width must be a positive number of milliseconds, got {0}")]
    BucketWidth(i64),
    #[error("window width {width_ms} ms is not a positive multiple of {buckets} buckets")]
    Width { width_ms: i64, buckets: usize },
}

impl<const N: usize> RingSpec<N> {
    const NON_EMPTY: () = assert!(
        N > 0 && N <= u32::MAX as usize,
        "a ring needs 1..=u32::MAX buckets"
    );

    /// `N` buckets of `bucket_ms` each.
    pub const fn new(bucket_ms: i64) -> Result<Self, WindowSpecError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::NON_EMPTY;
        if bucket_ms <= 0 {
            return Err(WindowSpecError::BucketWidth(bucket_ms));
        }
        Ok(RingSpec { bucket_ms })
    }

    /// A window of `N` buckets covering `width_ms` (e.g. 24 buckets for 24 h); the
    /// width must be a positive multiple of `N`.
    pub(crate) const fn covering(width_ms: i64) -> Result<Self, WindowSpecError> {
        if width_ms <= 0 || width_ms % (N as i64) != 0 {
            return Err(WindowSpecError::Width {
                width_ms,
                buckets: N,
            });
        }
        Self::new(width_ms / N as i64)
    }

    pub(crate) const fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// How many buckets the window holds.
    pub(crate) const fn len(&self) -> usize {
        N
    }

    /// The bucket holding event time `ts_ms`: `⌈ts / w⌉ − 1` (buckets are `(k·w, (k+1)·w]`).
    #[inline]
    pub(crate) fn bucket_of(&self, ts_ms: i64) -> i64 {
        // ts − 1 cannot overflow except at i64::MIN, where the floor is the same.
        ts_ms.saturating_sub(1).div_euclid(self.bucket_ms)
    }

    /// Where the last `n` buckets up to the one holding `now_ms` begin (exclusive:
    /// the end of the bucket before them), `(bucket_of(now) + 1 − n) · w`.
    #[inline]
    pub(crate) fn start_of_last(&self, now_ms: i64, n: usize) -> i64 {
        (self.bucket_of(now_ms) + 1 - n as i64) * self.bucket_ms
    }

    /// The last millisecond of bucket `k` (its inclusive end), `(k + 1) · w`.
    #[cfg(test)]
    pub(crate) fn bucket_end_ms(&self, bucket: i64) -> i64 {
        bucket.saturating_add(1).saturating_mul(self.bucket_ms)
    }
}

/// What [`BucketRing::add`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Counted in its bucket.
    Counted,
    /// Older than the ring's span (`bucket ≤ head − N`): ignored.
    TooOld,
    /// Bucket index outside `1..=u32::MAX` (see the module doc): ignored.
    OutOfRange,
}

/// A sliding window of `N` buckets of counter `C`, ~`N·size_of::<C>() + 4` bytes.
///
/// All methods take the [`RingSpec`] that defines the bucket width; always pass the
/// same spec to the same ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRing<const N: usize, C: Counter> {
    counts: [C; N],
    /// Highest bucket index added so far; 0 = never used (bucket 0 is out of range).
    head: u32,
}

impl<const N: usize, C: Counter> Default for BucketRing<N, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, C: Counter> BucketRing<N, C> {
    /// An empty ring.
    pub const fn new() -> Self {
        BucketRing {
            counts: [C::ZERO; N],
            head: 0,
        }
    }

    /// Count `amount` at event time `ts_ms`, advancing the ring if `ts_ms` is newer
    /// than its head (see the module doc for the exact rules).
    #[inline]
    pub fn add(&mut self, spec: &RingSpec<N>, ts_ms: i64, amount: C::Amount) -> AddOutcome {
        let bucket = spec.bucket_of(ts_ms);
        if bucket < 1 || bucket > i64::from(u32::MAX) {
            return AddOutcome::OutOfRange;
        }
        let bucket = bucket as u32;
        if self.head == 0 {
            self.head = bucket;
        } else if bucket > self.head {
            let advance = (bucket - self.head) as usize;
            if advance >= N {
                self.counts = [C::ZERO; N];
            } else {
                for b in self.head + 1..=bucket {
                    self.counts[slot::<N>(b)] = C::ZERO;
                }
            }
            self.head = bucket;
        } else if (self.head - bucket) as usize >= N {
            return AddOutcome::TooOld;
        }
        self.counts[slot::<N>(bucket)].add_saturating(amount);
        AddOutcome::Counted
    }

    /// The sum over the whole window (`N` buckets) ending at `now_ms`.
    #[inline]
    pub fn sum(&self, spec: &RingSpec<N>, now_ms: i64) -> C::Total {
        self.sum_last(spec, now_ms, N)
    }

    /// The sum over the last `buckets` buckets (clamped to `N`) ending with the bucket
    /// of `now_ms` — a shorter window read from the same ring (e.g. the last 5 min of a
    /// ring of 12 × 5 min).
    pub(crate) fn sum_last(&self, spec: &RingSpec<N>, now_ms: i64, buckets: usize) -> C::Total {
        let mut total = C::ZERO_TOTAL;
        if self.head == 0 || buckets == 0 {
            return total;
        }
        let head = i64::from(self.head);
        let now_bucket = spec.bucket_of(now_ms);
        let k = buckets.min(N) as i64;
        // bucket 0 and below are never stored (out of range)
        let lo = (now_bucket - k + 1).max(head - N as i64 + 1).max(1);
        let hi = now_bucket.min(head);
        if hi < lo {
            return total;
        }
        // lo..=hi spans at most N buckets: one contiguous run of slots, possibly wrapping
        let len = (hi - lo + 1) as usize;
        let start = slot::<N>(lo as u32);
        let first = len.min(N - start);
        for c in &self.counts[start..start + first] {
            c.accumulate_into(&mut total);
        }
        for c in &self.counts[..len - first] {
            c.accumulate_into(&mut total);
        }
        total
    }

    /// The counts of the retained bucket that event time `ts_ms` falls in (`None`
    /// when that bucket is not retained: never added, or too old).
    #[inline]
    pub(crate) fn bucket_at(&self, spec: &RingSpec<N>, ts_ms: i64) -> Option<C> {
        let bucket = spec.bucket_of(ts_ms);
        let head = i64::from(self.head);
        (self.head != 0 && bucket >= 1 && bucket <= head && head - bucket < N as i64)
            .then(|| self.counts[slot::<N>(bucket as u32)])
    }

    /// The same ring with every bucket's counts converted by `f` (to a wider counter).
    pub(crate) fn map<D: Counter>(&self, f: impl Fn(C) -> D) -> BucketRing<N, D> {
        BucketRing {
            counts: self.counts.map(f),
            head: self.head,
        }
    }

    /// How many of the last `buckets` buckets (clamped to `N`) ending with the bucket
    /// of `now_ms` hold a count: how steadily the key was active.
    pub(crate) fn active_last(&self, spec: &RingSpec<N>, now_ms: i64, buckets: usize) -> usize {
        if self.head == 0 || buckets == 0 {
            return 0;
        }
        let head = i64::from(self.head);
        let now_bucket = spec.bucket_of(now_ms);
        let k = buckets.min(N) as i64;
        let lo = (now_bucket - k + 1).max(head - N as i64 + 1).max(1);
        let hi = now_bucket.min(head);
        (lo..=hi)
            .filter(|&b| !self.counts[slot::<N>(b as u32)].is_zero())
            .count()
    }

    /// No retained bucket holds a count.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.iter().all(Counter::is_zero)
    }

    /// Every retained bucket is outside the window ending at `now_ms` (or the ring is
    /// unused): all sums at `now_ms` and later are zero until the next add, so the
    /// key's state may be evicted.
    #[cfg(test)]
    pub(crate) fn is_expired(&self, spec: &RingSpec<N>, now_ms: i64) -> bool {
        self.head == 0
            || i64::from(self.head) <= spec.bucket_of(now_ms) - N as i64
            || self.is_empty()
    }

    /// Event time at the end of the newest bucket added, `None` if never used.
    #[cfg(test)]
    pub(crate) fn latest_bucket_end_ms(&self, spec: &RingSpec<N>) -> Option<i64> {
        (self.head != 0).then(|| spec.bucket_end_ms(i64::from(self.head)))
    }

    /// The retained buckets, oldest first, with the event time ending each.
    #[cfg(test)]
    pub(crate) fn buckets<'a>(
        &'a self,
        spec: &'a RingSpec<N>,
    ) -> impl Iterator<Item = (i64, C)> + 'a {
        let head = i64::from(self.head);
        let start = if self.head == 0 {
            1
        } else {
            (head - N as i64 + 1).max(1)
        };
        let end = if self.head == 0 { 0 } else { head };
        (start..=end).map(move |b| (spec.bucket_end_ms(b), self.counts[slot::<N>(b as u32)]))
    }
}

#[inline]
fn slot<const N: usize>(bucket: u32) -> usize {
    bucket as usize % N
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;

    #[test]
    fn sizes_are_compact() {
        assert_eq!(std::mem::size_of::<BucketRing<5, u16>>(), 16);
        assert_eq!(std::mem::size_of::<BucketRing<12, u16>>(), 28);
        assert_eq!(std::mem::size_of::<BucketRing<24, u16>>(), 52);
        assert_eq!(std::mem::size_of::<BucketRing<24, u32>>(), 100);
        assert_eq!(std::mem::size_of::<BucketRing<12, [u16; 3]>>(), 76);
    }

    #[test]
    fn invalid_specs_are_refused() {
        assert!(RingSpec::<5>::new(0).is_err());
        assert!(RingSpec::<5>::new(-1).is_err());
        assert_eq!(
            RingSpec::<24>::covering(86_400_000).unwrap().bucket_ms(),
            3_600_000
        );
        assert!(RingSpec::<7>::covering(100).is_err());
    }

    #[test]
    fn buckets_are_right_closed() {
        let spec = RingSpec::<5>::new(MIN).unwrap();
        assert_eq!(spec.bucket_of(MIN), 0);
        assert_eq!(spec.bucket_of(MIN + 1), 1);
        assert_eq!(spec.bucket_of(2 * MIN), 1);
        let mut r: BucketRing<5, u16> = BucketRing::new();
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % MIN; // aligned
        r.add(&spec, t0, 1); // (t0 - 1 min, t0]
        r.add(&spec, t0 + 1, 10); // (t0, t0 + 1 min]
        assert_eq!(r.sum(&spec, t0), 1);
        assert_eq!(r.sum(&spec, t0 + MIN), 11);
        // window at t0 + 5 min is (t0, t0 + 5 min]: the first event dropped out
        assert_eq!(r.sum(&spec, t0 + 5 * MIN), 10);
        assert_eq!(r.sum_last(&spec, t0 + MIN, 1), 10);
        assert_eq!(r.sum(&spec, t0 + 6 * MIN), 0);
        assert!(r.is_expired(&spec, t0 + 6 * MIN));
        assert!(!r.is_expired(&spec, t0 + 5 * MIN));
    }

    #[test]
    fn too_old_out_of_range_and_future_buckets() {
        let spec = RingSpec::<3>::new(1_000).unwrap();
        let mut r: BucketRing<3, u32> = BucketRing::new();
        assert_eq!(r.add(&spec, 0, 1), AddOutcome::OutOfRange);
        assert_eq!(r.add(&spec, 1_000, 1), AddOutcome::OutOfRange); // bucket 0
        assert_eq!(r.add(&spec, 1_000 * (1 << 33), 1), AddOutcome::OutOfRange);
        assert!(r.is_empty());
        assert_eq!(r.add(&spec, 10_000, 1), AddOutcome::Counted); // bucket 9
        assert_eq!(r.add(&spec, 7_001, 1), AddOutcome::Counted); // bucket 7
        assert_eq!(r.add(&spec, 7_000, 1), AddOutcome::TooOld); // bucket 6
        assert_eq!(r.sum(&spec, 10_000), 2);
        // summing at an earlier "now" leaves out buckets after it
        assert_eq!(r.sum(&spec, 8_000), 1);
        assert_eq!(r.latest_bucket_end_ms(&spec), Some(10_000));
        let got: Vec<_> = r.buckets(&spec).collect();
        assert_eq!(got, vec![(8_000, 1), (9_000, 0), (10_000, 1)]);
        // a far-future event clears the ring
        assert_eq!(r.add(&spec, 1_000_000, 5), AddOutcome::Counted);
        assert_eq!(r.sum(&spec, 1_000_000), 5);
        assert_eq!(r.sum(&spec, 10_000), 0);
    }

    #[test]
    fn counts_saturate_but_sums_do_not() {
        let spec = RingSpec::<2>::new(1_000).unwrap();
        let mut r: BucketRing<2, u16> = BucketRing::new();
        r.add(&spec, 5_000, u32::MAX);
        r.add(&spec, 5_000, 7);
        r.add(&spec, 6_000, 60_000);
        r.add(&spec, 6_000, 60_000);
        assert_eq!(r.sum(&spec, 6_000), 2 * u64::from(u16::MAX));
    }

    /// A random event stream: a base time, then steps that mostly go forward, with
    /// some events moved back by up to `lateness`.
    fn events(max_lateness: i64) -> impl Strategy<Value = Vec<(i64, u32)>> {
        proptest::collection::vec(
            (0i64..4_000, 0i64..=max_lateness, 0u32..50, any::<bool>()),
            1..150,
        )
        .prop_map(move |steps| {
            let mut t = 1_000_000i64;
            steps
                .into_iter()
                .map(|(step, back, amount, is_late)| {
                    t += step;
                    (if is_late { t - back } else { t }, amount)
                })
                .collect()
        })
    }

    /// Naive recomputation: replays the raw list with the documented rules.
    fn naive_sum(spec_ms: i64, n: i64, added: &[(i64, u32)], head: i64, now: i64, k: i64) -> u64 {
        let bucket = |t: i64| (t - 1).div_euclid(spec_ms);
        let nb = bucket(now);
        added
            .iter()
            .filter(|(t, _)| {
                let b = bucket(*t);
                b > head - n && b > nb - k && b <= nb
            })
            .map(|&(_, a)| u64::from(a))
            .sum()
    }

    proptest! {
        /// Every add outcome and every window sum, at every step and at several `now`s,
        /// equals a recomputation over the raw event list.
        #[test]
        fn ring_matches_naive_recomputation(evs in events(6_000), w in 200i64..2_000, probe in 0i64..10_000) {
            let spec = RingSpec::<6>::new(w).unwrap();
            let mut ring: BucketRing<6, u32> = BucketRing::new();
            let mut counted: Vec<(i64, u32)> = Vec::new();
            let mut head: Option<i64> = None;
            for &(t, amount) in &evs {
                let b = (t - 1).div_euclid(w);
                let expect = match head {
                    Some(h) if b <= h - 6 => AddOutcome::TooOld,
                    _ => AddOutcome::Counted,
                };
                prop_assert_eq!(ring.add(&spec, t, amount), expect);
                if expect == AddOutcome::Counted {
                    counted.push((t, amount));
                    head = Some(head.map_or(b, |h| h.max(b)));
                }
                let h = head.unwrap();
                for now in [t, t + probe, t - probe, (h + 1) * w, t + 6 * w] {
                    prop_assert_eq!(ring.sum(&spec, now), naive_sum(w, 6, &counted, h, now, 6));
                    prop_assert_eq!(ring.sum_last(&spec, now, 2), naive_sum(w, 6, &counted, h, now, 2));
                }
            }
        }

        /// With lateness ≤ (N − 1)·w nothing is lost, and at a bucket-aligned `now` at or
        /// after the newest event the sum is exactly Σ amount over (now − N·w, now].
        #[test]
        fn aligned_sums_equal_the_exact_window(
            evs in events(5 * 1_000),
            offsets in proptest::collection::vec(0i64..8, 1..5),
            u16_counts in any::<bool>(),
        ) {
            let w = 1_000i64;
            let spec = RingSpec::<6>::new(w).unwrap();
            let mut r32: BucketRing<6, u32> = BucketRing::new();
            let mut r16: BucketRing<6, u16> = BucketRing::new();
            let mut max_t = i64::MIN;
            for &(t, amount) in &evs {
                // the stream generator keeps late events within 5·w of the newest one
                prop_assert_eq!(r32.add(&spec, t, amount), AddOutcome::Counted);
                if u16_counts { r16.add(&spec, t, amount); }
                max_t = max_t.max(t);
            }
            let first_aligned = (max_t + w - 1).div_euclid(w) * w;
            for off in offsets {
                let now = first_aligned + off * w;
                let exact: u64 = evs.iter().filter(|(t, _)| *t > now - 6 * w && *t <= now).map(|&(_, a)| u64::from(a)).sum();
                prop_assert_eq!(r32.sum(&spec, now), exact);
                if u16_counts { prop_assert_eq!(r16.sum(&spec, now), exact); }
                prop_assert_eq!(r32.is_expired(&spec, now), exact == 0 && (off >= 6 || r32.is_empty()));
            }
        }
    }
}
