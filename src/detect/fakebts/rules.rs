//! Per-report checks: each rule is a named unit with a code, the value it measured
//! and the threshold it compares against, so every case can say why it exists.
//!
//! [`check_report`] runs the O(1) rules (one hash lookup, one distance); the
//! neighbourhood rules ([`check_neighbourhood`]) need a spatial query and are run by
//! the detector only for identities that are already anomalous, and cached.

use super::geometry::{distance_m, PathLoss};
use super::index::{CellIndex, Site};
use crate::config::FakeBtsConfig;
use crate::model::{CellMeasurement, MeasurementEvent, Rat};

/// The rules, in a fixed order (their index is a bit position and an array slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Rule {
    /// The identity is not in the inventory.
    CellNotRegistered = 0,
    /// Registered identity heard farther from its site than its reach (CellGuard).
    BeyondReach,
    /// Signal stronger than the path-loss model allows for the registered site.
    SignalTooStrong,
    /// Timing advance incompatible with the distance to the registered site.
    TaInconsistent,
    /// No registered cell of this PLMN around the reporter.
    PlmnInconsistent,
    /// No registered cell of this PLMN uses this LAC/TAC around the reporter, or the
    /// cell id is registered under another LAC/TAC (TAC hopping).
    LacInconsistent,
    /// No registered cell of this PLMN and technology uses this channel around.
    ArfcnUnusedNearby,
    /// Registered identity broadcast on a channel other than its registered one.
    ArfcnInconsistent,
    /// The same identity heard on two channels (judged per transmitter, not per report).
    DuplicateIdentity,
    NoNeighbours,
    NullCipher,
    RatDowngrade,
    LuReject,
    SmsWhileCamped,
    /// A registered identity heard far beyond its site from a transmitter that is
    /// evidently near the reporter (short timing advance or a signal the site cannot
    /// give): a known cell heard N km from its site.
    KnownCellFarFromSite,
    /// The transmitter rejected (or downgraded) nearly every phone it was heard by,
    /// counted over the long horizon: judged per transmitter for an implausible
    /// identity, per identity for a registered one heard unciphered in place
    /// ([`super::cipher`], which sets it on the reports of the phones it forced down).
    RejectsEveryPhone,
}

pub(crate) const RULE_COUNT: usize = 16;

impl Rule {
    pub(crate) const ALL: [Rule; RULE_COUNT] = [
        Rule::CellNotRegistered,
        Rule::BeyondReach,
        Rule::SignalTooStrong,
        Rule::TaInconsistent,
        Rule::PlmnInconsistent,
        Rule::LacInconsistent,
        Rule::ArfcnUnusedNearby,
        Rule::ArfcnInconsistent,
        Rule::DuplicateIdentity,
        Rule::NoNeighbours,
        Rule::NullCipher,
        Rule::RatDowngrade,
        Rule::LuReject,
        Rule::SmsWhileCamped,
        Rule::KnownCellFarFromSite,
        Rule::RejectsEveryPhone,
    ];

