//! SIM-level scores: precision, recall, F1, farm-member recall, detection delay.
//!
//! A SIM is *flagged* when any `spam_sim` or `sim_farm` case lists it; positives are
//! the scenario's blatant spam SIMs and every farm member. The delay of a detected
//! positive is the earliest `opened_at` of a case listing it minus a moment of the
//! truth, in minutes of event time, twice (negative delays count as 0):
//!
//! - *from first record*: minus `first_carried_ms`, when the feed first carried the
//!   SIM's sending (the end of its first record that sent, later when that record was
//!   delivered late): the detector's own latency, which the robustness matrix
//!   asserts. A truth file without it (written before the field existed) counts from
//!   the behaviour's start instead, and the summary line says for how many SIMs;
//! - *from start*: minus `active_from_ms`, when the behaviour started, as a scorer
//!   that knows only the behaviour counts (it adds the wait for the record in which
//!   the SIM began to end, up to one reporting interval, which no detector can
//!   shorten).
//!
//! Also here: [`naive_rate_cases`], the volume-only baseline ("more than N SMS per
//! hour") that the detector is compared with.

use super::stats::{nearest_rank, ratio};
use crate::model::{Case, CaseKind, CaseStatus, Reason, SmsVolume};
use crate::simulate::truth::Truth;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The figures of `cellwatch score` for SIM cases.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SimScores {
    /// Positives in the truth (spam SIMs and farm members).
    pub(crate) positives: usize,
    /// Distinct SIMs listed by `spam_sim` or `sim_farm` cases.
    pub(crate) flagged: usize,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Farm members in the truth.
    pub(crate) farm_members: usize,
    /// Farm members listed by a `sim_farm` case.
    pub(crate) farm_members_in_farm_cases: usize,
    /// `farm_members_in_farm_cases / farm_members` (1.0 when there is no farm).
    pub farm_member_recall: f64,
    /// Farm members listed by any case (`spam_sim` or `sim_farm`).
    pub(crate) farm_member_any_recall: f64,
    pub farms: usize,
    /// Farms of which one `sim_farm` case lists at least half of the members.
    pub(crate) farms_detected: usize,
    /// Median and 90th percentile (nearest rank) of the detection delay from the
    /// behaviour's start (`active_from_ms`), minutes.
    pub median_delay_min: Option<f64>,
    pub p90_delay_min: Option<f64>,
    /// Median and 90th percentile (nearest rank) of the detection delay from the
    /// feed's first record of the behaviour (`first_carried_ms`), minutes: what the
    /// robustness matrix asserts.
    pub median_delay_from_first_record_min: Option<f64>,
    pub p90_delay_from_first_record_min: Option<f64>,
    /// Detected positives whose truth has no `first_carried_ms` (an older truth
    /// file): their delay from first record is counted from the behaviour's start.
    pub first_carried_missing: usize,
    /// False positives by truth kind of the SIM (`shop`, `school`, `tv_vote`, `m2m`,
    /// `new_normal`, or `ordinary` for any other SIM).
    pub false_positives_by_kind: BTreeMap<String, usize>,
    pub(crate) spam_sim_cases: usize,
    pub(crate) sim_farm_cases: usize,
    /// Per truth farm (truth order): how many `sim_farm` cases list any of its members.
    /// One is the goal: a farm that grows updates its case.
    pub farm_cases_per_farm: Vec<usize>,
    /// Truth farms whose members listed by `sim_farm` cases are all in one case.
    pub farms_in_one_case: usize,
    /// `sim_farm` cases listing no truth-farm member (e.g. spam SIMs sharing a phone).
    pub other_farm_cases: usize,
    /// Recall by kind of positive: each spam kind of the truth (`blatant_spam`,
    /// `ramp_spam`) and `farm_member` (listed by any case), counted separately.
    pub recall_by_kind: BTreeMap<String, KindRecall>,
}

/// Recall of one kind of positive SIM.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KindRecall {
    pub positives: usize,
    pub flagged: usize,
    pub recall: f64,
}

