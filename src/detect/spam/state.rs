//! Per-SIM state: compact sliding windows and a few attributes, kept in a chunked slab
//! indexed by a hash table of 4-byte slot numbers, so a tracked SIM costs about the
//! size of [`SimState`] plus a few bytes of table (the goal is ≤ 256 bytes a SIM).
//!
//! Windows (bucket widths derived from [`crate::config::SpamConfig`], defaults in brackets):
//! - `medium`: 12 buckets [× 5 min] of `(sms_out, distinct_recipients, new_recipients)`;
//!   the short window [5 min] is read from its last buckets;
//! - `long`: 24 buckets [× 1 h] of `sms_out`;
//! - `aux`: 4 buckets [× 6 h] over the long window of `(calls, sms_in)`.

use super::ids::{FastState, SimKey};
use crate::window::{prefetch_lines, BucketRing, RingSpec};
use std::hash::BuildHasher;

/// Ring specs shared by every SIM.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Specs {
    pub(crate) medium: RingSpec<12>,
    pub(crate) long: RingSpec<24>,
    pub(crate) aux: RingSpec<4>,
    /// Number of medium buckets making the short window.
    pub(crate) short_buckets: usize,
}

impl Specs {
    pub(crate) fn new(short_secs: u32, medium_secs: u32, long_secs: u32) -> Option<Specs> {
        let medium = RingSpec::<12>::covering(i64::from(medium_secs) * 1000).ok()?;
        let long = RingSpec::<24>::covering(i64::from(long_secs) * 1000).ok()?;
        let aux = RingSpec::<4>::new(i64::from(long_secs) * 1000 / 4).ok()?;
        let short_buckets = (i64::from(short_secs) * 1000 / medium.bucket_ms()).max(1) as usize;
        Some(Specs {
            medium,
            long,
            aux,
            short_buckets,
        })
    }
}

/// State flags of one SIM.
pub(crate) mod flag {
    /// The SIM is on the allowlist.
    pub(crate) const ALLOWLISTED: u8 = 1 << 0;
    /// `kyc_verified` has been reported at least once.
    pub(crate) const KYC_KNOWN: u8 = 1 << 1;
    /// Last reported `kyc_verified` value.
    pub(crate) const KYC_VERIFIED: u8 = 1 << 2;
    /// Stage A (`sims.rs`): since the state began the SIM showed a farm candidate's
    /// markers at some record (the gateway marker for any device), so stage B may
    /// have it in farm grouping: its records' devices and fingerprints cross.
    pub(crate) const CANDIDATE: u8 = 1 << 3;
    // bits 4 to 6 are free: which TACs are gateways, open cases, suppressions and
    // farm nodes are stage B's (`cross.rs`)
    /// Stage A's "hot" bit (`sims.rs`): since the state began, the SIM could open a
    /// case or showed a farm candidate's markers at some record, so every record of
    /// it from then on is one stage B reads.
    pub(crate) const FORWARDED: u8 = 1 << 7;
}

/// Optional fields a SIM's records carried (docs/contract.md, "SMS-volume records"):
/// a rule that needs a field is evaluated only when the SIM's records carry it, so an
/// operator that does not send a field is never read as sending zeros.
pub(crate) mod field {
    /// `distinct_recipients`.
    pub(crate) const DISTINCT: u8 = 1 << 0;
    /// `new_recipients`.
    pub(crate) const NEW: u8 = 1 << 1;
    /// `calls_out` or `calls_in`.
    pub(crate) const CALLS: u8 = 1 << 2;
    /// `sms_in`.
    pub(crate) const SMS_IN: u8 = 1 << 3;
    /// `cell`.
    pub(crate) const CELL: u8 = 1 << 4;
    /// `content_fps` (non-empty).
    pub(crate) const FPS: u8 = 1 << 5;
    /// `device` or `imei_tac`.
    pub(crate) const DEVICE: u8 = 1 << 6;
    /// Every optional field above.
    #[cfg(test)]
    pub(crate) const ALL: u8 = (1 << 7) - 1;

    /// The fields of one record.
    #[inline]
    pub(crate) fn of(r: &crate::model::SmsVolume) -> u8 {
        let mut f = 0;
        if r.distinct_recipients.is_some() {
            f |= DISTINCT;
        }
        if r.new_recipients.is_some() {
            f |= NEW;
        }
        if r.calls_out.is_some() || r.calls_in.is_some() {
            f |= CALLS;
        }
        if r.sms_in.is_some() {
            f |= SMS_IN;
        }
        if r.cell.is_some() {
            f |= CELL;
        }
        if !r.content_fps.is_empty() {
            f |= FPS;
        }
        if r.device.is_some() || r.imei_tac.is_some() {
            f |= DEVICE;
        }
        f
    }
}

