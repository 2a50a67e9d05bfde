//! Unit tests of rates read from a bucket that is only partly elapsed: on a feed of
//! 60 s records the newest 5-minute bucket holds one to five minutes of counts, and a
//! rate must be divided by the time the counts cover, not by whole buckets
//! (evaluate.rs `pace_per_hour`, `sim_features`). The common-onset link compares the
//! pace of a farm's SIMs (candidate.rs): a school that starts its burst in the same
//! minute as a farm, at ten times its pace, is no member.

use super::*;
use crate::detect::spam::evaluate::{pace_per_hour, sim_features};
use crate::detect::spam::ids::SimKey;

const MIN: i64 = 60_000;
/// A bucket's edge (`T0` is not one).
const B0: i64 = T0 - T0 % STEP;

/// A bare 60 s record of SIM `i` (required fields only) for the minute at `start`.
fn bare_60(i: u32, start: i64, n: u32) -> SmsVolume {
    SmsVolume {
        window_secs: 60,
        sms_out: n,
        ..bare(normal(i, start))
    }
}

/// The pace and the features of SIM `i` (operator 45201) as the detector sees them now.
fn pace_and_rate(d: &SpamDetector, i: u32, last: &SmsVolume) -> (f64, f64) {
    let op = d.stage_a.operators.get("45201").expect("operator seen");
    let slot = d
        .stage_a
        .sims
        .find(&SimKey::new(op, &sim_id(i)))
        .expect("SIM tracked");
    let st = d.stage_a.sims.get(slot).expect("state");
    let f = sim_features(st, &d.stage_a.specs, last, None);
    (pace_per_hour(st, &d.stage_a.specs), f.rate_seen_per_hour)
}

#[test]
fn a_pace_read_one_minute_into_a_bucket_is_per_hour_of_what_it_covers() {
    let mut d = detector();
    let mut out = Vec::new();
    // a burst of 20 SMS a minute starting on a bucket's edge, read after one minute
    let first = bare_60(1, B0, 20);
    d.on_event(&Event::Sms(first.clone()), &mut out);
    let (pace, _) = pace_and_rate(&d, 1, &first);
    assert!(
        (pace - 1_200.0).abs() < 1e-6,
        "1 200 an hour, not 240: {pace}"
    );
    // six minutes in (one whole bucket and one minute of the next)
    let mut last = first;
    for k in 1..6 {
        last = bare_60(1, B0 + k * MIN, 20);
        d.on_event(&Event::Sms(last.clone()), &mut out);
    }
    let (pace, _) = pace_and_rate(&d, 1, &last);
    assert!((pace - 1_200.0).abs() < 1e-6, "{pace}");
    // 2 a minute for 20 minutes, read one minute into a bucket: 120 an hour
    for k in 0..21 {
        last = bare_60(2, B0 + 100 * MIN + k * MIN, 2);
        d.on_event(&Event::Sms(last.clone()), &mut out);
    }
    let (pace, _) = pace_and_rate(&d, 2, &last);
    assert!((pace - 120.0).abs() < 1e-6, "{pace}");
}

#[test]
fn an_hourly_rate_on_60_s_records_is_not_diluted_by_the_unfinished_bucket() {
    let mut d = detector();
    let mut out = Vec::new();
    // 8 SMS a minute (480 an hour) for 91 minutes: the last record ends one minute
    // into a bucket, so the medium window holds 56 minutes of counts
    let mut last = bare_60(3, B0, 8);
    for k in 0..91 {
        last = bare_60(3, B0 + k * MIN, 8);
        d.on_event(&Event::Sms(last.clone()), &mut out);
    }
    let (_, rate) = pace_and_rate(&d, 3, &last);
    assert!((rate - 480.0).abs() < 1e-6, "480 an hour, not 448: {rate}");
    // on 300 s records ending on a bucket's edge nothing changes
    let mut d = detector();
    let mut last = bare(spammer(4, B0));
    for k in 0..20 {
        last = SmsVolume {
            sms_out: 40,
            ..bare(normal(4, B0 + k * STEP))
        };
        d.on_event(&Event::Sms(last.clone()), &mut out);
    }
    let (pace, rate) = pace_and_rate(&d, 4, &last);
    assert!((pace - 480.0).abs() < 1e-6, "{pace}");
    assert!((rate - 480.0).abs() < 1e-6, "{rate}");
}

/// A farm of 20 SIMs on a feed of 60 s records with required fields only, sending 10
/// SMS in the first minute of every 5-minute bucket (120 an hour), and two schools
/// whose notices (20 a minute for 20 minutes) start in the farm's first minute: the
/// schools share its onset but not its pace. The farm's founders are judged at a
/// record one minute into a bucket, after the schools' records of that minute: read
/// over that minute as if it were the whole bucket, a school's 20 looked like 240 an
/// hour, within three times the farm's 120.
#[test]
fn a_school_starting_with_a_farm_at_ten_times_its_pace_is_no_member() {
    let mut d = detector();
    let mut out = Vec::new();
    for m in 0..240i64 {
        let start = B0 + m * MIN;
        // ordinary subscribers, seen from the feed's start
        for i in 0..300u32 {
            if (i64::from(i) + m) % 7 == 0 {
                d.on_event(&Event::Sms(bare_60(i, start, 1)), &mut out);
            }
        }
        if (120..140).contains(&m) {
            for s in 0..2u32 {
                d.on_event(&Event::Sms(bare_60(7_000 + s, start, 20)), &mut out);
            }
        }
        if m >= 120 && m % 5 == 0 {
            for f in 0..20u32 {
                d.on_event(&Event::Sms(bare_60(5_000 + f, start, 10)), &mut out);
            }
        }
        d.on_watermark(start, &mut out);
    }
    d.finish(&mut out);
    let farms: Vec<Case> = book(&out)
        .into_iter()
        .filter(|c| c.kind == CaseKind::SimFarm)
        .collect();
    assert_eq!(farms.len(), 1, "{farms:#?}");
    let schools = [sim_id(7_000), sim_id(7_001)];
    let with_school: Vec<&Case> = out
        .iter()
        .filter(|c| c.sims.iter().any(|s| schools.iter().any(|x| x == s)))
        .collect();
    assert!(
        with_school.is_empty(),
        "a school is in a case: {with_school:#?}"
    );
    assert_eq!(farms[0].sims.len(), 20);
}
