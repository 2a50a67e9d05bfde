//! Detector-level tests of the static clone that copies a nearby real cell whole (its
//! identity, channel and neighbour count) but broadcasts without ciphering, and of
//! linking: a transmitter heard only with copies does not take an invented identity
//! at once, but its case absorbs one that took over when its copies went quiet; a
//! transmitter with a case back on its own radio after a pause continues its case.

use super::emitter::Emitter;
use super::rules::check_report;
use super::signature::Signature;
use super::tests::{blaster_broadcast, city, finals, reason, report, run, LAT, LON, M_LAT, M_LON};
use crate::config::FakeBtsConfig;
use crate::model::{CellKey, CellMeasurement, MeasurementEvent};

/// The real cell `city()[60]` heard ciphered around its site by phones 0–39 every
/// minute, and (when `clone`) from minute 20 a transmitter 600 m east of the site with
/// its identity, channel and neighbours, unciphered, heard by phones 100–119.
fn cell_and_clone(clone: bool) -> (Vec<CellMeasurement>, (f64, f64)) {
    let s = city()[60];
    let (sx, sy) = ((s.lon - LON) * M_LON, (s.lat - LAT) * M_LAT);
    let arfcn = s.arfcn.unwrap();
    let mut v = Vec::new();
    for p in 0..40u32 {
        let a = f64::from(p) * 0.7;
        let mut m = report(
            p,
            i64::from(p) * 60,
            sx + 800.0 * a.cos(),
            sy + 800.0 * a.sin(),
            s.key,
            arfcn,
        );
        m.ta = Some(1);
        v.push(m);
    }
    let at = (sx + 600.0, sy);
    if clone {
        for p in 0..20u32 {
            let a = f64::from(p) * 1.3;
            let r = 100.0 + 20.0 * f64::from(p % 5);
            let mut m = report(
                100 + p,
                1_200 + i64::from(p) * 45,
                at.0 + r * a.cos(),
                at.1 + r * a.sin(),
                s.key,
                arfcn,
            );
            m.cipher = Some("A5/0".into());
            m.ta = Some(0);
            m.signal_dbm = Some((-50.0 - r / 20.0) as f32);
            m.event = if p % 3 == 0 {
                MeasurementEvent::RatDowngrade
            } else {
                MeasurementEvent::Camped
            };
            v.push(m);
        }
    }
    (v, at)
}

#[test]
fn a_clone_heard_unciphered_beside_its_ciphered_original_is_one_case() {
    let (mut v, (cx, cy)) = cell_and_clone(true);
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 1, "{finals:#?}");
    let c = finals[0];
    assert!(reason(c, "NULL_CIPHER").is_some(), "{:?}", c.reasons);
    assert!(reason(c, "DUPLICATE_IDENTITY").is_some(), "{:?}", c.reasons);
    let loc = c.location.unwrap();
    let (x, y) = ((loc.lon - LON) * M_LON, (loc.lat - LAT) * M_LAT);
    assert!(
        (x - cx).hypot(y - cy) < 300.0,
        "located at {x}, {y}, clone at {cx}, {cy}"
    );
}

#[test]
fn the_original_alone_and_a_legacy_cell_unciphered_for_everyone_are_not_cases() {
    let (mut v, _) = cell_and_clone(false);
    assert!(run(&mut v).is_empty());
    // every phone hears it unciphered: its configuration, not a conflict
    let (mut v, _) = cell_and_clone(false);
    for m in &mut v {
        m.cipher = Some("A5/0".into());
        if m.reporter.ends_with('3') {
            m.event = MeasurementEvent::RatDowngrade;
        }
    }
    assert!(run(&mut v).is_empty());
}

#[test]
fn a_transmitter_heard_only_with_copies_does_not_take_an_invented_identity() {
    let cfg = FakeBtsConfig::default();
    let s = city()[60];
    let (sx, sy) = ((s.lon - LON) * M_LON, (s.lat - LAT) * M_LAT);
    // a copy of the cell heard 8 km from its site, unciphered, on its channel
    let mut copy = report(1, 0, sx + 8_000.0, sy, s.key, s.arfcn.unwrap());
    copy.cipher = Some("A5/0".into());
    copy.neighbors = Some(0);
    let check = check_report(&copy, Some(&s), &cfg);
    let mut e = Emitter::new(1, &copy, Signature::of(&copy, &check));
    let spec = super::emitter::EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    e.add_report(&copy, &check, 1, &spec, &cfg);
    // a new identity of nobody's, first heard now, near it
    let invented = CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14_203,
        cid: 999_999,
    };
    let mut m = report(2, 30, sx + 8_100.0, sy, invented, 77);
    m.cipher = Some("A5/0".into());
    m.neighbors = Some(0);
    let c = check_report(&m, None, &cfg);
    assert!(!e.may_take(&m, &c, cfg.link_gap_ms(), (m.ts_ms, cfg.link_coexist_ms())));
    // once it broadcast an identity of its own on channel 77, the next one on it links
    let mut own = m.clone();
    own.cell.cid = 999_998;
    e.add_report(&own, &check_report(&own, None, &cfg), 3, &spec, &cfg);
    assert!(e.may_take(&m, &c, cfg.link_gap_ms(), (m.ts_ms, cfg.link_coexist_ms())));
    // an identity on air for longer than the coexistence grace is another's
    let long_ago = m.ts_ms - cfg.link_coexist_ms() - 1_000;
    assert!(!e.may_take(&m, &c, cfg.link_gap_ms(), (long_ago, cfg.link_coexist_ms())));
}