/// Recall by kind of positive (see [`SimScores::recall_by_kind`]).
fn recall_by_kind(truth: &Truth, flagged: &BTreeSet<&str>) -> BTreeMap<String, KindRecall> {
    let mut out: BTreeMap<String, KindRecall> = BTreeMap::new();
    let spam = truth.spam_sims.iter().map(|s| (s.kind.as_str(), &s.sim));
    let farm = truth
        .farms
        .iter()
        .flat_map(|f| f.sims.iter().map(|s| ("farm_member", s)));
    for (kind, sim) in spam.chain(farm) {
        let k = out.entry(kind.to_string()).or_default();
        k.positives += 1;
        k.flagged += usize::from(flagged.contains(sim.as_str()));
    }
    for k in out.values_mut() {
        k.recall = ratio(k.flagged, k.positives, 1.0);
    }
    out
}

/// What the SIM cases of a run say, SIM by SIM.
struct Flags<'a> {
    /// Earliest `opened_at` of a `spam_sim` or `sim_farm` case listing the SIM.
    first_open: BTreeMap<&'a str, i64>,
    /// SIMs listed by a `sim_farm` case.
    in_farm_case: BTreeSet<&'a str>,
    spam_sim_cases: usize,
    sim_farm_cases: usize,
}

impl<'a> Flags<'a> {
    fn of(cases: &'a [Case]) -> Flags<'a> {
        let mut flags = Flags {
            first_open: BTreeMap::new(),
            in_farm_case: BTreeSet::new(),
            spam_sim_cases: 0,
            sim_farm_cases: 0,
        };
        for c in cases {
            match c.kind {
                CaseKind::SpamSim => flags.spam_sim_cases += 1,
                CaseKind::SimFarm => flags.sim_farm_cases += 1,
                CaseKind::FakeBts => continue,
            }
            for s in &c.sims {
                let e = flags.first_open.entry(s.as_str()).or_insert(c.opened_at);
                *e = (*e).min(c.opened_at);
                if c.kind == CaseKind::SimFarm {
                    flags.in_farm_case.insert(s.as_str());
                }
            }
        }
        flags
    }
}

/// How the `sim_farm` cases cover the truth's farms.
struct FarmCoverage {
    farms_detected: usize,
    farm_cases_per_farm: Vec<usize>,
    farms_in_one_case: usize,
    other_farm_cases: usize,
}

impl FarmCoverage {
    fn of(truth: &Truth, cases: &[Case]) -> FarmCoverage {
        let farm_case_list: Vec<&Case> = cases
            .iter()
            .filter(|c| c.kind == CaseKind::SimFarm)
            .collect();
        let farm_cases: Vec<BTreeSet<&str>> = farm_case_list
            .iter()
            .map(|c| c.sims.iter().map(String::as_str).collect())
            .collect();
        let mut coverage = FarmCoverage {
            farms_detected: 0,
            farm_cases_per_farm: Vec::with_capacity(truth.farms.len()),
            farms_in_one_case: 0,
            other_farm_cases: 0,
        };
        let mut listed_any_farm = vec![false; farm_cases.len()];
        for f in &truth.farms {
            let members: BTreeSet<&str> = f.sims.iter().map(String::as_str).collect();
            // Detected: one case lists at least half of the members.
            let half_in_one = farm_case_list.iter().any(|c| {
                let hit = c
                    .sims
                    .iter()
                    .filter(|s| members.contains(s.as_str()))
                    .count();
                2 * hit >= members.len().max(1)
            });
            coverage.farms_detected += usize::from(half_in_one);
            let listing: Vec<usize> = (0..farm_cases.len())
                .filter(|&i| !farm_cases[i].is_disjoint(&members))
                .collect();
            let covered: BTreeSet<&str> = listing
                .iter()
                .flat_map(|&i| farm_cases[i].intersection(&members).copied())
                .collect();
            if listing.iter().any(|&i| farm_cases[i].is_superset(&covered)) {
                coverage.farms_in_one_case += 1;
            }
            for &i in &listing {
                listed_any_farm[i] = true;
            }
            coverage.farm_cases_per_farm.push(listing.len());
        }
        coverage.other_farm_cases = listed_any_farm.iter().filter(|x| !**x).count();
        coverage
    }
}

/// False positives by the truth kind of the SIM (`ordinary` when the truth does not
/// list it).
fn false_positives_by_kind(
    truth: &Truth,
    flagged: &BTreeSet<&str>,
    positives: &BTreeSet<&str>,
) -> BTreeMap<String, usize> {
    let trap_kind: HashMap<&str, &str> = truth
        .legit_heavy
        .iter()
        .map(|s| (s.sim.as_str(), s.kind.as_str()))
        .collect();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for s in flagged.iter().filter(|s| !positives.contains(*s)) {
        let kind = trap_kind.get(s).copied().unwrap_or("ordinary");
        *by_kind.entry(kind.to_string()).or_default() += 1;
    }
    by_kind
}

/// Detection delays of the flagged positives, minutes, sorted.
struct Delays {
    /// From the behaviour's start (`active_from_ms`).
    from_start: Vec<f64>,
    /// From the feed's first record of it (`first_carried_ms`, or the start when the
    /// truth does not say).
    from_first_record: Vec<f64>,
    /// Flagged positives without `first_carried_ms`.
    first_carried_missing: usize,
}

impl Delays {
    fn of(truth: &Truth, positives: &BTreeSet<&str>, first_open: &BTreeMap<&str, i64>) -> Delays {
        // Per positive SIM: (behaviour start, first record if known).
        let mut from: HashMap<&str, (i64, Option<i64>)> = HashMap::new();
        for s in &truth.spam_sims {
            from.insert(&s.sim, (s.active_from_ms, s.first_carried_ms));
        }
        for f in &truth.farms {
            for s in &f.sims {
                let carried = f.first_carried_ms.get(s).copied();
                from.insert(s, (f.active_from_ms, carried));
            }
        }
        let minutes = |ms: i64| ms.max(0) as f64 / 60_000.0;
        let mut d = Delays {
            from_start: Vec::new(),
            from_first_record: Vec::new(),
            first_carried_missing: 0,
        };
        for s in positives {
            let (Some(opened), Some(&(start, carried))) = (first_open.get(s), from.get(s)) else {
                continue;
            };
            d.from_start.push(minutes(opened - start));
            d.from_first_record
                .push(minutes(opened - carried.unwrap_or(start)));
            d.first_carried_missing += usize::from(carried.is_none());
        }
        d.from_start.sort_by(f64::total_cmp);
        d.from_first_record.sort_by(f64::total_cmp);
        d
    }
}

/// Score the SIM cases of a run against the scenario's truth.
pub fn score_sims(truth: &Truth, cases: &[Case]) -> SimScores {
    let positives = truth.positive_sims();
    let flags = Flags::of(cases);
    let flagged: BTreeSet<&str> = flags.first_open.keys().copied().collect();
    let tp = flagged.iter().filter(|s| positives.contains(*s)).count();
    let fp = flagged.len() - tp;
    let fn_ = positives.len() - tp;
    let precision = ratio(tp, tp + fp, 1.0);
    let recall = ratio(tp, positives.len(), 1.0);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let farm_members: Vec<&str> = truth
        .farms
        .iter()
        .flat_map(|f| f.sims.iter().map(String::as_str))
        .collect();
    let members_in_farm_cases = farm_members
        .iter()
        .filter(|s| flags.in_farm_case.contains(*s))
        .count();
    let members_any = farm_members.iter().filter(|s| flagged.contains(*s)).count();
    let coverage = FarmCoverage::of(truth, cases);
    let delays = Delays::of(truth, &positives, &flags.first_open);
    SimScores {
        positives: positives.len(),
        flagged: flagged.len(),
        tp,
        fp,
        fn_,
        precision,
        recall,
        f1,
        farm_members: farm_members.len(),
        farm_members_in_farm_cases: members_in_farm_cases,
        farm_member_recall: ratio(members_in_farm_cases, farm_members.len(), 1.0),
        farm_member_any_recall: ratio(members_any, farm_members.len(), 1.0),
        farms: truth.farms.len(),
        farms_detected: coverage.farms_detected,
        median_delay_min: nearest_rank(&delays.from_start, 0.5),
        p90_delay_min: nearest_rank(&delays.from_start, 0.9),
        median_delay_from_first_record_min: nearest_rank(&delays.from_first_record, 0.5),
        p90_delay_from_first_record_min: nearest_rank(&delays.from_first_record, 0.9),
        first_carried_missing: delays.first_carried_missing,
        false_positives_by_kind: false_positives_by_kind(truth, &flagged, &positives),
        spam_sim_cases: flags.spam_sim_cases,
        sim_farm_cases: flags.sim_farm_cases,
        farm_cases_per_farm: coverage.farm_cases_per_farm,
        farms_in_one_case: coverage.farms_in_one_case,
        other_farm_cases: coverage.other_farm_cases,
        recall_by_kind: recall_by_kind(truth, &flagged),
    }
}

impl SimScores {
    /// One line: the SIM figures of `cellwatch score`.
    pub(crate) fn one_line(&self) -> String {
        let delay = |d: Option<f64>| d.map_or("-".to_string(), |d| format!("{d:.1}"));
        let fps = if self.false_positives_by_kind.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = self
                .false_positives_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            format!(" ({})", parts.join(", "))
        };
        let by_kind: Vec<String> = self
            .recall_by_kind
            .iter()
            .map(|(k, r)| format!("{k} {:.3}", r.recall))
            .collect();
        let fallback = if self.first_carried_missing > 0 {
            format!(
                " ({} SIM(s) without first_carried_ms in the truth: counted from start)",
                self.first_carried_missing
            )
        } else {
            String::new()
        };
        let per_farm: Vec<String> = self
            .farm_cases_per_farm
            .iter()
            .map(usize::to_string)
            .collect();
        format!(
            "sims: precision {:.3} recall {:.3} [{}] f1 {:.3} (tp {} fp {}{} fn {}) farm-member recall {:.3} ({}/{} farms) farm cases per farm [{}] (+{} other) delay from first record median {} p90 {}{fallback}, from start median {} p90 {} min",
            self.precision,
            self.recall,
            by_kind.join(", "),
            self.f1,
            self.tp,
            self.fp,
            fps,
            self.fn_,
            self.farm_member_recall,
            self.farms_detected,
            self.farms,
            per_farm.join(","),
            self.other_farm_cases,
            delay(self.median_delay_from_first_record_min),
            delay(self.p90_delay_from_first_record_min),
            delay(self.median_delay_min),
            delay(self.p90_delay_min),
        )
    }
}

