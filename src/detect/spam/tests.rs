//! Unit tests of the detector on hand-built SMS-volume records.

use super::*;
use crate::model::{Case, CaseKind, CellKey, ContentFingerprint};

const T0: i64 = 1_793_600_000_000; // 200 s into a 5-minute bucket of the epoch (:20 s)
const STEP: i64 = 300_000;

fn sim_id(i: u32) -> String {
    format!("{:032x}", 0xabc0_0000_0000u64 + u64::from(i))
}

fn dev_id(i: u32) -> String {
    format!("{:032x}", 0xdef0_0000_0000u64 + u64::from(i))
}

/// An ordinary record: a few SMS to known contacts, calls, verified old SIM.
fn normal(i: u32, start: i64) -> SmsVolume {
    SmsVolume {
        operator: "45204".into(),
        sim: sim_id(i).into(),
        window_start_ms: start,
        window_secs: 300,
        sms_out: 1 + i % 3,
        sms_in: Some(1),
        distinct_recipients: Some(1),
        new_recipients: Some(0),
        offnet_out: Some(0),
        calls_out: Some(u32::from(i % 2 == 0)),
        calls_in: Some(1),
        device: Some(dev_id(i).into()),
        imei_tac: Some(35_332_510),
        cell: Some(CellKey {
            mcc: 452,
            mnc: 4,
            lac: 100,
            cid: u64::from(i % 50),
        }),
        sim_age_days: Some(700),
        kyc_verified: Some(true),
        content_fps: vec![ContentFingerprint {
            fp: u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            n: 1,
        }],
    }
}

fn spammer(i: u32, start: i64) -> SmsVolume {
    SmsVolume {
        sms_out: 70,
        sms_in: Some(0),
        distinct_recipients: Some(69),
        new_recipients: Some(64),
        calls_out: Some(0),
        calls_in: Some(0),
        imei_tac: Some(35_800_104),
        sim_age_days: Some(3),
        kyc_verified: Some(false),
        content_fps: vec![ContentFingerprint {
            fp: 0x0123_4567_89ab_cdef,
            n: 70,
        }],
        ..normal(i, start)
    }
}

/// A low-and-slow farm member: 1 SMS per 5 min (12 an hour, under every per-SIM
/// volume threshold and under the 20 new recipients the per-SIM rule needs), on one
/// of two gateway modems, one cell, near-duplicate content.
fn farm_member(m: u32, start: i64) -> SmsVolume {
    SmsVolume {
        sms_out: 1,
        sms_in: Some(0),
        distinct_recipients: Some(1),
        new_recipients: Some(1),
        calls_out: Some(0),
        calls_in: Some(0),
        device: Some(dev_id(900_000 + m % 2).into()),
        imei_tac: Some(86_291_002),
        cell: Some(CellKey {
            mcc: 452,
            mnc: 4,
            lac: 7,
            cid: 4242,
        }),
        sim_age_days: Some(20),
        kyc_verified: Some(false),
        content_fps: vec![ContentFingerprint {
            fp: 0x5555_aaaa_0f0f_f0f0 ^ (1u64 << (m % 60)),
            n: 1,
        }],
        ..normal(800_000 + m, start)
    }
}

fn detector() -> SpamDetector {
    SpamDetector::new(SpamConfig::default(), Allowlist::empty()).expect("default config is valid")
}

/// Feed `steps` 5-min steps of `n_normal` ordinary SIMs plus `extra(step)` records,
/// with a watermark after each step; returns every emitted snapshot.
fn run(
    d: &mut SpamDetector,
    steps: i64,
    n_normal: u32,
    mut extra: impl FnMut(i64, i64) -> Vec<SmsVolume>,
) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for s in 0..steps {
        let start = T0 + s * STEP;
        for i in 0..n_normal {
            // each ordinary SIM is active every third step
            if (i as i64 + s) % 3 == 0 {
                d.on_event(&Event::Sms(normal(i, start)), &mut out);
            }
        }
        for r in extra(s, start) {
            d.on_event(&Event::Sms(r), &mut out);
        }
        d.on_watermark(start + STEP - 60_000, &mut out);
    }
    d.finish(&mut out);
    out
}

fn book(snapshots: &[Case]) -> Vec<Case> {
    let mut b = crate::cases::CaseBook::new();
    for c in snapshots {
        b.upsert(c.clone());
    }
    b.into_sorted()
}