    /// The reason code written into cases.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Rule::CellNotRegistered => "CELL_NOT_REGISTERED",
            Rule::BeyondReach => "BEYOND_REACH",
            Rule::SignalTooStrong => "SIGNAL_TOO_STRONG",
            Rule::TaInconsistent => "TA_INCONSISTENT",
            Rule::PlmnInconsistent => "PLMN_INCONSISTENT",
            Rule::LacInconsistent => "LAC_INCONSISTENT",
            Rule::ArfcnUnusedNearby => "ARFCN_UNUSED_NEARBY",
            Rule::ArfcnInconsistent => "ARFCN_INCONSISTENT",
            Rule::DuplicateIdentity => "DUPLICATE_IDENTITY",
            Rule::NoNeighbours => "NO_NEIGHBOURS",
            Rule::NullCipher => "NULL_CIPHER",
            Rule::RatDowngrade => "RAT_DOWNGRADE",
            Rule::LuReject => "LU_REJECT",
            Rule::SmsWhileCamped => "SMS_WHILE_CAMPED",
            Rule::KnownCellFarFromSite => "KNOWN_CELL_FAR_FROM_SITE",
            Rule::RejectsEveryPhone => "REJECTS_EVERY_PHONE",
        }
    }

    /// (Declared for the documentation's "needs" column and checked by a test against
    /// what [`check_report`] evaluates.)
    #[cfg(test)]
    /// The report fields a rule reads (besides the identity and position every report
    /// has; `site.*` = the registered row). A report without one of them does not
    /// evaluate the rule: it neither fires nor counts against its share. Transmitter
    /// rules (`DUPLICATE_IDENTITY`, `REJECTS_EVERY_PHONE`) are judged over reports.
    pub(crate) fn needs(self) -> &'static [&'static str] {
        match self {
            Rule::CellNotRegistered => &["mcc", "mnc", "lac", "cid"],
            Rule::BeyondReach => &["site"],
            Rule::SignalTooStrong => &["site", "signal_dbm"],
            Rule::TaInconsistent => &["site", "ta"],
            Rule::PlmnInconsistent | Rule::LacInconsistent => &["registered cells nearby"],
            Rule::ArfcnUnusedNearby => &["registered cells nearby", "arfcn"],
            Rule::ArfcnInconsistent => &["site", "site.arfcn", "arfcn"],
            Rule::DuplicateIdentity => &["arfcn"],
            Rule::NoNeighbours => &["neighbors"],
            Rule::NullCipher => &["cipher"],
            Rule::RatDowngrade | Rule::LuReject | Rule::SmsWhileCamped => &["event"],
            Rule::KnownCellFarFromSite => &["site", "ta or signal_dbm"],
            Rule::RejectsEveryPhone => &["event", "reporter"],
        }
    }

    #[inline]
    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u8)
    }

    /// Signs that the broadcast itself is forged, as opposed to an inventory row
    /// being absent or wrong: only these turn an inventory problem into a case.
    pub(crate) fn is_rogue(self) -> bool {
        matches!(
            self,
            Rule::NullCipher
                | Rule::NoNeighbours
                | Rule::ArfcnInconsistent
                | Rule::DuplicateIdentity
                | Rule::RejectsEveryPhone
        )
    }

    /// Event rules hold for a transmitter as soon as they happened once; state rules
    /// need a share of its reports.
    pub(crate) fn is_event(self) -> bool {
        matches!(
            self,
            Rule::RatDowngrade | Rule::LuReject | Rule::SmsWhileCamped
        )
    }

    /// Rules whose case value is the share of reports they fired on (presence rules);
    /// the others report the mean measured value.
    pub(crate) fn reports_share(self) -> bool {
        matches!(
            self,
            Rule::CellNotRegistered
                | Rule::PlmnInconsistent
                | Rule::LacInconsistent
                | Rule::ArfcnUnusedNearby
                | Rule::NullCipher
        )
    }

    pub(crate) fn weight(self, cfg: &FakeBtsConfig) -> f64 {
        let w = &cfg.weights;
        match self {
            Rule::CellNotRegistered => w.cell_not_registered,
            Rule::BeyondReach => w.beyond_reach,
            Rule::SignalTooStrong => w.signal_too_strong,
            Rule::TaInconsistent => w.ta_inconsistent,
            Rule::PlmnInconsistent => w.plmn_inconsistent,
            Rule::LacInconsistent => w.lac_inconsistent,
            Rule::ArfcnUnusedNearby => w.arfcn_unused_nearby,
            Rule::ArfcnInconsistent => w.arfcn_inconsistent,
            Rule::DuplicateIdentity => w.duplicate_identity,
            Rule::NoNeighbours => w.no_neighbours,
            Rule::NullCipher => w.null_cipher,
            Rule::RatDowngrade => w.rat_downgrade,
            Rule::LuReject => w.lu_reject,
            Rule::SmsWhileCamped => w.sms_while_camped,
            Rule::KnownCellFarFromSite => w.known_cell_far_from_site,
            Rule::RejectsEveryPhone => w.rejects_every_phone,
        }
    }
}

