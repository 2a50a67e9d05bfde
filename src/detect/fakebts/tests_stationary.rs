//! Tests of a stationary transmitter's movement test (`moving.rs`): one excursion of
//! its short-window fixes, seen by two consecutive localisations whose windows share
//! most of their reports, makes it possibly moving for identity linking but does not
//! turn its case into a track; independent windows do.

use super::emitter::{Emitter, EvidenceSpec};
use super::locate::{Fix, SolverParams};
use super::moving::displacement;
use super::rules::check_report;
use super::signature::Signature;
use super::tests::{city, report, T0};
use crate::config::FakeBtsConfig;
use crate::model::{CellKey, CellMeasurement};

/// A fix `ts_s` after T0 at `(x, y)` with σ `sigma_m` on each axis.
fn fix(ts_s: i64, x: f64, y: f64, sigma_m: f64) -> Fix {
    Fix {
        x,
        y,
        p0_dbm: 0.0,
        cov: [[sigma_m * sigma_m, 0.0], [0.0, sigma_m * sigma_m]],
        rms_db: 0.0,
        n: 4,
        ts_ms: T0 + ts_s * 1000,
    }
}

#[test]
fn two_fixes_of_overlapping_windows_are_one_excursion() {
    let cfg = FakeBtsConfig::default();
    let all = fix(600, 0.0, 0.0, 20.0);
    let last_seen = T0 + 1_200_000;
    // two precise fixes 1 km off, 20 s apart: their 180 s windows share most reports
    let short = [
        fix(1_000, 1_000.0, 0.0, 80.0),
        fix(1_020, 950.0, 50.0, 80.0),
    ];
    let d = displacement(&short, last_seen, &all, &cfg);
    assert!(d.seen && !d.confirmed, "{d:?}");
    // a third one a track window later is independent of the first: moving
    let short = [
        fix(1_000, 1_000.0, 0.0, 80.0),
        fix(1_020, 950.0, 50.0, 80.0),
        fix(1_000 + cfg.track_window_secs as i64, 1_900.0, 0.0, 80.0),
    ];
    let d = displacement(&short, last_seen + 200_000, &all, &cfg);
    assert!(d.seen && d.confirmed, "{d:?}");
    // fixes beyond the evidence window, close ones and imprecise ones show nothing
    let old = last_seen + cfg.evidence_window_ms() + 1_100_000;
    let d = displacement(&short, old, &all, &cfg);
    assert!(!d.seen && !d.confirmed, "{d:?}");
    let near = [fix(1_000, 500.0, 0.0, 30.0), fix(1_400, 0.0, 600.0, 30.0)];
    assert!(!displacement(&near, last_seen, &all, &cfg).seen);
    let vague = [
        fix(1_000, 1_500.0, 0.0, 600.0),
        fix(1_400, 0.0, 1_600.0, 600.0),
    ];
    assert!(!displacement(&vague, last_seen, &all, &cfg).seen);
}

/// An invented identity (LAC 14 203 is the city's, the cell id nobody's) broadcast
/// unciphered without neighbours on channel 90.
fn fake_cell() -> CellKey {
    CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14_203,
        cid: 777_777,
    }
}

/// A report of the fake by `phone` at `(x, y)`, `ts_s` after T0, with the signal of a
/// 43 dBm transmitter at `from` on the path-loss model and the timing advance of
/// that distance.
fn fake_report(phone: u32, ts_s: i64, (x, y): (f64, f64), from: (f64, f64)) -> CellMeasurement {
    let mut m = report(phone, ts_s, x, y, fake_cell(), 90);
    let d = (x - from.0).hypot(y - from.1).max(10.0);
    m.signal_dbm = Some((43.0 - 78.0 - 32.0 * (d / 100.0).log10()).clamp(-110.0, -47.0) as f32);
    m.ta = Some((d / 553.5).round() as u16);
    m.cipher = Some("A5/0".into());
    m.neighbors = Some(0);
    m
}

/// Feed `reports` (time order) to `e`, localising every 20 s of event time as the
/// detector may while reports arrive.
fn feed(e: &mut Emitter, reports: &[CellMeasurement], cfg: &FakeBtsConfig) {
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let solver = SolverParams::from_config(cfg);
    for (i, m) in reports.iter().enumerate() {
        let check = check_report(m, None, cfg);
        e.add_report(m, &check, i as u64, &spec, cfg);
        if e.last_locate_ms.is_none_or(|t| m.ts_ms - t >= 20_000) {
            e.localise(m.ts_ms, cfg, &solver);
        }
    }
}

#[test]
fn a_stationary_fake_whose_window_holds_three_far_phones_stays_in_place() {
    let cfg = FakeBtsConfig::default();
    assert!(city().iter().all(|s| s.key != fake_cell()));
    let tx = (0.0, 0.0);
    // 30 minutes of phones around it (a ring of 300–1 500 m), one every 10 s
    let ring = |phone: u32, ts_s: i64, i: u32| {
        let a = f64::from(i) * 2.4;
        let r = 300.0 + f64::from(i * 37 % 1_200);
        fake_report(phone, ts_s, (r * a.cos(), r * a.sin()), tx)
    };
    let mut v: Vec<CellMeasurement> = (0..180).map(|i| ring(i, i64::from(i) * 10, i)).collect();
    // after a lull, one minute in which only three phones 1.2–1.6 km east hear it,
    // their signals as if it stood beside them (shadowing in their favour): the short
    // windows of two consecutive localisations hold them alone and fit them 1 km off
    for k in 0..7u32 {
        let p = [(1_200.0, 100.0), (1_600.0, -150.0), (1_400.0, 300.0)][k as usize % 3];
        let beside = (p.0 - 150.0, p.1);
        v.push(fake_report(
            1_000 + k % 3,
            2_400 + i64::from(k) * 10,
            p,
            beside,
        ));
    }
    // and, after another lull, the ring again for 20 minutes
    v.extend((0..120).map(|i| ring(2_000 + i, 2_700 + i64::from(i) * 10, i + 7)));
    let first = &v[0];
    let check = check_report(first, None, &cfg);
    let mut e = Emitter::new(1, first, Signature::of(first, &check));
    feed(&mut e, &v, &cfg);
    // the excursion was seen (linking treats the transmitter as possibly moving) ...
    assert!(
        e.displaced,
        "the test's excursion was not seen by the short windows"
    );
    // ... but it is one excursion: no track, and its position is where it stands
    assert!(!e.moving, "{:?}", e.short_fixes);
    assert!(e.track_points(&cfg).is_empty());
    let loc = e.location(&cfg).expect("a location");
    let (x, y) = e.frame.to_xy(loc.lat, loc.lon);
    let (ox, oy) = e.frame.to_xy(super::tests::LAT, super::tests::LON);
    let err = (x - ox - tx.0).hypot(y - oy - tx.1);
    assert!(err < 150.0, "{err:.0} m from the transmitter: {loc:?}");
}
