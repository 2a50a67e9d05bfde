//! Transmitter-level scores: detected / total, false fake_bts cases, localisation
//! error, time to detect.
//!
//! A `fake_bts` case *matches* a rogue transmitter of the truth when one of its
//! identities is one the transmitter broadcast (same RAT, PLMN, LAC/TAC, cell id and,
//! where both give it, channel) and its evidence span overlaps the transmitter's
//! activity (with `TIME_SLACK_MS` slack); a case matching several goes to the one
//! sharing most identities. A case matching none is a false `fake_bts` case.
//!
//! Per detected transmitter, two times to detect (minutes, floored at 0) from the
//! earliest `opened_at` of its cases: *from on-air*, minus `active_from_ms` (what the
//! regulator lives with: it includes the wait for any phone to report the
//! transmitter), and *from first report*, minus `first_heard_ms` (the detector's own
//! latency: no detector can act before the feed carries a report of it). A truth file
//! without `first_heard_ms` (written before the field existed) counts both from
//! on-air and says so (`first_heard_missing`). Localisation error = distance from the
//! final `location` of its main case (the one with most evidence) to the true position
//! at that case's `last_seen` (the truth track interpolated, clamped to its ends).
//!
//! Static transmitters are scored by that error; a moving one (a track of several
//! positions) also by its *track error*: the median, over every point of its cases'
//! tracks (or their final location when a case has no track), of the distance to the
//! true position at that point's time. A false case is put under the truth category
//! of the cell it claims (`trap_cells` categories joined by `+`,
//! `missing_from_inventory`, `misplaced`) or `other`.
//!
//! Also here: [`naive_unregistered_cases`], the baseline "cell not in inventory"
//! (every unregistered identity observed is a case).

use super::stats::{median, nearest_rank};
use crate::model::{
    Case, CaseKind, CaseStatus, CellKey, CellMeasurement, ClaimedCell, Location, Reason,
};
use crate::simulate::truth::{Truth, TruthTransmitter};
use geo::{Distance, Haversine, Point};
use serde::Serialize;
use std::collections::BTreeMap;

/// Slack when comparing a case's evidence span with a transmitter's activity.
pub(crate) const TIME_SLACK_MS: i64 = 600_000;

/// Figures of one transmitter.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransmitterScore {
    pub id: String,
    pub kind: String,
    pub detected: bool,
    /// Cases matched to it (more than one = the transmitter was split).
    pub cases: usize,
    pub identities_total: usize,
    /// Of its identities, how many its main case lists.
    pub identities_in_main_case: usize,
    /// From on-air (`active_from_ms`) to the first case, minutes.
    pub time_to_detect_min: Option<f64>,
    /// From the first report of it in the feed (`first_heard_ms`, or on-air when the
    /// truth file lacks it) to the first case, minutes: the detector's own latency.
    pub time_from_first_report_min: Option<f64>,
    /// From on-air to the first report of it in the feed, minutes (`None` when the
    /// truth file does not say).
    pub first_report_after_on_air_min: Option<f64>,
    pub localisation_error_m: Option<f64>,
    /// Whether it moves (its true track has more than one position).
    pub moving: bool,
    /// Median distance of its cases' track points to where it truly was then.
    pub track_error_m: Option<f64>,
}

/// The figures of `cellwatch score` for fake base stations.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BtsScores {
    pub transmitters_total: usize,
    pub detected: usize,
    pub(crate) fake_bts_cases: usize,
    pub false_fake_bts_cases: usize,
    /// Matched cases beyond one per detected transmitter (fragmentation).
    pub extra_cases: usize,
    pub median_localisation_error_m: Option<f64>,
    /// Time to detect from on-air: median and 90th percentile (nearest rank), min.
    pub median_time_to_detect_min: Option<f64>,
    pub p90_time_to_detect_min: Option<f64>,
    /// Time to detect from the first report: median and 90th percentile, min.
    pub median_time_from_first_report_min: Option<f64>,
    pub p90_time_from_first_report_min: Option<f64>,
    /// Transmitters whose truth has no `first_heard_ms` (an older truth file): their
    /// time from first report is counted from on-air.
    pub first_heard_missing: usize,
    /// Matched cases per detected transmitter, on average (1.0 is the goal).
    pub cases_per_transmitter: Option<f64>,
    /// Median localisation error over the static transmitters.
    pub median_static_error_m: Option<f64>,
    /// Median track error over the moving transmitters.
    pub median_track_error_m: Option<f64>,
    /// False `fake_bts` cases by the truth category of the cell they claim.
    pub false_cases_by_category: BTreeMap<String, usize>,
    pub per_transmitter: Vec<TransmitterScore>,
}