#[test]
fn blatant_spammer_opens_one_explained_case_at_the_crossing_record() {
    let mut d = detector();
    let snaps = run(&mut d, 24, 600, |s, start| {
        if s >= 12 {
            vec![spammer(7_000, start)]
        } else {
            vec![]
        }
    });
    let cases = book(&snaps);
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let c = &cases[0];
    assert_eq!(c.kind, CaseKind::SpamSim);
    assert_eq!(c.sims, vec![sim_id(7_000)]);
    assert_eq!(c.operator.as_deref(), Some("45204"));
    // the first spamming record (step 12) already crosses: opened at its end
    assert_eq!(c.opened_at, T0 + 13 * STEP);
    assert!(c.case_id.starts_with("spam-") && c.case_id.len() == 21);
    let codes: Vec<&str> = c.reasons.iter().map(|r| r.code.as_str()).collect();
    for code in [
        "SMS_RATE_5M",
        "POPULATION_TAIL",
        "NEW_RECIPIENT_RATIO",
        "YOUNG_UNVERIFIED",
        "TEMPLATE_REPEAT",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // later evidence (no voice over 24 h, 24 h rate) was merged into the same case
    assert!(
        codes.contains(&"NO_VOICE") && codes.contains(&"SMS_RATE_24H"),
        "{codes:?}"
    );
    assert!(c.score > 0.9 && c.score <= 1.0);
    assert_eq!(c.evidence_count, 12);
    assert_eq!(c.first_seen, T0 + 12 * STEP);
    assert_eq!(c.last_seen, T0 + 24 * STEP);
    // snapshots only on open and material change, not per record
    assert!(snaps.len() < 6, "{} snapshots", snaps.len());
    let stats = d.stats();
    assert_eq!(stats.spam_cases_opened, 1);
    assert_eq!(stats.state_bytes_per_sim, 192);

    // same input, same case id
    let mut d2 = detector();
    let again = book(&run(&mut d2, 24, 600, |s, start| {
        if s >= 12 {
            vec![spammer(7_000, start)]
        } else {
            vec![]
        }
    }));
    assert_eq!(again, cases);
}

#[test]
fn traps_do_not_become_cases() {
    let mut d = detector();
    let snaps = run(&mut d, 36, 600, |s, start| {
        let mut v = Vec::new();
        // TV vote: many SMS to one recipient
        v.push(SmsVolume {
            sms_out: 40,
            distinct_recipients: Some(1),
            new_recipients: Some(u32::from(s == 0)),
            ..normal(7_001, start)
        });
        // shop: many SMS, known customers, one template
        v.push(SmsVolume {
            sms_out: 30,
            distinct_recipients: Some(29),
            new_recipients: Some(2),
            content_fps: vec![ContentFingerprint { fp: 77, n: 30 }],
            ..normal(7_002, start)
        });
        // new subscriber texting a handful of first contacts, all "new"
        if s < 4 {
            v.push(SmsVolume {
                sms_out: 10,
                distinct_recipients: Some(6),
                new_recipients: Some(if s == 0 { 6 } else { 1 }),
                sim_age_days: Some(1),
                kyc_verified: Some(false),
                ..normal(7_003, start)
            });
        }
        // M2M line: steady SMS to one server, no calls, modem
        v.push(SmsVolume {
            sms_out: 2,
            distinct_recipients: Some(1),
            new_recipients: Some(0),
            calls_out: Some(0),
            calls_in: Some(0),
            imei_tac: Some(86_672_104),
            ..normal(7_004, start)
        });
        v
    });
    assert!(book(&snaps).is_empty(), "{:#?}", book(&snaps));
}

#[test]
fn allowlisted_bulk_sender_is_suppressed_and_counted() {
    let allow =
        Allowlist::parse_text(&format!("{} bulk_sender bank otp\n", sim_id(7_000))).unwrap();
    let mut d = SpamDetector::new(SpamConfig::default(), allow).expect("default config is valid");
    let snaps = run(&mut d, 18, 600, |s, start| {
        if s >= 6 {
            vec![spammer(7_000, start), spammer(7_010, start)]
        } else {
            vec![]
        }
    });
    let cases = book(&snaps);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].sims, vec![sim_id(7_010)]);
    assert_eq!(
        d.stats().allowlist_suppressed,
        1,
        "counted once per incident"
    );
}

