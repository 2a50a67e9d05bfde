//! Tests of two cloning blasters on the road at once: a copy a blaster already
//! carries joins it report by report, an identity found on air beside an older one
//! leaves with its reports (the track rewound to before it), and each blaster ends
//! up with a case of its own holding only its own copies.

use super::emitter::{Emitter, EvidenceSpec};
use super::identity::claimed_cell;
use super::rules::check_report;
use super::signature::Signature;
use super::tests::{blaster_broadcast, city, finals, report, run, T0};
use super::track::{refilter, Kalman, TrackFix};
use crate::config::FakeBtsConfig;
use crate::model::{CellKey, CellMeasurement};

/// A cloning blaster's report of `key` on `arfcn` at `t` seconds, heard by phone
/// `p` around `(x, y)` (local metres), unciphered without neighbours.
fn copy(p: u32, t: i64, x: f64, y: f64, key: CellKey, arfcn: u32) -> CellMeasurement {
    let side = if p % 2 == 0 { -1_500.0 } else { 1_500.0 };
    let mut m = report(p, t, x + side, y + 40.0 * f64::from(p % 5), key, arfcn);
    blaster_broadcast(&mut m, p);
    m
}

/// Blaster A 8 km east of the origin copies `city()[60]` until 600 s, then
/// `city()[61]`; blaster B 3 km north of it comes on air at 150 s copying
/// `city()[71]`, then `city()[72]` from 600 s (both change identity at once). Each
/// heard every 5 s until 1,200 s.
fn two_blasters() -> Vec<CellMeasurement> {
    let s = city();
    let mut v = Vec::new();
    for k in 0..240u32 {
        let t = i64::from(k) * 5;
        let a = if t < 600 { s[60] } else { s[61] };
        v.push(copy(k % 20, t, 8_000.0, 0.0, a.key, a.arfcn.unwrap()));
        if t >= 150 {
            let b = if t < 600 { s[71] } else { s[72] };
            v.push(copy(
                20 + k % 20,
                t + 2,
                8_000.0,
                3_000.0,
                b.key,
                b.arfcn.unwrap(),
            ));
        }
    }
    v
}

