//! Per broadcast identity (`RAT + MCC-MNC-LAC-CID`) evidence: how often and where it
//! was heard, on which channels, when it was last anomalous, and — for a
//! registered cell that is heard where its inventory row says it cannot be — a profile
//! of all its reports, from which the inventory-discrepancy finding locates it.

use super::emitter::keep_bounded;
use super::geometry::LocalFrame;
use super::reported::Reported;
use super::reporters::Distinct;
use super::rules::Neighbourhood;
use crate::model::{CellKey, CellMeasurement, ClaimedCell, Rat};
use std::collections::VecDeque;

/// Key of an identity.
pub(crate) type IdKey = (Rat, CellKey);

/// The identity a report claims, as a case lists it.
pub(crate) fn claimed_cell(m: &CellMeasurement) -> ClaimedCell {
    ClaimedCell {
        rat: m.rat,
        mcc: m.cell.mcc,
        mnc: m.cell.mnc,
        lac: m.cell.lac,
        cid: m.cell.cid,
        arfcn: m.arfcn,
    }
}

/// Whether two claimed identities are the same: the same technology and
/// `MCC-MNC-LAC-CID`, and the same channel when both are known (a report without
/// `arfcn` claims the identity on an unknown channel, not another identity).
pub(crate) fn same_identity(a: &ClaimedCell, b: &ClaimedCell) -> bool {
    a.rat == b.rat
        && a.mcc == b.mcc
        && a.mnc == b.mnc
        && a.lac == b.lac
        && a.cid == b.cid
        && super::signature::agree(a.arfcn, b.arfcn)
}

/// The inventory key of a claimed identity.
pub(crate) fn cell_key(c: &ClaimedCell) -> CellKey {
    CellKey {
        mcc: c.mcc,
        mnc: c.mnc,
        lac: c.lac,
        cid: c.cid,
    }
}

/// Channel slots remembered per identity.
const CHANNEL_SLOTS: usize = 2;

/// An optional event time in 8 bytes (`Option<i64>` takes 16): `i64::MIN`, never a
/// valid event time, is none. Keeps [`IdentityState`] (one per tracked identity, in
/// the identity table's slots) small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptMs(i64);

impl OptMs {
    pub(crate) const NONE: OptMs = OptMs(i64::MIN);

    pub(crate) fn get(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }

    pub(crate) fn is_some_and(self, f: impl FnOnce(i64) -> bool) -> bool {
        self.get().is_some_and(f)
    }

    pub(crate) fn is_none_or(self, f: impl FnOnce(i64) -> bool) -> bool {
        self.get().is_none_or(f)
    }

    /// The later of the time held and `ts_ms`.
    pub(crate) fn raise(&mut self, ts_ms: i64) {
        self.0 = self.get().map_or(ts_ms, |t| t.max(ts_ms));
    }
}

/// Evidence about one identity.
#[derive(Debug, Clone)]
pub(crate) struct IdentityState {
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) reports: u32,
    /// Channels heard (`u32::MAX` = empty slot), and the last event time of each
    /// (apart: a `(u32, i64)` pair pads to 16 bytes).
    channels: [u32; CHANNEL_SLOTS],
    channel_ms: [i64; CHANNEL_SLOTS],
    /// Neighbourhood verdict cached for a ≈ 2 km grid square of the reporter.
    pub(crate) neighbourhood: Option<((i32, i32), Neighbourhood)>,
    /// Event time of its last anomalous report (what stage B was last sent of it:
    /// `super::forward`), none if none since it was first heard.
    pub(crate) last_anomaly_ms: OptMs,
    /// Event time of its last anomalous report off its registered channel (or with
    /// no channel to compare): only then can a transmitter carry it on another
    /// channel, which a normal report shows duplicated (a marker to stage B).
    pub(crate) last_off_channel_ms: OptMs,
    /// All reports of a registered identity on its registered channel, kept once it
    /// was heard beyond its reach or off its timing advance.
    pub(crate) profile: Option<Box<Profile>>,
}

impl IdentityState {
    pub(crate) fn new(ts_ms: i64) -> Self {
        IdentityState {
            first_seen: ts_ms,
            last_seen: ts_ms,
            reports: 0,
            channels: [u32::MAX; CHANNEL_SLOTS],
            channel_ms: [i64::MIN; CHANNEL_SLOTS],
            neighbourhood: None,
            last_anomaly_ms: OptMs::NONE,
            last_off_channel_ms: OptMs::NONE,
            profile: None,
        }
    }