/// A farm of 8 members from step 6; two more join at step 20.
fn growing_farm(s: i64, start: i64) -> Vec<SmsVolume> {
    let members = if s >= 20 { 10 } else { 8 };
    if s < 6 {
        return vec![];
    }
    (0..members).map(|m| farm_member(m, start)).collect()
}

#[test]
fn low_and_slow_farm_is_one_growing_case() {
    let mut d = detector();
    let snaps = run(&mut d, 30, 600, growing_farm);
    let cases = book(&snaps);
    assert!(
        cases.iter().all(|c| c.kind == CaseKind::SimFarm),
        "members stay below the per-SIM thresholds: {cases:#?}"
    );
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let c = &cases[0];
    let mut expected: Vec<String> = (0..10).map(|m| sim_id(800_000 + m)).collect();
    expected.sort();
    assert_eq!(c.sims, expected, "the farm grew into the same case");
    assert!(c.case_id.starts_with("farm-"));
    let codes: Vec<&str> = c.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"SIMS_PER_DEVICE"), "{codes:?}");
    assert!(codes.contains(&"NEW_RECIPIENT_RATIO"), "{codes:?}");
    assert!(
        c.opened_at < T0 + 12 * STEP,
        "opened within the first hour: {}",
        c.opened_at
    );
    let stats = d.stats();
    assert_eq!(stats.farm_cases_opened, 1);
    assert!(stats.farm_cases_updated >= 1);
    // the snapshot that opened the case has the 8 first members, a later one all 10
    let first = snaps.iter().find(|s| s.case_id == c.case_id).unwrap();
    assert_eq!(first.sims.len(), 8);
}

/// A member of one of two separate farm groups: its own device and cell per group, so
/// the groups stay apart until a SIM of group 0 rotates onto group 1's device.
fn split_farm_member(group: u32, m: u32, device_group: u32, start: i64) -> SmsVolume {
    let mut r = farm_member(group * 100 + m, start);
    r.device = Some(dev_id(910_000 + device_group).into());
    r.imei_tac = Some(35_800_104);
    r.cell = Some(CellKey {
        mcc: 452,
        mnc: 4,
        lac: 7,
        cid: 5000 + u64::from(group),
    });
    r
}

#[test]
fn farm_groups_that_unite_keep_the_case_opened_first() {
    let records = |s: i64, start: i64| -> Vec<SmsVolume> {
        let mut v = Vec::new();
        if s >= 4 {
            // group 0 member 0 rotates onto group 1's device from step 16
            v.extend((0..4).map(|m| split_farm_member(0, m, u32::from(m == 0 && s >= 16), start)));
        }
        if s >= 8 {
            v.extend((0..4).map(|m| split_farm_member(1, m, 1, start)));
        }
        v
    };
    // the two groups send one template from starts 20 minutes apart: with the
    // sites link on, the second would join the first's case instead of opening one
    let no_sites = || {
        SpamDetector::new(
            SpamConfig {
                farm_site_onset_secs: 0,
                ..SpamConfig::default()
            },
            Allowlist::empty(),
        )
        .expect("valid config")
    };
    let mut d = no_sites();
    let snaps = run(&mut d, 24, 300, records);
    let opened: Vec<&Case> = {
        let mut seen = std::collections::BTreeSet::new();
        snaps
            .iter()
            .filter(|c| seen.insert(c.case_id.clone()))
            .collect()
    };
    assert_eq!(opened.len(), 2, "each group opened its case: {opened:#?}");
    let (first, second) = (opened[0], opened[1]);
    assert!(first.opened_at < second.opened_at);
    let stats = d.stats();
    assert_eq!(stats.farm_cases_absorbed, 1);
    // after the union only the case opened first is updated, and it lists everyone
    let union_at = snaps
        .iter()
        .position(|c| c.case_id == first.case_id && c.sims.len() == 8)
        .expect("the first case grew to both groups");
    assert!(snaps[union_at..].iter().all(|c| c.case_id == first.case_id));
    let cases = book(&snaps);
    let survivor = cases.iter().find(|c| c.case_id == first.case_id).unwrap();
    let mut all: Vec<String> = (0..4)
        .flat_map(|m| [sim_id(800_000 + m), sim_id(800_100 + m)])
        .collect();
    all.sort();
    assert_eq!(survivor.sims, all);
    assert_eq!(survivor.opened_at, first.opened_at);
    // the absorbed case keeps its (subset) snapshot: it was already handed over
    let absorbed = cases.iter().find(|c| c.case_id == second.case_id).unwrap();
    assert!(absorbed.sims.iter().all(|s| survivor.sims.contains(s)));

    // deterministic: the same input gives the same cases
    let mut d2 = no_sites();
    assert_eq!(book(&run(&mut d2, 24, 300, records)), cases);
}
#[test]
fn idle_sims_are_evicted_and_start_afresh() {
    let mut d = detector();
    let mut out: Vec<Case> = Vec::new();
    for i in 0..100 {
        d.on_event(&Event::Sms(normal(i, T0)), &mut out);
    }
    d.on_event(&Event::Sms(spammer(500, T0)), &mut out);
    assert_eq!(d.stats().tracked_sims, 101);
    // 23 h later nothing is evicted yet
    d.on_watermark(T0 + 23 * 3_600_000, &mut out);
    assert_eq!(d.stats().tracked_sims, 101);
    // one SIM stays active
    d.on_event(&Event::Sms(normal(1, T0 + 23 * 3_600_000)), &mut out);
    d.on_watermark(T0 + 25 * 3_600_000, &mut out);
    let s = d.stats();
    assert_eq!(s.tracked_sims, 1);
    assert_eq!(s.evicted_sims, 100);
    // an evicted SIM comes back: a fresh state, windows empty
    d.on_event(&Event::Sms(normal(2, T0 + 26 * 3_600_000)), &mut out);
    assert_eq!(d.stats().tracked_sims, 2);
}

