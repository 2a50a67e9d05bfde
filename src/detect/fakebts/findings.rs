//! Inventory discrepancies: legitimate-looking cells that the inventory lacks, and
//! registered cells heard where their row says they cannot be. They are not fake base
//! stations — a low-severity list analysts use to correct the inventory
//! (`OUT/inventory_findings.jsonl` in replay). Stage B asks here when it retires a
//! transmitter without a case, stage A when it forgets an identity, whether it makes a
//! finding.

use super::emitter::{Emitter, EvidenceSpec};
use super::geometry::distance_m;
use super::identity::{cell_key, IdKey, IdentityState};
use super::index::CellIndex;
use super::locate::{multilaterate, Observation, SolverParams};
use super::reported::Reported;
use crate::config::FakeBtsConfig;
use crate::model::{round3, round6, CellKey, Location, Rat, Reason};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FindingKind {
    /// Heard by several reporters, behaves like a real cell (ciphers, announces
    /// neighbours, stable footprint) but is not in the inventory.
    MissingCell,
    /// Registered, behaves like a real cell, but is heard around a position far from
    /// its listed coordinates.
    MisplacedCell,
}

/// Listed coordinates of a registered cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct ListedPosition {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
}

/// One suggested correction of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct InventoryFinding {
    pub(crate) kind: FindingKind,
    /// Always `"low"`: an inventory defect, not an incident.
    pub(crate) severity: &'static str,
    /// `MCC-MNC-LAC-CID`.
    pub(crate) cell: String,
    pub(crate) rat: Rat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arfcn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listed: Option<ListedPosition>,
    /// Where the reports place the cell.
    pub(crate) estimated: Location,
    /// Distance between listed and estimated position, metres (misplaced cells).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) offset_m: Option<f64>,
    pub(crate) reporters: usize,
    pub(crate) reports: u64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    /// Diagonal of the reporters' bounding box, metres.
    pub(crate) spread_m: f64,
    pub(crate) reasons: Vec<Reason>,
}

impl InventoryFinding {}

/// A legitimate-looking unregistered cell heard by enough reporters (an emitter retired
/// without a case): a `missing_cell` finding, placed where the emitter localises
/// (the fix made is counted in `localisations`).
pub(super) fn missing_cell(
    e: &mut Emitter,
    registered: &dyn Fn(&CellKey) -> bool,
    spec: &EvidenceSpec,
    cfg: &FakeBtsConfig,
    solver: &SolverParams,
    localisations: &mut u64,
) -> Option<InventoryFinding> {
    let (first, _) = e.identities.first().copied()?;
    if e.signature.suspicious()
        || registered(&cell_key(&first))
        || e.reporters_total() < cfg.finding_min_reporters
        || e.reports < cfg.finding_min_reports
    {
        return None;
    }
    let a = e.assess(e.last_seen, spec, cfg);
    if a.rogue_points > 0.0 {
        return None;
    }
    e.refit_next();
    e.localise(e.last_seen, cfg, solver);
    *localisations += 1;
    let estimated = e.location(cfg)?;
    Some(InventoryFinding {
        kind: FindingKind::MissingCell,
        severity: "low",
        cell: cell_key(&first).to_string(),
        rat: first.rat,
        arfcn: first.arfcn,
        listed: None,
        estimated,
        offset_m: None,
        reporters: e.reporters_total(),
        reports: e.reports,
        first_seen: e.first_seen,
        last_seen: e.last_seen,
        spread_m: e.spread_m().round(),
        reasons: vec![
            Reason::new("CELL_NOT_REGISTERED", 1.0, 1.0),
            Reason::new(
                "DISTINCT_REPORTERS",
                e.reporters_total() as f64,
                cfg.finding_min_reporters as f64,
            ),
            Reason::new(
                "LIFETIME_S",
                ((e.last_seen - e.first_seen) / 1000) as f64,
                0.0,
            ),
        ],
    })
}

/// A registered cell heard consistently around a place far from its listed coordinates
/// (an identity being forgotten, with its profile): a `misplaced_cell` finding (the
/// fix made is counted in `localisations`).
pub(super) fn misplaced_cell(
    key: IdKey,
    state: &IdentityState,
    index: &CellIndex,
    cfg: &FakeBtsConfig,
    solver: &SolverParams,
    localisations: &mut u64,
) -> Option<InventoryFinding> {
    let p = state.profile.as_deref()?;
    let site = index.get(&key.1)?;
    if p.reporters.len() < cfg.finding_min_reporters
        || p.reports < cfg.finding_min_reports
        || (p.misplaced_reports as f64) < cfg.misplaced_min_fraction * p.reports as f64
    {
        return None;
    }
    let obs: Vec<_> = p.observations.iter().map(Reported::observation).collect();
    let fix = multilaterate(&obs, solver)?;
    *localisations += 1;
    let radius = fix.radius_m(cfg.min_radius_m);
    let (lat, lon) = p.frame.to_lat_lon(fix.x, fix.y);
    let offset = distance_m(lat, lon, site.lat, site.lon);
    if offset < cfg.finding_min_offset_m.max(2.0 * radius) {
        return None;
    }
    Some(InventoryFinding {
        kind: FindingKind::MisplacedCell,
        severity: "low",
        cell: key.1.to_string(),
        rat: key.0,
        arfcn: site.arfcn,
        listed: Some(ListedPosition {
            lat: site.lat,
            lon: site.lon,
        }),
        estimated: Location {
            lat: round6(lat),
            lon: round6(lon),
            radius_m: radius.round(),
        },
        offset_m: Some(offset.round()),
        reporters: p.reporters.len(),
        reports: p.reports,
        first_seen: state.first_seen,
        last_seen: state.last_seen,
        spread_m: spread_m(&obs).round(),
        reasons: vec![
            Reason::new(
                "BEYOND_REACH_SHARE",
                round3(p.misplaced_reports as f64 / p.reports.max(1) as f64),
                cfg.misplaced_min_fraction,
            ),
            Reason::new(
                "LISTED_OFFSET_M",
                offset.round(),
                cfg.finding_min_offset_m.max(2.0 * radius).round(),
            ),
            Reason::new(
                "DISTINCT_REPORTERS",
                p.reporters.len() as f64,
                cfg.finding_min_reporters as f64,
            ),
        ],
    })
}

/// Diagonal of the observations' bounding box, metres (0 without observations).
fn spread_m(obs: &[Observation]) -> f64 {
    let (mut lo, mut hi) = (
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, f64::NEG_INFINITY),
    );
    for o in obs {
        lo = (lo.0.min(o.x), lo.1.min(o.y));
        hi = (hi.0.max(o.x), hi.1.max(o.y));
    }
    if lo.0.is_finite() {
        (hi.0 - lo.0).hypot(hi.1 - lo.1)
    } else {
        0.0
    }
}