/// Sentinel for an unknown SIM age.
pub(crate) const AGE_UNKNOWN: u16 = u16::MAX;

/// Everything remembered about one SIM: 192 bytes, aligned to a 64-byte cache line so a
/// state spans exactly three lines (a record touches all of them).
#[derive(Debug, Clone)]
#[repr(align(64))]
pub(crate) struct SimState {
    pub(crate) key: SimKey,
    /// `(sms_out, distinct_recipients, new_recipients)` per medium bucket.
    pub(crate) medium: BucketRing<12, [u16; 3]>,
    /// `sms_out` per long bucket.
    pub(crate) long: BucketRing<24, u16>,
    /// `(calls_out + calls_in, sms_in)` per quarter of the long window.
    pub(crate) aux: BucketRing<4, [u16; 2]>,
    /// Event time of the first record of this state (seconds since the epoch).
    pub(crate) first_seen_s: u32,
    /// Highest event time seen (seconds since the epoch).
    pub(crate) last_seen_s: u32,
    /// Records folded into this state (saturating).
    pub(crate) records: u32,
    /// 16-bit digest of the last reported serving cell (0 = none); only compared with
    /// the next record's cell, for the stationarity streak.
    pub(crate) cell: u16,
    /// Consecutive sending records from that cell.
    pub(crate) cell_streak: u16,
    /// Last reported SIM age in days, [`AGE_UNKNOWN`] if never reported.
    pub(crate) age_days: u16,
    pub(crate) flags: u8,
    /// Optional fields the SIM's records carried ([`field`] bits), since the state
    /// started.
    pub(crate) fields: u8,
}

impl SimState {
    pub(crate) fn new(key: SimKey, now_s: u32, allowlisted: bool) -> SimState {
        SimState {
            key,
            medium: BucketRing::new(),
            long: BucketRing::new(),
            aux: BucketRing::new(),
            first_seen_s: now_s,
            last_seen_s: now_s,
            records: 0,
            cell: 0,
            cell_streak: 0,
            age_days: AGE_UNKNOWN,
            flags: if allowlisted { flag::ALLOWLISTED } else { 0 },
            fields: 0,
        }
    }

    #[inline]
    pub(crate) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    #[inline]
    pub(crate) fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Heap bytes owned by the state (only an unusually long pseudonym).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.key.heap_bytes()
    }
}

/// How an interval `(start_ms, end_ms]` spanning several buckets of `spec` splits
/// into them: `piece(bucket_end_ms, part_ms)` for every retained bucket before the
/// last one (only the last N can be retained), then `(span_ms, kept_ms)`: the whole
/// interval and the part of it the retained buckets cover. `None` (no call) when the
/// interval falls into one bucket.
#[inline]
fn spread_pieces<const N: usize>(
    spec: &RingSpec<N>,
    start_ms: i64,
    end_ms: i64,
    mut piece: impl FnMut(i64, u128),
) -> Option<(u128, u128)> {
    let w = spec.bucket_ms();
    let first = spec.bucket_of(start_ms + 1);
    let last = spec.bucket_of(end_ms);
    if first >= last {
        return None;
    }
    let first = first.max(last - N as i64 + 1);
    let span = (end_ms - start_ms).max(1) as u128;
    let kept = (end_ms - (first * w).max(start_ms)).max(0) as u128;
    for b in first..last {
        let lo = (b * w).max(start_ms);
        let hi = ((b + 1) * w).min(end_ms);
        piece(hi, (hi - lo).max(0) as u128);
    }
    Some((span, kept))
}

