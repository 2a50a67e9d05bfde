//! A candidate transmitter ("emitter"): the anomalous reports attributed to one
//! physical source, whatever identities it broadcast. Holds the windowed rule counts
//! that make its score, its reporters, its observations for localisation, its
//! position estimates and track, and the state of its case once one is open.

use super::geometry::{LocalFrame, PathLoss};
use super::identity::{claimed_cell, same_identity};
use super::locate::{largest_eigenvalue, multilaterate_from, Fix, Observation, SolverParams};
use super::moving::{displacement, Displacement};
use super::reported::{kept_cap, Reported};
use super::reporters::Reporters;
use super::rule_values::RuleValues;
use super::rules::{ReportCheck, Rule, RULE_COUNT};
use super::signature::Signature;
use super::snapshot::CaseState;
use super::track::{smoothed_track, Kalman, TrackFix};
use crate::config::FakeBtsConfig;
use crate::model::{round6, CellMeasurement, ClaimedCell, Location, TrackPoint};
use crate::window::{BucketRing, RingSpec};
use std::collections::VecDeque;
use std::ops::Deref;

/// Buckets of the evidence window (6 × 5 min with the default 30 min).
pub(crate) const EVIDENCE_BUCKETS: usize = 6;
/// Per bucket: one count per rule that fired, one per rule evaluated (its fields were
/// present), then the number of reports.
pub(crate) type RuleCounts = [u16; 2 * RULE_COUNT + 1];
/// Slot of the report count in [`RuleCounts`].
const REPORTS: usize = 2 * RULE_COUNT;
pub(crate) type EvidenceSpec = RingSpec<EVIDENCE_BUCKETS>;

/// Rules that show the identity itself forged (a registered identity broadcast off
/// its channel, or on two channels at once): their witnesses count over the
/// IMSI-catcher horizon ([`Assessment::crosses`]).
const IDENTITY_FORGED: u16 = Rule::ArfcnInconsistent.bit() | Rule::DuplicateIdentity.bit();

/// The score of an emitter at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Assessment {
    pub(crate) points: f64,
    /// Points from rules that show a forged broadcast ([`Rule::is_rogue`]).
    pub(crate) rogue_points: f64,
    /// Bit per rule that holds.
    pub(crate) holds: u16,
    pub(crate) reporters: usize,
    /// Distinct phones rejected or downgraded over the long horizon, and all phones
    /// heard over it (`REJECTS_EVERY_PHONE`).
    pub(crate) rejected_phones: usize,
    pub(crate) horizon_phones: usize,
    /// Distinct phones its identity forced down over the horizon, when judged per
    /// identity (`cipher.rs`).
    pub(crate) forced_phones: usize,
    pub(crate) reports_in_window: u64,
    /// Per rule: reports it fired on in the window.
    pub(crate) counts: [u64; RULE_COUNT],
    /// Per rule: reports in the window that carried the fields it needs.
    pub(crate) evaluated: [u64; RULE_COUNT],
    /// Registered identities heard far from their site in succession (`farclone.rs`).
    pub(crate) far_clones: usize,
}

impl Assessment {
    pub(crate) fn crosses(&self, cfg: &FakeBtsConfig) -> bool {
        // the long-horizon rule counts its own phones (an IMSI catcher is heard by one
        // phone every quarter of an hour); a forged identity (a registered cell's
        // identity on a foreign channel, or on two channels at once) is a property of
        // the broadcast, not of one moment's radio, so the phones that heard it over
        // the same horizon are independent witnesses too (a low-power clone is heard
        // by one phone every half hour or so)
        let phones = if self.holds & Rule::RejectsEveryPhone.bit() != 0 {
            self.reporters
                .max(self.rejected_phones)
                .max(self.forced_phones)
        } else if self.holds & IDENTITY_FORGED != 0 {
            self.reporters.max(self.horizon_phones)
        } else {
            self.reporters
        };
        self.points >= cfg.case_threshold
            && self.rogue_points >= cfg.min_rogue_points
            && phones >= cfg.min_reporters
    }

    /// Confidence in 0..1: one half at the threshold, ¾ at twice it, …
    pub(crate) fn score(&self, cfg: &FakeBtsConfig) -> f64 {
        if cfg.case_threshold <= 0.0 {
            return 1.0;
        }
        (1.0 - 0.5f64.powf(self.points / cfg.case_threshold)).clamp(0.0, 1.0)
    }
}