/// Rules that route a report to a candidate transmitter: the state of the serving
/// cell (`REJECTS_EVERY_PHONE` only where set on a report, by [`super::cipher`]). Protocol events (downgrade, reject, SMS) on an otherwise normal cell are
/// ordinary network life (CS fallback, roaming rejects, OTPs) and only corroborate.
pub(crate) const ANOMALY_MASK: u16 = Rule::CellNotRegistered.bit()
    | Rule::BeyondReach.bit()
    | Rule::SignalTooStrong.bit()
    | Rule::TaInconsistent.bit()
    | Rule::PlmnInconsistent.bit()
    | Rule::LacInconsistent.bit()
    | Rule::ArfcnUnusedNearby.bit()
    | Rule::ArfcnInconsistent.bit()
    | Rule::NoNeighbours.bit()
    | Rule::NullCipher.bit()
    | Rule::KnownCellFarFromSite.bit()
    | Rule::RejectsEveryPhone.bit();

/// Signs of the broadcast configuration (no ciphering, few neighbours). Legacy 2G
/// cells run that way too: on a registered identity heard where and on the channel
/// its row says, they are the cell's configuration and are not kept.
const CONFIGURATION_MASK: u16 = Rule::NoNeighbours.bit() | Rule::NullCipher.bit();

/// Outcome of the per-report rules.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ReportCheck {
    /// Bit per [`Rule`] that fired.
    pub(crate) fired: u16,
    /// Bit per [`Rule`] this report could evaluate (its fields were present).
    pub(crate) evaluated: u16,
    /// Measured value per rule (meaningful where fired).
    pub(crate) values: [f32; RULE_COUNT],
    /// Thresholds the values were compared with.
    pub(crate) thresholds: [f32; RULE_COUNT],
    /// The identity is in the inventory.
    pub(crate) registered: bool,
    /// Distance from the reporter to the registered site, metres.
    pub(crate) site_distance_m: Option<f32>,
}

impl ReportCheck {
    #[inline]
    pub(crate) fn has(&self, rule: Rule) -> bool {
        self.fired & rule.bit() != 0
    }

    /// The report fits its registered site: it carries a timing advance, and neither
    /// `TA_INCONSISTENT` nor `KNOWN_CELL_FAR_FROM_SITE` fired (the transmitter is not
    /// nearer than the site). The signal does not decide: a real cell is often heard
    /// stronger than the path-loss model predicts (`SIGNAL_TOO_STRONG` with the timing
    /// advance of the true distance), and a legacy cell heard far beyond its site
    /// (`BEYOND_REACH`) has the timing advance of that distance.
    #[inline]
    pub(crate) fn fits_site(&self) -> bool {
        const NEAR: u16 = Rule::TaInconsistent.bit() | Rule::KnownCellFarFromSite.bit();
        self.registered
            && self.evaluated & Rule::TaInconsistent.bit() != 0
            && self.fired & NEAR == 0
    }

    #[inline]
    pub(crate) fn anomalous(&self) -> bool {
        self.fired & ANOMALY_MASK != 0
    }

    #[inline]
    fn eval(&mut self, rule: Rule) {
        self.evaluated |= rule.bit();
    }

    #[inline]
    pub(crate) fn set(&mut self, rule: Rule, value: f64, threshold: f64) {
        self.evaluated |= rule.bit();
        self.fired |= rule.bit();
        self.values[rule as usize] = value as f32;
        self.thresholds[rule as usize] = threshold as f32;
    }
}

/// Timing-advance step of a technology, metres (GSM 553.5 m, LTE/NR 78.12 m; UMTS has none).
pub(crate) fn ta_step_m(rat: Rat) -> Option<f64> {
    match rat {
        Rat::Gsm => Some(553.5),
        Rat::Lte | Rat::Nr => Some(78.12),
        Rat::Umts => None,
    }
}

