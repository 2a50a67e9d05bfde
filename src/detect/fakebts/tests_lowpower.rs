//! Detector-level tests of the low-power clone: a registered cell's identity
//! broadcast off its channel by a 30 dBm transmitter that one phone hears every hour
//! or so (its witnesses count over the IMSI-catcher horizon and its candidate waits
//! that long), and that a few reports from one or two places never make it "moving".

use super::tests::{city, finals, reason, report, run, LAT, LON, M_LAT, M_LON, T0};
use crate::model::{CellKey, CellMeasurement, MeasurementEvent, Rat};

/// The city's cell at the origin (index 60 of the grid): registered channel 61.
fn cloned() -> (crate::model::CellKey, u32) {
    let s = city()[60];
    assert_eq!((s.lat, s.lon, s.rat), (LAT, LON, Rat::Gsm));
    (s.key, s.arfcn.unwrap())
}

/// A report of the clone at `(dx, dy)` by `phone`, `ts_s` after T0: the identity on
/// channel 99, two neighbours, A5/1, timing advance 0 (the transmitter is next to
/// the phone, 1.4 km from the site), signal on the path-loss model of a 30 dBm
/// transmitter at `(tx, ty)`.
fn clone_report(
    phone: u32,
    ts_s: i64,
    (dx, dy): (f64, f64),
    (tx, ty): (f64, f64),
) -> CellMeasurement {
    let (k, _) = cloned();
    let mut m = report(phone, ts_s, dx, dy, k, 99);
    let d = (dx - tx).hypot(dy - ty).max(10.0);
    m.signal_dbm = Some((30.0 - 78.0 - 32.0 * (d / 100.0).log10()) as f32);
    m.neighbors = Some(2);
    m.ta = Some(0);
    m
}

const TX: (f64, f64) = (1_000.0, 1_000.0);