/// One candidate transmitter.
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    pub(crate) id: u64,
    pub(crate) signature: Signature,
    /// Channel and PCI/BSIC of its broadcasts that are not a registered cell's own
    /// (a blaster keeps its radio when it invents an identity), at most 8.
    pub(super) own_radio: List<(Option<u32>, Option<u16>)>,
    /// Identities found on air at the same time as an older one of this emitter:
    /// another transmitter's, never linked again.
    pub(super) refused: List<ClaimedCell>,
    /// Identities heard `KNOWN_CELL_FAR_FROM_SITE` (`farclone.rs`), at most 32.
    pub(super) far_copies: List<ClaimedCell>,
    pub(crate) frame: LocalFrame,
    /// Identities in order of first use, with the event time each was first heard.
    pub(crate) identities: Vec<(ClaimedCell, i64)>,
    /// Per identity (aligned with `identities`): when it was last heard, and how often
    /// an older identity was heard while it was on air (see `detach_coexisting`).
    pub(super) on_air: Vec<(i64, u32)>,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) reports: u64,
    counts: Counts,
    /// Mean value and last threshold of each rule that fired.
    pub(super) values: RuleValues,
    /// Reporters with the last event time each reported this emitter, and the last
    /// time each reported a reject or downgrade.
    reporters: Reporters,
    pub(super) observations: VecDeque<Reported>,
    /// Extent of the reporter positions, local metres (min x, min y, max x, max y).
    bbox: [f64; 4],
    /// Last event time the identity was heard on another channel (DUPLICATE_IDENTITY).
    pub(crate) duplicate_seen_ms: Option<i64>,
    pub(crate) fix: Option<Fix>,
    pub(super) kalman: Option<Box<Kalman>>,
    pub(super) short_fixes: VecDeque<Fix>,
    /// Moving: independent short-window fixes showed it away from its whole-window
    /// fix ([`Displacement::confirmed`]); its case shows a track.
    pub(crate) moving: bool,
    /// Two short-window fixes showed it away, maybe one excursion seen twice
    /// ([`Displacement::seen`]): linking treats it as possibly moving.
    pub(crate) displaced: bool,
    /// The fixes fed to the filter, one per localisation of a moving emitter: the
    /// case's track is smoothed over them ([`smoothed_track`]).
    pub(super) track_fixes: List<TrackFix>,
    pub(crate) last_locate_ms: Option<i64>,
    pub(crate) reports_since_locate: u32,
    /// `reports` when `fix` was last fitted over all kept reports (`refit.rs`).
    pub(super) reports_at_fit: u64,
    /// The next localisation refits `fix` whatever changed (`refit.rs`).
    pub(super) refit_forced: bool,
    /// The most phones its identity forced down, as its reports said
    /// (`REJECTS_EVERY_PHONE` judged per identity, `cipher.rs`).
    forced_phones: u16,
    /// Boxed, like the filter: most candidate transmitters never open a case.
    pub(crate) case: Option<Box<CaseState>>,
}

/// Per bucket, [`RuleCounts`] a byte each: while no bucket holds 255 reports.
type NarrowCounts = [u8; 2 * RULE_COUNT + 1];

/// The evidence window's rule counts: a byte per count (204 bytes for the window, not
/// 400) until a bucket holds 255 reports, two bytes (boxed) from then on. Exact
/// either way: no count of a bucket exceeds its report count (every report adds one
/// to it and at most one to any other), so the narrow ring widens before any count
/// could saturate.
#[derive(Debug, Clone)]
enum Counts {
    Narrow(BucketRing<EVIDENCE_BUCKETS, NarrowCounts>),
    Wide(Box<BucketRing<EVIDENCE_BUCKETS, RuleCounts>>),
}

impl Counts {
    fn add(&mut self, spec: &EvidenceSpec, ts_ms: i64, amount: [u32; 2 * RULE_COUNT + 1]) {
        match self {
            Counts::Narrow(ring) => {
                ring.add(spec, ts_ms, amount);
                if ring
                    .bucket_at(spec, ts_ms)
                    .is_some_and(|b| b[REPORTS] == u8::MAX)
                {
                    *self = Counts::Wide(Box::new(ring.map(|b| b.map(u16::from))));
                }
            }
            Counts::Wide(ring) => {
                ring.add(spec, ts_ms, amount);
            }
        }
    }