/// One SIM's records of the last hour, `(end, sms_out)`, and their sum.
type HourWindow = (VecDeque<(i64, u64)>, u64);

/// The naive volume rule for comparison: a `spam_sim` case for every SIM that sent
/// more than `per_hour` SMS within any hour (sliding over record end times), opened at
/// the record that crossed it. Records in the order given (event-time order per SIM).
pub fn naive_rate_cases<'a>(
    records: impl IntoIterator<Item = &'a SmsVolume>,
    per_hour: u64,
) -> Vec<Case> {
    const HOUR_MS: i64 = 3_600_000;
    let mut windows: HashMap<(&str, &str), HourWindow> = HashMap::new();
    let mut cases: BTreeMap<(&str, &str), Case> = BTreeMap::new();
    for r in records {
        let key = (r.operator.as_str(), r.sim.as_str());
        let end = r.window_start_ms + i64::from(r.window_secs) * 1000;
        let (q, sum) = windows.entry(key).or_default();
        q.push_back((end, u64::from(r.sms_out)));
        *sum += u64::from(r.sms_out);
        while q.front().is_some_and(|&(t, _)| t <= end - HOUR_MS) {
            let (_, n) = q.pop_front().expect("front checked");
            *sum -= n;
        }
        if *sum > per_hour {
            let sum = *sum;
            let case = cases.entry(key).or_insert_with(|| Case {
                case_id: format!("naive-{}-{}", r.operator, r.sim),
                kind: CaseKind::SpamSim,
                status: CaseStatus::Open,
                opened_at: end,
                first_seen: end,
                last_seen: end,
                score: 1.0,
                operator: Some(r.operator.to_string()),
                sims: vec![r.sim.to_string()],
                claimed_cell: None,
                identities: Vec::new(),
                location: None,
                track: Vec::new(),
                reasons: vec![Reason {
                    code: "SMS_RATE_1H".into(),
                    value: sum as f64,
                    threshold: per_hour as f64,
                }],
                evidence_count: 0,
            });
            case.last_seen = case.last_seen.max(end);
            case.evidence_count += 1;
        }
    }
    cases.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::truth::{TruthFarm, TruthSim};

    fn sim(s: &str, kind: &str, from: i64) -> TruthSim {
        TruthSim {
            sim: s.into(),
            operator: "45204".into(),
            active_from_ms: from,
            kind: kind.into(),
            first_carried_ms: None,
        }
    }

    fn case(kind: CaseKind, sims: &[&str], opened_at: i64) -> Case {
        Case {
            case_id: format!("{kind:?}-{opened_at}"),
            kind,
            status: CaseStatus::Open,
            opened_at,
            first_seen: opened_at,
            last_seen: opened_at,
            score: 1.0,
            operator: None,
            sims: sims.iter().map(|s| s.to_string()).collect(),
            claimed_cell: None,
            identities: vec![],
            location: None,
            track: vec![],
            reasons: vec![],
            evidence_count: 1,
        }
    }

    fn truth() -> Truth {
        let json = serde_json::json!({
            "seed": 1, "scale": "small", "start_ms": 0, "end_ms": 100_000_000,
            "spam_sims": [], "farms": [], "legit_heavy": [], "transmitters": [],
            "missing_cells": [], "misplaced_cells": [], "malformed_lines": {},
            "late_records": {}, "line_counts": {}
        });
        let mut t: Truth = serde_json::from_value(json).unwrap();
        t.spam_sims = vec![
            sim("s1", "blatant_spam", 0),
            sim("s2", "blatant_spam", 600_000),
        ];
        t.farms = vec![TruthFarm {
            farm_id: "farm-1".into(),
            operator: "45204".into(),
            sims: vec!["f1".into(), "f2".into(), "f3".into(), "f4".into()],
            devices: vec![],
            imei_tac: "86291002".into(),
            cell: "452-4-1-1".into(),
            active_from_ms: 0,
            cells: vec![],
            imei_tacs: vec![],
            first_carried_ms: BTreeMap::new(),
        }];
        t.legit_heavy = vec![sim("shop1", "shop", 0), sim("tv1", "tv_vote", 0)];
        t
    }

    #[test]
    fn precision_recall_farm_and_delay() {
        let cases = vec![
            case(CaseKind::SpamSim, &["s1"], 300_000),
            case(CaseKind::SpamSim, &["shop1"], 300_000),
            case(CaseKind::SimFarm, &["f1", "f2", "f3"], 900_000),
            case(CaseKind::SpamSim, &["f1"], 600_000),
            case(CaseKind::SpamSim, &["zz"], 600_000),
        ];
        let s = score_sims(&truth(), &cases);
        assert_eq!((s.positives, s.flagged, s.tp, s.fp, s.fn_), (6, 6, 4, 2, 2));
        assert!((s.precision - 4.0 / 6.0).abs() < 1e-9);
        assert!((s.recall - 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(s.farm_members_in_farm_cases, 3);
        assert!((s.farm_member_recall - 0.75).abs() < 1e-9);
        assert_eq!(s.farms_detected, 1);
        // delays: s1 5 min, f1 10 min (earliest case), f2 15, f3 15
        assert_eq!(s.median_delay_min, Some(10.0));
        assert_eq!(s.p90_delay_min, Some(15.0));
        // no first_carried_ms in this truth: from first record falls back to the start
        assert_eq!(s.median_delay_from_first_record_min, Some(10.0));
        assert_eq!(s.p90_delay_from_first_record_min, Some(15.0));
        assert_eq!(s.first_carried_missing, 4);
        assert_eq!(s.false_positives_by_kind.get("shop"), Some(&1));
        assert_eq!(s.false_positives_by_kind.get("ordinary"), Some(&1));
        assert_eq!((s.spam_sim_cases, s.sim_farm_cases), (4, 1));
        assert_eq!(s.farm_cases_per_farm, vec![1]);
        assert_eq!((s.farms_in_one_case, s.other_farm_cases), (1, 0));
        // blatant: s1 of s1, s2; farm members: f1-f3 of four
        let kind = |k: &str| s.recall_by_kind.get(k).map(|r| (r.positives, r.flagged));
        assert_eq!(kind("blatant_spam"), Some((2, 1)));
        assert_eq!(kind("farm_member"), Some((4, 3)));
        let line = s.one_line();
        assert!(
            line.starts_with("sims: precision 0.667 recall 0.667"),
            "{line}"
        );
    }

    #[test]
    fn delay_from_first_record_counts_from_when_the_feed_carried_it() {
        let mut t = truth();
        // s1 started at 0, its first record (a 900 s window) ended at 15 min
        t.spam_sims[0].first_carried_ms = Some(900_000);
        // the farm started at 0; f1's first record ended at 5 min, f2's at 20 min
        t.farms[0].first_carried_ms =
            BTreeMap::from([("f1".to_string(), 300_000), ("f2".to_string(), 1_200_000)]);
        let cases = vec![
            case(CaseKind::SpamSim, &["s1"], 960_000),
            case(CaseKind::SimFarm, &["f1", "f2", "f3"], 1_080_000),
        ];
        let s = score_sims(&t, &cases);
        // from start: s1 16, f1 f2 f3 18 min
        assert_eq!(s.median_delay_min, Some(18.0));
        assert_eq!(s.p90_delay_min, Some(18.0));
        // from first record: s1 1, f1 13, f2 0 (opened before its record: floored),
        // f3 18 (no first record in the truth: from the start)
        assert_eq!(s.median_delay_from_first_record_min, Some(1.0));
        assert_eq!(s.p90_delay_from_first_record_min, Some(18.0));
        assert_eq!(s.first_carried_missing, 1);
        let line = s.one_line();
        assert!(
            line.contains("delay from first record median 1.0 p90 18.0 (1 SIM(s) without first_carried_ms in the truth: counted from start), from start median 18.0 p90 18.0 min"),
            "{line}"
        );
    }

    #[test]
    fn farm_split_over_cases_is_counted() {
        let cases = vec![
            case(CaseKind::SimFarm, &["f1", "f2"], 300_000),
            case(CaseKind::SimFarm, &["f3", "f4"], 600_000),
            case(CaseKind::SimFarm, &["s1", "s2"], 600_000),
        ];
        let s = score_sims(&truth(), &cases);
        assert_eq!(s.farm_cases_per_farm, vec![2]);
        assert_eq!((s.farms_in_one_case, s.other_farm_cases), (0, 1));
        // an earlier partial case next to one that lists everyone: whole in one case
        let cases = vec![
            case(CaseKind::SimFarm, &["f1", "f2"], 300_000),
            case(CaseKind::SimFarm, &["f1", "f2", "f3", "f4"], 600_000),
        ];
        let s = score_sims(&truth(), &cases);
        assert_eq!(s.farm_cases_per_farm, vec![2]);
        assert_eq!(s.farms_in_one_case, 1);
    }

    #[test]
    fn no_cases_means_no_recall() {
        let s = score_sims(&truth(), &[]);
        assert_eq!((s.tp, s.fp, s.fn_), (0, 0, 6));
        assert_eq!(s.recall, 0.0);
        assert_eq!(s.f1, 0.0);
        assert_eq!(s.median_delay_min, None);
    }

    #[test]
    fn naive_rule_slides_over_one_hour() {
        let rec = |sim: &str, start: i64, out: u32| SmsVolume {
            operator: "45204".into(),
            sim: sim.into(),
            window_start_ms: start,
            window_secs: 300,
            sms_out: out,
            sms_in: None,
            distinct_recipients: None,
            new_recipients: None,
            offnet_out: None,
            calls_out: None,
            calls_in: None,
            device: None,
            imei_tac: None,
            cell: None,
            sim_age_days: None,
            kyc_verified: None,
            content_fps: vec![],
        };
        let t0 = 1_700_000_000_000;
        let recs = vec![
            // "a": 60 + 50 within one hour -> crosses at the second record
            rec("a", t0, 60),
            rec("a", t0 + 1_800_000, 50),
            // "b": 60, then 50 an hour and a half later -> never > 100 within an hour
            rec("b", t0, 60),
            rec("b", t0 + 5_400_000, 50),
        ];
        let cases = naive_rate_cases(&recs, 100);
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].sims, vec!["a".to_string()]);
        assert_eq!(cases[0].opened_at, t0 + 1_800_000 + 300_000);
    }
}