/// A blaster standing 8 km east of `city()[60]`'s site, heard every 5 s by a phone
/// 2.2 km west or east of it in turn (phones 4.4 km apart: farther than the
/// association radius), unciphered, no neighbours: a copy of `city()[60]` from 0 s,
/// of `city()[61]` from 300 s, and from `invent_at` s an invented identity on channel
/// 77, until 1,200 s; `copies_until` s: when the copies stop.
pub(super) fn blaster(invent_at: i64, invent_dx: f64, copies_until: i64) -> Vec<CellMeasurement> {
    let sites = city();
    let invented = CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14_203,
        cid: 999_999,
    };
    let mut v = Vec::new();
    let mut heard = |p: u32, t: i64, key: CellKey, arfcn: u32, dx: f64| {
        let side = if p % 2 == 0 { -2_200.0 } else { 2_200.0 };
        let mut m = report(
            p % 40,
            t,
            8_000.0 + dx + side,
            50.0 * f64::from(p % 7),
            key,
            arfcn,
        );
        blaster_broadcast(&mut m, p);
        v.push(m);
    };
    for p in 0..240u32 {
        let t = i64::from(p) * 5;
        if t < copies_until {
            let s = if t < 300 { sites[60] } else { sites[61] };
            heard(p, t, s.key, s.arfcn.unwrap(), 0.0);
        }
        if t >= invent_at {
            heard(p + 1, t + 2, invented, 77, invent_dx);
        }
    }
    v
}

#[test]
fn a_blaster_heard_from_both_sides_that_invents_an_identity_is_one_case() {
    let mut v = blaster(600, 0.0, 600);
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 1, "{finals:#?}");
    assert_eq!(finals[0].identities.len(), 3, "{:?}", finals[0].identities);
}

#[test]
fn a_fake_coming_on_air_beside_a_broadcasting_blaster_is_a_case_of_its_own() {
    // the copies go on while the new identity is heard 1 km away: two transmitters
    let mut v = blaster(600, 1_000.0, 1_200);
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 2, "{finals:#?}");
    assert!(
        finals.iter().all(|c| c.identities.len() <= 2),
        "{finals:#?}"
    );
}

/// A blaster 8 km east of the origin on channel 77 (PCI/BSIC 7 as `report` sets it)
/// inventing `14 203-999 990` for 300 s, quiet for half an hour (longer than the link
/// gap), then 1 km further east inventing `14 203-999 991` on channel 77 with
/// PCI/BSIC `pci_after` for 300 s; heard every 5 s from both sides, unciphered.
fn blaster_back_after_a_pause(pci_after: u16) -> Vec<CellMeasurement> {
    let invented = |cid| CellKey {
        mcc: 452,
        mnc: 4,
        lac: 14_203,
        cid,
    };
    let mut v = Vec::new();
    for p in 0..120u32 {
        let (t, key, dx, pci) = if p < 60 {
            (i64::from(p) * 5, invented(999_990), 0.0, 7)
        } else {
            (
                2_100 + i64::from(p) * 5,
                invented(999_991),
                1_000.0,
                pci_after,
            )
        };
        let side = if p % 2 == 0 { -2_200.0 } else { 2_200.0 };
        let mut m = report(
            p % 40,
            t,
            8_000.0 + dx + side,
            50.0 * f64::from(p % 7),
            key,
            77,
        );
        m.pci = Some(pci);
        blaster_broadcast(&mut m, p);
        v.push(m);
    }
    v
}

#[test]
fn a_blaster_back_on_its_own_radio_after_a_pause_continues_its_case() {
    let cfg = FakeBtsConfig::default();
    // the pause is longer than the link gap, shorter than a case stays open
    assert!(1_800_000 > cfg.link_gap_ms() && 1_800_000 < cfg.case_idle_evict_ms());
    let mut v = blaster_back_after_a_pause(7);
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 1, "{finals:#?}");
    assert_eq!(finals[0].identities.len(), 2, "{:?}", finals[0].identities);
}

#[test]
fn another_radio_after_the_link_gap_is_a_case_of_its_own() {
    // same channel, another PCI/BSIC: another transmitter, not the blaster back
    let mut v = blaster_back_after_a_pause(9);
    let cases = run(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 2, "{finals:#?}");
}