    fn sum(&self, spec: &EvidenceSpec, now_ms: i64) -> [u64; 2 * RULE_COUNT + 1] {
        match self {
            Counts::Narrow(ring) => ring.sum(spec, now_ms),
            Counts::Wide(ring) => ring.sum(spec, now_ms),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Counts::Narrow(_) => 0,
            Counts::Wide(_) => std::mem::size_of::<BucketRing<EVIDENCE_BUCKETS, RuleCounts>>(),
        }
    }
}

/// A list that is empty for most transmitters (their own radio, refused identities,
/// far copies, track fixes): 8 bytes inline instead of a `Vec`'s 24, the `Vec` boxed
/// once the first item comes.
#[derive(Debug, Clone)]
// The box is the point: 8 bytes in the transmitter while empty, a `Vec`'s 24 not.
#[allow(clippy::box_collection)]
pub(crate) struct List<T>(Option<Box<Vec<T>>>);

impl<T> List<T> {
    pub(crate) const fn new() -> Self {
        List(None)
    }

    pub(crate) fn push(&mut self, item: T) {
        self.0.get_or_insert_with(Default::default).push(item);
    }

    pub(crate) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        if let Some(v) = self.0.as_mut() {
            v.retain(keep);
            if v.is_empty() {
                self.0 = None;
            }
        }
    }

    /// Heap bytes held: the boxed `Vec` and its buffer.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |v| {
            std::mem::size_of::<Vec<T>>() + v.capacity() * std::mem::size_of::<T>()
        })
    }
}

impl<T> Deref for List<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<'a, T> IntoIterator for &'a List<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(v: Vec<T>) -> Self {
        List((!v.is_empty()).then(|| Box::new(v)))
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for List<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == **other
    }
}

impl<T> FromIterator<T> for List<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        List::from(iter.into_iter().collect::<Vec<T>>())
    }
}

/// Most observations kept for the short-window fixes' moving test.
const MAX_SHORT_FIXES: usize = 64;
/// Recent reports whose centroid anchors association.
const ANCHOR_REPORTS: usize = 12;
/// Most distinct reporters remembered per emitter; at the cap, those not heard within
/// the evidence window or the IMSI-catcher horizon make room (8 bytes each).
const MAX_REPORTERS: usize = 2_048;

