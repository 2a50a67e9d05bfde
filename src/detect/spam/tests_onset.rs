//! Unit tests of the common-onset link on a feed of required fields at 900 s records
//! (farm/links.rs `link_by_onset`, candidate.rs): a farm whose SIMs' first records
//! fall in adjacent intervals is one case; a burst that started with it and ended, a
//! steady sender that started before it and one at many times its pace are left
//! out; a latecomer joins the farm that started last; a burst that slows to the
//! farm's pace is no founder or latecomer (it did not keep that pace since its first
//! record). Kept apart from tests.rs for its length.

use super::*;

/// A bare record of SIM `i` for the 900 s interval starting at `start`.
fn bare_900(i: u32, start: i64, n: u32) -> SmsVolume {
    SmsVolume {
        window_secs: 900,
        sms_out: n,
        ..bare(normal(i, start))
    }
}

/// Feed 900 s records: `per_interval(k, start)` for intervals `k` of 0..`intervals`,
/// with a watermark after each; returns every snapshot.
fn run_900(
    d: &mut SpamDetector,
    intervals: i64,
    mut per_interval: impl FnMut(i64, i64) -> Vec<SmsVolume>,
) -> Vec<Case> {
    let mut out = Vec::new();
    for k in 0..intervals {
        let start = T0 + k * 900_000;
        // ordinary subscribers: a few SMS now and then, seen from the feed's start
        for i in 0..300u32 {
            if (i64::from(i) + k) % 4 == 0 {
                d.on_event(&Event::Sms(bare_900(i, start, 1 + i % 3)), &mut out);
            }
        }
        for r in per_interval(k, start) {
            d.on_event(&Event::Sms(r), &mut out);
        }
        d.on_watermark(start + 900_000 - 60_000, &mut out);
    }
    d.finish(&mut out);
    out
}

fn farm_cases(out: &[Case]) -> Vec<Case> {
    book(out)
        .into_iter()
        .filter(|c| c.kind == CaseKind::SimFarm)
        .collect()
}

#[test]
fn a_farm_whose_sims_start_in_adjacent_intervals_is_one_case() {
    let mut d = detector();
    // 20 SIMs send from interval 4, 12 more (a skipped first step) from interval 5
    let out = run_900(&mut d, 16, |k, start| {
        let mut v = Vec::new();
        if k >= 4 {
            v.extend((0..20).map(|m| bare_900(5_000 + m, start, 24)));
        }
        if k >= 5 {
            v.extend((20..32).map(|m| bare_900(5_000 + m, start, 24)));
        }
        v
    });
    let farms = farm_cases(&out);
    assert_eq!(farms.len(), 1, "one case per farm: {farms:#?}");
    assert_eq!(farms[0].sims.len(), 32);
    assert!(farms[0]
        .reasons
        .iter()
        .any(|r| r.code == "SYNCHRONIZED_ONSET"));
}

/// The slot of two intervals that unites a farm's late starters also reaches a burst
/// one interval before the farm: it went quiet by the time the slot's SIMs are
/// united, so it is left out.
#[test]
fn a_burst_that_started_with_a_farm_and_ended_is_left_out() {
    let mut d = detector();
    let out = run_900(&mut d, 16, |k, start| {
        let mut v = Vec::new();
        // a new SIM greets its contacts in the interval before the farm starts and
        // the one it starts in, then goes quiet
        if k == 3 {
            v.push(bare_900(9_000, start, 30));
        }
        if k == 4 {
            v.push(bare_900(9_000, start, 20));
        }
        if k >= 4 {
            v.extend((0..15).map(|m| bare_900(5_000 + m, start, 24)));
        }
        v
    });
    let farms = farm_cases(&out);
    assert_eq!(farms.len(), 1, "{farms:#?}");
    assert_eq!(farms[0].sims.len(), 15);
    assert!(
        !farms[0].sims.contains(&sim_id(9_000)),
        "the burst is no member"
    );
}

#[test]
fn a_farm_sim_joins_on_onset_only_once_it_has_kept_sending() {
    let twelve = |k: i64, start: i64| -> Vec<SmsVolume> {
        if k < 4 {
            return Vec::new();
        }
        (0..12).map(|m| bare_900(5_000 + m, start, 30)).collect()
    };
    // with a hold of 20 minutes the case cannot open at the SIMs' first record
    // (steadiness is unknown until `onset_hold_secs` after it), but at their second
    let config = SpamConfig {
        onset_hold_secs: 1_200,
        ..SpamConfig::default()
    };
    let mut d = SpamDetector::new(config, Allowlist::empty()).expect("valid");
    let farms = farm_cases(&run_900(&mut d, 10, twelve));
    assert_eq!(farms.len(), 1, "{farms:#?}");
    assert_eq!(
        farms[0].opened_at,
        T0 + 6 * 900_000,
        "at the second record's end"
    );
    // the default hold (10 minutes) is shorter than one record here: the first
    let farms = farm_cases(&run_900(&mut detector(), 10, twelve));
    assert_eq!(
        farms[0].opened_at,
        T0 + 5 * 900_000,
        "at the first record's end"
    );
}