/// Add `amount` spread over the buckets that the interval `(start_ms, end_ms]` covers,
/// in proportion to the overlap, so a 15-min record is not counted as 15 min of
/// sending inside a 5-min bucket. Only the part that the ring can retain is added;
/// rounding remainders go to the last bucket, so that part's total is exact.
#[inline]
pub(crate) fn spread_add<const N: usize, const K: usize>(
    ring: &mut BucketRing<N, [u16; K]>,
    spec: &RingSpec<N>,
    start_ms: i64,
    end_ms: i64,
    amount: [u32; K],
) {
    let span = (end_ms - start_ms).max(1) as u128;
    let mut given = [0u32; K];
    let split = spread_pieces(spec, start_ms, end_ms, |hi, part| {
        let share = amount.map(|a| (u128::from(a) * part / span) as u32);
        for (g, s) in given.iter_mut().zip(share) {
            *g += s;
        }
        ring.add(spec, hi, share);
    });
    let Some((span, kept)) = split else {
        ring.add(spec, end_ms, amount);
        return;
    };
    let mut rest = amount.map(|a| (u128::from(a) * kept / span) as u32);
    for (r, g) in rest.iter_mut().zip(given) {
        *r = r.saturating_sub(g);
    }
    ring.add(spec, end_ms, rest);
}

/// Scalar variant of [`spread_add`].
#[inline]
pub(crate) fn spread_add_scalar<const N: usize>(
    ring: &mut BucketRing<N, u16>,
    spec: &RingSpec<N>,
    start_ms: i64,
    end_ms: i64,
    amount: u32,
) {
    let span = (end_ms - start_ms).max(1) as u128;
    let mut given = 0u32;
    let split = spread_pieces(spec, start_ms, end_ms, |hi, part| {
        let share = (u128::from(amount) * part / span) as u32;
        given += share;
        ring.add(spec, hi, share);
    });
    let Some((span, kept)) = split else {
        ring.add(spec, end_ms, amount);
        return;
    };
    let due = (u128::from(amount) * kept / span) as u32;
    ring.add(spec, end_ms, due.saturating_sub(given));
}

const CHUNK: usize = 1024;

/// One entry of [`SlotIndex`]: the low 32 bits of the key's hash and the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    tag: u32,
    slot: u32,
}

const EMPTY: IndexEntry = IndexEntry {
    tag: 0,
    slot: u32::MAX,
};

/// Open-addressing index from a SIM's hash to its slot: linear probing over one array
/// of 8-byte entries, backward-shift deletion (no tombstones).
///
/// Why not a general hash map: a lookup is the first touch of a record, and on millions
/// of SIMs both the index and the states are out of the nearest caches. Here the probe
/// reads one cache line (tag and slot side by side, the home position is the tag's low
/// bits) and the state is touched only when the 32-bit tag matches; a SwissTable reads
/// its control bytes and its slot array, two separate lines, before the state.
struct SlotIndex {
    entries: Vec<IndexEntry>,
    len: usize,
}

impl SlotIndex {
    const MIN_CAPACITY: usize = 1024;

    fn new() -> Self {
        SlotIndex {
            entries: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    /// The slot whose tag is `tag` and for which `eq` holds.
    #[inline]
    fn find(&self, tag: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.entries.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = tag as usize & mask;
        loop {
            let e = self.entries[i];
            if e.slot == EMPTY.slot {
                return None;
            }
            if e.tag == tag && eq(e.slot) {
                return Some(e.slot);
            }
            i = (i + 1) & mask;
        }
    }

    /// Add a slot known not to be indexed yet. The load stays at most 4/5: a hit then
    /// probes about 3 entries (one cache line holds 8), a miss about 13; linear probing
    /// degrades quickly above that.
    fn insert(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 5 > self.entries.len() * 4 {
            self.grow();
        }
        let mask = self.mask();
        let mut i = tag as usize & mask;
        while self.entries[i].slot != EMPTY.slot {
            i = (i + 1) & mask;
        }
        self.entries[i] = IndexEntry { tag, slot };
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.entries.len() * 2).max(Self::MIN_CAPACITY);
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; cap]);
        let mask = cap - 1;
        for e in old.into_iter().filter(|e| e.slot != EMPTY.slot) {
            let mut i = e.tag as usize & mask;
            while self.entries[i].slot != EMPTY.slot {
                i = (i + 1) & mask;
            }
            self.entries[i] = e;
        }
    }

    /// Remove `slot` (indexed under `tag`); false if it was not there.
    fn remove(&mut self, tag: u32, slot: u32) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        let mask = self.mask();
        let mut i = tag as usize & mask;
        loop {
            let e = self.entries[i];
            if e.slot == EMPTY.slot {
                return false;
            }
            if e.slot == slot {
                break;
            }
            i = (i + 1) & mask;
        }
        // backward shift: pull every later entry of the run whose home position is at
        // or before the hole into it
        let mut hole = i;
        let mut k = (i + 1) & mask;
        loop {
            let e = self.entries[k];
            if e.slot == EMPTY.slot {
                break;
            }
            let home = e.tag as usize & mask;
            if k.wrapping_sub(home) & mask >= k.wrapping_sub(hole) & mask {
                self.entries[hole] = e;
                hole = k;
            }
            k = (k + 1) & mask;
        }
        self.entries[hole] = EMPTY;
        self.len -= 1;
        true
    }

    fn allocation_size(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<IndexEntry>()
    }
}