#[test]
fn eviction_timing_does_not_change_results() {
    // the same records with watermarks every step or never give the same cases
    let records: Vec<SmsVolume> = (0..40)
        .flat_map(|s| {
            let start = T0 + s * STEP * 12; // hourly
            let mut v = vec![normal(1, start)];
            if s == 1 || s == 30 {
                v.push(spammer(2, start));
            }
            v
        })
        .collect();
    let mut with_wm = detector();
    let mut a: Vec<Case> = Vec::new();
    for r in &records {
        with_wm.on_event(&Event::Sms(r.clone()), &mut a);
        with_wm.on_watermark(r.window_start_ms, &mut a);
    }
    with_wm.finish(&mut a);
    let mut without = detector();
    let mut b: Vec<Case> = Vec::new();
    for r in &records {
        without.on_event(&Event::Sms(r.clone()), &mut b);
    }
    without.finish(&mut b);
    let (a, b) = (book(&a), book(&b));
    assert_eq!(a, b);
    // two incidents 29 h apart: two cases
    assert_eq!(a.len(), 2, "{a:#?}");
    assert!(with_wm.stats().evicted_sims >= 1);
    assert!(without.stats().restarted_sims >= 1);
}

#[test]
fn memory_per_tracked_sim_is_within_budget() {
    let mut d = detector();
    let mut out: Vec<Case> = Vec::new();
    for i in 0..50_000 {
        d.on_event(
            &Event::Sms(normal(i, T0 + i64::from(i % 12) * STEP)),
            &mut out,
        );
    }
    let s = d.stats();
    assert_eq!(s.tracked_sims, 50_000);
    assert!(
        s.memory_bytes_per_sim <= 256.0,
        "{} bytes per tracked sim",
        s.memory_bytes_per_sim
    );
}

/// Only the contract's required fields: everything optional left out.
fn bare(r: SmsVolume) -> SmsVolume {
    SmsVolume {
        operator: "45201".into(),
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
        content_fps: Vec::new(),
        ..r
    }
}

#[test]
fn a_blatant_sender_on_a_feed_of_required_fields_is_flagged_by_rate_alone() {
    let mut d = detector();
    // 500 SMS an hour (about 42 per 5 min) for two hours, nothing but sms_out
    let out = run(&mut d, 24, 300, |_, start| {
        let mut r = bare(spammer(1, start));
        r.sms_out = 42;
        vec![r]
    });
    let case = out
        .iter()
        .find(|c| c.kind == CaseKind::SpamSim && c.sims == [sim_id(1)])
        .expect("the blatant sender is flagged");
    assert!(case.reasons.iter().any(|r| r.code == "RATE_FAR_BEYOND"));
    // absent fields are never read as zeros
    for code in [
        "NO_VOICE",
        "OUT_IN_ASYMMETRY",
        "NEW_RECIPIENT_RATIO",
        "DISTINCT_RATIO",
    ] {
        assert!(case.reasons.iter().all(|r| r.code != code), "{code}");
    }
}

