//! The phones that reported a transmitter (or a misplaced registered cell), compactly.
//!
//! A transmitter needs, per reporter, when it last reported it and when it last
//! reported a reject or downgrade: the evidence counts distinct reporters in the
//! window, the IMSI-catcher rule distinct rejected phones over its horizon, and an
//! inventory finding all reporters ever. A `HashMap<u64, (i64, i64)>` spent 25 bytes
//! an entry (plus the table's empty slots) on that; [`Reporters`] keeps a sorted
//! `Vec` of 8-byte entries, the reporter's hash folded to 32 bits and its last report
//! as a 32-bit millisecond offset from a base that moves forward when event time
//! outruns it (24 days either side), and the few phones that reported a reject or
//! downgrade in a second sorted `Vec` of the same shape. Two reporters of one
//! transmitter share a 32-bit key with probability ≈ n² / 2³³ (under 1 % at the cap
//! of 8,192 reporters, 10⁻⁶ at a typical hundred): they then count as one.
//!
//! [`Distinct`] is the same idea for a set whose only question is its size (the
//! reporters of a misplaced cell's profile): sorted 32-bit keys, 4 bytes each.
//!
//! Both grow by a quarter when full rather than doubling: an insertion into a
//! sorted `Vec` moves its tail anyway, and doubling left a quarter of the capacity
//! unused on average. A growth takes the whole block the allocator hands out
//! ([`crate::alloc::fitting_capacity`]: its size classes are coarser than a quarter
//! past a few hundred bytes, so the rest of the block was unused and unaccounted)
//! and never goes past the cap (a list of 2,047 grew to 2,558, a quarter unused).

/// Offset of a time so old that the base has moved past it (older than any window).
const LONG_AGO: i32 = i32::MIN + 1;
/// The base moves when an offset would exceed this (≈ 12 days).
const REBASE_AT: i64 = (i32::MAX / 2) as i64;

/// A reporter's 64-bit hash folded to the 32 bits kept.
#[inline]
pub(crate) fn key32(reporter: u64) -> u32 {
    (reporter ^ (reporter >> 32)) as u32
}

/// A reporter and a time: its last report in [`Reporters::entries`], its last reject
/// or downgrade in [`Reporters::rejects`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u32,
    /// ms after the base.
    at: i32,
}

/// Insert `item` at `i` of a sorted `Vec` of at most `cap`, growing it by a quarter
/// (to the end of the allocator's block, never past `cap`) when full.
fn insert_sorted<T>(v: &mut Vec<T>, i: usize, item: T, cap: usize) {
    if v.len() == v.capacity() {
        let len = v.len();
        let want = crate::alloc::fitting_capacity::<T>(len + (len / 4).max(4));
        v.reserve_exact(want.min(cap).max(len + 1) - len);
    }
    v.insert(i, item);
}

/// Distinct reporters with their last report and last reject, at most `cap`
/// remembered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reporters {
    base_ms: i64,
    /// Every reporter remembered, by key, with its last report.
    entries: Vec<Entry>,
    /// The reporters of `entries` that reported a reject or downgrade, by key, with
    /// the last one (never later than their last report).
    rejects: Vec<Entry>,
    /// Reporters dropped at the cap, last heard before every window (counted by
    /// [`Reporters::total`]; one that comes back is counted again).
    forgotten: u32,
}

impl Reporters {
    /// Empty, offsets counted from `base_ms` (the first report's event time).
    pub(crate) fn new(base_ms: i64) -> Self {
        Reporters {
            base_ms,
            entries: Vec::new(),
            rejects: Vec::new(),
            forgotten: 0,
        }
    }

    /// Offset of `ts_ms`; moves the base forward first when `ts_ms` is too far ahead.
    fn offset(&mut self, ts_ms: i64) -> i32 {
        if ts_ms - self.base_ms > REBASE_AT {
            self.rebase(ts_ms);
        }
        i32::try_from(ts_ms - self.base_ms).unwrap_or(LONG_AGO)
    }

    fn rebase(&mut self, now_ms: i64) {
        let shift = now_ms - self.base_ms;
        let keep = |t: i32| -> i32 {
            i32::try_from(i64::from(t) - shift)
                .unwrap_or(LONG_AGO)
                .max(LONG_AGO)
        };
        for e in self.entries.iter_mut().chain(self.rejects.iter_mut()) {
            e.at = keep(e.at);
        }
        self.base_ms = now_ms;
    }

    /// Offset of the window start `from_ms` (exclusive): times after it count.
    fn bound(&self, from_ms: i64) -> i64 {
        from_ms - self.base_ms
    }

    /// A report by `reporter` at `ts_ms`, a reject or downgrade when `rejected`. At
    /// `cap` reporters, those last heard `horizon_ms` or longer before `ts_ms` (outside
    /// every window asked about) make room for a new one; when none is, the new
    /// reporter is not remembered.
    pub(crate) fn note(
        &mut self,
        reporter: u64,
        ts_ms: i64,
        rejected: bool,
        cap: usize,
        horizon_ms: i64,
    ) {
        let at = self.offset(ts_ms);
        let key = key32(reporter);
        let mut found = self.entries.binary_search_by_key(&key, |e| e.key);
        if found.is_err() && self.entries.len() >= cap {
            self.forget_before(ts_ms - horizon_ms);
            found = self.entries.binary_search_by_key(&key, |e| e.key);
        }
        match found {
            Ok(i) => self.entries[i].at = self.entries[i].at.max(at),
            Err(i) if self.entries.len() < cap => {
                insert_sorted(&mut self.entries, i, Entry { key, at }, cap);
            }
            Err(_) => return,
        }
        if rejected {
            match self.rejects.binary_search_by_key(&key, |e| e.key) {
                Ok(i) => self.rejects[i].at = self.rejects[i].at.max(at),
                Err(i) => insert_sorted(&mut self.rejects, i, Entry { key, at }, cap),
            }
        }
    }