/// All tracked SIMs: a slab of fixed-size chunks (no doubling slack, no moves) and an
/// index of slot numbers keyed by the SIM's hash.
pub(crate) struct SimTable {
    chunks: Vec<Box<[Option<SimState>]>>,
    free: Vec<u32>,
    index: SlotIndex,
    hasher: FastState,
    len: usize,
}

impl Default for SimTable {
    fn default() -> Self {
        SimTable {
            chunks: Vec::new(),
            free: Vec::new(),
            index: SlotIndex::new(),
            hasher: FastState::default(),
            len: 0,
        }
    }
}

impl SimTable {
    #[inline]
    fn slot_ref(chunks: &[Box<[Option<SimState>]>], slot: u32) -> Option<&SimState> {
        Self::slot_entry(chunks, slot).and_then(Option::as_ref)
    }

    #[inline]
    fn slot_entry(chunks: &[Box<[Option<SimState>]>], slot: u32) -> Option<&Option<SimState>> {
        let s = slot as usize;
        chunks.get(s / CHUNK).map(|c| &c[s % CHUNK])
    }

    #[inline]
    fn tag(&self, key: &SimKey) -> u32 {
        self.hasher.hash_one(key) as u32
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&SimState> {
        Self::slot_ref(&self.chunks, slot)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut SimState> {
        let s = slot as usize;
        self.chunks
            .get_mut(s / CHUNK)
            .and_then(|c| c[s % CHUNK].as_mut())
    }

    /// The slot of a SIM, if tracked.
    pub(crate) fn find(&self, key: &SimKey) -> Option<u32> {
        let chunks = &self.chunks;
        self.index.find(self.tag(key), |s| {
            Self::slot_ref(chunks, s).is_some_and(|st| &st.key == key)
        })
    }

    /// The slot of a SIM, creating its state with `make` if it is not tracked yet;
    /// the flag says whether it was created.
    #[inline]
    pub(crate) fn find_or_insert(
        &mut self,
        key: SimKey,
        make: impl FnOnce(SimKey) -> SimState,
    ) -> (u32, bool) {
        let tag = self.tag(&key);
        let chunks = &self.chunks;
        if let Some(s) = self.index.find(tag, |s| {
            let st = Self::slot_entry(chunks, s);
            // the record reads all three lines of the state: ask for the two past the
            // key now, so their misses overlap the key's instead of following it
            prefetch_lines(st, 1..3);
            st.and_then(Option::as_ref).is_some_and(|st| st.key == key)
        }) {
            return (s, false);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let s = (self.chunks.len() * CHUNK) as u32;
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.resize_with(CHUNK, || None);
                self.chunks.push(chunk.into_boxed_slice());
                // slots of the new chunk, handed out lowest first
                self.free.extend((s + 1..s + CHUNK as u32).rev());
                s
            }
        };
        let s = slot as usize;
        self.chunks[s / CHUNK][s % CHUNK] = Some(make(key));
        self.index.insert(tag, slot);
        self.len += 1;
        (slot, true)
    }

    /// Remove a SIM's state, returning it.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<SimState> {
        let s = slot as usize;
        let st = self.chunks.get_mut(s / CHUNK)?[s % CHUNK].take()?;
        let tag = self.tag(&st.key);
        self.index.remove(tag, slot);
        self.free.push(slot);
        self.len -= 1;
        Some(st)
    }

    /// Slots of every state matching `pred`, in slot order (deterministic).
    pub(crate) fn slots_where(&self, mut pred: impl FnMut(&SimState) -> bool) -> Vec<u32> {
        let mut out = Vec::new();
        for (ci, chunk) in self.chunks.iter().enumerate() {
            for (i, st) in chunk.iter().enumerate() {
                if let Some(st) = st {
                    if pred(st) {
                        out.push((ci * CHUNK + i) as u32);
                    }
                }
            }
        }
        out
    }

