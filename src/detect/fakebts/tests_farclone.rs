//! A cloning blaster that only apps and MDT hear (no cipher, no neighbours) on an
//! operator whose inventory has no channels: its copies of distant cells heard from
//! next to the phones, and what it does to them (downgrades, SMS), are all the
//! evidence there is; and it stops for longer than the link gap between copies.

use super::index::Site;
use super::tests::{city, cloning_blaster, finals, reason, run_with};
use crate::config::FakeBtsConfig;
use crate::model::CellMeasurement;

/// [`cloning_blaster`] over 40 minutes as apps and MDT report it, with a 20-minute
/// stop after its second copy; the registered cells without channels.
fn bare_blaster_with_a_stop() -> (Vec<Site>, Vec<CellMeasurement>, usize) {
    let sites: Vec<Site> = city()
        .into_iter()
        .map(|s| Site { arfcn: None, ..s })
        .collect();
    let (mut v, identities) = cloning_blaster(40);
    for m in &mut v {
        m.cipher = None;
        m.neighbors = None;
        if m.ts_ms >= super::tests::T0 + 20 * 60_000 {
            m.ts_ms += 20 * 60_000;
        }
    }
    (sites, v, identities)
}

#[test]
fn a_bare_cloning_blaster_is_found_by_what_it_does_to_the_phones() {
    let (sites, mut v, identities) = bare_blaster_with_a_stop();
    let cfg = FakeBtsConfig::default();
    // the stop is longer than the link gap, shorter than a case stays open
    assert!(20 * 60_000 > cfg.link_gap_ms() && 20 * 60_000 < cfg.case_idle_evict_ms());
    let cases = run_with(cfg, sites.clone(), &mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].identities.len(), identities, "{:#?}", f[0].identities);
    assert!(reason(f[0], "KNOWN_CELL_FAR_FROM_SITE").is_some());
    assert!(reason(f[0], "RAT_DOWNGRADE").is_some());
    // without the events counted as forged there is no forged sign at all
    let events_not_forged = FakeBtsConfig {
        far_clone_events_forged: false,
        ..FakeBtsConfig::default()
    };
    let (_, mut v2, _) = bare_blaster_with_a_stop();
    assert!(run_with(events_not_forged, sites.clone(), &mut v2).is_empty());
    // without the continuation over the stop, the blaster is two cases
    let no_continuation = FakeBtsConfig {
        far_clone_continues: false,
        ..FakeBtsConfig::default()
    };
    let (_, mut v3, _) = bare_blaster_with_a_stop();
    assert_eq!(finals(&run_with(no_continuation, sites, &mut v3)).len(), 2);
}
