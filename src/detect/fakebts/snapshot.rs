//! The `fake_bts` case of a transmitter: its id and state, when a re-localisation is
//! worth a new snapshot, and the snapshot itself (reasons from the current and the
//! strongest assessment, location, track, identities). Snapshots replace each other by
//! `case_id` downstream.

use super::emitter::{Assessment, Emitter, EvidenceSpec};
use super::farclone::far_clone_reason;
use super::geometry::distance_m;
use super::rules::Rule;
use super::stats::FakeBtsStats;
use crate::config::FakeBtsConfig;
use crate::detect::case_id::digest_id;
use crate::detect::CaseSink;
use crate::model::{round3, Case, CaseKind, CaseStatus, ClaimedCell, Location, Reason};

/// The reason code of a transmitter with more identities than its case lists.
pub(crate) const IDENTITIES_UNLISTED: &str = "IDENTITIES_UNLISTED";

/// Whether a re-localised case changed enough to be worth a snapshot: it moved beyond
/// the radius last reported, or its track grew by a snapshot interval.
pub(super) fn material_change(e: &Emitter, cfg: &FakeBtsConfig) -> bool {
    let Some(case) = &e.case else { return false };
    let Some(loc) = e.location(cfg) else {
        return false;
    };
    let moved = case
        .emitted_location
        .is_none_or(|l| distance_m(l.lat, l.lon, loc.lat, loc.lon) > l.radius_m);
    let track_due = e.moving
        && e.track_last_ms().is_some_and(|t| {
            case.emitted_track_ms
                .is_none_or(|last| t - last >= cfg.snapshot_interval_ms())
        });
    moved || track_due || e.identities.len() > case.emitted_identities
}

/// Build and emit the current snapshot of an emitter's case.
pub(super) fn emit_snapshot(
    e: &mut Emitter,
    cfg: &FakeBtsConfig,
    spec: &EvidenceSpec,
    out: &mut dyn CaseSink,
    stats: &mut FakeBtsStats,
    opening: bool,
) {
    let now = e.assess(e.last_seen, spec, cfg);
    let location = e.location(cfg);
    let track = e.track_points(cfg);
    let track_last = e.track_last_ms();
    let reports = e.reports;
    let (first_seen, last_seen) = (e.first_seen, e.last_seen);
    let Some(case) = e.case.as_mut() else { return };
    if now.points > case.best.points {
        case.best = now;
    }
    let best = case.best;
    let mut reasons = reasons(e, &now, &best, cfg);
    let n_identities = e.identities.len();
    let identities: Vec<ClaimedCell> = e
        .identities
        .iter()
        .take(cfg.max_case_identities)
        .map(|c| c.0)
        .collect();
    if n_identities > cfg.max_case_identities {
        reasons.push(Reason::new(
            IDENTITIES_UNLISTED,
            n_identities as f64,
            cfg.max_case_identities as f64,
        ));
    }
    let Some(case) = e.case.as_mut() else { return };
    let snapshot = Case {
        case_id: case.case_id.clone(),
        kind: CaseKind::FakeBts,
        status: CaseStatus::Open,
        opened_at: case.opened_at,
        first_seen,
        last_seen,
        score: round3(best.score(cfg).max(now.score(cfg))),
        operator: None,
        sims: Vec::new(),
        claimed_cell: identities.first().copied(),
        identities,
        location,
        track,
        reasons,
        evidence_count: reports,
    };
    if n_identities > cfg.max_case_identities && case.emitted_identities <= cfg.max_case_identities
    {
        tracing::warn!(
            case_id = %case.case_id,
            identities = n_identities,
            max_case_identities = cfg.max_case_identities,
            "fake bts case lists its first fakebts.max_case_identities identities only; reason IDENTITIES_UNLISTED carries their number"
        );
    }
    case.last_emit_ms = last_seen;
    case.emitted_location = location;
    case.emitted_identities = n_identities;
    case.emitted_track_ms = track_last;
    case.emitted_reports = reports;
    if !opening {
        stats.case_updates += 1;
    }
    if !case.muted {
        out.emit(snapshot);
    }
}