impl Emitter {
    pub(crate) fn new(id: u64, m: &CellMeasurement, signature: Signature) -> Self {
        Emitter {
            id,
            signature,
            own_radio: List::new(),
            refused: List::new(),
            far_copies: List::new(),
            frame: LocalFrame::new(m.lat, m.lon),
            identities: Vec::new(),
            on_air: Vec::new(),
            first_seen: m.ts_ms,
            last_seen: m.ts_ms,
            reports: 0,
            counts: Counts::Narrow(BucketRing::new()),
            values: RuleValues::default(),
            reporters: Reporters::new(m.ts_ms),
            observations: VecDeque::new(),
            bbox: [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            duplicate_seen_ms: None,
            fix: None,
            kalman: None,
            short_fixes: VecDeque::new(),
            moving: false,
            displaced: false,
            track_fixes: List::new(),
            last_locate_ms: None,
            forced_phones: 0,
            reports_since_locate: 0,
            reports_at_fit: 0,
            refit_forced: false,
            case: None,
        }
    }

    /// Whether this emitter already carries `cell` ([`same_identity`]).
    pub(crate) fn has_identity(&self, cell: &ClaimedCell) -> bool {
        self.identity_index(cell).is_some()
    }

    /// Where this emitter lists `cell`: the identity itself, else the same identity
    /// on a channel one of them does not know ([`same_identity`]).
    pub(crate) fn identity_index(&self, cell: &ClaimedCell) -> Option<usize> {
        self.identities
            .iter()
            .position(|(c, _)| c == cell)
            .or_else(|| {
                self.identities
                    .iter()
                    .position(|(c, _)| same_identity(c, cell))
            })
    }

    /// Where the emitter is heard now, local metres: the signal-weighted centroid of
    /// its most recent reports (follows a moving transmitter without waiting for a fix).
    pub(crate) fn anchor(&self, model_db_per_decade: f64) -> Option<(f64, f64)> {
        let recent = self.observations.iter().rev().take(ANCHOR_REPORTS);
        let max_rss = recent
            .clone()
            .map(Reported::rss_dbm)
            .filter(|r| r.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for o in recent {
            let rss = o.rss_dbm();
            let w = if rss.is_finite() && max_rss.is_finite() {
                10f64.powf((rss - max_rss) / model_db_per_decade)
            } else {
                0.1
            };
            sx += w * o.x();
            sy += w * o.y();
            sw += w;
        }
        (sw > 0.0).then(|| (sx / sw, sy / sw))
    }

    /// How far from the anchor the emitter is being heard: the second largest distance
    /// of its recent reporters (one stray GPS fix does not widen it), metres.
    pub(crate) fn heard_radius(&self, model_db_per_decade: f64) -> f64 {
        let Some((ax, ay)) = self.anchor(model_db_per_decade) else {
            return 0.0;
        };
        let (mut first, mut second) = (0.0f64, 0.0f64);
        for o in self.observations.iter().rev().take(4 * ANCHOR_REPORTS) {
            let d = (o.x() - ax).hypot(o.y() - ay);
            if d > first {
                second = first;
                first = d;
            } else if d > second {
                second = d;
            }
        }
        second
    }

    /// How far a reporter position is from where the emitter was last heard, allowing
    /// for movement: the smallest `distance − max_speed · age` over its most recent
    /// `reports` observations (metres; `INFINITY` when it has none). Two phones that
    /// hear one transmitter are at most twice its range apart, so a report within the
    /// association radius of this footprint is radio-continuous with it, however far
    /// the footprint's centroid is (a 47 dBm blaster is heard kilometres away on
    /// every side, and one side's reports pull the centroid away from the other's).
    pub(crate) fn footprint_distance(
        &self,
        ts_ms: i64,
        lat: f64,
        lon: f64,
        reports: usize,
        max_speed_mps: f64,
    ) -> f64 {
        let (x, y) = self.frame.to_xy(lat, lon);
        self.observations
            .iter()
            .rev()
            .take(reports)
            .map(|o| {
                let age_s = (ts_ms - o.ts_ms()).max(0) as f64 / 1000.0;
                (x - o.x()).hypot(y - o.y()) - max_speed_mps * age_s
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Distance from a reporter position to the emitter's anchor, metres.
    pub(crate) fn distance_to(&self, lat: f64, lon: f64, db_per_decade: f64) -> f64 {
        let (x, y) = self.frame.to_xy(lat, lon);
        match self.anchor(db_per_decade) {
            Some((ax, ay)) => (x - ax).hypot(y - ay),
            None => x.hypot(y),
        }
    }

    /// Attribute one anomalous report to this emitter (its signature learns the
    /// fields the report carries). Returns whether the emitter became forged-looking.
    pub(crate) fn add_report(
        &mut self,
        m: &CellMeasurement,
        check: &ReportCheck,
        reporter: u64,
        spec: &EvidenceSpec,
        cfg: &FakeBtsConfig,
    ) -> bool {
        let claimed = claimed_cell(m);
        let copied = check.registered && !check.has(Rule::ArfcnInconsistent);
        let index = self.take_identity(claimed, m.ts_ms, (m.ts_ms, 0));
        if check.has(Rule::KnownCellFarFromSite) {
            self.note_far_copy(claimed);
        }
        let became_suspicious = self.signature.learn(&Signature::of(m, check));
        // a report without channel and PCI/BSIC tells nothing of the radio
        let radio = (m.arfcn, m.pci);
        let told = radio.0.is_some() || radio.1.is_some();
        if told && !copied && self.own_radio.len() < 8 && !self.own_radio.contains(&radio) {
            self.own_radio.push(radio);
        }
        self.first_seen = self.first_seen.min(m.ts_ms);
        self.last_seen = self.last_seen.max(m.ts_ms);
        self.reports += 1;
        self.reports_since_locate = self.reports_since_locate.saturating_add(1);
        let mut amount = [0u32; 2 * RULE_COUNT + 1];
        for rule in Rule::ALL {
            if check.evaluated & rule.bit() != 0 {
                amount[RULE_COUNT + rule as usize] = 1;
            }
            if check.has(rule) {
                let i = rule as usize;
                amount[i] = 1;
                self.values.add(i, check.values[i], check.thresholds[i]);
            }
        }
        amount[REPORTS] = 1;
        self.counts.add(spec, m.ts_ms, amount);
        if check.has(Rule::RejectsEveryPhone) {
            let forced = check.values[Rule::RejectsEveryPhone as usize];
            self.forced_phones = self.forced_phones.max(forced as u16);
        }
        let rejected = check.has(Rule::LuReject) || check.has(Rule::RatDowngrade);
        let horizon_ms = cfg.evidence_window_ms().max(cfg.catcher_horizon_ms());
        self.reporters
            .note(reporter, m.ts_ms, rejected, MAX_REPORTERS, horizon_ms);
        let (x, y) = self.frame.to_xy(m.lat, m.lon);
        self.widen_bbox(x, y);
        let mut report = Reported::of_report(m, x, y);
        report.identity = u16::try_from(index).unwrap_or(u16::MAX);
        let cap = kept_cap(self.case.is_some(), cfg);
        keep_bounded(&mut self.observations, report, cap);
        became_suspicious
    }

    /// Where this emitter lists `cell` (first heard at `first_ms`; `on_air` its last
    /// hearing and coexistence count), listing it when new: a listed identity learns
    /// the channel it was first heard without, and when it was last heard.
    pub(super) fn take_identity(
        &mut self,
        cell: ClaimedCell,
        first_ms: i64,
        on_air: (i64, u32),
    ) -> usize {
        match self.identity_index(&cell) {
            Some(i) => {
                let listed = &mut self.identities[i].0;
                listed.arfcn = listed.arfcn.or(cell.arfcn);
                if let Some(slot) = self.on_air.get_mut(i) {
                    slot.0 = slot.0.max(on_air.0);
                }
                i
            }
            None => {
                push_small(&mut self.identities, (cell, first_ms));
                push_small(&mut self.on_air, on_air);
                self.identities.len() - 1
            }
        }
    }

    /// Widen the extent of the reporter positions to local `(x, y)`.
    pub(super) fn widen_bbox(&mut self, x: f64, y: f64) {
        self.bbox = [
            self.bbox[0].min(x),
            self.bbox[1].min(y),
            self.bbox[2].max(x),
            self.bbox[3].max(y),
        ];
    }

    /// Whether any report of this emitter showed a forged broadcast
    /// ([`Rule::is_rogue`]) or a reject or downgrade: such an emitter without a case
    /// is kept over the IMSI-catcher horizon, not just `idle_evict_secs`, so the
    /// phones of a low-power transmitter heard an hour or two apart are still counted
    /// together ([`Assessment::crosses`]).
    pub(crate) fn forged_seen(&self) -> bool {
        Rule::ALL
            .into_iter()
            .filter(|r| r.is_rogue() || matches!(r, Rule::LuReject | Rule::RatDowngrade))
            .any(|r| self.values.fired(r as usize))
    }

    /// Heard only with copies of registered cells, one of them far from its site with
    /// the transmitter evidently near the phone (`KNOWN_CELL_FAR_FROM_SITE`): a
    /// cloning blaster, whatever its reporters tell of its cipher.
    pub(crate) fn clones_far(&self) -> bool {
        self.own_radio.is_empty() && self.values.fired(Rule::KnownCellFarFromSite as usize)
    }

    /// Distinct reporters heard in the window ending at `now_ms`.
    pub(crate) fn reporters_in_window(&self, now_ms: i64, window_ms: i64) -> usize {
        self.reporters.heard_after(now_ms - window_ms)
    }

    /// Over the long horizon ending at `now_ms`: (phones rejected or downgraded, all
    /// phones heard).
    pub(crate) fn rejected_phones(&self, now_ms: i64, horizon_ms: i64) -> (usize, usize) {
        self.reporters.rejected_after(now_ms - horizon_ms)
    }

    pub(crate) fn reporters_total(&self) -> usize {
        self.reporters.total()
    }

    /// Spatial spread of the reporters, metres (diagonal of their bounding box).
    pub(crate) fn spread_m(&self) -> f64 {
        if self.bbox[0].is_finite() {
            (self.bbox[2] - self.bbox[0]).hypot(self.bbox[3] - self.bbox[1])
        } else {
            0.0
        }
    }

    /// Whether its reports in the evidence window at `now_ms` fit the registered site of
    /// its identity ([`super::rules::ReportCheck::fits_site`]): some carried a timing
    /// advance, and neither `TA_INCONSISTENT` nor `KNOWN_CELL_FAR_FROM_SITE` (the
    /// transmitter nearer than the site) fired on `min_rule_fraction` of the reports
    /// that could evaluate it.
    pub(crate) fn fits_site(&self, now_ms: i64, spec: &EvidenceSpec, cfg: &FakeBtsConfig) -> bool {
        let sums = self.counts.sum(spec, now_ms);
        let evaluated = |r: Rule| sums[RULE_COUNT + r as usize];
        evaluated(Rule::TaInconsistent) > 0
            && [Rule::TaInconsistent, Rule::KnownCellFarFromSite]
                .into_iter()
                .all(|r| {
                    let c = sums[r as usize];
                    c == 0 || (c as f64) < cfg.min_rule_fraction * evaluated(r) as f64
                })
    }

    /// Score at `now_ms` from the rule counts of the evidence window.
    pub(crate) fn assess(
        &self,
        now_ms: i64,
        spec: &EvidenceSpec,
        cfg: &FakeBtsConfig,
    ) -> Assessment {
        let sums = self.counts.sum(spec, now_ms);
        let n = sums[REPORTS];
        let (rejected_phones, horizon_phones) =
            self.rejected_phones(now_ms, cfg.catcher_horizon_ms());
        let mut a = Assessment {
            reporters: self.reporters_in_window(now_ms, cfg.evidence_window_ms()),
            rejected_phones,
            horizon_phones,
            forced_phones: usize::from(self.forced_phones),
            reports_in_window: n,
            ..Assessment::default()
        };
        // phones rejected or downgraded within the evidence window, when asked
        let mut window_rejected: Option<usize> = None;
        for rule in Rule::ALL {
            let c = sums[rule as usize];
            let evaluated = sums[RULE_COUNT + rule as usize];
            a.counts[rule as usize] = c;
            a.evaluated[rule as usize] = evaluated;
            let holds = match rule {
                Rule::DuplicateIdentity => self
                    .duplicate_seen_ms
                    .is_some_and(|t| now_ms - t <= cfg.duplicate_window_ms()),
                // an identity implausible for the area (LAC or PLMN of no cell around)
                // that rejects the phones it is heard by; Rule::ALL lists both before
                // (or a registered identity heard unciphered in place whose phones
                // were nearly all forced down: judged per identity, cipher.rs)
                Rule::RejectsEveryPhone => {
                    c >= 1
                        || a.holds & (Rule::LacInconsistent.bit() | Rule::PlmnInconsistent.bit())
                            != 0
                            && rejected_phones >= cfg.catcher_min_phones
                            && rejected_phones as f64
                                >= cfg.catcher_min_share * horizon_phones as f64
                }
                // a rogue cell provokes its events in a share of the phones it holds;
                // a real cell missing from the inventory sees the odd CS fallback, and
                // one phone's fallback among a handful of reports is a share too: a
                // reject or downgrade needs `min_reporters` phones with one in the
                // window (counted only when the share and the count allow it)
                Rule::LuReject | Rule::RatDowngrade => {
                    c >= cfg.min_reporters.max(1) as u64
                        && (c as f64) >= cfg.min_event_fraction * n as f64
                        && *window_rejected.get_or_insert_with(|| {
                            self.reporters
                                .rejected_after(now_ms - cfg.evidence_window_ms())
                                .0
                        }) >= cfg.min_reporters
                }
                r if r.is_event() => c >= 1 && (c as f64) >= cfg.min_event_fraction * n as f64,
                // a share of the reports that could evaluate it (absent fields are
                // not read as "did not fire")
                _ => c >= 1 && (c as f64) >= cfg.min_rule_fraction * evaluated as f64,
            };
            if holds {
                let w = rule.weight(cfg);
                a.holds |= rule.bit();
                a.points += w;
                if rule.is_rogue() {
                    a.rogue_points += w;
                }
            }
        }
        self.assess_far_clones(&mut a, cfg);
        a
    }

    /// Re-estimate position (and track, when moving) from the observations.
    pub(crate) fn localise(&mut self, now_ms: i64, cfg: &FakeBtsConfig, solver: &SolverParams) {
        self.last_locate_ms = Some(now_ms);
        self.reports_since_locate = 0;
        // all observations, binned (work bounded by the footprint), warm-started
        // from the previous fix
        let fix_all = match self.fix {
            Some(f) if !self.refit_due(cfg.locate_refit_share) => f,
            _ => match self.fit_all(cfg, solver) {
                Some(f) => f,
                None => return,
            },
        };
        let recent_from = self.last_seen - cfg.track_window_ms();
        let recent: Vec<Observation> = self
            .observations
            .iter()
            .filter(|o| o.ts_ms() > recent_from && o.rss_dbm().is_finite())
            .map(Reported::observation)
            .collect();
        if recent.len() >= 4 && places_at_least(&recent, cfg.track_place_m, cfg.track_min_places) {
            let warm = self.short_fixes.back().map(|f| (f.x, f.y));
            if let Some(short) = multilaterate_from(&recent, solver, warm) {
                let r = inflate(short.cov, cfg.min_radius_m);
                match &mut self.kalman {
                    Some(k) => k.update(short.ts_ms, short.x, short.y, r),
                    None => {
                        let (q, speed_sigma) = cfg.track_filter();
                        self.kalman = Some(Box::new(Kalman::new(
                            short.ts_ms,
                            short.x,
                            short.y,
                            r,
                            q,
                            speed_sigma,
                        )))
                    }
                }
                self.track_fixes.push((short.ts_ms, short.x, short.y, r));
                keep_bounded(&mut self.short_fixes, short, MAX_SHORT_FIXES);
            }
        }
        if !self.moving {
            let d = self.stationary_hypothesis_fails(&fix_all, cfg);
            self.displaced |= d.seen;
            self.moving = d.confirmed;
        }
    }

    /// How far the short-window fixes refute a stationary transmitter
    /// ([`displacement`]).
    pub(super) fn stationary_hypothesis_fails(
        &self,
        all: &Fix,
        cfg: &FakeBtsConfig,
    ) -> Displacement {
        displacement(&self.short_fixes, self.last_seen, all, cfg)
    }

    /// Current best position estimate at the last report, with its uncertainty: the
    /// track prediction when moving, the window fix when not, and the centroid of the
    /// recent reports (radius = their spread) while too few reports allow a fit.
    pub(crate) fn location(&self, cfg: &FakeBtsConfig) -> Option<Location> {
        let (x, y, radius) = match (&self.kalman, self.moving, &self.fix) {
            (Some(k), true, _) => self.latest_position(k, cfg),
            (_, _, Some(f)) => (f.x, f.y, 2.45 * largest_eigenvalue(f.cov).max(0.0).sqrt()),
            _ => {
                let (x, y) = self.anchor(PathLoss::from_config(cfg).db_per_decade())?;
                let spread = self
                    .observations
                    .iter()
                    .rev()
                    .take(ANCHOR_REPORTS)
                    .map(|o| (o.x() - x).hypot(o.y() - y))
                    .fold(0.0, f64::max);
                (x, y, spread + cfg.association_radius_m / 4.0)
            }
        };
        let (lat, lon) = self.frame.to_lat_lon(x, y);
        Some(Location {
            lat: round6(lat),
            lon: round6(lon),
            radius_m: radius.max(cfg.min_radius_m).round(),
        })
    }

    /// The track in WGS84, smoothed over all its fixes (empty unless the emitter
    /// moves); its last point is the filtered position.
    pub(crate) fn track_points(&self, cfg: &FakeBtsConfig) -> Vec<TrackPoint> {
        if !self.moving {
            return Vec::new();
        }
        let (q, speed_sigma) = cfg.track_filter();
        smoothed_track(&self.track_fixes, q, speed_sigma)
            .iter()
            .map(|&(ts, x, y)| {
                let (lat, lon) = self.frame.to_lat_lon(x, y);
                TrackPoint {
                    ts,
                    lat: round6(lat),
                    lon: round6(lon),
                }
            })
            .collect()
    }

    /// Event time of the track's last point: the filter's, which moves only when a
    /// fix is fed to it.
    pub(crate) fn track_last_ms(&self) -> Option<i64> {
        self.kalman.as_ref().map(|k| k.ts_ms())
    }

    /// Approximate heap and inline bytes held by this emitter.
    pub(crate) fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.identities.capacity() * std::mem::size_of::<(ClaimedCell, i64)>()
            + self.reporters.heap_bytes()
            + self.values.heap_bytes()
            + self.observations.capacity() * std::mem::size_of::<Reported>()
            + self.short_fixes.capacity() * std::mem::size_of::<Fix>()
            + self.track_fixes.heap_bytes()
            + self.own_radio.heap_bytes()
            + self.refused.heap_bytes()
            + self.far_copies.heap_bytes()
            + self.counts.heap_bytes()
            + self.on_air.capacity() * std::mem::size_of::<(i64, u32)>()
            + self
                .kalman
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Kalman>())
            + self.case.as_ref().map_or(0, |c| {
                std::mem::size_of::<CaseState>() + c.case_id.capacity()
            })
    }

    /// Of [`Emitter::state_bytes`]: the kept reports, and the reporters.
    pub(crate) fn state_parts(&self) -> (usize, usize) {
        (
            self.observations.capacity() * std::mem::size_of::<Reported>(),
            self.reporters.heap_bytes(),
        )
    }
}

/// Append `item`, dropping the oldest when `cap` are kept; the buffer grows by
/// doubling up to exactly `cap` (a plain `VecDeque` would round 1,000 up to 1,024).
pub(crate) fn keep_bounded<T>(buf: &mut VecDeque<T>, item: T, cap: usize) {
    while buf.len() >= cap.max(1) {
        buf.pop_front();
    }
    if buf.len() == buf.capacity() {
        let want = (buf.capacity() * 2).clamp(8, cap.max(1));
        buf.reserve_exact(want.saturating_sub(buf.len()));
    }
    buf.push_back(item);
}

/// Append `item` to a list that is usually short (a transmitter's identities: one for
/// most), growing it by half, from one: `Vec`'s first growth reserves four, 120 of
/// the 160 bytes of a one-identity transmitter's list unused, in each region's copy.
fn push_small<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 2).max(1));
    }
    v.push(item);
}

