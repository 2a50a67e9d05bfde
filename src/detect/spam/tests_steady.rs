//! Unit tests of `RATE_STEADY_HOUR`: a script's pace kept in every 5 minutes of an
//! hour opens a case from `sms_out` alone, where a voter's pace of the same average
//! that rises, falls and pauses does not, nor a steady pace a feed cannot resolve.

use super::*;

fn paced(i: u32, start: i64, n: u32, window_secs: u32) -> SmsVolume {
    SmsVolume {
        sms_out: n,
        window_secs,
        ..bare(spammer(i, start))
    }
}

fn case_of(out: &[Case], i: u32) -> Option<&Case> {
    out.iter()
        .find(|c| c.kind == CaseKind::SpamSim && c.sims == [sim_id(i)])
}

#[test]
fn a_voters_pace_that_rises_falls_and_pauses_is_not_steady() {
    let mut d = detector();
    // a vote of 2 h averaging about 370 an hour, with dips and a pause
    let pattern = [45u32, 20, 40, 50, 25, 0, 45, 50, 35, 15, 40, 50];
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) {
            return Vec::new();
        }
        match pattern[(s as usize) % pattern.len()] {
            0 => Vec::new(),
            n => vec![paced(1000, start, n, 300)],
        }
    });
    assert!(case_of(&out, 1000).is_none(), "{:?}", case_of(&out, 1000));
}

#[test]
fn a_steady_pace_on_records_longer_than_a_bucket_is_not_read_without_recipients() {
    let mut d = detector();
    // 114 per 15-min record (456 an hour spread evenly), only the required fields: the
    // feed shows no bucket's own count, and nothing tells a voter's steady sums apart
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) || s % 3 != 2 {
            return Vec::new();
        }
        vec![paced(1000, start, 114, 900)]
    });
    let steady =
        case_of(&out, 1000).is_some_and(|c| c.reasons.iter().any(|r| r.code == "RATE_STEADY_HOUR"));
    assert!(!steady);
}

#[test]
fn a_steady_pace_under_the_far_rate_is_flagged_after_an_hour() {
    let mut d = detector();
    // 7 a minute on 60 s records (420 an hour, under far_rate_1h) for 2 h; T0 lies
    // 200 s into a 5-minute bucket of the epoch, the records start on the buckets,
    // so the hour's twelve buckets are whole at the record that ends the last
    let aligned = 100_000;
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) {
            return Vec::new();
        }
        (0..5)
            .map(|k| paced(1000, start + aligned + k * 60_000, 7, 60))
            .collect()
    });
    let case = case_of(&out, 1000).expect("the steady pace is flagged");
    let codes: Vec<&str> = case.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"RATE_STEADY_HOUR"), "{codes:?}");
    assert!(!codes.contains(&"RATE_FAR_BEYOND"), "{codes:?}");
    // eleven whole buckets since it started, then the first record of the twelfth
    // (its minute read pro rata)
    assert_eq!(case.opened_at, T0 + 2 * STEP + aligned + 3_360_000);
    let r = case
        .reasons
        .iter()
        .find(|r| r.code == "RATE_STEADY_HOUR")
        .unwrap();
    assert_eq!((r.value, r.threshold), (420.0, 348.0));
}

#[test]
fn a_steady_pace_on_records_that_never_end_a_bucket_is_flagged() {
    let mut d = detector();
    // 7 a minute on 60 s records starting at :20 s (T0 lies 200 s into a 5-minute
    // bucket of the epoch), so no record ever ends on a bucket boundary: the newest
    // bucket is always partly elapsed and is read pro rata
    assert_eq!(T0.rem_euclid(60_000), 20_000);
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) {
            return Vec::new();
        }
        (0..5)
            .map(|k| paced(1000, start + k * 60_000, 7, 60))
            .collect()
    });
    let case = case_of(&out, 1000).expect("the steady pace is flagged");
    let codes: Vec<&str> = case.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"RATE_STEADY_HOUR"), "{codes:?}");
    assert!(!codes.contains(&"RATE_FAR_BEYOND"), "{codes:?}");
    // the first whole bucket starts 100 s after the first record; eleven whole ones
    // later, the record ending 20 s into the twelfth (3 of its 7 SMS there: 540 an
    // hour over those 20 s) completes the hour
    assert_eq!(case.opened_at, T0 + 2 * STEP + 3_420_000);
    let r = case
        .reasons
        .iter()
        .find(|r| r.code == "RATE_STEADY_HOUR")
        .unwrap();
    assert_eq!((r.value, r.threshold), (420.0, 348.0));
}

