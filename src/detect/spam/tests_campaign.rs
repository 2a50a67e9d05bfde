//! Unit tests of `TEMPLATE_CAMPAIGN` at the opening gate (`templates.rs`): a template
//! other broadcasting SIMs send is no subscriber's one-off burst, and on a feed without
//! `new_recipients` it shows the broadcast the missing field cannot.

use super::*;

/// A young SIM with a verified identity broadcasting `fp` (a life sign that holds a
/// burst of up to `one_off_max_sms` as a possible new-number announcement).
fn verified_broadcaster(i: u32, fp: u64, start: i64) -> SmsVolume {
    let mut r = spammer(i, start);
    r.kyc_verified = Some(true);
    r.content_fps = vec![ContentFingerprint { fp, n: 70 }];
    r
}

fn opened_at_step(out: &[Case], i: u32) -> Option<i64> {
    out.iter()
        .filter(|c| c.sims == [sim_id(i)])
        .map(|c| (c.opened_at - T0) / STEP)
        .min()
}

#[test]
fn a_verified_sim_sending_a_campaigns_template_is_not_held_as_a_one_off_burst() {
    let campaign = 0x0123_4567_89ab_cdef;
    let mut d = detector();
    let out = run(&mut d, 12, 300, |s, start| {
        let mut v = vec![spammer(5_001, start), spammer(5_002, start)];
        if s >= 2 {
            // the campaign's text with two words changed, and a text of its own
            v.push(verified_broadcaster(5_003, campaign ^ 0b1001, start));
            v.push(verified_broadcaster(5_004, 0x7777_0000_ffff_1234, start));
        }
        v
    });
    let step = opened_at_step(&out, 5_003).expect("the campaign's verified SIM is flagged");
    assert!(
        step <= 3,
        "opened at its first or second record, not after 500 SMS"
    );
    let case = out.iter().find(|c| c.sims == [sim_id(5_003)]).unwrap();
    let r = case
        .reasons
        .iter()
        .find(|r| r.code == "TEMPLATE_CAMPAIGN")
        .expect("the case says why");
    assert!(r.value >= 3.0, "{r:?}");
    // its own text: held until it passes a contact book (70 × 8 > 500 at step 9)
    let own = opened_at_step(&out, 5_004).expect("flagged once past a contact book");
    assert!(
        own >= 8,
        "held as a possible one-off burst until then, opened at {own}"
    );
}

#[test]
fn on_a_feed_without_new_recipients_a_shared_template_to_distinct_numbers_opens_a_case() {
    let no_new = |mut r: SmsVolume| {
        r.new_recipients = None;
        r.offnet_out = None;
        r
    };
    let mut d = detector();
    let out = run(&mut d, 12, 300, |s, start| {
        let mut v = vec![spammer(5_001, start), spammer(5_002, start)];
        if s >= 2 {
            v.push(no_new(spammer(5_003, start)));
            let mut own = no_new(spammer(5_004, start));
            own.content_fps[0].fp = 0x7777_0000_ffff_1234;
            v.push(own);
        }
        v
    });
    let step = opened_at_step(&out, 5_003).expect("the campaign's SIM is flagged");
    assert!(step <= 3, "opened at step {step}");
    // the same broadcast with a text nobody else sends is flagged by its rate: the
    // feed carries the identity (young, unverified), so no contact book is waited for
    let own = opened_at_step(&out, 5_004).expect("flagged by its rate");
    assert!(own <= 3, "opened at step {own}");
    let case = out.iter().find(|c| c.sims == [sim_id(5_004)]).unwrap();
    let codes: Vec<&str> = case.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"RATE_FAR_BEYOND"), "{codes:?}");
    assert!(!codes.contains(&"TEMPLATE_CAMPAIGN"), "{codes:?}");
}