fn same_identity(a: &ClaimedCell, b: &ClaimedCell) -> bool {
    a.rat == b.rat
        && a.mcc == b.mcc
        && a.mnc == b.mnc
        && a.lac == b.lac
        && a.cid == b.cid
        && match (a.arfcn, b.arfcn) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

fn shared_identities(case: &Case, t: &TruthTransmitter) -> usize {
    let mut ids: Vec<&ClaimedCell> = case.identities.iter().collect();
    if let Some(c) = &case.claimed_cell {
        ids.push(c);
    }
    t.identities
        .iter()
        .filter(|ti| ids.iter().any(|ci| same_identity(ci, ti)))
        .count()
}

/// True position of a transmitter at `ts` (linear between track points, clamped).
pub fn truth_position(t: &TruthTransmitter, ts: i64) -> Option<(f64, f64)> {
    let track = &t.track;
    let first = track.first()?;
    let i = track.partition_point(|p| p.ts <= ts);
    if i == 0 {
        return Some((first.lat, first.lon));
    }
    if i >= track.len() {
        let last = track.last()?;
        return Some((last.lat, last.lon));
    }
    let (a, b) = (&track[i - 1], &track[i]);
    let f = if b.ts > a.ts {
        (ts - a.ts) as f64 / (b.ts - a.ts) as f64
    } else {
        0.0
    };
    Some((a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f))
}

/// Score the `fake_bts` cases of a run against the truth.
pub fn score_bts(truth: &Truth, cases: &[Case]) -> BtsScores {
    let fakes: Vec<&Case> = cases
        .iter()
        .filter(|c| c.kind == CaseKind::FakeBts)
        .collect();
    let mut matched: BTreeMap<usize, Vec<&Case>> = BTreeMap::new();
    let mut false_cases = 0;
    let mut false_by_category: BTreeMap<String, usize> = BTreeMap::new();
    for case in &fakes {
        let best = truth
            .transmitters
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                case.first_seen <= t.active_to_ms + TIME_SLACK_MS
                    && case.last_seen >= t.active_from_ms - TIME_SLACK_MS
            })
            .map(|(i, t)| (shared_identities(case, t), i))
            .filter(|(n, _)| *n > 0)
            .max_by_key(|&(n, i)| (n, std::cmp::Reverse(i)));
        match best {
            Some((_, i)) => matched.entry(i).or_default().push(case),
            None => {
                false_cases += 1;
                *false_by_category
                    .entry(claimed_category(truth, case))
                    .or_default() += 1;
            }
        }
    }
    let mut per = Vec::new();
    let mut errors = Vec::new();
    let mut delays = Vec::new();
    let mut first_delays = Vec::new();
    let mut first_heard_missing = 0;
    let mut extra = 0;
    for (i, t) in truth.transmitters.iter().enumerate() {
        let list = matched.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        let main = list
            .iter()
            .max_by_key(|c| (c.evidence_count, std::cmp::Reverse(c.opened_at)))
            .copied();
        let opened = list.iter().map(|c| c.opened_at).min();
        let ttd = opened.map(|o| minutes(o - t.active_from_ms));
        let first_heard = t.first_heard_ms.unwrap_or(t.active_from_ms);
        first_heard_missing += usize::from(t.first_heard_ms.is_none());
        let from_first = opened.map(|o| minutes(o - first_heard));
        if let Some(d) = from_first {
            first_delays.push(d);
        }
        let err = main.and_then(|c| {
            let loc: &Location = c.location.as_ref()?;
            let (lat, lon) = truth_position(t, c.last_seen)?;
            Some(
                Haversine
                    .distance(Point::new(loc.lon, loc.lat), Point::new(lon, lat))
                    .round(),
            )
        });
        if let Some(d) = ttd {
            delays.push(d);
        }
        if let Some(e) = err {
            errors.push(e);
        }
        extra += list.len().saturating_sub(1);
        let moving = is_moving(t);
        let track_error = if moving { track_error(t, list) } else { None };
        per.push(TransmitterScore {
            id: t.id.clone(),
            kind: t.kind.clone(),
            detected: !list.is_empty(),
            cases: list.len(),
            identities_total: t.identities.len(),
            identities_in_main_case: main.map_or(0, |c| shared_identities(c, t)),
            time_to_detect_min: ttd,
            time_from_first_report_min: from_first,
            first_report_after_on_air_min: t.first_heard_ms.map(|f| minutes(f - t.active_from_ms)),
            localisation_error_m: err,
            moving,
            track_error_m: track_error,
        });
    }
    let detected = per.iter().filter(|p| p.detected).count();
    let static_errors = per
        .iter()
        .filter(|p| !p.moving)
        .filter_map(|p| p.localisation_error_m)
        .collect();
    let track_errors = per.iter().filter_map(|p| p.track_error_m).collect();
    let mut sorted_delays = delays.clone();
    sorted_delays.sort_by(f64::total_cmp);
    let mut sorted_first = first_delays.clone();
    sorted_first.sort_by(f64::total_cmp);
    BtsScores {
        transmitters_total: truth.transmitters.len(),
        detected,
        fake_bts_cases: fakes.len(),
        false_fake_bts_cases: false_cases,
        extra_cases: extra,
        median_localisation_error_m: median(errors),
        median_time_to_detect_min: median(delays),
        p90_time_to_detect_min: nearest_rank(&sorted_delays, 0.9),
        median_time_from_first_report_min: median(first_delays),
        p90_time_from_first_report_min: nearest_rank(&sorted_first, 0.9),
        first_heard_missing,
        cases_per_transmitter: (detected > 0).then(|| {
            let matched_cases: usize = per.iter().map(|p| p.cases).sum();
            ((matched_cases as f64 / detected as f64) * 100.0).round() / 100.0
        }),
        median_static_error_m: median(static_errors),
        median_track_error_m: median(track_errors),
        false_cases_by_category: false_by_category,
        per_transmitter: per,
    }
}