    /// Bytes held by the table: slab chunks, index, free list and heap of the states.
    pub(crate) fn memory_bytes(&self) -> usize {
        let slab = self.chunks.len() * CHUNK * std::mem::size_of::<Option<SimState>>()
            + self.chunks.capacity() * std::mem::size_of::<Box<[Option<SimState>]>>();
        let heap: usize = self
            .chunks
            .iter()
            .flat_map(|c| c.iter().flatten())
            .map(SimState::heap_bytes)
            .sum();
        slab + self.index.allocation_size() + self.free.capacity() * 4 + heap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_compact() {
        let size = std::mem::size_of::<Option<SimState>>();
        assert_eq!(size, 192, "SimState is {size} bytes");
        assert_eq!(std::mem::align_of::<SimState>(), 64);
    }

    #[test]
    fn table_inserts_finds_and_reuses_slots() {
        let mut t = SimTable::default();
        let k = |i: u32| SimKey::new(0, &format!("{i:016x}"));
        for i in 0..10_000 {
            let (s, new) = t.find_or_insert(k(i), |key| SimState::new(key, 1, false));
            assert!(new);
            assert_eq!(s, i);
        }
        assert_eq!(t.len(), 10_000);
        assert_eq!(
            t.find_or_insert(k(7), |key| SimState::new(key, 1, false)),
            (7, false)
        );
        assert_eq!(t.find(&k(9_999)), Some(9_999));
        let removed = t.remove(7).unwrap();
        assert_eq!(removed.key, k(7));
        assert_eq!(t.find(&k(7)), None);
        assert_eq!(t.len(), 9_999);
        let (s, new) = t.find_or_insert(k(20_000), |key| SimState::new(key, 1, false));
        assert!(new);
        assert_eq!(s, 7, "freed slot reused");
        assert_eq!(t.find(&k(20_000)), Some(7));
        assert_eq!(t.slots_where(|st| st.key == k(3)), vec![3]);
        let per_sim = t.memory_bytes() as f64 / t.len() as f64;
        assert!(per_sim < 256.0, "{per_sim} bytes per sim");
    }

    #[test]
    fn index_survives_colliding_tags_and_removals() {
        // every tag lands on the same home position: one long run to shift back
        let mut ix = SlotIndex::new();
        for slot in 0..600u32 {
            ix.insert((slot % 3) << 20, slot);
        }
        for slot in (0..600u32).step_by(2) {
            assert!(ix.remove((slot % 3) << 20, slot));
        }
        assert!(!ix.remove(0, 0), "already removed");
        for slot in 0..600u32 {
            let found = ix.find((slot % 3) << 20, |s| s == slot);
            assert_eq!(found.is_some(), slot % 2 == 1, "slot {slot}");
        }
        assert_eq!(ix.len, 300);
        // random tags, removal and reinsertion, checked against a map
        let mut model = std::collections::HashMap::new();
        let mut ix = SlotIndex::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 3_000) as u32;
            let tag = (x >> 40) as u32 & 0x3ff; // few distinct tags: many collisions
            if let Some(t) = model.remove(&slot) {
                assert!(ix.remove(t, slot), "step {step}");
            } else {
                model.insert(slot, tag);
                ix.insert(tag, slot);
            }
        }
        assert_eq!(ix.len, model.len());
        for (&slot, &tag) in &model {
            assert_eq!(ix.find(tag, |s| s == slot), Some(slot));
        }
    }

    #[test]
    fn spread_keeps_totals_and_splits_long_records() {
        let specs = Specs::new(300, 3_600, 86_400).unwrap();
        let mut r: BucketRing<12, [u16; 3]> = BucketRing::new();
        let t0 = 1_700_006_400_000i64; // hour aligned
                                       // a 15-min record: three 5-min buckets of one third each
        spread_add(&mut r, &specs.medium, t0, t0 + 900_000, [30, 9, 3]);
        assert_eq!(r.sum(&specs.medium, t0 + 900_000), [30, 9, 3]);
        assert_eq!(r.sum_last(&specs.medium, t0 + 900_000, 1), [10, 3, 1]);
        // a 1-min record stays in one bucket
        spread_add(&mut r, &specs.medium, t0 + 900_000, t0 + 960_000, [4, 4, 4]);
        assert_eq!(r.sum_last(&specs.medium, t0 + 1_200_000, 1), [4, 4, 4]);
        let mut l: BucketRing<24, u16> = BucketRing::new();
        spread_add_scalar(&mut l, &specs.long, t0, t0 + 2 * 86_400_000, 480);
        assert_eq!(l.sum(&specs.long, t0 + 2 * 86_400_000), 240);
    }
}