#[test]
fn a_verified_subscriber_announcing_a_new_number_is_a_near_miss() {
    let mut d = detector();
    let out = run(&mut d, 6, 300, |s, start| {
        if s > 2 {
            return Vec::new();
        }
        let mut r = spammer(2, start);
        r.sms_out = 100;
        r.distinct_recipients = Some(100);
        r.new_recipients = Some(97);
        r.kyc_verified = Some(true);
        vec![r]
    });
    assert!(out.iter().all(|c| !c.sims.contains(&sim_id(2))));
    let f = d.findings();
    let miss = f
        .iter()
        .find(|x| x["sim"] == sim_id(2))
        .expect("a near miss");
    assert_eq!(miss["kind"], "spam_near_miss");
    let codes: Vec<&str> = miss["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"NEW_RECIPIENT_RATIO") && codes.contains(&"ONE_OFF_BURST"));
}

#[test]
fn a_farm_on_a_feed_of_required_fields_is_one_case() {
    let mut d = detector();
    // 30 SIMs that all start 2 h into the feed, 8 SMS per 5 min each
    let out = run(&mut d, 48, 300, |s, start| {
        if s < 24 {
            return Vec::new();
        }
        (0..30)
            .map(|m| {
                let mut r = bare(farm_member(m, start));
                r.sms_out = 8;
                r
            })
            .collect()
    });
    let farms: std::collections::BTreeSet<&str> = out
        .iter()
        .filter(|c| c.kind == CaseKind::SimFarm)
        .map(|c| c.case_id.as_str())
        .collect();
    let st = d.stats();
    assert_eq!(
        farms.len(),
        1,
        "one case per farm: {} candidates, {} groups",
        st.farm_candidates,
        st.farm_groups
    );
    let last = out.iter().rfind(|c| c.kind == CaseKind::SimFarm).unwrap();
    assert_eq!(last.sims.len(), 30);
    assert!(last.reasons.iter().any(|r| r.code == "SYNCHRONIZED_ONSET"));
}

#[test]
fn senders_reporting_every_minute_do_not_become_the_population() {
    let mut d = detector();
    // 60 s records with nothing but sms_out: 400 subscribers text now and then, 40
    // heavy senders (240 an hour) report every minute, one spammer sends 15 a minute
    let at = |start: i64, m: i64| start + m * 60_000;
    let rec = |r: SmsVolume, t: i64, n: u32| SmsVolume {
        window_start_ms: t,
        window_secs: 60,
        sms_out: n,
        ..bare(r)
    };
    let out = run(&mut d, 12, 0, |s, start| {
        let mut v = Vec::new();
        for m in 0..5i64 {
            let t = at(start, m);
            for i in 0..400u32 {
                if (i64::from(i) + s * 5 + m) % 15 == 0 {
                    v.push(rec(normal(i, t), t, 1));
                }
            }
            for i in 1000..1040u32 {
                v.push(rec(normal(i, t), t, 4));
            }
            v.push(rec(spammer(1, t), t, 15));
        }
        v
    });
    let case = out
        .iter()
        .find(|c| c.kind == CaseKind::SpamSim && c.sims == [sim_id(1)])
        .expect("the spammer is flagged within the hour");
    assert!(case.reasons.iter().any(|r| r.code == "RATE_FAR_BEYOND"));
    // judged on its rate since first seen: past a contact book's 500 in the 34th minute
    assert!(
        case.opened_at <= T0 + 40 * 60_000,
        "opened {} min in",
        (case.opened_at - T0) / 60_000
    );
    assert!(
        out.iter().all(|c| c.sims == [sim_id(1)]),
        "only the spammer is flagged"
    );
}

#[path = "tests_sites.rs"]
mod sites;

#[path = "tests_caps.rs"]
mod caps;

#[path = "tests_onset.rs"]
mod onset;

#[path = "tests_campaign.rs"]
mod campaign;

#[path = "tests_contact_book.rs"]
mod contact_book;

#[path = "tests_held.rs"]
mod held;

#[path = "tests_pace.rs"]
mod pace;

#[path = "tests_bursts.rs"]
mod bursts;

#[path = "tests_steady.rs"]
mod steady;
