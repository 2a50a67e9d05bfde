//! Reports without the optional fields (issue 11): an app's report carries neither
//! cipher nor neighbour list, nor channel, PCI/BSIC or timing advance. Such a report
//! leaves the transmitter's flags unknown, never "no": a transmitter heard by probes
//! with a null cipher and by apps without one is one transmitter, and unknown flags
//! never make two clean cells one.

use super::index::CellIndex;
use super::rules::{check_report, ReportCheck};
use super::signature::{Flag, Signature};
use super::tests::{city, finals, reason, report, run, single_case, LAT, LON, M_LAT, M_LON};
use super::FakeBtsDetector;
use crate::config::FakeBtsConfig;
use crate::model::{CellKey, CellMeasurement, MeasurementEvent};

fn key(lac: u32, cid: u64) -> CellKey {
    CellKey {
        mcc: 452,
        mnc: 4,
        lac,
        cid,
    }
}

/// What an app sends of a report: no cipher, neighbours, timing advance, channel or
/// PCI/BSIC.
fn bare(mut m: CellMeasurement) -> CellMeasurement {
    m.cipher = None;
    m.neighbors = None;
    m.ta = None;
    m.arfcn = None;
    m.pci = None;
    m
}

/// A blaster driving east at 10 m/s with a new invented identity (a LAC no cell of
/// the area uses) every five minutes, no ciphering, no neighbours, its own channel;
/// four phones a minute within a kilometre, three of them apps (each identity is
/// first reported by an app), one a probe sending every field.
fn hopping_blaster(minutes: i64) -> (Vec<CellMeasurement>, usize) {
    let mut v = Vec::new();
    for minute in 0..minutes {
        let x = -4_000.0 + minute as f64 * 600.0;
        let identity = key(19_000 + (minute / 5) as u32, 500 + minute as u64 / 5);
        for k in 0..4u32 {
            let r = (minute as u32 * 4 + k) % 200;
            let a = f64::from(r) * 2.4;
            let d = 200.0 + 150.0 * f64::from(k % 3);
            let mut m = report(
                r,
                minute * 60 + i64::from(k) * 12,
                x + d * a.cos(),
                d * a.sin(),
                identity,
                90,
            );
            m.cipher = Some("A5/0".into());
            m.neighbors = Some(0);
            m.signal_dbm = Some((47.0 - 78.0 - 32.0 * (d / 100.0).log10()) as f32);
            m.ta = Some(u16::from(k == 2));
            m.event = if k == 1 {
                MeasurementEvent::SmsReceived
            } else {
                MeasurementEvent::Camped
            };
            v.push(if k == 2 { m } else { bare(m) });
        }
    }
    (v, (minutes as usize).div_ceil(5))
}

#[test]
fn a_blaster_heard_by_probes_with_a5_0_and_by_apps_without_cipher_is_one_case() {
    let (mut v, identities) = hopping_blaster(40);
    let cases = run(&mut v);
    let c = single_case(&finals(&cases));
    assert_eq!(c.identities.len(), identities, "{c:#?}");
    // the null cipher the probes saw is kept, its share over the reports that had a
    // cipher: all of them
    let null = reason(c, "NULL_CIPHER").expect("null cipher reason");
    assert_eq!(null.value, 1.0, "{null:?}");
    assert!(reason(c, "NO_NEIGHBOURS").is_some(), "{c:#?}");
    assert!(!c.track.is_empty(), "{c:#?}");
    let loc = c.location.expect("located");
    let (x, y) = ((loc.lon - LON) * M_LON, (loc.lat - LAT) * M_LAT);
    let true_x = -4_000.0 + 39.0 * 600.0;
    assert!((x - true_x).hypot(y) < 800.0, "at {x:.0},{y:.0}");
}

