//! A cloning blaster that only apps and MDT hear (no cipher, no neighbours) on an
//! operator whose inventory has no channels: the succession of distant cells it
//! copies is its forged sign (`farclone.rs`), it is linked before any case opens (it
//! downgrades and messages its phones), and its case continues over a stop longer
//! than the link gap. Against it, the sectors of a misplaced site: two registered identities
//! heard side by side far from their rows, never one case.

use super::index::Site;
use super::tests::{city, cloning_blaster, finals, reason, report, run_with, M_LAT, M_LON, T0};
use crate::config::FakeBtsConfig;
use crate::model::{CellMeasurement, MeasurementEvent};

/// A stop of the blaster after its second copy, minutes: longer than the link gap,
/// shorter than `far_clone_gap_secs`.
const STOP_MIN: i64 = 20;

/// [`cloning_blaster`] over 40 minutes as apps and MDT report it (no cipher, no
/// neighbours; its downgrades and SMS are reported), stopping [`STOP_MIN`] minutes after its second copy; the
/// registered cells without channels.
fn bare_blaster_with_a_stop() -> (Vec<Site>, Vec<CellMeasurement>, usize) {
    let sites: Vec<Site> = city()
        .into_iter()
        .map(|s| Site { arfcn: None, ..s })
        .collect();
    let (mut v, identities) = cloning_blaster(40);
    for m in &mut v {
        m.cipher = None;
        m.neighbors = None;
        if m.ts_ms >= T0 + 20 * 60_000 {
            m.ts_ms += STOP_MIN * 60_000;
        }
    }
    (sites, v, identities)
}

#[test]
fn a_bare_cloning_blaster_is_one_case_by_the_distant_cells_it_copies() {
    let cfg = FakeBtsConfig::default();
    assert!(STOP_MIN * 60 > cfg.link_gap_secs as i64);
    assert!(STOP_MIN * 60 < cfg.far_clone_gap_secs as i64);
    let (sites, mut v, identities) = bare_blaster_with_a_stop();
    let cases = run_with(cfg, sites, &mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].identities.len(), identities, "{:#?}", f[0].identities);
    let sign = reason(f[0], "CLONES_DISTANT_CELLS").expect("the succession is the sign");
    assert!(sign.value >= 2.0 && sign.threshold == 2.0, "{sign:?}");
    assert!(reason(f[0], "NULL_CIPHER").is_none());
    // the case opened on the second copy, not at the end
    let first = cases.iter().map(|c| c.opened_at).min().unwrap();
    assert!(
        first <= T0 + 12 * 60_000,
        "opened {} s in",
        (first - T0) / 1000
    );
}

#[test]
fn without_the_sign_a_bare_cloning_blaster_shows_nothing_forged() {
    let off = FakeBtsConfig {
        far_clone_min_identities: 0,
        ..FakeBtsConfig::default()
    };
    let (sites, mut v, _) = bare_blaster_with_a_stop();
    assert!(run_with(off, sites, &mut v).is_empty());
}

#[test]
fn without_the_longer_gap_a_stopped_cloning_blaster_is_two_cases() {
    let cfg = FakeBtsConfig::default();
    let short = FakeBtsConfig {
        far_clone_gap_secs: cfg.link_gap_secs,
        ..cfg
    };
    let (sites, mut v, _) = bare_blaster_with_a_stop();
    assert_eq!(finals(&run_with(short, sites, &mut v)).len(), 2);
}

/// Two registered cells of the city's far corner, both really standing at the
/// origin (their rows 11 km off): phones around the origin hear one or the other,
/// timing advance 0, no cipher or neighbours, every third report a downgrade (as if
/// the events held, which is what makes a far copy a candidate for linking), for 40
/// minutes.
fn misplaced_sectors(alternate_s: i64) -> (Vec<Site>, Vec<CellMeasurement>) {
    let sites = city();
    let far: Vec<Site> = sites
        .iter()
        .filter(|s| ((s.lon - super::tests::LON) * M_LON - 8_000.0).abs() < 1.0)
        .filter(|s| ((s.lat - super::tests::LAT) * M_LAT - 7_000.0).abs() < 1_100.0)
        .copied()
        .collect();
    assert!(far.len() >= 2, "{far:?}");
    let mut v = Vec::new();
    for n in 0..(40 * 60 / alternate_s) {
        let s = far[(n % 2) as usize];
        let r = (n % 5) as u32;
        let a = f64::from(r) * 1.3;
        let mut m = report(
            r,
            n * alternate_s,
            300.0 * a.cos(),
            300.0 * a.sin(),
            s.key,
            s.arfcn.unwrap(),
        );
        m.cipher = None;
        m.neighbors = None;
        m.signal_dbm = Some(-65.0);
        if n % 3 == 0 {
            m.event = MeasurementEvent::RatDowngrade;
        }
        v.push(m);
    }
    (sites, v)
}

#[test]
fn the_sectors_of_a_misplaced_site_heard_side_by_side_are_no_case() {
    for alternate_s in [30, 150, 400] {
        let (sites, mut v) = misplaced_sectors(alternate_s);
        let cases = run_with(FakeBtsConfig::default(), sites, &mut v);
        assert!(
            cases.is_empty(),
            "every {alternate_s} s: {:#?}",
            finals(&cases)
        );
    }
}

#[test]
fn one_far_identity_cannot_be_the_threshold() {
    let cfg = FakeBtsConfig {
        far_clone_min_identities: 1,
        ..FakeBtsConfig::default()
    };
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("fakebts.far_clone_min_identities"), "{e}");
}

/// [`bare_blaster_with_a_stop`] with its copy after the stop first heard by apps only:
/// its first three minutes of reports without timing advance and with an ordinary
/// signal (nothing tells the transmitter is next to the phone), MDT's timing advance
/// after that.
fn app_first_copy_after_a_stop() -> (Vec<Site>, Vec<CellMeasurement>, usize) {
    let (sites, mut v, identities) = bare_blaster_with_a_stop();
    let from = T0 + (20 + STOP_MIN) * 60_000;
    for m in &mut v {
        if (from..from + 3 * 60_000).contains(&m.ts_ms) {
            m.ta = None;
            m.signal_dbm = Some(-88.0);
        }
    }
    (sites, v, identities)
}

#[test]
fn a_copy_first_reported_by_an_app_after_a_stop_joins_the_blasters_case() {
    let (sites, mut v, identities) = app_first_copy_after_a_stop();
    let cases = run_with(FakeBtsConfig::default(), sites, &mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].identities.len(), identities, "{:#?}", f[0].identities);
}

#[test]
fn a_copy_first_reported_by_an_app_after_a_longer_silence_than_the_gap_is_its_own_case() {
    let cfg = FakeBtsConfig::default();
    let short = FakeBtsConfig {
        far_clone_gap_secs: cfg.link_gap_secs,
        ..cfg
    };
    let (sites, mut v, _) = app_first_copy_after_a_stop();
    assert_eq!(finals(&run_with(short, sites, &mut v)).len(), 2);
}
