//! Tests of `fakebts.locate_refit_share`: a localisation keeps a transmitter's fix
//! over all its reports while the reports heard since that fit are fewer than the
//! share of those kept, refits it once they are not, and a final snapshot's
//! localisation (`Emitter::settle_fix`) always refits a kept fix.

use super::emitter::{Emitter, EvidenceSpec};
use super::locate::SolverParams;
use super::rules::check_report;
use super::signature::Signature;
use super::tests::report;
use crate::config::FakeBtsConfig;
use crate::model::{CellKey, CellMeasurement};

/// Phone `i`'s report of a 43 dBm transmitter at the origin, `ts_s` after T0, from a
/// ring of 300–1 500 m.
fn ring_report(i: u32, ts_s: i64) -> CellMeasurement {
    let a = f64::from(i) * 2.4;
    let r = 300.0 + f64::from(i * 37 % 1_200);
    let (x, y) = (r * a.cos(), r * a.sin());
    let key = CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14_203,
        cid: 777_777,
    };
    let mut m = report(i, ts_s, x, y, key, 90);
    m.signal_dbm = Some((43.0 - 78.0 - 32.0 * (r / 100.0).log10()).clamp(-110.0, -47.0) as f32);
    m.ta = Some((r / 553.5).round() as u16);
    m
}

fn add(e: &mut Emitter, m: &CellMeasurement, cfg: &FakeBtsConfig) {
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let check = check_report(m, None, cfg);
    e.add_report(m, &check, u64::from(m.ts_ms as u32), &spec, cfg);
}

/// A transmitter heard in 100 ring reports, localised at `T_END`.
fn localised_over_100(cfg: &FakeBtsConfig, solver: &SolverParams) -> Emitter {
    let first = ring_report(0, 0);
    let mut e = Emitter::new(
        1,
        &first,
        Signature::of(&first, &check_report(&first, None, cfg)),
    );
    for i in 0..100 {
        add(&mut e, &ring_report(i, i64::from(i) * 10), cfg);
    }
    e.localise(T_END, cfg, solver);
    e
}

#[test]
fn a_fix_is_kept_until_enough_new_reports_arrive_and_settled_at_the_end() {
    let cfg = FakeBtsConfig {
        locate_refit_share: 0.1,
        ..FakeBtsConfig::default()
    };
    let solver = SolverParams::from_config(&cfg);
    let mut e = localised_over_100(&cfg, &solver);
    let fitted = e.fix.expect("100 reports around it fit");
    assert!(fitted.x.hypot(fitted.y) < 300.0, "{fitted:?}");
    // 9 new reports of 109 kept: below 10 %, the fix is kept as it was
    for i in 100..109 {
        add(&mut e, &ring_report(i, i64::from(i) * 10), &cfg);
    }
    e.localise(T_END + 60_000, &cfg, &solver);
    assert_eq!(e.fix, Some(fitted));
    // a final snapshot refits it over every kept report: a fix of 109 reports
    let mut settled = e.clone();
    assert!(settled.settle_fix(&cfg, &solver));
    let refit = settled.fix.unwrap();
    assert_ne!(refit.ts_ms, fitted.ts_ms);
    // and has nothing left to do when asked again
    assert!(!settled.settle_fix(&cfg, &solver));
    // three more (12 of 112): the next localisation refits, as the final one did
    for i in 109..112 {
        add(&mut e, &ring_report(i, i64::from(i) * 10), &cfg);
    }
    e.localise(T_END + 120_000, &cfg, &solver);
    let refit = e.fix.unwrap();
    assert_ne!(refit.ts_ms, fitted.ts_ms);
    assert_eq!(refit.n, 112);
}

#[test]
fn a_share_of_zero_refits_at_every_localisation() {
    let cfg = FakeBtsConfig {
        locate_refit_share: 0.0,
        ..FakeBtsConfig::default()
    };
    let solver = SolverParams::from_config(&cfg);
    let mut e = localised_over_100(&cfg, &solver);
    let fitted = e.fix.unwrap();
    add(&mut e, &ring_report(100, 1_000), &cfg);
    e.localise(T_END + 60_000, &cfg, &solver);
    assert_eq!(e.fix.unwrap().n, 101);
    assert_ne!(e.fix, Some(fitted));
}

/// Event time after the reports above, ms.
const T_END: i64 = super::tests::T0 + 1_200_000;
