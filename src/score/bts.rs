//! Transmitter-level scores: detected / total, false fake_bts cases, localisation
//! error, time to detect.
//!
//! A `fake_bts` case *matches* a rogue transmitter of the truth when one of its
//! identities is one the transmitter broadcast (same RAT, PLMN, LAC/TAC, cell id and,
//! where both give it, channel) and its evidence span overlaps the transmitter's
//! activity (with `TIME_SLACK_MS` slack); a case matching several goes to the one
//! sharing most identities. A case matching none is a false `fake_bts` case.
//!
//! Per detected transmitter: time to detect = earliest `opened_at` of its cases minus
//! `active_from_ms` (minutes, floored at 0); localisation error = distance from the
//! final `location` of its main case (the one with most evidence) to the true position
//! at that case's `last_seen` (the truth track interpolated, clamped to its ends).
//!
//! Also here: [`naive_unregistered_cases`], the baseline "cell not in inventory"
//! (every unregistered identity observed is a case).

use super::stats::median;
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
    pub time_to_detect_min: Option<f64>,
    pub localisation_error_m: Option<f64>,
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
    pub median_time_to_detect_min: Option<f64>,
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
            None => false_cases += 1,
        }
    }
    let mut per = Vec::new();
    let mut errors = Vec::new();
    let mut delays = Vec::new();
    let mut extra = 0;
    for (i, t) in truth.transmitters.iter().enumerate() {
        let list = matched.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        let main = list
            .iter()
            .max_by_key(|c| (c.evidence_count, std::cmp::Reverse(c.opened_at)))
            .copied();
        let ttd = list
            .iter()
            .map(|c| c.opened_at)
            .min()
            .map(|o| ((o - t.active_from_ms).max(0) as f64 / 60_000.0 * 100.0).round() / 100.0);
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
        per.push(TransmitterScore {
            id: t.id.clone(),
            kind: t.kind.clone(),
            detected: !list.is_empty(),
            cases: list.len(),
            identities_total: t.identities.len(),
            identities_in_main_case: main.map_or(0, |c| shared_identities(c, t)),
            time_to_detect_min: ttd,
            localisation_error_m: err,
        });
    }
    BtsScores {
        transmitters_total: truth.transmitters.len(),
        detected: per.iter().filter(|p| p.detected).count(),
        fake_bts_cases: fakes.len(),
        false_fake_bts_cases: false_cases,
        extra_cases: extra,
        median_localisation_error_m: median(errors),
        median_time_to_detect_min: median(delays),
        per_transmitter: per,
    }
}

impl BtsScores {
    pub fn one_line(&self) -> String {
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |x| format!("{x:.1} {unit}"));
        format!(
            "bts: detected {}/{}, false fake_bts cases {}, median localisation error {}, median time to detect {}",
            self.detected,
            self.transmitters_total,
            self.false_fake_bts_cases,
            opt(self.median_localisation_error_m, "m"),
            opt(self.median_time_to_detect_min, "min"),
        )
    }
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
    fn a_case_outside_the_activity_does_not_match() {
        let t = truth();
        let s = score_bts(
            &t,
            &[case("a", vec![cell(1, 1)], 7_200_000, 7_300_000, 21.0)],
        );
        assert_eq!((s.detected, s.false_fake_bts_cases), (0, 1));
    }
}