#[test]
fn two_cloning_blasters_at_once_are_two_cases_each_with_its_own_copies() {
    let s = city();
    let mut v = two_blasters();
    let cases = run(&mut v);
    let finals = finals(&cases);
    let cid = |i: usize| s[i].key.cid;
    let mut sets: Vec<Vec<u64>> = finals
        .iter()
        .map(|c| {
            let mut ids: Vec<u64> = c.identities.iter().map(|i| i.cid).collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    sets.sort();
    let mut a = vec![cid(60), cid(61)];
    a.sort_unstable();
    let mut b = vec![cid(71), cid(72)];
    b.sort_unstable();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(sets, want, "{finals:#?}");
}

#[test]
fn a_copy_the_blaster_carries_is_taken_on_its_channel_only() {
    let cfg = FakeBtsConfig::default();
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let (s, t) = (city()[60], city()[61]);
    let first = copy(1, 0, 8_000.0, 0.0, s.key, s.arfcn.unwrap());
    let check = check_report(&first, Some(&s), &cfg);
    let mut e = Emitter::new(1, &first, Signature::of(&first, &check));
    e.add_report(&first, &check, 1, &spec, &cfg);
    let second = copy(2, 60, 8_000.0, 0.0, t.key, t.arfcn.unwrap());
    let c2 = check_report(&second, Some(&t), &cfg);
    e.add_report(&second, &c2, 2, &spec, &cfg);
    let sig = Signature::of(&second, &c2);
    // its second copy has another channel than its first signature knows
    assert!(!e.signature.compatible(&sig));
    assert!(e.carries_copy(&claimed_cell(&second), &sig));
    let mut elsewhere = second.clone();
    elsewhere.arfcn = Some(t.arfcn.unwrap() + 1);
    assert!(!e.carries_copy(&claimed_cell(&elsewhere), &sig));
    // a transmitter with a radio of its own links copies report by report
    e.own_radio.push((Some(77), None));
    assert!(!e.carries_copy(&claimed_cell(&second), &sig));
}

#[test]
fn an_identity_on_air_beside_an_older_one_leaves_with_its_reports_and_fixes() {
    let cfg = FakeBtsConfig::default();
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let (s, t) = (city()[60], city()[71]);
    let mut e: Option<Emitter> = None;
    let mut add = |m: &CellMeasurement, site| {
        let check = check_report(m, Some(site), &cfg);
        let e = e.get_or_insert_with(|| Emitter::new(1, m, Signature::of(m, &check)));
        e.add_report(m, &check, u64::from(m.ts_ms as u32), &spec, &cfg);
    };
    for k in 0..12 {
        add(
            &copy(k, i64::from(k) * 10, 8_000.0, 0.0, s.key, s.arfcn.unwrap()),
            &s,
        );
    }
    for k in 0..4 {
        let m = copy(
            20 + k,
            120 + i64::from(k) * 10,
            8_000.0,
            3_000.0,
            t.key,
            t.arfcn.unwrap(),
        );
        add(&m, &t);
    }
    let mut e = e.unwrap();
    assert_eq!(e.identities.len(), 2);
    let r = [[1e4, 0.0], [0.0, 1e4]];
    let fixes: Vec<TrackFix> = vec![
        (T0 + 60_000, 0.0, 0.0, r),
        (T0 + 100_000, 50.0, 0.0, r),
        (T0 + 130_000, 900.0, 2_000.0, r),
    ];
    e.track_fixes = fixes.clone().into();
    e.kalman = refilter(&fixes, cfg.track_accel_noise, 10.0).map(Box::new);
    e.moving = true;
    let older = claimed_cell(&copy(0, 0, 8_000.0, 0.0, s.key, s.arfcn.unwrap()));
    let track = (cfg.track_accel_noise, 10.0);
    // within the grace after the newer one appeared: nothing leaves
    let early = e.detach_coexisting(&older, T0 + 150_000, cfg.unlink_after_ms(), track);
    assert!(early.cells.is_empty());
    let mut out = early;
    for k in 0..4 {
        out = e.detach_coexisting(
            &older,
            T0 + 170_000 + k * 2_000,
            cfg.unlink_after_ms(),
            track,
        );
        if !out.cells.is_empty() {
            break;
        }
    }
    assert_eq!(out.cells.len(), 1);
    assert_eq!(out.cells[0].0.cid, t.key.cid);
    assert_eq!(out.reports.len(), 4);
    assert!(out.reports.iter().all(|o| o.identity == 0));
    assert_eq!(e.identities.len(), 1);
    assert_eq!(e.observations.len(), 12);
    // the fixes since the newer identity came on air (120 s) are forgotten
    assert_eq!(e.track_fixes, fixes[..2].to_vec());
    let k = e.kalman.as_deref().expect("refiltered");
    assert_eq!(k.ts_ms(), T0 + 100_000);
    assert!(e.moving);
    assert!(e.refused.iter().any(|c| c.cid == t.key.cid));
}

#[test]
fn refiltering_is_the_filter_run_over_the_fixes() {
    let r = [[2.5e3, 0.0], [0.0, 2.5e3]];
    let fixes: Vec<TrackFix> = (0..6)
        .map(|i| (i * 60_000, 10.0 * i as f64 * 60.0, 5.0 * i as f64, r))
        .collect();
    let mut k = Kalman::new(0, 0.0, 0.0, r, 0.5, 10.0);
    for f in &fixes[1..] {
        k.update(f.0, f.1, f.2, f.3);
    }
    assert_eq!(refilter(&fixes, 0.5, 10.0), Some(k));
    assert!(refilter(&[], 0.5, 10.0).is_none());
}

/// A candidate split off at `t` seconds, heard once near where the blaster of
/// [`copy`] went quiet: of a registered cell's copy, or of an invented identity.
fn candidate(nid: u64, t: i64, key: CellKey, arfcn: u32, registered: bool) -> Emitter {
    let cfg = FakeBtsConfig::default();
    let s = city();
    let m = copy(7, t, 8_000.0, 0.0, key, arfcn);
    let site = s.iter().find(|x| x.key == key).filter(|_| registered);
    let check = check_report(&m, site, &cfg);
    let spec = EvidenceSpec::covering(cfg.evidence_window_ms()).unwrap();
    let mut n = Emitter::new(nid, &m, Signature::of(&m, &check));
    n.add_report(&m, &check, 7, &spec, &cfg);
    n
}

#[test]
fn an_unlinked_identity_with_a_radio_of_its_own_is_never_handed_to_a_copies_only_blaster() {
    use super::detector::FakeBtsDetector;
    use super::index::CellIndex;
    let s = city();
    let mut d =
        FakeBtsDetector::with_index(FakeBtsConfig::default(), CellIndex::from_sites(s.clone()))
            .unwrap();
    let mut out = Vec::new();
    // a cloning blaster 8 km east of the origin, heard only with copies of city()[60]
    for k in 0..60u32 {
        let m = copy(
            k % 20,
            i64::from(k) * 5,
            8_000.0,
            0.0,
            s[60].key,
            s[60].arfcn.unwrap(),
        );
        d.on_measurement(&m, &mut out);
    }
    let blaster: Vec<u64> = d
        .transmitters
        .first()
        .emitters
        .values()
        .filter(|e| e.case.is_some())
        .map(|e| e.id)
        .collect();
    assert_eq!(blaster.len(), 1, "the blaster has a case");
    assert!(d.transmitters.first().emitters[&blaster[0]]
        .own_radio
        .is_empty());
    // 10 s after it went quiet, where it was: the next copy takes over from it…
    let (a, b) = (900, 901);
    let next = candidate(a, 305, s[61].key, s[61].arfcn.unwrap(), true);
    assert!(next.own_radio.is_empty());
    // …an invented identity on a channel of its own does not: it is another
    // transmitter's (before commit 6874a90, a hopping blaster's identities went to a
    // cloning blaster's case this way)
    let invented = CellKey {
        lac: 14_203,
        cid: 999_999,
        ..s[61].key
    };
    let other = candidate(b, 305, invented, 77, false);
    assert!(!other.own_radio.is_empty());
    for (nid, n) in [(a, next), (b, other)] {
        d.transmitters.first_mut().emitters.insert(nid, Box::new(n));
        d.transmitters.first_mut().suspicious.push(nid);
    }
    assert_eq!(d.transmitters.first().handed_over_to(a), Some(blaster[0]));
    assert_eq!(d.transmitters.first().handed_over_to(b), None);
}
