//! Tests of telling one transmitter that changed identity from two side by side: a
//! copy of a real cell heard where the cell is never becomes a blaster's identity (a
//! stationary fake copying it beside the real one is a case of its own).

use super::emitter::{Emitter, EvidenceSpec};
use super::index::Site;
use super::rules::{check_report, Rule};
use super::signature::Signature;
use super::tests::{city, finals, report, run};
use super::tests_clone::blaster;
use crate::config::FakeBtsConfig;
use crate::model::{CellMeasurement, MeasurementEvent};

/// `city()[104]` (site 8 km east of the origin, where `blaster` stands) heard
/// ciphered around its site every 30 s, and from 100 s to 1,100 s a stationary fake
/// 600 m east of the site broadcasting its identity and channel unciphered, heard
/// every 45 s.
fn real_cell_and_static_clone() -> Vec<CellMeasurement> {
    let s = city()[104];
    let arfcn = s.arfcn.unwrap();
    let mut v = Vec::new();
    for p in 0..40u32 {
        let a = f64::from(p) * 0.7;
        let mut m = report(
            200 + p,
            i64::from(p) * 30,
            8_000.0 + 800.0 * a.cos(),
            800.0 * a.sin(),
            s.key,
            arfcn,
        );
        m.ta = Some(1);
        v.push(m);
    }
    for p in 0..23u32 {
        let a = f64::from(p) * 1.3;
        let r = 100.0 + 20.0 * f64::from(p % 5);
        let mut m = report(
            300 + p,
            100 + i64::from(p) * 45,
            8_600.0 + r * a.cos(),
            r * a.sin(),
            s.key,
            arfcn,
        );
        m.cipher = Some("A5/0".into());
        m.ta = Some(0);
        m.signal_dbm = Some((-50.0 - r / 20.0) as f32);
        if p % 3 == 0 {
            m.event = MeasurementEvent::RatDowngrade;
        }
        v.push(m);
    }
    v
}

#[test]
fn a_static_clone_beside_a_cloning_blaster_is_a_case_of_its_own() {
    // the blaster's copies of two distant cells, and the clone of a cell where it stands
    let mut v = blaster(i64::MAX, 0.0, 1_200);
    v.extend(real_cell_and_static_clone());
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 2, "{finals:#?}");
    let clone_key = city()[104].key;
    let with_clone: Vec<_> = finals
        .iter()
        .filter(|c| {
            c.identities
                .iter()
                .any(|i| i.lac == clone_key.lac && i.cid == clone_key.cid)
        })
        .collect();
    assert_eq!(with_clone.len(), 1, "{finals:#?}");
    assert_eq!(
        with_clone[0].identities.len(),
        1,
        "{:?}",
        with_clone[0].identities
    );
}

#[test]
fn a_copy_heard_where_its_cell_is_is_not_a_blasters_next_identity() {
    let cfg = FakeBtsConfig::default();
    let s = city()[60];
    let arfcn = s.arfcn.unwrap();
    // a blaster seen with two copies 8 km from their sites
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let mut first = report(1, 0, 8_000.0, 0.0, s.key, arfcn);
    first.cipher = Some("A5/0".into());
    let check = check_report(&first, Some(&s), &cfg);
    let mut e = Emitter::new(1, &first, Signature::of(&first, &check));
    e.add_report(&first, &check, 1, &spec, &cfg);
    let t = city()[61];
    let mut second = report(2, 60, 8_000.0, 0.0, t.key, t.arfcn.unwrap());
    second.cipher = Some("A5/0".into());
    e.add_report(
        &second,
        &check_report(&second, Some(&t), &cfg),
        2,
        &spec,
        &cfg,
    );
    assert_eq!(e.identities.len(), 2);
    // a copy of a third cell heard 8 km from its site: a clone it may take
    let u = city()[71];
    let mut far = report(3, 120, 8_000.0, 0.0, u.key, u.arfcn.unwrap());
    far.cipher = Some("A5/0".into());
    let c = check_report(&far, Some(&u), &cfg);
    assert!(e.may_take(
        &far,
        &c,
        cfg.link_gap_ms(),
        (far.ts_ms, cfg.link_coexist_ms())
    ));
    // the same copy heard 500 m from its site: the cell, or a fake beside it
    let mut near = far.clone();
    let (ux, uy) = (2_000.0, 0.0);
    near.lat = super::tests::LAT + uy / super::tests::M_LAT;
    near.lon = super::tests::LON + (ux + 500.0) / super::tests::M_LON;
    let c = check_report(&near, Some(&u), &cfg);
    assert!(!e.may_take(
        &near,
        &c,
        cfg.link_gap_ms(),
        (near.ts_ms, cfg.link_coexist_ms())
    ));
}

/// A cloning blaster whose phones report neither cipher nor neighbours (MDT), on an
/// operator whose inventory has no channels: heard with a copy of `city()[60]` 8 km
/// from its site for longer than the link gap, it takes the next distant copy
/// (`Emitter::clones_far`); a transmitter never heard far from a copied cell's site
/// does not.
#[test]
fn a_cloning_blaster_without_reported_cipher_takes_its_next_copy_after_the_link_gap() {
    let cfg = FakeBtsConfig::default();
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let sites: Vec<_> = city()
        .into_iter()
        .map(|s| Site { arfcn: None, ..s })
        .collect();
    let mdt = |reporter: u32, ts_s: i64, site: &Site, dx: f64| {
        let mut m = report(reporter, ts_s, 8_000.0 + dx, 0.0, site.key, 77);
        m.cipher = None;
        m.neighbors = None;
        m.ta = Some(1);
        m.signal_dbm = Some(-55.0);
        m
    };
    let first = mdt(1, 0, &sites[60], 0.0);
    let check = check_report(&first, Some(&sites[60]), &cfg);
    assert!(check.has(Rule::KnownCellFarFromSite), "{check:?}");
    let mut e = Emitter::new(1, &first, Signature::of(&first, &check));
    e.add_report(&first, &check, 1, &spec, &cfg);
    let held = mdt(2, 1_200, &sites[60], 300.0);
    e.add_report(
        &held,
        &check_report(&held, Some(&sites[60]), &cfg),
        2,
        &spec,
        &cfg,
    );
    let next = mdt(3, 1_260, &sites[61], 400.0);
    let c = check_report(&next, Some(&sites[61]), &cfg);
    let on_air = (next.ts_ms, cfg.link_coexist_ms());
    assert!(e.clones_far());
    assert!(e.may_take(&next, &c, cfg.link_gap_ms(), on_air));
    // a copy heard where its cell is (at its site): the cell itself, never taken
    let near = report(4, 1_260, 300.0, 2_000.0, sites[61].key, 77);
    let c_near = check_report(&near, Some(&sites[61]), &cfg);
    assert!(!e.may_take(&near, &c_near, cfg.link_gap_ms(), on_air));
}