    #[inline]
    pub(crate) fn touch(&mut self, m: &CellMeasurement) {
        self.first_seen = self.first_seen.min(m.ts_ms);
        self.last_seen = self.last_seen.max(m.ts_ms);
        self.reports = self.reports.saturating_add(1);
        if let Some(arfcn) = m.arfcn {
            self.note_channel(arfcn, m.ts_ms);
        }
    }

    fn note_channel(&mut self, arfcn: u32, ts_ms: i64) {
        if let Some(i) = self.channels.iter().position(|&c| c == arfcn) {
            self.channel_ms[i] = self.channel_ms[i].max(ts_ms);
            return;
        }
        // replace the empty or least recent slot (the first of equals)
        let mut i = 0;
        for j in 1..CHANNEL_SLOTS {
            if self.channel_ms[j] < self.channel_ms[i] {
                i = j;
            }
        }
        (self.channels[i], self.channel_ms[i]) = (arfcn, ts_ms);
    }

    /// Last event time this identity was heard on a channel other than `arfcn`.
    pub(crate) fn other_channel_seen(&self, arfcn: u32) -> Option<i64> {
        self.channels
            .iter()
            .zip(self.channel_ms)
            .filter(|(&c, _)| c != u32::MAX && c != arfcn)
            .map(|(_, t)| t)
            .max()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.profile_bytes()
    }

    /// Of [`IdentityState::state_bytes`]: the profile's.
    pub(crate) fn profile_bytes(&self) -> usize {
        self.profile.as_ref().map_or(0, |p| p.state_bytes())
    }
}

/// Reports of a registered identity suspected to be listed at the wrong place.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) frame: LocalFrame,
    pub(crate) observations: VecDeque<Reported>,
    pub(crate) reporters: Distinct,
    pub(crate) reports: u64,
    /// Reports beyond reach or off their timing advance.
    pub(crate) misplaced_reports: u64,
}

const MAX_PROFILE_REPORTERS: usize = 4_096;

impl Profile {
    pub(crate) fn new(m: &CellMeasurement) -> Self {
        Profile {
            frame: LocalFrame::new(m.lat, m.lon),
            observations: VecDeque::new(),
            reporters: Distinct::default(),
            reports: 0,
            misplaced_reports: 0,
        }
    }

    /// A report; at most `cap` with a signal are kept (`fakebts.max_profile_observations`).
    pub(crate) fn add(&mut self, m: &CellMeasurement, reporter: u64, misplaced: bool, cap: usize) {
        self.reports += 1;
        if misplaced {
            self.misplaced_reports += 1;
        }
        self.reporters.insert(reporter, MAX_PROFILE_REPORTERS);
        if m.signal_dbm.is_none() {
            return;
        }
        let (x, y) = self.frame.to_xy(m.lat, m.lon);
        keep_bounded(&mut self.observations, Reported::of_report(m, x, y), cap);
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.observations.capacity() * std::mem::size_of::<Reported>()
            + self.reporters.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_keep_the_most_recent() {
        let mut s = IdentityState::new(0);
        s.note_channel(10, 1);
        s.note_channel(11, 2);
        assert_eq!(s.other_channel_seen(10), Some(2));
        s.note_channel(12, 3); // evicts 10 (least recent)
        assert_eq!(s.other_channel_seen(11), Some(3));
        assert_eq!(s.other_channel_seen(12), Some(2));
        s.note_channel(11, 9);
        assert_eq!(s.other_channel_seen(12), Some(9));
    }

    #[test]
    fn is_small_and_optional_times_hold() {
        // with its key, the identity table's slot: at most 120 bytes (598 identities
        // then fit a 128 KiB table, not a 160 KiB one)
        assert!(std::mem::size_of::<(IdKey, IdentityState)>() <= 120);
        let mut t = OptMs::NONE;
        assert_eq!(t.get(), None);
        assert!(t.is_none_or(|_| false) && !t.is_some_and(|_| true));
        t.raise(-5);
        t.raise(-9);
        assert_eq!(t.get(), Some(-5));
        assert!(t.is_some_and(|x| x == -5) && !t.is_none_or(|x| x > 0));
    }
}