#[test]
fn a_stationary_fake_first_heard_by_apps_is_one_case_that_knows_its_null_cipher() {
    // one invented identity; every phone an app except one probe in four
    let k = key(19_500, 4_242);
    let mut v: Vec<CellMeasurement> = (0..60u32)
        .map(|p| {
            let a = f64::from(p) * 2.1;
            let d = 300.0 + 20.0 * f64::from(p % 30);
            let mut m = report(p, 60 * i64::from(p), d * a.cos(), d * a.sin(), k, 95);
            m.cipher = Some("A5/0".into());
            m.neighbors = Some(0);
            m.signal_dbm = Some((43.0 - 78.0 - 32.0 * (d / 100.0).log10()) as f32);
            if p % 4 == 3 {
                m
            } else {
                bare(m)
            }
        })
        .collect();
    let cases = run(&mut v);
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(reason(f[0], "NULL_CIPHER").is_some(), "{:#?}", f[0]);
}

/// Two new cells missing from the inventory (unregistered, in the area's LAC, nothing
/// forged-looking), 600 m apart, on air from the same minute and heard only by apps.
#[test]
fn two_clean_cells_with_unknown_flags_are_not_merged() {
    let (a, b) = (key(14_203, 9_001), key(14_203, 9_002));
    let mut v = Vec::new();
    for p in 0..40u32 {
        for (j, (k, x)) in [(a, 0.0), (b, 600.0)].into_iter().enumerate() {
            let r = p * 2 + j as u32;
            let ang = f64::from(r) * 1.7;
            let mut m = report(
                r,
                30 * i64::from(p),
                x + 200.0 * ang.cos(),
                200.0 * ang.sin(),
                k,
                75,
            );
            m.signal_dbm = Some(-75.0);
            v.push(bare(m));
        }
    }
    v.sort_by_key(|m| m.ts_ms);
    let mut d =
        FakeBtsDetector::with_index(FakeBtsConfig::default(), CellIndex::from_sites(city()))
            .unwrap();
    let mut out = Vec::new();
    for m in &v {
        d.on_measurement(m, &mut out);
    }
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.transmitters.first().emitters.len(), 2);
    for e in d.transmitters.first().emitters.values() {
        assert_eq!(e.identities.len(), 1, "{:?}", e.identities);
        assert!(!e.signature.suspicious());
    }
    assert!(d.transmitters.first().suspicious.is_empty());
}

fn check_of(m: &CellMeasurement) -> ReportCheck {
    check_report(m, None, &FakeBtsConfig::default())
}

#[test]
fn an_absent_field_is_an_unknown_flag_that_agrees_and_is_learnt() {
    let k = key(19_999, 5);
    let mut probe = report(1, 0, 0.0, 0.0, k, 71);
    probe.cipher = Some("A5/0".into());
    probe.neighbors = Some(0);
    let app = bare(probe.clone());
    let mut clean = probe.clone();
    clean.cipher = Some("A5/1".into());
    clean.neighbors = Some(6);
    let (p, a, c) = (
        Signature::of(&probe, &check_of(&probe)),
        Signature::of(&app, &check_of(&app)),
        Signature::of(&clean, &check_of(&clean)),
    );
    assert_eq!((p.null_cipher, p.few_neighbours), (Flag::Yes, Flag::Yes));
    assert_eq!(
        (a.null_cipher, a.few_neighbours),
        (Flag::Unknown, Flag::Unknown)
    );
    assert_eq!((c.null_cipher, c.few_neighbours), (Flag::No, Flag::No));
    assert!(p.suspicious() && !a.suspicious() && !c.suspicious());
    // unknown agrees with either; known flags that differ do not
    assert!(a.compatible(&p) && p.compatible(&a) && a.compatible(&c));
    assert!(a.linkable(&p) && p.linkable(&a));
    assert!(!p.compatible(&c) && !p.linkable(&c));
    // an unregistered identity with unknown flags may be a forged broadcast's next
    // identity; one known clean may not
    assert!(a.may_link(&check_of(&app)) && !c.may_link(&check_of(&clean)));
    // learnt from the first report that carries a field, never unlearnt
    let mut s = a;
    assert!(s.learn(&p));
    assert_eq!(
        (s.null_cipher, s.few_neighbours, s.arfcn),
        (Flag::Yes, Flag::Yes, Some(71))
    );
    assert!(!s.learn(&a) && !s.learn(&c));
    assert_eq!(s, p);
}