#[test]
fn a_low_power_clone_heard_by_one_phone_an_hour_is_one_case() {
    // three phones, 70 minutes apart: more than the evidence window and more than
    // idle_evict_secs, within the catcher horizon (3 h)
    let mut v = vec![
        clone_report(1, 0, (1_100.0, 950.0), TX),
        clone_report(2, 70 * 60, (900.0, 1_080.0), TX),
        clone_report(3, 140 * 60, (1_050.0, 1_150.0), TX),
    ];
    let cases = run(&mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    assert!(reason(c, "ARFCN_INCONSISTENT").is_some(), "{c:#?}");
    // opened at the second phone, not before
    assert_eq!(c.opened_at, T0 + 70 * 60 * 1000, "{c:#?}");
}

#[test]
fn one_phone_or_phones_beyond_the_horizon_do_not_make_a_low_power_case() {
    // the same phone twice
    let mut one = vec![
        clone_report(1, 0, (1_100.0, 950.0), TX),
        clone_report(1, 70 * 60, (900.0, 1_080.0), TX),
    ];
    assert!(run(&mut one).is_empty());
    // two phones four hours apart (beyond catcher_horizon_secs)
    let mut apart = vec![
        clone_report(1, 0, (1_100.0, 950.0), TX),
        clone_report(2, 4 * 3_600, (900.0, 1_080.0), TX),
    ];
    assert!(run(&mut apart).is_empty());
}

#[test]
fn a_static_clone_reported_from_a_few_places_is_not_moving() {
    // mostly one probe a minute at a fixed spot 400 m away (a short window of its
    // reports fits anywhere along a line), now and then a phone elsewhere around
    let mut v = Vec::new();
    let spots = [
        (600.0, 1_000.0),
        (1_300.0, 700.0),
        (1_000.0, 1_350.0),
        (800.0, 750.0),
    ];
    for minute in 0..180i64 {
        v.push(clone_report(1, minute * 60, (1_400.0, 1_000.0), TX));
        if minute % 7 == 0 {
            let s = spots[(minute / 7) as usize % spots.len()];
            v.push(clone_report(
                10 + (minute / 7) as u32,
                minute * 60 + 20,
                s,
                TX,
            ));
        }
    }
    let cases = run(&mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    assert!(
        c.track.is_empty(),
        "a stationary transmitter has no track: {c:#?}"
    );
    let loc = c.location.expect("located");
    let (x, y) = ((loc.lon - LON) * M_LON, (loc.lat - LAT) * M_LAT);
    assert!(
        (x - TX.0).hypot(y - TX.1) < 300.0,
        "at {x:.0},{y:.0}: {loc:?}"
    );
}

/// The real cell of [`cloned`] heard where and how it should be, by `phone` next to
/// its site, `ts_s` after T0.
fn real_cell_report(phone: u32, ts_s: i64) -> CellMeasurement {
    let (k, arfcn) = cloned();
    let mut m = report(phone, ts_s, 200.0, -100.0, k, arfcn);
    m.signal_dbm = Some(-60.0);
    m
}

#[test]
fn a_low_power_clone_heard_once_beside_the_real_cell_opens_at_its_first_phone() {
    // the real cell is on air on its own channel (other phones hear it), and one
    // passer-by hears its identity on channel 99 from a transmitter next to it, 1.4 km
    // from the site: identity, channel and placement signs from one report
    let mut v = vec![
        real_cell_report(50, 0),
        real_cell_report(51, 60),
        clone_report(1, 300, (1_100.0, 950.0), TX),
        real_cell_report(52, 900),
    ];
    let cases = run(&mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    assert_eq!(c.opened_at, T0 + 300 * 1000, "{c:#?}");
    for code in [
        "ARFCN_INCONSISTENT",
        "DUPLICATE_IDENTITY",
        "TA_INCONSISTENT",
    ] {
        assert!(reason(c, code).is_some(), "{code}: {c:#?}");
    }
    assert_eq!(reason(c, "DISTINCT_REPORTERS").map(|r| r.value), Some(1.0));
    // without the real cell on air (a stale channel in the inventory?) one phone is
    // not enough: identity and placement only
    let mut alone = vec![clone_report(1, 300, (1_100.0, 950.0), TX)];
    assert!(run(&mut alone).is_empty());
}

/// A catcher's report: unknown cell id in LAC 19 999 (no cell of the city), channel
/// 99 (none of the city's 60–79), two neighbours, no cipher field, a reject.
fn catcher_report(phone: u32, ts_s: i64, dx: f64, dy: f64) -> CellMeasurement {
    let k = CellKey {
        mcc: 452,
        mnc: 4,
        lac: 19_999,
        cid: 777,
    };
    let mut m = report(phone, ts_s, dx, dy, k, 99);
    m.signal_dbm = Some(-80.0);
    m.neighbors = Some(2);
    m.cipher = None;
    m.event = MeasurementEvent::Reject;
    m
}

#[test]
fn an_imsi_catcher_rejecting_its_first_phone_on_a_foreign_channel_is_a_case_at_once() {
    let mut v = vec![
        catcher_report(1, 600, 300.0, 250.0),
        catcher_report(2, 1_800, 150.0, 420.0),
    ];
    let cases = run(&mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    assert_eq!(c.opened_at, T0 + 600 * 1000, "{c:#?}");
    let first = cases.first().expect("an opening snapshot");
    assert_eq!(
        reason(first, "DISTINCT_REPORTERS").map(|r| r.value),
        Some(1.0)
    );
    for code in ["LAC_INCONSISTENT", "ARFCN_UNUSED_NEARBY", "LU_REJECT"] {
        assert!(reason(first, code).is_some(), "{code}: {first:#?}");
    }
    // the second phone makes REJECTS_EVERY_PHONE hold
    assert_eq!(reason(c, "REJECTS_EVERY_PHONE").map(|r| r.value), Some(2.0));
}

#[test]
fn a_cell_in_an_unused_lac_that_accepts_most_phones_is_not_a_case() {
    // the same broadcast, but nine phones in ten camp normally: one reject is
    // roaming life, not a catcher turning every phone away
    let mut v: Vec<CellMeasurement> = (0..10u32)
        .map(|p| {
            let mut m = catcher_report(p, 600 + i64::from(p) * 120, 300.0, 250.0 + f64::from(p));
            m.cipher = Some("A5/1".into());
            m.neighbors = Some(6);
            if p != 4 {
                m.event = MeasurementEvent::Camped;
            }
            m
        })
        .collect();
    assert!(run(&mut v).is_empty());
}

/// An emitter heard at the origin, as the localisation leaves it.
fn emitter() -> super::emitter::Emitter {
    use super::signature::Signature;
    let (k, _) = cloned();
    let m = report(1, 0, 0.0, 0.0, k, 99);
    let sig = Signature {
        rat: Rat::Gsm,
        mcc: 452,
        mnc: 4,
        arfcn: Some(99),
        pci: Some(7),
        null_cipher: super::signature::Flag::No,
        few_neighbours: super::signature::Flag::No,
    };
    super::emitter::Emitter::new(1, &m, sig)
}

fn fix(ts_s: i64, x: f64, y: f64, sigma_m: f64) -> super::locate::Fix {
    super::locate::Fix {
        x,
        y,
        p0_dbm: 0.0,
        cov: [[sigma_m * sigma_m, 0.0], [0.0, 25.0]],
        rms_db: 0.0,
        n: 4,
        ts_ms: T0 + ts_s * 1000,
    }
}

#[test]
fn imprecise_short_window_fixes_cannot_show_movement() {
    let cfg = crate::config::FakeBtsConfig::default();
    let mut e = emitter();
    e.last_seen = T0 + 600_000;
    let all = fix(300, 0.0, 0.0, 30.0);
    // two fixes 2 km off, thin ellipses (σ 2 km along x, 5 m across): a line of
    // reports from one or two places; the χ² test alone passes them
    e.short_fixes.push_back(fix(400, 0.0, 2_000.0, 2_000.0));
    e.short_fixes.push_back(fix(500, 0.0, 2_100.0, 2_000.0));
    assert!(!e.stationary_hypothesis_fails(&all, &cfg).seen);
    // the same displacement from precise fixes is movement
    e.short_fixes.clear();
    e.short_fixes.push_back(fix(400, 0.0, 2_000.0, 60.0));
    e.short_fixes.push_back(fix(600, 0.0, 2_100.0, 60.0));
    assert!(e.stationary_hypothesis_fails(&all, &cfg).confirmed);
}

#[test]
fn a_moving_position_is_its_last_fix_within_reach_of_the_phone_that_heard_it_last() {
    use super::reported::Reported;
    use super::track::Kalman;
    let cfg = crate::config::FakeBtsConfig::default();
    let mut e = emitter();
    let r = [[50.0f64 * 50.0, 0.0], [0.0, 50.0 * 50.0]];
    // 10 m/s eastwards for ten minutes, then silence of the tracker for an hour
    let mut k = Kalman::new(T0, 0.0, 0.0, r, cfg.track_accel_noise, 10.0);
    for minute in 1..=10i64 {
        k.update(T0 + minute * 60_000, minute as f64 * 600.0, 0.0, r);
    }
    e.kalman = Some(Box::new(k));
    e.moving = true;
    e.last_seen = T0 + 70 * 60_000;
    e.observations.clear();
    let loc = e.location(&cfg).expect("a location");
    let (x, y) = e.frame.to_xy(loc.lat, loc.lon);
    // the last filtered position at 6 km: not 36 km down the road, nor a track
    // window's 1.8 km past it (track_predict_max_secs 0)
    assert!(
        (x - 6_000.0).abs() < 300.0 && y.abs() < 300.0,
        "x {x:.0} y {y:.0}"
    );
    // an hour without fixes and no phone to bound it: tens of kilometres
    assert!(loc.radius_m > 20_000.0, "{loc:?}");
    // a phone 400 m on heard it at its last report, timing advance 0 (553.5 m)
    let (cell, _) = cloned();
    let m = report(2, 70 * 60, 6_400.0, 0.0, cell, 99);
    let (px, py) = e.frame.to_xy(m.lat, m.lon);
    e.observations.push_back(Reported::of_report(&m, px, py));
    let loc = e.location(&cfg).expect("a location");
    assert!(loc.radius_m < 400.0 + 553.5 + 50.0, "{loc:?}");
    // extrapolated over a track window as before: 1.8 km on, the radius then smaller
    let before = crate::config::FakeBtsConfig {
        track_predict_max_secs: 180,
        track_since_fix_secs: 0,
        ..cfg.clone()
    };
    let loc = e.location(&before).expect("a location");
    let (x, _) = e.frame.to_xy(loc.lat, loc.lon);
    assert!((x - 7_800.0).abs() < 400.0, "x {x:.0}");
    // and then pulled back within that phone's reach (track_since_fix_secs)
    let pulled = crate::config::FakeBtsConfig {
        track_predict_max_secs: 180,
        ..cfg
    };
    let loc = e.location(&pulled).expect("a location");
    let (x, _) = e.frame.to_xy(loc.lat, loc.lon);
    assert!(x < 6_400.0 + 553.5 + 60.0 && x > 6_400.0, "x {x:.0}");
}

/// The channel a case claims.
fn channel(c: &crate::model::Case) -> Option<u32> {
    c.claimed_cell.as_ref().and_then(|k| k.arfcn)
}

/// The city with the row of [`cloned`] without a channel (an operator whose inventory
/// has no `arfcn` column): `ARFCN_INCONSISTENT` cannot fire on its identity.
fn city_without_channel() -> Vec<super::index::Site> {
    let mut sites = super::tests::city();
    sites[60].arfcn = None;
    sites
}

/// The real cell of [`cloned`] heard by `phone` at `(dx, dy)`, far beyond its 2 km
/// range (a high mast): a weak signal and the timing advance of the true distance.
fn far_real_report(phone: u32, ts_s: i64, (dx, dy): (f64, f64)) -> CellMeasurement {
    let (k, arfcn) = cloned();
    let mut m = report(phone, ts_s, dx, dy, k, arfcn);
    m.signal_dbm = Some(-95.0);
    m.ta = Some((dx.hypot(dy) / 553.5).round() as u16);
    m
}

#[test]
fn with_no_channel_listed_a_low_power_clone_beside_the_real_cell_opens_at_its_first_phone() {
    // as above, but the row lists no channel: the identity on two channels at once,
    // and this side next to its phone while the site is 1.4 km away
    // (`single_phone_duplicate_identity`)
    let mut v = vec![
        real_cell_report(50, 0),
        real_cell_report(51, 60),
        clone_report(1, 300, (1_100.0, 950.0), TX),
        real_cell_report(52, 900),
    ];
    let cases = super::tests::run_over(city_without_channel(), &mut v.clone());
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    assert_eq!(c.opened_at, T0 + 300 * 1000, "{c:#?}");
    assert_eq!(channel(c), Some(99), "{c:#?}");
    assert!(reason(c, "DUPLICATE_IDENTITY").is_some(), "{c:#?}");
    assert!(reason(c, "ARFCN_INCONSISTENT").is_none(), "{c:#?}");
    // off: the identity sign needs an implausible LAC, PLMN or listed channel
    let off = crate::config::FakeBtsConfig {
        single_phone_duplicate_identity: false,
        ..Default::default()
    };
    assert!(super::tests::run_with(off, city_without_channel(), &mut v).is_empty());
}

#[test]
fn with_no_channel_listed_the_real_cell_heard_far_away_is_not_the_forged_side() {
    // the real cell, heard 8 km beyond its site by four phones with the timing advance
    // of that distance, and a low-power clone of it on channel 99 next to three phones
    // 1.4 km from the site, at the same time: only the clone is a case
    let mut v = Vec::new();
    for p in 0..4u32 {
        let ts = 600 + i64::from(p) * 300;
        v.push(far_real_report(
            60 + p,
            ts,
            (8_000.0 + f64::from(p) * 50.0, 2_000.0),
        ));
        v.push(clone_report(
            1 + p,
            ts + 30,
            (1_100.0, 950.0 + f64::from(p) * 40.0),
            TX,
        ));
    }
    let (_, arfcn) = cloned();
    let cases = super::tests::run_over(city_without_channel(), &mut v.clone());
    let f = finals(&cases);
    assert!(
        f.iter().all(|c| channel(c) == Some(99)),
        "a case on the real cell's channel {arfcn}: {f:#?}"
    );
    assert_eq!(f.len(), 1, "{f:#?}");
    // off: either side counts as forged, and the real cell gets a case too
    let off = crate::config::FakeBtsConfig {
        duplicate_site_fit: false,
        ..Default::default()
    };
    let cases = super::tests::run_with(off, city_without_channel(), &mut v);
    assert!(
        finals(&cases).iter().any(|c| channel(c) == Some(arfcn)),
        "{:#?}",
        finals(&cases)
    );
}
