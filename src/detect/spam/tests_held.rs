//! Unit tests of `RATE_HELD_HOURS`: a pace kept up for hours opens a case from
//! `sms_out` alone, where a vote, a school's notices or a shop's day do not. Kept
//! apart from tests.rs for its length.

use super::*;
use crate::detect::spam::rules::{RuleId, SimFeatures, SimRules};

const HOUR: i64 = 3_600_000;

/// A SIM on a feed of required fields sending `n` SMS in the 5-min record at `start`.
fn paced(i: u32, start: i64, n: u32) -> SmsVolume {
    SmsVolume {
        sms_out: n,
        ..bare(spammer(i, start))
    }
}

fn case_of(out: &[Case], i: u32) -> Option<&Case> {
    out.iter()
        .find(|c| c.kind == CaseKind::SpamSim && c.sims == [sim_id(i)])
}

fn has(case: &Case, code: &str) -> bool {
    case.reasons.iter().any(|r| r.code == code)
}

#[test]
fn a_pace_under_the_far_rate_held_for_hours_is_flagged() {
    let mut d = detector();
    // 26 per 5 min (312 an hour, under far_rate_1h and RATE_STEADY_HOUR's pace) from
    // the second step on, for 5 h
    let out = run(&mut d, 62, 300, |s, start| {
        if s < 2 {
            return Vec::new();
        }
        vec![paced(1, start, 26)]
    });
    let case = case_of(&out, 1).expect("the held pace is flagged");
    assert!(has(case, "RATE_HELD_HOURS"));
    assert!(!has(case, "RATE_FAR_BEYOND"));
    // three full hours before the current one: not before 3 h after it started
    let started = T0 + 2 * STEP;
    assert!(case.opened_at >= started + 3 * HOUR, "{}", case.opened_at);
    assert!(
        case.opened_at <= started + 4 * HOUR + STEP,
        "{}",
        case.opened_at
    );
    let r = case
        .reasons
        .iter()
        .find(|r| r.code == "RATE_HELD_HOURS")
        .unwrap();
    assert!(r.value >= 3.0);
    assert_eq!(r.threshold, 3.0);
}

#[test]
fn a_vote_of_two_hours_bursts_with_pauses_and_a_shops_day_are_not_held() {
    let mut d = detector();
    let out = run(&mut d, 72, 300, |s, start| {
        let mut v = Vec::new();
        // a TV vote: about 375 an hour for two hours, rising, falling and pausing as
        // a person's does, then nothing (a pace kept in every 5 minutes of an hour is
        // a script's: RATE_STEADY_HOUR, tests_steady.rs)
        let vote = [45u32, 20, 40, 50, 25, 0, 45, 50, 35, 15, 40, 50];
        if (2..26).contains(&s) && vote[s as usize % vote.len()] > 0 {
            v.push(paced(1, start, vote[s as usize % vote.len()]));
        }
        // bursts: 120 every 20 minutes all day (360 an hour, with pauses)
        if s % 4 == 0 {
            v.push(paced(2, start, 120));
        }
        // a shop: 15 per 5 min (180 an hour) all day
        v.push(paced(3, start, 15));
        v
    });
    for i in [1, 3] {
        assert!(case_of(&out, i).is_none(), "SIM {i} flagged: {out:?}");
    }
    // the pace with pauses is not held; 18 bursts in six hours, more notices than a
    // school sends in a day, are REPEATED_BURSTS (tests_bursts.rs)
    let bursts = case_of(&out, 2).expect("the repeated bursts are flagged");
    assert!(!has(bursts, "RATE_HELD_HOURS"), "{bursts:?}");
    assert!(has(bursts, "REPEATED_BURSTS"), "{bursts:?}");
}

#[test]
fn few_recipients_hold_a_held_pace_back() {
    let mut d = detector();
    // a vote that lasts all day, on a feed that carries distinct recipients: one number
    let out = run(&mut d, 62, 300, |s, start| {
        if s < 2 {
            return Vec::new();
        }
        vec![SmsVolume {
            distinct_recipients: Some(1),
            ..paced(1, start, 30)
        }]
    });
    assert!(case_of(&out, 1).is_none());
    let f = d.findings();
    let miss = f
        .iter()
        .find(|x| x["sim"] == sim_id(1))
        .expect("the vote is a near miss");
    let codes: Vec<&str> = miss["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"RATE_HELD_HOURS"), "{codes:?}");
    assert!(codes.contains(&"FEW_RECIPIENTS"), "{codes:?}");
}

fn held(hours: u32, out_medium: u64) -> SimFeatures {
    SimFeatures {
        out_medium,
        held_hours: hours,
        held_min_per_hour: 300.0,
        active_share: 1.0,
        ..SimFeatures::default()
    }
}

#[test]
fn the_rule_needs_the_hours_the_last_hour_steadiness_and_the_population() {
    let c = SpamConfig::default();
    let r = SimRules::from_config(&c);
    let fires = |f: &SimFeatures| r.evaluate(f).has(RuleId::RateHeldHours);
    assert!(fires(&held(3, 250)));
    assert!(!fires(&held(2, 400)), "two hours are a show's vote");
    assert!(!fires(&held(5, 249)), "the last hour is below the pace");
    let bursty = SimFeatures {
        active_share: 0.5,
        ..held(5, 400)
    };
    assert!(!fires(&bursty), "sent in bursts with pauses");
    let ordinary_here = SimFeatures {
        held_z: Some(c.far_robust_z - 0.1),
        ..held(5, 400)
    };
    assert!(
        !fires(&ordinary_here),
        "the operator's population sends that much"
    );
    let beyond = SimFeatures {
        held_z: Some(c.far_robust_z),
        ..held(5, 400)
    };
    assert!(fires(&beyond));
    // it may open a case on its own, like RATE_FAR_BEYOND
    assert_ne!(RuleId::ALONE_MASK & RuleId::RateHeldHours.bit(), 0);
}

#[test]
fn held_hours_are_validated() {
    for (hours, ok) in [(0, false), (1, true), (23, true), (24, false)] {
        let c = SpamConfig {
            held_hours: hours,
            ..SpamConfig::default()
        };
        assert_eq!(c.validate().is_ok(), ok, "held_hours = {hours}");
    }
}
