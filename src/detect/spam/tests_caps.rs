//! Unit tests of the open-case caps (`max_open_cases`, `max_open_farm_cases`) and
//! of the SIM listing cap of a farm case. Kept apart from tests.rs for its length.

use super::*;

#[test]
fn at_the_open_case_cap_the_longest_idle_case_is_closed_with_its_final_snapshot() {
    let config = SpamConfig {
        max_open_cases: 2,
        ..SpamConfig::default()
    };
    let mut d = SpamDetector::new(config, Allowlist::empty()).unwrap();
    // Three spammers start one after the other; the first stops after step 14.
    let snaps = run(&mut d, 24, 600, |s, start| {
        let mut v = Vec::new();
        if (12..15).contains(&s) {
            v.push(spammer(7_001, start));
        }
        if s >= 13 {
            v.push(spammer(7_002, start));
        }
        if s >= 16 {
            v.push(spammer(7_003, start));
        }
        v
    });
    let stats = d.stats();
    assert_eq!(stats.spam_cases_opened, 3);
    assert_eq!(stats.cases_closed_by_cap, 1, "the third case needed room");
    assert!(d.stage_b.cases.len() <= 2);
    // Nothing dropped: all three cases reached the output, the one closed by the cap
    // with its evidence up to its last record.
    let cases = book(&snaps);
    let sims: Vec<&str> = cases.iter().map(|c| c.sims[0].as_str()).collect();
    assert_eq!(cases.len(), 3, "{sims:?}");
    let first = cases.iter().find(|c| c.sims[0] == sim_id(7_001)).unwrap();
    assert_eq!(first.last_seen, T0 + 15 * STEP);
    assert_eq!(first.evidence_count, 3);
    assert_eq!(d.cases_closed_by_cap(), [("spam", 1), ("farm", 0)]);
}

/// A member of farm `farm` (0-2): its own devices, cell, content and SIMs.
fn member_of_farm(farm: u32, m: u32, start: i64) -> SmsVolume {
    const FPS: [u64; 3] = [
        0x5555_aaaa_0f0f_f0f0,
        0x1234_5678_9abc_def0,
        0xfedc_ba98_7654_3210,
    ];
    let mut r = farm_member(m, start);
    r.device = Some(dev_id(910_000 + farm * 10 + m % 2).into());
    r.cell = Some(CellKey {
        mcc: 452,
        mnc: 4,
        lac: 7,
        cid: 5000 + u64::from(farm),
    });
    r.content_fps[0].fp = FPS[farm as usize] ^ (1u64 << (m % 60));
    let sim = normal(810_000 + farm * 1000 + m, start).sim;
    r.sim = sim;
    r
}

/// Three farms start one after the other; the first stops after step 14.
fn three_farms(d: &mut SpamDetector) -> Vec<Case> {
    run(d, 40, 600, |s, start| {
        let mut v = Vec::new();
        for (farm, from, to) in [(0, 6, 15), (1, 8, 40), (2, 22, 40)] {
            if (from..to).contains(&s) {
                v.extend((0..8).map(|m| member_of_farm(farm, m, start)));
            }
        }
        v
    })
}

#[test]
fn at_the_open_farm_case_cap_the_longest_idle_farm_case_is_closed_with_its_final_snapshot() {
    let config = SpamConfig {
        max_open_farm_cases: 2,
        ..SpamConfig::default()
    };
    let mut d = SpamDetector::new(config, Allowlist::empty()).unwrap();
    let snaps = three_farms(&mut d);
    let stats = d.stats();
    assert_eq!(stats.farm_cases_opened, 3, "{snaps:#?}");
    assert_eq!(
        stats.farm_cases_closed_by_cap, 1,
        "the third farm case needed room"
    );
    assert_eq!(d.cases_closed_by_cap(), [("spam", 0), ("farm", 1)]);
    assert_eq!(d.stage_b.farm.open_cases(), 2);
    // Nothing dropped: all three farms reached the output, the one closed by the cap
    // (the first, idle since step 14) as it is without the cap.
    let farms = |snaps: &[Case]| -> Vec<Case> {
        book(snaps)
            .into_iter()
            .filter(|c| c.kind == CaseKind::SimFarm)
            .collect()
    };
    let capped = farms(&snaps);
    assert_eq!(capped.len(), 3, "{capped:#?}");
    let mut free = detector();
    let uncapped = farms(&three_farms(&mut free));
    assert_eq!(free.stats().farm_cases_closed_by_cap, 0);
    let first_sim = member_of_farm(0, 0, T0).sim.to_string();
    let first = |cases: &[Case]| {
        cases
            .iter()
            .find(|c| c.sims.contains(&first_sim))
            .cloned()
            .expect("the first farm's case")
    };
    assert_eq!(first(&capped), first(&uncapped));
    assert_eq!(first(&capped).last_seen, T0 + 15 * STEP);
}

#[test]
fn a_farm_larger_than_the_listing_cap_lists_its_first_sims_and_says_how_many() {
    let config = SpamConfig {
        max_farm_sims_listed: 5,
        ..SpamConfig::default()
    };
    let mut d = SpamDetector::new(config, Allowlist::empty()).unwrap();
    let snaps = run(&mut d, 30, 600, growing_farm);
    let cases = book(&snaps);
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let c = &cases[0];
    let mut all: Vec<String> = (0..10).map(|m| sim_id(800_000 + m)).collect();
    all.sort();
    assert_eq!(c.sims, all[..5].to_vec(), "the first SIMs by pseudonym");
    let unlisted = c
        .reasons
        .iter()
        .find(|r| r.code == "FARM_MEMBERS_UNLISTED")
        .expect("the case says it lists only part of the farm");
    assert_eq!((unlisted.value, unlisted.threshold), (10.0, 5.0));
    // The growth from 8 to 10 members still produced a snapshot.
    let values: Vec<f64> = snaps
        .iter()
        .filter_map(|s| s.reasons.iter().find(|r| r.code == "FARM_MEMBERS_UNLISTED"))
        .map(|r| r.value)
        .collect();
    assert_eq!(values.first(), Some(&8.0));
    assert_eq!(values.last(), Some(&10.0));
    assert!(snaps.iter().all(|s| s.sims.len() <= 5));
}