#[test]
fn a_steady_hour_whose_newest_bucket_falls_short_pro_rata_is_not_flagged() {
    let mut d = detector();
    // the same pace for the eleven whole buckets, then 1 a minute from the record
    // that crosses into the twelfth: under the pace pro rata, and then it stops
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..14).contains(&s) {
            return Vec::new();
        }
        (0..5)
            .map(|k| {
                let begin = start + k * 60_000;
                let n = if begin - (T0 + 2 * STEP) >= 3_360_000 {
                    1
                } else {
                    7
                };
                paced(1000, begin, n, 60)
            })
            .collect()
    });
    let steady =
        case_of(&out, 1000).is_some_and(|c| c.reasons.iter().any(|r| r.code == "RATE_STEADY_HOUR"));
    assert!(!steady);
}

/// 15-minute records starting on the buckets, carrying `distinct_recipients` (and no
/// other optional field): `per_record` SMS to `recipients` numbers each.
fn quarter(i: u32, start: i64, per_record: u32, recipients: u32) -> SmsVolume {
    SmsVolume {
        distinct_recipients: Some(recipients),
        ..paced(i, start + 100_000, per_record, 900)
    }
}

#[test]
fn a_steady_pace_on_15_minute_records_with_recipients_is_flagged() {
    let mut d = detector();
    // 114 per 15-min record to as many numbers (456 an hour, under far_rate_1h) for 2 h
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) || s % 3 != 2 {
            return Vec::new();
        }
        vec![quarter(1000, start, 114, 114)]
    });
    let case = case_of(&out, 1000).expect("the steady pace is flagged");
    let codes: Vec<&str> = case.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"RATE_STEADY_HOUR"), "{codes:?}");
    assert!(!codes.contains(&"RATE_FAR_BEYOND"), "{codes:?}");
    // four whole records: an hour after the first began
    assert_eq!(case.opened_at, T0 + 2 * STEP + 100_000 + 3_600_000);
    let r = case
        .reasons
        .iter()
        .find(|r| r.code == "RATE_STEADY_HOUR")
        .unwrap();
    assert_eq!((r.value, r.threshold), (456.0, 348.0));
}

#[test]
fn a_vote_or_a_weak_quarter_on_15_minute_records_is_not_flagged() {
    let mut d = detector();
    let out = run(&mut d, 26, 300, |s, start| {
        if !(2..26).contains(&s) || s % 3 != 2 {
            return Vec::new();
        }
        // a vote: the same steady sums, to one number
        let mut v = vec![quarter(1000, start, 114, 1)];
        // a sender whose every fourth quarter falls under 87 (348 an hour)
        let n = if (s / 3) % 4 == 0 { 80 } else { 120 };
        v.push(quarter(1001, start, n, n));
        v
    });
    assert!(case_of(&out, 1000).is_none(), "{:?}", case_of(&out, 1000));
    let steady =
        case_of(&out, 1001).is_some_and(|c| c.reasons.iter().any(|r| r.code == "RATE_STEADY_HOUR"));
    assert!(!steady, "{:?}", case_of(&out, 1001));
    let f = d.findings();
    let miss = f
        .iter()
        .find(|x| x["sim"] == sim_id(1000))
        .expect("the vote is a near miss");
    let codes: Vec<&str> = miss["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"RATE_STEADY_HOUR"), "{codes:?}");
    assert!(codes.contains(&"FEW_RECIPIENTS"), "{codes:?}");
}
