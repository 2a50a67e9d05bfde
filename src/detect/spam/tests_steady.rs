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
fn a_steady_pace_on_records_longer_than_a_bucket_is_not_read() {
    let mut d = detector();
    // 120 per 15-min record (480 an hour spread evenly): the feed shows no bucket's own count
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
