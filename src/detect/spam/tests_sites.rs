//! Unit tests of `FARM_SITES` (farm/sites.rs): one farm at several cells is one
//! case, and what is not one farm stays apart. Kept apart from tests.rs for its length.

use super::*;

/// Two sites: four SIMs on one device and in one cell each (`split_farm_member`), group 1 starting
/// `gap` steps after group 0, group 1's content XOR `template`.
fn two_sites(gap: i64, template: u64) -> impl FnMut(i64, i64) -> Vec<SmsVolume> {
    move |s: i64, start: i64| {
        let mut v = Vec::new();
        if s >= 4 {
            v.extend((0..4).map(|m| split_farm_member(0, m, 0, start)));
        }
        if s >= 4 + gap {
            v.extend((0..4).map(|m| {
                let mut r = split_farm_member(1, m, 1, start);
                for f in &mut r.content_fps {
                    f.fp ^= template;
                }
                r
            }));
        }
        v
    }
}

fn opened(snaps: &[Case]) -> Vec<&Case> {
    let mut seen = std::collections::BTreeSet::new();
    snaps
        .iter()
        .filter(|c| seen.insert(c.case_id.clone()))
        .collect()
}

/// A detector with `spam.farm_site_onset_secs` set.
fn sites_detector(farm_site_onset_secs: u32) -> SpamDetector {
    SpamDetector::new(
        SpamConfig {
            farm_site_onset_secs,
            ..SpamConfig::default()
        },
        Allowlist::empty(),
    )
    .expect("valid config")
}

#[test]
fn one_farm_at_two_sites_is_one_case_that_says_so() {
    let mut d = detector();
    let snaps = run(&mut d, 24, 300, two_sites(4, 0));
    let opened = opened(&snaps);
    assert_eq!(
        opened.len(),
        1,
        "the second site joined the first: {opened:#?}"
    );
    assert_eq!(d.stats().farm_cases_absorbed, 0);
    let cases = book(&snaps);
    let farm = &cases[0];
    assert_eq!(farm.sims.len(), 8);
    let sites = farm
        .reasons
        .iter()
        .find(|r| r.code == "FARM_SITES")
        .expect("FARM_SITES");
    assert_eq!((sites.value, sites.threshold), (2.0, 2.0));
}

#[test]
fn sites_with_another_template_or_start_or_the_link_off_stay_apart() {
    // another template (20 bits away), the same start
    let mut d = detector();
    let snaps = run(&mut d, 24, 300, two_sites(4, 0x000f_f0f0_00ff_0000));
    assert_eq!(opened(&snaps).len(), 2);
    // the same template, started 45 minutes later (past farm_site_onset_secs)
    let mut d = detector();
    let snaps = run(&mut d, 30, 300, two_sites(9, 0));
    assert_eq!(opened(&snaps).len(), 2);
    // the link off
    let mut d = sites_detector(0);
    let snaps = run(&mut d, 24, 300, two_sites(4, 0));
    assert_eq!(opened(&snaps).len(), 2);
    assert!(snaps
        .iter()
        .all(|c| c.reasons.iter().all(|r| r.code != "FARM_SITES")));
    // four SIMs sharing a phone, each in a cell of its own (no template campaign in
    // a cell: spammers on a shared phone, not a site): two cases
    let mut scattered = two_sites(4, 0);
    let mut d = detector();
    let snaps = run(&mut d, 24, 300, |s, start| {
        let mut v = scattered(s, start);
        for (i, r) in v.iter_mut().enumerate() {
            if let Some(c) = r.cell.as_mut() {
                c.cid = 6000 + i as u64;
            }
        }
        v
    });
    assert_eq!(opened(&snaps).len(), 2);
}

#[test]
fn a_site_tied_by_hardware_in_one_cell_joins_before_its_template_campaign_forms() {
    // the second site's SIMs send the farm's template a few bits apart each way: no
    // three of them are within `fp_hamming` of each other (no template campaign in
    // its cell yet), while each is close to the first site's; its device ties them
    let mut d = detector();
    let mut sites = two_sites(0, 0);
    let snaps = run(&mut d, 24, 300, |s, start| {
        let mut v = sites(s, start);
        for (m, r) in v.iter_mut().skip(4).enumerate() {
            r.content_fps[0].fp = 0x5555_aaaa_0f0f_f0f0 ^ (0xf << (8 * m + 16));
        }
        v
    });
    assert_eq!(opened(&snaps).len(), 1, "{:#?}", opened(&snaps));
    let cases = book(&snaps);
    assert_eq!(cases[0].sims.len(), 8);
}