    /// Drop the reporters last heard at or before `until_ms`.
    fn forget_before(&mut self, until_ms: i64) {
        let until = self.bound(until_ms);
        let before = self.entries.len();
        self.entries.retain(|e| i64::from(e.at) > until);
        let dropped = before - self.entries.len();
        let entries = &self.entries;
        self.rejects
            .retain(|r| entries.binary_search_by_key(&r.key, |e| e.key).is_ok());
        self.forgotten = self
            .forgotten
            .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
    }

    /// Reporters heard after `from_ms`.
    pub(crate) fn heard_after(&self, from_ms: i64) -> usize {
        let from = self.bound(from_ms);
        self.entries
            .iter()
            .filter(|e| i64::from(e.at) > from)
            .count()
    }

    /// Over the time after `from_ms`: (reporters that reported a reject or downgrade,
    /// all reporters heard).
    pub(crate) fn rejected_after(&self, from_ms: i64) -> (usize, usize) {
        // a reject is never later than its reporter's last report, so a reject in
        // the window is a rejected reporter heard in it
        let from = self.bound(from_ms);
        let rejected = self
            .rejects
            .iter()
            .filter(|e| i64::from(e.at) > from)
            .count();
        (rejected, self.heard_after(from_ms))
    }

    /// Distinct reporters ever: those remembered and those forgotten at the cap.
    pub(crate) fn total(&self) -> usize {
        self.entries.len() + self.forgotten as usize
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.entries.capacity() + self.rejects.capacity()) * std::mem::size_of::<Entry>()
    }
}

/// A set of reporters whose size is all that is asked, at most `cap`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct(Vec<u32>);

impl Distinct {
    pub(crate) fn insert(&mut self, reporter: u64, cap: usize) {
        let key = key32(reporter);
        if let Err(i) = self.0.binary_search(&key) {
            if self.0.len() < cap {
                insert_sorted(&mut self.0, i, key, cap);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 100_000;

    #[test]
    fn counts_reporters_in_windows_and_rejects() {
        let mut r = Reporters::new(1_000);
        r.note(7, 1_000, false, 10, H);
        r.note(8, 5_000, true, 10, H);
        r.note(7, 9_000, false, 10, H);
        r.note(9, 2_000, false, 10, H);
        assert_eq!(r.total(), 3);
        assert_eq!(r.heard_after(999), 3);
        assert_eq!(r.heard_after(2_000), 2); // 9's last report is not after 2 000
        assert_eq!(r.heard_after(5_000), 1);
        assert_eq!(r.rejected_after(0), (1, 3));
        assert_eq!(r.rejected_after(5_000), (0, 1));
        // the cap keeps known reporters and refuses new ones while all are recent
        r.note(10, 9_500, false, 3, H);
        assert_eq!(r.total(), 3);
        r.note(8, 9_600, false, 3, H);
        assert_eq!(r.heard_after(9_550), 1);
        // a horizon later, the ones not heard since make room, and still count
        r.note(11, 9_000 + H, false, 3, H);
        assert_eq!(r.total(), 4);
        assert_eq!(r.heard_after(9_000), 2); // 7 and 9 forgotten, 8 and 11 kept
        assert_eq!(r.heard_after(9_000 + H - 1), 1);
    }

    #[test]
    fn times_survive_a_rebase_weeks_later() {
        let day = 86_400_000i64;
        let mut r = Reporters::new(0);
        r.note(1, 0, true, 10, H);
        r.note(2, 10 * day, false, 10, H);
        r.note(3, 30 * day, false, 10, H); // past the 24-day range: the base moves
        assert_eq!(r.heard_after(30 * day - 1), 1);
        assert_eq!(r.heard_after(10 * day - 1), 2);
        assert_eq!(r.heard_after(-1), 3);
        assert_eq!(r.rejected_after(-1), (1, 3));
        assert_eq!(r.rejected_after(10 * day - 1), (0, 2));
        r.note(1, 31 * day, false, 10, H);
        assert_eq!(r.heard_after(30 * day), 1);
    }

    #[test]
    fn growth_fills_the_block_and_stops_at_the_cap() {
        let mut r = Reporters::new(0);
        for k in 0..2_047u64 {
            r.note(k << 32, 1_000, false, 2_047, H);
            assert!(r.entries.capacity() <= 2_047);
        }
        assert_eq!(r.total(), 2_047);
        assert_eq!(r.entries.capacity(), 2_047);
        let mut d = Distinct::default();
        for k in 0..100u64 {
            d.insert(k, 4_096);
        }
        // a block of the allocator's, filled: asked for 8 x a quarter more each time
        let cap = d.0.capacity();
        assert!(cap >= 100 && crate::alloc::fitting_capacity::<u32>(cap) == cap);
    }

    #[test]
    fn distinct_counts_each_reporter_once() {
        let mut d = Distinct::default();
        for x in [5u64, 3, 5, 9, 3, 1 << 40] {
            d.insert(x, 4);
        }
        assert_eq!(d.len(), 4);
        d.insert(77, 4);
        assert_eq!(d.len(), 4);
        assert!(d.heap_bytes() >= 16);
    }
}