/// Whether the observations come from at least `min` places `place_m` apart.
fn places_at_least(obs: &[Observation], place_m: f64, min: usize) -> bool {
    let mut places: Vec<(f64, f64)> = Vec::with_capacity(min);
    for o in obs {
        if places.len() >= min {
            break;
        }
        if places
            .iter()
            .all(|&(x, y)| (o.x - x).hypot(o.y - y) >= place_m)
        {
            places.push((o.x, o.y));
        }
    }
    places.len() >= min
}

/// Covariance floored at `min_sigma_m` on each axis (a fix is never better than that).
fn inflate(cov: [[f64; 2]; 2], min_sigma_m: f64) -> [[f64; 2]; 2] {
    let m2 = min_sigma_m * min_sigma_m;
    [
        [cov[0][0].max(m2), cov[0][1]],
        [cov[1][0], cov[1][1].max(m2)],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transmitter_fits_a_768_byte_block() {
        // the allocator's size classes around it: 640, 768, 896, 1024
        assert!(std::mem::size_of::<Emitter>() <= 768);
        assert_eq!(std::mem::size_of::<List<ClaimedCell>>(), 8);
    }

    /// The narrow ring widens at a bucket's 255th report and counts on exactly:
    /// 300 reports in one bucket and 40 in the next, every one adding 1 to the
    /// report count and to one rule count of its parity, sum as 340 / 170 / 170.
    #[test]
    fn narrow_counts_widen_before_a_byte_saturates_and_stay_exact() {
        let spec = EvidenceSpec::new(300_000).unwrap();
        let mut counts = Counts::Narrow(BucketRing::new());
        // A bucket start (a multiple of 300 000 ms).
        let t0 = 1_800_000_000_000_i64;
        let add = |counts: &mut Counts, ts_ms: i64, i: u32| {
            let mut amount = [0u32; 2 * RULE_COUNT + 1];
            amount[REPORTS] = 1;
            amount[(i % 2) as usize] = 1;
            counts.add(&spec, ts_ms, amount);
        };
        for i in 0..254 {
            add(&mut counts, t0 + i64::from(i), i);
        }
        assert!(
            matches!(counts, Counts::Narrow(_)),
            "254 reports fit a byte"
        );
        for i in 254..300 {
            add(&mut counts, t0 + i64::from(i), i);
        }
        assert!(matches!(counts, Counts::Wide(_)), "the 255th widened it");
        for i in 300..340 {
            add(&mut counts, t0 + 300_000 + i64::from(i), i);
        }
        let sums = counts.sum(&spec, t0 + 300_000 + 400);
        assert_eq!(sums[REPORTS], 340);
        assert_eq!(sums[0], 170);
        assert_eq!(sums[1], 170);
        assert!(sums[2..REPORTS].iter().all(|&c| c == 0));
    }

    #[test]
    fn lists_start_empty_and_box_on_first_push() {
        let mut l: List<u32> = List::new();
        assert!(l.is_empty() && l.heap_bytes() == 0);
        l.push(3);
        l.push(4);
        assert_eq!(&*l, &[3, 4]);
        assert!(l == vec![3, 4]);
        l.retain(|&x| x > 3);
        assert_eq!(l.len(), 1);
        l.retain(|_| false);
        assert!(l.is_empty() && l.heap_bytes() == 0);
        let c: List<u32> = (0..3).collect();
        assert_eq!(c.iter().sum::<u32>(), 3);
        assert_eq!((&c).into_iter().count(), 3);
    }
}
