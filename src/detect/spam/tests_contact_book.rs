//! Unit tests of the contact-book floor of `RATE_FAR_BEYOND`: waited for only where
//! the feed cannot show whether a burst is a subscriber's "send to all", and a near
//! miss (`WITHIN_CONTACT_BOOK`) that says so meanwhile. Kept apart from tests.rs for
//! its length.

use super::*;

/// A broadcast of `n` SMS in one 5-min record on a feed that carries recipients,
/// calls, replies and the SIM's identity, but neither `new_recipients` nor content
/// fingerprints (the held-out `feeds_alt` operator 45202's habit).
fn no_new_nor_fps(i: u32, start: i64, n: u32, verified: bool) -> SmsVolume {
    SmsVolume {
        operator: "45202".into(),
        sms_out: n,
        distinct_recipients: Some(n),
        new_recipients: None,
        content_fps: Vec::new(),
        kyc_verified: Some(verified),
        ..spammer(i, start)
    }
}

fn reason_codes(v: &serde_json::Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn on_a_feed_of_required_fields_a_burst_within_a_contact_book_is_a_near_miss() {
    let mut d = detector();
    // a "send to all" of 300 (100 per 5 min, three records), and a spammer at the same
    // pace that keeps going: nothing but sms_out tells them apart before 500
    let out = run(&mut d, 12, 300, |s, start| {
        let mut v = Vec::new();
        if (2..5).contains(&s) {
            v.push(SmsVolume {
                sms_out: 100,
                ..bare(spammer(1, start))
            });
        }
        if s >= 2 {
            v.push(SmsVolume {
                sms_out: 100,
                ..bare(spammer(2, start))
            });
        }
        v
    });
    assert!(out.iter().all(|c| !c.sims.contains(&sim_id(1))));
    let f = d.findings();
    let miss = f
        .iter()
        .find(|x| x["sim"] == sim_id(1))
        .expect("the burst is a near miss");
    assert_eq!(reason_codes(miss).last().unwrap(), "WITHIN_CONTACT_BOOK");
    let last = miss["reasons"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["value"], 300.0);
    assert_eq!(last["threshold"], 500.0);
    // the spammer opens at the record that takes it to 500, and is no near miss then
    let case = out
        .iter()
        .find(|c| c.sims == [sim_id(2)])
        .expect("the spammer is flagged");
    assert_eq!(case.opened_at, T0 + 7 * STEP);
    assert!(f.iter().all(|x| x["sim"] != sim_id(2)));
}

#[test]
fn where_the_feed_carries_the_identity_the_contact_book_is_not_waited_for() {
    let mut d = detector();
    // a young unverified SIM broadcasting 100 per 5 min, no calls, no replies
    let out = run(&mut d, 12, 300, |s, start| {
        if s < 2 {
            return Vec::new();
        }
        vec![
            no_new_nor_fps(3, start, 100, false),
            no_new_nor_fps(4, start, 100, true),
        ]
    });
    let case = out
        .iter()
        .find(|c| c.sims == [sim_id(3)])
        .expect("the unverified broadcaster is flagged");
    // at its first record: 100 SMS, a fifth of a contact book
    assert_eq!(case.opened_at, T0 + 3 * STEP);
    assert!(case.reasons.iter().any(|r| r.code == "RATE_FAR_BEYOND"));
    // the same burst from a verified SIM is judged by that, not by the count: held
    // as a one-off burst while within a contact book, flagged past it
    let verified = out
        .iter()
        .find(|c| c.sims == [sim_id(4)])
        .expect("flagged once past a contact book");
    assert_eq!(verified.opened_at, T0 + 8 * STEP);
}

#[test]
fn a_verified_burst_within_a_contact_book_names_its_life_not_the_count() {
    let mut d = detector();
    let _ = run(&mut d, 8, 300, |s, start| {
        if (2..5).contains(&s) {
            vec![no_new_nor_fps(5, start, 100, true)]
        } else {
            Vec::new()
        }
    });
    let f = d.findings();
    let miss = f
        .iter()
        .find(|x| x["sim"] == sim_id(5))
        .expect("a near miss");
    let codes = reason_codes(miss);
    assert!(codes.contains(&"ONE_OFF_BURST".to_string()), "{codes:?}");
    assert!(
        !codes.contains(&"WITHIN_CONTACT_BOOK".to_string()),
        "{codes:?}"
    );
}