/// Offset between total received power and the reported signal of a technology:
/// GSM RxLev is the total; UMTS RSCP and LTE/NR RSRP are below it.
pub(crate) fn reported_offset_db(cfg: &FakeBtsConfig, rat: Rat) -> f64 {
    match rat {
        Rat::Gsm => 0.0,
        Rat::Umts => -cfg.umts_rscp_offset_db,
        Rat::Lte | Rat::Nr => -cfg.lte_rsrp_offset_db,
    }
}

/// Run the O(1) rules on one report. `site` is the registered cell of the report's
/// identity, if any. A rule whose fields the report lacks is not evaluated.
#[inline]
pub(crate) fn check_report(
    m: &CellMeasurement,
    site: Option<&Site>,
    cfg: &FakeBtsConfig,
) -> ReportCheck {
    let mut c = ReportCheck {
        fired: 0,
        evaluated: Rule::CellNotRegistered.bit()
            | Rule::RatDowngrade.bit()
            | Rule::LuReject.bit()
            | Rule::SmsWhileCamped.bit(),
        values: [0.0; RULE_COUNT],
        thresholds: [0.0; RULE_COUNT],
        registered: site.is_some(),
        site_distance_m: None,
    };
    match site {
        None => c.set(Rule::CellNotRegistered, 1.0, 1.0),
        Some(site) => check_placement(&mut c, m, site, cfg),
    }
    if let Some(n) = m.neighbors {
        c.eval(Rule::NoNeighbours);
        if n <= cfg.max_neighbours_suspicious {
            c.set(
                Rule::NoNeighbours,
                f64::from(n),
                f64::from(cfg.max_neighbours_suspicious),
            );
        }
    }
    if m.cipher.is_some() {
        c.eval(Rule::NullCipher);
        if m.null_cipher() {
            c.set(Rule::NullCipher, 1.0, 1.0);
        }
    }
    // A registered cell heard in place and on its channel: no cipher and few
    // neighbours are its configuration (legacy 2G), not a forgery.
    if c.registered && !c.has(Rule::KnownCellFarFromSite) && !c.has(Rule::ArfcnInconsistent) {
        c.fired &= !CONFIGURATION_MASK;
    }
    match m.event {
        MeasurementEvent::RatDowngrade => c.set(Rule::RatDowngrade, 1.0, 1.0),
        MeasurementEvent::Reject => c.set(Rule::LuReject, 1.0, 1.0),
        MeasurementEvent::SmsReceived => c.set(Rule::SmsWhileCamped, 1.0, 1.0),
        MeasurementEvent::Camped | MeasurementEvent::Reselect => {}
    }
    c
}

/// A report's channel against its identity's inventory row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowChannel {
    /// Both carry a channel and they agree.
    Same,
    /// Both carry a channel and they differ (`ARFCN_INCONSISTENT`).
    Other,
    /// The report or the row carries none (an app's report, an operator whose
    /// inventory has no `arfcn` column), or the identity is not in the inventory:
    /// not a match and not a mismatch. Each caller says how it treats it.
    Unknown,
}

impl RowChannel {
    #[inline]
    pub(crate) fn of(m: &CellMeasurement, site: Option<&Site>) -> Self {
        match (m.arfcn, site.and_then(|s| s.arfcn)) {
            (Some(a), Some(b)) if a == b => RowChannel::Same,
            (Some(_), Some(_)) => RowChannel::Other,
            _ => RowChannel::Unknown,
        }
    }

    /// Not known to be off the registered channel: the legacy configuration may hold
    /// (no ciphering is then judged by [`super::cipher`] from the identity's own
    /// reports, whether the channel agrees or is unknown), and a report without a
    /// channel is no evidence against the row's placement.
    #[inline]
    pub(crate) fn may_be_registered(self) -> bool {
        self != RowChannel::Other
    }
}