/// Every rule that holds now or held in the strongest assessment (its value from the
/// assessment it holds in, now first), then the distinct reporters.
fn reasons(e: &Emitter, now: &Assessment, best: &Assessment, cfg: &FakeBtsConfig) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for rule in Rule::ALL {
        let source = if now.holds & rule.bit() != 0 {
            now
        } else if best.holds & rule.bit() != 0 {
            best
        } else {
            continue;
        };
        let (value, threshold) = e.reason_value(rule, source, cfg);
        reasons.push(Reason::new(rule.code(), value, threshold));
    }
    reasons.extend(far_clone_reason(now, best, cfg));
    reasons.push(Reason::new(
        "DISTINCT_REPORTERS",
        now.reporters.max(best.reporters) as f64,
        cfg.min_reporters as f64,
    ));
    reasons
}

/// The case an emitter has opened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CaseState {
    pub(crate) case_id: String,
    pub(crate) opened_at: i64,
    pub(crate) last_emit_ms: i64,
    pub(crate) emitted_location: Option<Location>,
    pub(crate) emitted_identities: usize,
    pub(crate) emitted_track_ms: Option<i64>,
    /// Evidence count at the last snapshot.
    pub(crate) emitted_reports: u64,
    /// The strongest assessment so far (its reasons stay in the case).
    pub(crate) best: Assessment,
    /// Kept but not emitted: another region emits this transmitter's case
    /// (`regions.rs`).
    pub(crate) muted: bool,
}

impl CaseState {
    /// A case opened at `ts_ms` by the assessment `a`, its first identity `first`,
    /// in the tile `tile` when the map is cut into tiles.
    pub(crate) fn open(
        first: &ClaimedCell,
        ts_ms: i64,
        a: Assessment,
        tile: Option<(i32, i32)>,
    ) -> CaseState {
        CaseState {
            case_id: case_id(first, ts_ms, tile),
            opened_at: ts_ms,
            last_emit_ms: ts_ms,
            emitted_location: None,
            emitted_identities: 0,
            emitted_track_ms: None,
            emitted_reports: 0,
            best: a,
            muted: false,
        }
    }
}

/// Deterministic case id: `fbts-` + 16 hex of SHA-256 of the first identity, the
/// minute in which the evidence crossed the threshold and, when the map is cut into
/// tiles, the tile that opened it (two tiles that open one transmitter's case in the
/// same minute would otherwise share an id, and which of their snapshots is the last
/// would depend on which task wrote last: docs/streaming.md, "Stage B by region").
pub(crate) fn case_id(first: &ClaimedCell, opened_at_ms: i64, tile: Option<(i32, i32)>) -> String {
    let mut key = format!(
        "{}-{}-{}-{}-{}@{}",
        first.rat.as_str(),
        first.mcc,
        first.mnc,
        first.lac,
        first.cid,
        opened_at_ms.div_euclid(60_000)
    );
    if let Some((row, col)) = tile {
        key.push_str(&format!("#{row},{col}"));
    }
    digest_id("fbts", &key)
}

impl Emitter {
    /// The measured value a case reports for a rule that holds, and its threshold.
    pub(crate) fn reason_value(
        &self,
        rule: Rule,
        a: &Assessment,
        cfg: &FakeBtsConfig,
    ) -> (f64, f64) {
        let i = rule as usize;
        match rule {
            Rule::DuplicateIdentity => (1.0, 1.0),
            // judged per identity on its reports (cipher.rs): the phones it forced
            // down, against `forced_min_phones`
            Rule::RejectsEveryPhone if a.counts[i] > 0 => {
                let phones = a.rejected_phones.max(a.forced_phones);
                (phones as f64, cfg.forced_min_phones as f64)
            }
            Rule::RejectsEveryPhone => (a.rejected_phones as f64, cfg.catcher_min_phones as f64),
            r if r.is_event() => (a.counts[i] as f64, 1.0),
            r if r.reports_share() => {
                let share = if a.evaluated[i] > 0 {
                    a.counts[i] as f64 / a.evaluated[i] as f64
                } else {
                    0.0
                };
                (round3(share), cfg.min_rule_fraction)
            }
            _ => {
                let (mean, threshold) = self.values.mean_and_threshold(i);
                (round3(mean), f64::from(threshold))
            }
        }
    }
}