impl BtsScores {
    pub fn one_line(&self) -> String {
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |x| format!("{x:.1} {unit}"));
        let by_category = if self.false_cases_by_category.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = self
                .false_cases_by_category
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            format!(" ({})", parts.join(", "))
        };
        let per: Vec<String> = self
            .per_transmitter
            .iter()
            .map(|p| format!("{} {}", p.id, p.cases))
            .collect();
        let fallback = if self.first_heard_missing > 0 {
            format!(
                " ({} transmitter(s) without first_heard_ms in the truth: counted from on-air)",
                self.first_heard_missing
            )
        } else {
            String::new()
        };
        format!(
            "bts: detected {}/{}, false fake_bts cases {}{}, cases per transmitter {} [{}], median localisation error {} (static {}, along track {}), time to detect from first report median {} p90 {}{fallback}, from on-air median {} p90 {}",
            self.detected,
            self.transmitters_total,
            self.false_fake_bts_cases,
            by_category,
            opt(self.cases_per_transmitter, ""),
            per.join(", "),
            opt(self.median_localisation_error_m, "m"),
            opt(self.median_static_error_m, "m"),
            opt(self.median_track_error_m, "m"),
            opt(self.median_time_from_first_report_min, "min"),
            opt(self.p90_time_from_first_report_min, "min"),
            opt(self.median_time_to_detect_min, "min"),
            opt(self.p90_time_to_detect_min, "min"),
        )
    }
}

/// A span of milliseconds as minutes (two decimals), floored at 0.
fn minutes(ms: i64) -> f64 {
    (ms.max(0) as f64 / 60_000.0 * 100.0).round() / 100.0
}

/// Whether a transmitter moves: its true track has more than one position.
fn is_moving(t: &TruthTransmitter) -> bool {
    t.track
        .windows(2)
        .any(|w| w[0].lat != w[1].lat || w[0].lon != w[1].lon)
}

/// Median distance, over every track point of `cases` (their final location when a
/// case has no track), to the true position of `t` at that point's time.
fn track_error(t: &TruthTransmitter, cases: &[&Case]) -> Option<f64> {
    let mut errors = Vec::new();
    for c in cases {
        let points: Vec<(i64, f64, f64)> = if c.track.is_empty() {
            c.location
                .iter()
                .map(|l| (c.last_seen, l.lat, l.lon))
                .collect()
        } else {
            c.track.iter().map(|p| (p.ts, p.lat, p.lon)).collect()
        };
        for (ts, lat, lon) in points {
            if let Some((tlat, tlon)) = truth_position(t, ts) {
                errors.push(
                    Haversine
                        .distance(Point::new(lon, lat), Point::new(tlon, tlat))
                        .round(),
                );
            }
        }
    }
    median(errors)
}