/// The rules comparing a report of a registered identity with its row: reach
/// (CellGuard), channel, signal and timing advance against the path-loss model, and
/// whether together they say the transmitter is near the reporter while the site is
/// far (`KNOWN_CELL_FAR_FROM_SITE`): a timing advance shorter than the distance, or,
/// only for a report without one, a signal the site cannot give. A legacy cell heard
/// far away (a high mast, a few dB of extra gain) has the timing advance of the true
/// distance, so it is beyond reach, perhaps too strong, but never near.
#[inline]
fn check_placement(c: &mut ReportCheck, m: &CellMeasurement, site: &Site, cfg: &FakeBtsConfig) {
    let accuracy = m.accuracy_m.map_or(cfg.missing_accuracy_m, f64::from);
    let d = distance_m(m.lat, m.lon, site.lat, site.lon);
    c.site_distance_m = Some(d as f32);
    // CellGuard: distance − reach − location accuracy against a speed margin
    let reach = site.range_m.max(cfg.min_range_m);
    let excess = d - reach - accuracy;
    c.eval(Rule::BeyondReach);
    let beyond = excess > cfg.reach_margin_m;
    if beyond {
        c.set(Rule::BeyondReach, excess, cfg.reach_margin_m);
    }
    if let (Some(reported), Some(registered)) = (m.arfcn, site.arfcn) {
        c.eval(Rule::ArfcnInconsistent);
        if reported != registered {
            c.set(
                Rule::ArfcnInconsistent,
                f64::from(reported),
                f64::from(registered),
            );
        }
    }
    let mut near = false;
    if let Some(signal) = m.signal_dbm {
        c.eval(Rule::SignalTooStrong);
        let eirp = site.eirp_dbm.map_or(cfg.default_eirp_dbm, f64::from);
        let model = PathLoss::from_config(cfg);
        // The reporter may be anywhere within its accuracy circle: predict for
        // the nearest point it could be at.
        let predicted = model.predicted_rss_dbm(eirp, (d - accuracy).max(model.min_distance_m))
            + reported_offset_db(cfg, m.rat);
        let excess = f64::from(signal) - predicted;
        let limit = cfg.signal_excess_sigmas * cfg.shadowing_sigma_db;
        if excess > limit {
            c.set(Rule::SignalTooStrong, excess, limit);
            // without a timing advance, the signal is the only range there is
            near = m.ta.is_none() || ta_step_m(m.rat).is_none();
        }
    }
    if let (Some(ta), Some(step)) = (m.ta, ta_step_m(m.rat)) {
        c.eval(Rule::TaInconsistent);
        let ta_distance = f64::from(ta) * step;
        let gap = (d - ta_distance).abs();
        let limit = step + accuracy + cfg.ta_tolerance_m;
        if gap > limit {
            c.set(Rule::TaInconsistent, gap, limit);
            near = ta_distance < d;
        }
    }
    if m.signal_dbm.is_some() || (m.ta.is_some() && ta_step_m(m.rat).is_some()) {
        c.eval(Rule::KnownCellFarFromSite);
        if beyond && near {
            c.set(
                Rule::KnownCellFarFromSite,
                (d / 1000.0 * 10.0).round() / 10.0,
                ((reach + cfg.reach_margin_m) / 1000.0 * 10.0).round() / 10.0,
            );
        }
    }
}

/// Plausibility of an unregistered identity against the registered cells around the
/// reporter: how many of them share its PLMN, its LAC/TAC (same PLMN) and its channel
/// (same PLMN and technology). Zero = inconsistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Neighbourhood {
    pub(crate) cells: u16,
    pub(crate) same_plmn: u16,
    pub(crate) same_lac: u16,
    pub(crate) same_arfcn: u16,
    /// The same `MCC-MNC-CID` is registered under another LAC/TAC.
    pub(crate) cid_under_other_lac: bool,
}