/// A farm of 15 SIMs at 24 SMS per record from interval 4, and SIM 9 000 sending
/// `outsider(k)` in interval `k`: one farm case of the 15, without the outsider.
fn assert_left_out_of_the_farm(outsider: impl Fn(i64) -> Option<u32>, what: &str) {
    let mut d = detector();
    let out = run_900(&mut d, 16, |k, start| {
        let mut v = Vec::new();
        if let Some(n) = outsider(k) {
            v.push(bare_900(9_000, start, n));
        }
        if k >= 4 {
            v.extend((0..15).map(|m| bare_900(5_000 + m, start, 24)));
        }
        v
    });
    let farms = farm_cases(&out);
    assert_eq!(farms.len(), 1, "{farms:#?}");
    assert_eq!(farms[0].sims.len(), 15);
    assert!(!farms[0].sims.contains(&sim_id(9_000)), "{what}");
}

/// A shop that opened one interval before a farm and sends at the farm's pace is
/// steady too; it was there before the farm started, so it is left out.
#[test]
fn a_steady_sender_that_started_before_the_farm_is_left_out() {
    assert_left_out_of_the_farm(|k| (k >= 3).then_some(24), "the shop is no member");
}

/// A contact book announced, or a school notice, in the farm's first interval and
/// the next: steady over two records, but at many times the farm's pace.
#[test]
fn a_sender_at_many_times_the_farms_pace_is_left_out() {
    assert_left_out_of_the_farm(
        |k| (k == 4 || k == 5).then_some(200),
        "the burst is no member",
    );
}

/// Two farms of one operator that start 30 minutes apart stay two cases, and a SIM
/// that starts 15 minutes after the second joins that one (the farm that started
/// last), once it has kept sending for `onset_late_hold_secs`.
#[test]
fn a_latecomer_joins_the_farm_that_started_last() {
    let mut d = detector();
    let out = run_900(&mut d, 20, |k, start| {
        let mut v = Vec::new();
        if k >= 4 {
            v.extend((0..12).map(|m| bare_900(5_000 + m, start, 24)));
        }
        if k >= 6 {
            v.extend((0..12).map(|m| bare_900(6_000 + m, start, 60)));
        }
        if k >= 7 {
            v.push(bare_900(6_100, start, 60));
        }
        v
    });
    let farms = farm_cases(&out);
    assert_eq!(farms.len(), 2, "{farms:#?}");
    let (first, second) = if farms[0].sims.contains(&sim_id(5_000)) {
        (&farms[0], &farms[1])
    } else {
        (&farms[1], &farms[0])
    };
    assert_eq!(first.sims.len(), 12, "{first:#?}");
    assert_eq!(second.sims.len(), 13, "{second:#?}");
    assert!(second.sims.contains(&sim_id(6_100)));
}

/// A contact book announced in the farm's first interval whose sending then slows to
/// the farm's pace for three more records before it ends: steady, and at the farm's
/// pace when it has proven that as a latecomer, but over the time since its first
/// record it sent many times as much, so it is no member.
#[test]
fn a_burst_that_slows_to_the_farms_pace_is_left_out() {
    assert_left_out_of_the_farm(
        |k| match k {
            4 => Some(300),
            5..=7 => Some(24),
            _ => None,
        },
        "the announcement is no member",
    );
}

/// On a feed of 300 s records: a "send to all" of 300 SMS in the farm's first
/// interval that then sends at the farm's pace (8 a record) until the slot is united
/// has the farm's pace now but not since its first record, so it is no founder.
#[test]
fn a_founder_must_have_kept_the_farms_pace_since_its_first_record() {
    let mut d = detector();
    let mut out = Vec::new();
    for k in 0..30i64 {
        let start = T0 + k * 300_000;
        for i in 0..300u32 {
            if (i64::from(i) + k) % 6 == 0 {
                d.on_event(&Event::Sms(bare(normal(i, start))), &mut out);
            }
        }
        let mut v = Vec::new();
        match k {
            6 => v.push(bare(SmsVolume {
                sms_out: 300,
                ..normal(9_000, start)
            })),
            7..=10 => v.push(bare(SmsVolume {
                sms_out: 8,
                ..normal(9_000, start)
            })),
            _ => {}
        }
        if k >= 6 {
            v.extend((0..15).map(|m| {
                bare(SmsVolume {
                    sms_out: 8,
                    ..normal(5_000 + m, start)
                })
            }));
        }
        for r in v {
            d.on_event(&Event::Sms(r), &mut out);
        }
        d.on_watermark(start + 300_000 - 20_000, &mut out);
    }
    d.finish(&mut out);
    let farms = farm_cases(&out);
    assert_eq!(farms.len(), 1, "{farms:#?}");
    assert_eq!(farms[0].sims.len(), 15, "{:?}", farms[0].sims);
    assert!(!farms[0].sims.contains(&sim_id(9_000)));
}
