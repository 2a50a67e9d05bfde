//! Unit tests of `REPEATED_BURSTS`: a SIM that sends a contact book's worth in
//! minutes again and again after pauses is flagged from `sms_out` alone, where a
//! "send to all", a school's notices, a TV vote and a shop's day are not. Kept apart
//! from tests.rs for its length.

use super::*;
use crate::detect::spam::bursts::BurstSpec;
use crate::detect::spam::state::{SimState, Specs};

const MIN: i64 = 60_000;

/// A SIM on a feed of required fields sending `n` SMS in a record of `secs` at `start`.
fn sent(i: u32, start: i64, secs: u32, n: u32) -> SmsVolume {
    SmsVolume {
        sms_out: n,
        window_secs: secs,
        ..bare(spammer(i, start))
    }
}

fn case_of(out: &[Case], i: u32) -> Option<&Case> {
    out.iter()
        .find(|c| c.kind == CaseKind::SpamSim && c.sims == [sim_id(i)])
}

fn reason<'a>(case: &'a Case, code: &str) -> Option<&'a crate::model::Reason> {
    case.reasons.iter().find(|r| r.code == code)
}

/// A SIM of the test: its number, SMS a minute, and the minutes it sends in.
type Sender<'a> = (u32, u32, &'a dyn Fn(i64) -> bool);

/// 60 s records: `per_min` SMS a minute while `on(minute)` holds, for `minutes`,
/// starting at T0, next to a background of ordinary SIMs.
fn minutes(d: &mut SpamDetector, sims: &[Sender<'_>], total: i64) -> Vec<Case> {
    let mut out = Vec::new();
    for m in 0..total {
        let start = T0 + m * MIN;
        if m % 5 == 0 {
            for i in 100..400u32 {
                if (i as i64 + m / 5) % 3 == 0 {
                    d.on_event(&Event::Sms(bare(normal(i, start))), &mut out);
                }
            }
        }
        for (i, per_min, on) in sims {
            if on(m) {
                d.on_event(&Event::Sms(sent(*i, start, 60, *per_min)), &mut out);
            }
        }
        d.on_watermark(start + MIN - 1, &mut out);
    }
    d.finish(&mut out);
    out
}

#[test]
fn half_hourly_bursts_are_flagged_at_the_fourth() {
    let mut d = detector();
    // 15 a minute for 10 minutes every 30 minutes (300 an hour, under every rate
    // rule's pace), from minute 20 on for three hours
    let pulse = |m: i64| (20..200).contains(&m) && (m - 20) % 30 < 10;
    let out = minutes(&mut d, &[(1, 15, &pulse)], 240);
    let case = case_of(&out, 1).expect("the repeated bursts are flagged");
    let r = reason(case, "REPEATED_BURSTS").expect("by REPEATED_BURSTS");
    assert_eq!((r.value, r.threshold), (4.0, 4.0));
    assert!(reason(case, "RATE_FAR_BEYOND").is_none());
    assert!(reason(case, "RATE_HELD_HOURS").is_none());
    // the fourth burst starts at minute 110 and reaches 100 SMS in its seventh minute
    assert_eq!(case.opened_at, T0 + 117 * MIN, "{case:?}");
}

#[test]
fn a_send_to_all_a_schools_notices_a_vote_and_a_shop_are_not_flagged() {
    let mut d = detector();
    // a "send to all": 25 a minute for 14 minutes, then the phone's ordinary life
    let announce = |m: i64| (30..44).contains(&m) || m % 17 == 0;
    // a school: three notices of 300 (30 a minute for 10 minutes), 40 minutes apart
    let school = |m: i64| [20, 70, 120].iter().any(|s| (*s..*s + 10).contains(&m));
    // a TV vote: 6 a minute, most minutes, for two hours
    let vote = |m: i64| (10..130).contains(&m) && m % 7 != 0;
    // a shop: 2 a minute most of the day
    let shop = |m: i64| m % 3 != 0;
    let out = minutes(
        &mut d,
        &[
            (1, 25, &announce),
            (2, 30, &school),
            (3, 6, &vote),
            (4, 2, &shop),
        ],
        300,
    );
    for i in 1..=4 {
        assert!(case_of(&out, i).is_none(), "SIM {i} flagged: {out:?}");
    }
}

#[test]
fn a_burst_is_counted_once_however_long_and_not_again_after_the_pause() {
    let c = SpamConfig::default();
    let specs = Specs::new(
        c.short_window_secs,
        c.medium_window_secs,
        c.long_window_secs,
    )
    .expect("default windows");
    let spec = BurstSpec::new(&c, &specs);
    let mut st = SimState::new(
        crate::detect::spam::ids::SimKey::new(0, "a"),
        (T0 / 1000) as u32,
        false,
    );
    let mut cell = 0u32;
    let mut last = 0;
    let feed = |st: &mut SimState, cell: &mut u32, m: i64, n: u32| {
        let r = sent(1, T0 + m * MIN, 60, n);
        let span = crate::detect::spam::record::RecordSpan::of(&r);
        let paused = spec.paused_before(st, &specs, span.start_ms);
        crate::detect::spam::record::fold(st, &r, &specs, &span);
        spec.update(cell, paused, st, &specs, (span.start_ms, span.end_ms))
    };
    // 40 minutes at 20 a minute without a pause: one burst
    for m in 0..40 {
        last = feed(&mut st, &mut cell, m, 20);
    }
    assert_eq!(last, 1);
    // records of nothing after it: the burst still in the window is not counted again
    for m in 40..60 {
        last = feed(&mut st, &mut cell, m, 0);
    }
    assert_eq!(last, 1);
    // a new burst after the pause counts
    for m in 60..70 {
        last = feed(&mut st, &mut cell, m, 20);
    }
    assert_eq!(last, 2);
    // a day later the old bursts no longer count
    for m in 60 * 25..60 * 25 + 10 {
        last = feed(&mut st, &mut cell, m, 20);
    }
    assert_eq!(last, 1);
}