/// Query the registered cells around the reporter of `m`.
pub(crate) fn check_neighbourhood(
    m: &CellMeasurement,
    index: &CellIndex,
    cfg: &FakeBtsConfig,
) -> Neighbourhood {
    let mut n = Neighbourhood::default();
    for s in index.near(
        m.lat,
        m.lon,
        cfg.neighbourhood_radius_m,
        cfg.neighbourhood_max_cells,
    ) {
        n.cells = n.cells.saturating_add(1);
        if s.key.mcc == m.cell.mcc && s.key.mnc == m.cell.mnc {
            n.same_plmn = n.same_plmn.saturating_add(1);
            if s.key.lac == m.cell.lac {
                n.same_lac = n.same_lac.saturating_add(1);
            }
            if s.rat == m.rat && m.arfcn.is_some() && s.arfcn == m.arfcn {
                n.same_arfcn = n.same_arfcn.saturating_add(1);
            }
        }
    }
    n.cid_under_other_lac = index
        .lacs_of(m.cell.mcc, m.cell.mnc, m.cell.cid)
        .iter()
        .any(|&lac| lac != m.cell.lac);
    n
}

impl Neighbourhood {
    /// Add the neighbourhood rules to a report's check. Only judged where the
    /// inventory covers the area (at least one registered cell nearby).
    pub(crate) fn apply(&self, m: &CellMeasurement, c: &mut ReportCheck) {
        if self.cells == 0 {
            return;
        }
        c.eval(Rule::PlmnInconsistent);
        c.eval(Rule::LacInconsistent);
        if m.arfcn.is_some() {
            c.eval(Rule::ArfcnUnusedNearby);
        }
        if self.same_plmn == 0 {
            c.set(Rule::PlmnInconsistent, 0.0, 0.0);
            return;
        }
        if self.same_lac == 0 || self.cid_under_other_lac {
            c.set(Rule::LacInconsistent, f64::from(self.same_lac), 0.0);
        }
        if m.arfcn.is_some() && self.same_arfcn == 0 {
            c.set(Rule::ArfcnUnusedNearby, f64::from(self.same_arfcn), 0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CellKey;

    pub(crate) fn report(lat: f64, lon: f64, key: CellKey) -> CellMeasurement {
        CellMeasurement {
            source: "probe".into(),
            reporter: "00112233445566778899".into(),
            ts_ms: 1_800_000_000_000,
            lat,
            lon,
            accuracy_m: Some(10.0),
            rat: Rat::Lte,
            cell: key,
            arfcn: Some(1650),
            pci: Some(1),
            signal_dbm: Some(-95.0),
            ta: None,
            neighbors: Some(6),
            cipher: Some("EEA2".into()),
            event: MeasurementEvent::Camped,
            sms_sender: None,
        }
    }

    fn site(key: CellKey, lat: f64, lon: f64) -> Site {
        Site {
            rat: Rat::Lte,
            key,
            lat,
            lon,
            range_m: 1500.0,
            arfcn: Some(1650),
            pci: None,
            eirp_dbm: Some(55.0),
        }
    }

    const KEY: CellKey = CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14203,
        cid: 400_001,
    };

    #[test]
    fn an_absent_channel_is_unknown_not_a_match() {
        let s = site(KEY, 21.03, 105.85);
        let mut m = report(21.03, 105.85, KEY);
        assert_eq!(RowChannel::of(&m, Some(&s)), RowChannel::Same);
        m.arfcn = Some(1651);
        assert_eq!(RowChannel::of(&m, Some(&s)), RowChannel::Other);
        assert!(!RowChannel::Other.may_be_registered());
        m.arfcn = None;
        assert_eq!(RowChannel::of(&m, Some(&s)), RowChannel::Unknown);
        let bare = Site { arfcn: None, ..s };
        m.arfcn = Some(1650);
        assert_eq!(RowChannel::of(&m, Some(&bare)), RowChannel::Unknown);
        assert_eq!(RowChannel::of(&m, None), RowChannel::Unknown);
        assert!(RowChannel::Unknown.may_be_registered());
    }

    #[test]
    fn normal_report_near_its_site_fires_nothing() {
        let s = site(KEY, 21.03, 105.85);
        let c = check_report(
            &report(21.035, 105.85, KEY),
            Some(&s),
            &FakeBtsConfig::default(),
        );
        assert_eq!(c.fired, 0, "{c:?}");
        assert!(!c.anomalous());
    }

    #[test]
    fn clone_far_from_its_site_is_beyond_reach_and_too_strong() {
        let s = site(KEY, 21.03, 105.85);
        let mut m = report(21.10, 105.85, KEY); // ≈ 7.8 km away
        m.signal_dbm = Some(-60.0);
        m.ta = Some(2);
        m.cipher = Some("EEA0".into());
        m.neighbors = Some(0);
        m.event = MeasurementEvent::SmsReceived;
        let c = check_report(&m, Some(&s), &FakeBtsConfig::default());
        for r in [
            Rule::BeyondReach,
            Rule::SignalTooStrong,
            Rule::TaInconsistent,
            Rule::NullCipher,
            Rule::NoNeighbours,
            Rule::SmsWhileCamped,
        ] {
            assert!(c.has(r), "{r:?} should fire: {c:?}");
        }
        assert!(c.values[Rule::BeyondReach as usize] > 5_000.0);
        assert!(!c.has(Rule::CellNotRegistered));
    }

    #[test]
    fn unregistered_identity_and_neighbourhood() {
        let idx = CellIndex::from_sites([site(KEY, 21.03, 105.85)]);
        let odd = CellKey {
            lac: 999,
            cid: 77,
            ..KEY
        };
        let mut m = report(21.031, 105.85, odd);
        m.arfcn = Some(1700);
        let mut c = check_report(&m, None, &FakeBtsConfig::default());
        assert!(c.has(Rule::CellNotRegistered));
        check_neighbourhood(&m, &idx, &FakeBtsConfig::default()).apply(&m, &mut c);
        assert!(c.has(Rule::LacInconsistent) && c.has(Rule::ArfcnUnusedNearby));
        assert!(!c.has(Rule::PlmnInconsistent));
        // same cell id re-announced under another TAC
        let hop = CellKey {
            lac: 14203 + 7,
            ..KEY
        };
        let m = report(21.031, 105.85, hop);
        let n = check_neighbourhood(&m, &idx, &FakeBtsConfig::default());
        assert!(n.cid_under_other_lac);
        // another operator's PLMN where it has no cells
        let foreign = CellKey { mnc: 7, ..odd };
        let m = report(21.031, 105.85, foreign);
        let mut c = check_report(&m, None, &FakeBtsConfig::default());
        check_neighbourhood(&m, &idx, &FakeBtsConfig::default()).apply(&m, &mut c);
        assert!(c.has(Rule::PlmnInconsistent));
    }

    #[test]
    fn events_alone_are_not_an_anomaly() {
        let s = site(KEY, 21.03, 105.85);
        for (event, rule) in [
            (MeasurementEvent::SmsReceived, Rule::SmsWhileCamped),
            (MeasurementEvent::RatDowngrade, Rule::RatDowngrade),
            (MeasurementEvent::Reject, Rule::LuReject),
        ] {
            let mut m = report(21.035, 105.85, KEY);
            m.event = event;
            let c = check_report(&m, Some(&s), &FakeBtsConfig::default());
            assert!(c.has(rule) && !c.anomalous());
        }
    }

    #[test]
    fn clone_on_another_channel() {
        let s = site(KEY, 21.03, 105.85);
        let mut m = report(21.031, 105.85, KEY);
        m.arfcn = Some(1700);
        let c = check_report(&m, Some(&s), &FakeBtsConfig::default());
        assert!(c.has(Rule::ArfcnInconsistent) && c.anomalous());
        assert_eq!(c.values[Rule::ArfcnInconsistent as usize], 1700.0);
    }
}