/// The truth category of the cell a false case claims: a trap cell's categories
/// (joined by `+` when it has several), a cell missing from the inventory or listed at the wrong place, or `other`.
fn claimed_category(truth: &Truth, case: &Case) -> String {
    let key = |c: &ClaimedCell| format!("{}-{}-{}-{}", c.mcc, c.mnc, c.lac, c.cid);
    let keys: Vec<String> = case
        .claimed_cell
        .iter()
        .chain(case.identities.iter())
        .map(key)
        .collect();
    let has = |k: &str| keys.iter().any(|x| x == k);
    let mut categories: Vec<&str> = truth
        .trap_cells
        .iter()
        .filter(|t| has(&t.cell))
        .map(|t| t.category.as_str())
        .collect();
    categories.dedup();
    if !categories.is_empty() {
        return categories.join("+");
    }
    if truth.missing_cells.iter().any(|m| has(m)) {
        return "missing_from_inventory".into();
    }
    if truth.misplaced_cells.iter().any(|m| has(&m.cell)) {
        return "misplaced".into();
    }
    "other".into()
}

/// The naive baseline "cell not in inventory": every identity observed that
/// `is_registered` does not know becomes one case, opened at its first report and
/// located at the mean position of its reporters.
pub fn naive_unregistered_cases<'a>(
    records: impl IntoIterator<Item = &'a CellMeasurement>,
    is_registered: impl Fn(&CellKey) -> bool,
) -> Vec<Case> {
    struct Acc {
        cell: ClaimedCell,
        first: i64,
        last: i64,
        n: u64,
        lat: f64,
        lon: f64,
    }
    let mut seen: BTreeMap<(crate::model::Rat, CellKey, Option<u32>), Acc> = BTreeMap::new();
    for m in records {
        if is_registered(&m.cell) {
            continue;
        }
        let acc = seen.entry((m.rat, m.cell, m.arfcn)).or_insert_with(|| Acc {
            cell: ClaimedCell {
                rat: m.rat,
                mcc: m.cell.mcc,
                mnc: m.cell.mnc,
                lac: m.cell.lac,
                cid: m.cell.cid,
                arfcn: m.arfcn,
            },
            first: m.ts_ms,
            last: m.ts_ms,
            n: 0,
            lat: 0.0,
            lon: 0.0,
        });
        acc.first = acc.first.min(m.ts_ms);
        acc.last = acc.last.max(m.ts_ms);
        acc.n += 1;
        acc.lat += m.lat;
        acc.lon += m.lon;
    }
    seen.into_values()
        .map(|a| Case {
            case_id: format!(
                "naive-{}-{}-{}-{}-{}",
                a.cell.rat.as_str(),
                a.cell.mcc,
                a.cell.mnc,
                a.cell.lac,
                a.cell.cid
            ),
            kind: CaseKind::FakeBts,
            status: CaseStatus::Open,
            opened_at: a.first,
            first_seen: a.first,
            last_seen: a.last,
            score: 1.0,
            operator: None,
            sims: Vec::new(),
            claimed_cell: Some(a.cell),
            identities: vec![a.cell],
            location: Some(Location {
                lat: a.lat / a.n as f64,
                lon: a.lon / a.n as f64,
                radius_m: 0.0,
            }),
            track: Vec::new(),
            reasons: vec![Reason {
                code: "CELL_NOT_REGISTERED".into(),
                value: 1.0,
                threshold: 1.0,
            }],
            evidence_count: a.n,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Rat, TrackPoint};
    use crate::simulate::truth::TruthIdentityChange;

    fn cell(lac: u32, cid: u64) -> ClaimedCell {
        ClaimedCell {
            rat: Rat::Gsm,
            mcc: 452,
            mnc: 4,
            lac,
            cid,
            arfcn: Some(90),
        }
    }

    fn truth() -> Truth {
        let t = TruthTransmitter {
            id: "fake-1".into(),
            kind: "moving_blaster".into(),
            identities: vec![cell(1, 1), cell(2, 2)],
            identity_changes: vec![TruthIdentityChange {
                from_ms: 0,
                identity: cell(1, 1),
            }],
            active_from_ms: 0,
            active_to_ms: 600_000,
            first_heard_ms: None,
            eirp_dbm: 47.0,
            track: vec![
                TrackPoint {
                    ts: 0,
                    lat: 21.0,
                    lon: 105.0,
                },
                TrackPoint {
                    ts: 600_000,
                    lat: 21.01,
                    lon: 105.0,
                },
            ],
        };
        serde_json::from_value(serde_json::json!({
            "seed": 1, "scale": "small", "start_ms": 0, "end_ms": 3_600_000,
            "spam_sims": [], "farms": [], "legit_heavy": [],
            "transmitters": [t], "missing_cells": [], "misplaced_cells": [],
            "malformed_lines": {}, "late_records": {}, "line_counts": {}
        }))
        .unwrap()
    }

    fn case(id: &str, ids: Vec<ClaimedCell>, opened: i64, last: i64, lat: f64) -> Case {
        Case {
            case_id: id.into(),
            kind: CaseKind::FakeBts,
            status: CaseStatus::Open,
            opened_at: opened,
            first_seen: opened,
            last_seen: last,
            score: 0.9,
            operator: None,
            sims: vec![],
            claimed_cell: ids.first().copied(),
            identities: ids,
            location: Some(Location {
                lat,
                lon: 105.0,
                radius_m: 100.0,
            }),
            track: vec![],
            reasons: vec![],
            evidence_count: 10,
        }
    }

    #[test]
    fn matches_by_identity_and_measures_error_at_last_seen() {
        let t = truth();
        let cases = vec![
            case("a", vec![cell(1, 1), cell(2, 2)], 120_000, 300_000, 21.005),
            case("b", vec![cell(9, 9)], 0, 100, 21.0),
        ];
        let s = score_bts(&t, &cases);
        assert_eq!(
            (s.detected, s.transmitters_total, s.false_fake_bts_cases),
            (1, 1, 1)
        );
        assert_eq!(s.median_time_to_detect_min, Some(2.0));
        // truth at 300 s is halfway: 21.005 → error ≈ 0
        assert!(s.median_localisation_error_m.unwrap() < 1.0);
        assert_eq!(s.per_transmitter[0].identities_in_main_case, 2);
        assert!(s.one_line().contains("detected 1/1"));
    }

    #[test]
    fn tracks_fragments_and_false_cases_by_category() {
        let mut t = truth();
        t.missing_cells = vec!["452-4-9-9".into()];
        let mut a = case("a", vec![cell(1, 1)], 60_000, 300_000, 21.005);
        // a track 0.001° (≈ 111 m) north of the truth at both points
        a.track = vec![
            TrackPoint {
                ts: 0,
                lat: 21.001,
                lon: 105.0,
            },
            TrackPoint {
                ts: 600_000,
                lat: 21.011,
                lon: 105.0,
            },
        ];
        let b = case("b", vec![cell(2, 2)], 400_000, 500_000, 21.008);
        let s = score_bts(
            &t,
            &[
                a,
                b,
                case("c", vec![cell(9, 9)], 0, 100, 21.0),
                case("d", vec![cell(8, 8)], 0, 100, 21.0),
            ],
        );
        let p = &s.per_transmitter[0];
        assert!(p.moving && p.cases == 2);
        assert_eq!(s.cases_per_transmitter, Some(2.0));
        // points: 111, 111 (track of a) and b's location at 500 s (≈ 0 m away)
        let e = p.track_error_m.unwrap();
        assert!((100.0..=120.0).contains(&e), "{e}");
        assert_eq!(s.median_static_error_m, None);
        assert_eq!(
            s.false_cases_by_category.get("missing_from_inventory"),
            Some(&1)
        );
        assert_eq!(s.false_cases_by_category.get("other"), Some(&1));
        assert_eq!(s.p90_time_to_detect_min, Some(1.0));
        assert!(
            s.one_line().contains("missing_from_inventory 1"),
            "{}",
            s.one_line()
        );
    }

    #[test]
    fn time_to_detect_from_on_air_and_from_first_report() {
        let mut t = truth();
        let cases = [case("a", vec![cell(1, 1)], 300_000, 400_000, 21.005)];
        // an older truth file: no first report, both figures count from on-air
        let old = score_bts(&t, &cases);
        assert_eq!(old.first_heard_missing, 1);
        assert_eq!(old.median_time_from_first_report_min, Some(5.0));
        assert_eq!(old.per_transmitter[0].first_report_after_on_air_min, None);
        assert!(old.one_line().contains("counted from on-air"));
        // first heard 4 min after on-air: the detector took 1 min
        t.transmitters[0].first_heard_ms = Some(240_000);
        let s = score_bts(&t, &cases);
        let p = &s.per_transmitter[0];
        assert_eq!(p.time_to_detect_min, Some(5.0));
        assert_eq!(p.time_from_first_report_min, Some(1.0));
        assert_eq!(p.first_report_after_on_air_min, Some(4.0));
        assert_eq!(
            (
                s.median_time_to_detect_min,
                s.median_time_from_first_report_min
            ),
            (Some(5.0), Some(1.0))
        );
        assert_eq!(s.first_heard_missing, 0);
        assert!(!s.one_line().contains("counted from on-air"));
    }

    #[test]
    fn a_case_outside_the_activity_does_not_match() {
        let t = truth();
        let s = score_bts(
            &t,
            &[case("a", vec![cell(1, 1)], 7_200_000, 7_300_000, 21.0)],
        );
        assert_eq!((s.detected, s.false_fake_bts_cases), (0, 1));
    }
}
