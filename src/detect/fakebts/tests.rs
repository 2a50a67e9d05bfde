//! Detector-level tests of the situations the per-report rules cannot judge alone:
//! the low-power IMSI catcher (a few rejected phones over a long horizon), the SMS
//! blaster cloning distant real cells (one case across identities and channels), and
//! the legitimate look-alikes (legacy 2G cells without ciphering or with few
//! neighbours, a legacy cell heard far away, a new cell missing from the inventory).

use super::index::{CellIndex, Site};
use super::FakeBtsDetector;
use crate::config::FakeBtsConfig;
use crate::model::{Case, CellKey, CellMeasurement, MeasurementEvent, Rat};

pub(super) const T0: i64 = 1_800_000_000_000;
pub(super) const LAT: f64 = 21.03;
pub(super) const LON: f64 = 105.85;
/// Metres per degree of latitude / of longitude at `LAT`.
pub(super) const M_LAT: f64 = 110_574.0;
pub(super) const M_LON: f64 = 103_900.0;

fn key(lac: u32, cid: u64) -> CellKey {
    CellKey {
        mcc: 452,
        mnc: 4,
        lac,
        cid,
    }
}

/// A GSM site `(dx, dy)` metres from the origin.
fn site(k: CellKey, dx: f64, dy: f64, arfcn: u32) -> Site {
    Site {
        rat: Rat::Gsm,
        key: k,
        lat: LAT + dy / M_LAT,
        lon: LON + dx / M_LON,
        range_m: 2_000.0,
        arfcn: Some(arfcn),
        pci: None,
        eirp_dbm: Some(55.0),
    }
}

/// A grid of registered GSM cells (LAC 14 203) every 2 km over ±10 km.
pub(super) fn city() -> Vec<Site> {
    let mut v = Vec::new();
    let mut cid = 1_000;
    for i in -5..=5 {
        for j in -5..=5 {
            cid += 1;
            v.push(site(
                key(14_203, cid),
                f64::from(i) * 2_000.0,
                f64::from(j) * 2_000.0,
                60 + (cid % 20) as u32,
            ));
        }
    }
    v
}

/// A report of `k` by `reporter` at `(dx, dy)` metres, `ts_s` seconds after T0.
pub(super) fn report(
    reporter: u32,
    ts_s: i64,
    dx: f64,
    dy: f64,
    k: CellKey,
    arfcn: u32,
) -> CellMeasurement {
    CellMeasurement {
        source: "app".into(),
        reporter: format!("phone-{reporter:04}").into(),
        ts_ms: T0 + ts_s * 1000,
        lat: LAT + dy / M_LAT,
        lon: LON + dx / M_LON,
        accuracy_m: Some(10.0),
        rat: Rat::Gsm,
        cell: k,
        arfcn: Some(arfcn),
        pci: Some(7),
        signal_dbm: Some(-70.0),
        ta: Some(0),
        neighbors: Some(6),
        cipher: Some("A5/1".into()),
        event: MeasurementEvent::Camped,
        sms_sender: None,
    }
}

/// A blaster's broadcast as phone `p` hears it: unciphered, no neighbours, timing
/// advance 1, −60 dBm, and every third phone forced down to 2G.
pub(super) fn blaster_broadcast(m: &mut CellMeasurement, p: u32) {
    m.cipher = Some("A5/0".into());
    m.neighbors = Some(0);
    m.ta = Some(1);
    m.signal_dbm = Some(-60.0);
    if p % 3 == 0 {
        m.event = MeasurementEvent::RatDowngrade;
    }
}

pub(super) fn run(reports: &mut [CellMeasurement]) -> Vec<Case> {
    run_over(city(), reports)
}

/// [`run`] over the registered cells `sites`.
pub(super) fn run_over(sites: Vec<Site>, reports: &mut [CellMeasurement]) -> Vec<Case> {
    run_with(FakeBtsConfig::default(), sites, reports)
}

/// [`run_over`] with the configuration `cfg`.
pub(super) fn run_with(
    cfg: FakeBtsConfig,
    sites: Vec<Site>,
    reports: &mut [CellMeasurement],
) -> Vec<Case> {
    reports.sort_by_key(|m| m.ts_ms);
    let mut d = FakeBtsDetector::with_index(cfg, CellIndex::from_sites(sites)).unwrap();
    let mut out = Vec::new();
    let mut last_wm = T0;
    for m in reports.iter() {
        if m.ts_ms - last_wm >= 10_000 {
            last_wm = m.ts_ms;
            d.advance(m.ts_ms, &mut out);
        }
        d.on_measurement(m, &mut out);
    }
    d.finish_all(&mut out);
    out
}

/// Latest snapshot per case id.
pub(super) fn finals(cases: &[Case]) -> Vec<&Case> {
    let mut ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .filter_map(|id| cases.iter().rev().find(|c| c.case_id == *id))
        .collect()
}

/// The one final case of `finals` (a failure lists the identities of each).
pub(super) fn single_case<'a>(finals: &[&'a Case]) -> &'a Case {
    assert_eq!(
        finals.len(),
        1,
        "{:#?}",
        finals.iter().map(|c| &c.identities).collect::<Vec<_>>()
    );
    finals[0]
}

pub(super) fn reason<'a>(c: &'a Case, code: &str) -> Option<&'a crate::model::Reason> {
    c.reasons.iter().find(|r| r.code == code)
}

/// The low-power catcher: unknown CID in a LAC no cell uses, two neighbours, no
/// cipher field, one reject per phone, a phone every few minutes.
fn catcher_reports(phones: u32, every_s: i64) -> Vec<CellMeasurement> {
    (0..phones)
        .map(|p| {
            let a = f64::from(p) * 2.1;
            let mut m = report(
                p,
                600 + i64::from(p) * every_s,
                300.0 + 250.0 * a.cos(),
                300.0 + 250.0 * a.sin(),
                key(19_999, 777),
                71,
            );
            m.signal_dbm = Some(-80.0);
            m.neighbors = Some(2);
            m.cipher = None;
            m.event = MeasurementEvent::Reject;
            m
        })
        .collect()
}

#[test]
fn imsi_catcher_opens_one_case_from_a_few_rejected_phones() {
    let cases = run(&mut catcher_reports(10, 900));
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let c = f[0];
    let phones = reason(c, "REJECTS_EVERY_PHONE").expect("rejects reason");
    assert!(phones.value >= 2.0, "{c:#?}");
    assert!(reason(c, "LAC_INCONSISTENT").is_some(), "{c:#?}");
    // opened at the first phone: a reject into a LAC no cell around uses
    assert!(c.opened_at <= T0 + 600 * 1000, "{c:#?}");
}

#[test]
fn one_rejected_phone_opens_only_while_the_refused_area_counts_twice() {
    // the refusal (a reject into a LAC no cell of the network uses around) is the
    // catcher's whole signature: the first phone opens the case, and says it is one
    let cases = run(&mut catcher_reports(1, 900));
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    let phones = reason(f[0], "DISTINCT_REPORTERS").expect("reporters reason");
    assert_eq!(phones.value, 1.0, "{:#?}", f[0]);
    assert!(reason(f[0], "LU_REJECT").is_some(), "{:#?}", f[0]);
    // counted once, one rejected phone or one phone rejected ten times is no catcher
    let once = || FakeBtsConfig {
        single_phone_lac_reject_signs: 1,
        ..FakeBtsConfig::default()
    };
    assert!(run_with(once(), city(), &mut catcher_reports(1, 900)).is_empty());
    let mut one: Vec<CellMeasurement> = catcher_reports(10, 900)
        .into_iter()
        .map(|mut m| {
            m.reporter = "phone-0001".into();
            m
        })
        .collect();
    assert!(run_with(once(), city(), &mut one).is_empty());
}

#[test]
fn a_new_cell_missing_from_the_inventory_rejecting_a_few_phones_is_not_a_case() {
    // a real LAC of the area, most phones camp normally
    let mut v = Vec::new();
    for p in 0..30u32 {
        let mut m = report(
            p,
            i64::from(p) * 120,
            500.0,
            400.0 + f64::from(p),
            key(14_203, 9_999),
            75,
        );
        if p % 6 == 0 {
            m.event = MeasurementEvent::Reject;
        }
        v.push(m);
    }
    assert!(run(&mut v).is_empty());
}

/// A blaster driving east at 10 m/s, cloning registered cells at least 6 km away
/// (their channel and neighbour count copied) every 10 minutes, no ciphering; a
/// few captured phones a minute within 1 km, timing advance 0–1, strong signal.
pub(super) fn cloning_blaster(minutes: i64) -> (Vec<CellMeasurement>, usize) {
    let sites = city();
    let mut v = Vec::new();
    let mut identities = 0;
    let mut clone = sites[0];
    for minute in 0..minutes {
        let x = -4_000.0 + minute as f64 * 600.0;
        if minute % 10 == 0 {
            // a far cell (≥ 6 km from the blaster's position)
            clone = *sites
                .iter()
                .filter(|s| {
                    let dx = (s.lon - LON) * M_LON - x;
                    let dy = (s.lat - LAT) * M_LAT;
                    dx.hypot(dy) > 6_000.0
                })
                .nth(minute as usize * 7 % 40)
                .unwrap();
            identities += 1;
        }
        for k in 0..3u32 {
            let r = (minute as u32 * 3 + k) % 200;
            let a = f64::from(r) * 2.4;
            let d = 200.0 + 150.0 * f64::from(k);
            let mut m = report(
                r,
                minute * 60 + i64::from(k) * 15,
                x + d * a.cos(),
                d * a.sin(),
                clone.key,
                clone.arfcn.unwrap(),
            );
            m.cipher = Some("A5/0".into());
            // 47 dBm on the path-loss model, a little shadowing
            let shadow = [2.0, -3.0, 1.0][(r % 3) as usize];
            m.signal_dbm = Some((47.0 - 78.0 - 32.0 * (d / 100.0).log10() + shadow) as f32);
            m.ta = Some(u16::from(k == 2));
            m.event = if k == 1 {
                MeasurementEvent::SmsReceived
            } else {
                MeasurementEvent::RatDowngrade
            };
            v.push(m);
        }
    }
    (v, identities)
}

#[test]
fn a_blaster_cloning_distant_cells_is_one_case_with_a_track() {
    let (mut v, identities) = cloning_blaster(40);
    let cases = run(&mut v);
    let c = single_case(&finals(&cases));
    assert_eq!(c.identities.len(), identities, "{c:#?}");
    let far = reason(c, "KNOWN_CELL_FAR_FROM_SITE").expect("far reason");
    assert!(far.value > 4.0, "{far:?}");
    let loc = c.location.expect("located");
    assert!(loc.radius_m < 1_500.0, "{loc:?}");
    assert!(!c.track.is_empty(), "{c:#?}");
    // the position is the latest track point, near the blaster's last position
    let (x, y) = ((loc.lon - LON) * M_LON, (loc.lat - LAT) * M_LAT);
    let true_x = -4_000.0 + 39.0 * 600.0;
    assert!((x - true_x).hypot(y) < 800.0, "at {x:.0},{y:.0}");
}

#[test]
fn legacy_2g_cells_without_cipher_or_with_few_neighbours_are_not_cases() {
    let sites = city();
    let mut v = Vec::new();
    for (i, s) in sites.iter().take(20).enumerate() {
        for p in 0..20u32 {
            let (sx, sy) = ((s.lon - LON) * M_LON, (s.lat - LAT) * M_LAT);
            let mut m = report(
                p + 100 * i as u32,
                i64::from(p) * 60,
                sx + 300.0,
                sy,
                s.key,
                s.arfcn.unwrap(),
            );
            m.cipher = Some("A5/0".into());
            m.neighbors = Some(u16::from(p % 2 == 0));
            m.event = match p % 5 {
                0 => MeasurementEvent::RatDowngrade,
                1 => MeasurementEvent::Reject,
                2 => MeasurementEvent::SmsReceived,
                _ => MeasurementEvent::Camped,
            };
            v.push(m);
        }
    }
    assert!(run(&mut v).is_empty());
}

#[test]
fn a_legacy_cell_heard_far_away_is_not_a_clone() {
    let s = city()[60];
    let (sx, sy) = ((s.lon - LON) * M_LON, (s.lat - LAT) * M_LAT);
    let mut v = Vec::new();
    for p in 0..40u32 {
        let d = 6_000.0 + 100.0 * f64::from(p);
        let a = f64::from(p) * 0.3;
        let mut m = report(
            p,
            i64::from(p) * 60,
            sx + d * a.cos(),
            sy + d * a.sin(),
            s.key,
            s.arfcn.unwrap(),
        );
        m.ta = Some((d / 553.5) as u16);
        m.signal_dbm = Some(-98.0);
        m.cipher = Some("A5/0".into());
        m.event = MeasurementEvent::Reselect;
        v.push(m);
    }
    assert!(run(&mut v).is_empty());
}

#[test]
fn absent_fields_are_not_evaluated_and_do_not_dilute_shares() {
    use super::rules::{check_report, Rule};
    let cfg = FakeBtsConfig::default();
    let mut m = report(1, 0, 0.0, 0.0, key(19_999, 5), 71);
    m.cipher = None;
    m.neighbors = None;
    m.ta = None;
    m.signal_dbm = None;
    let c = check_report(&m, None, &cfg);
    for r in [
        Rule::NullCipher,
        Rule::NoNeighbours,
        Rule::TaInconsistent,
        Rule::SignalTooStrong,
    ] {
        assert_eq!(
            c.evaluated & r.bit(),
            0,
            "{r:?} evaluated without its field"
        );
        assert!(!c.has(r));
    }
    assert_ne!(c.evaluated & Rule::CellNotRegistered.bit(), 0);
    // each declared field, removed from a report that evaluates everything it can,
    // stops the rule from being evaluated
    let s = city()[60];
    let full = || {
        let mut m = report(1, 0, 9_000.0, 0.0, s.key, s.arfcn.unwrap() + 1);
        m.ta = Some(0);
        m
    };
    let base = check_report(&full(), Some(&s), &cfg);
    for r in Rule::ALL {
        assert!(!r.needs().is_empty(), "{r:?} declares no fields");
        for field in r.needs() {
            let mut m = full();
            let site = match *field {
                "cipher" => {
                    m.cipher = None;
                    Some(&s)
                }
                "neighbors" => {
                    m.neighbors = None;
                    Some(&s)
                }
                "ta" => {
                    m.ta = None;
                    Some(&s)
                }
                "signal_dbm" => {
                    m.signal_dbm = None;
                    Some(&s)
                }
                "arfcn" => {
                    m.arfcn = None;
                    Some(&s)
                }
                "site" | "site.arfcn" => None,
                _ => continue,
            };
            if base.evaluated & r.bit() == 0 {
                continue;
            }
            let c = check_report(&m, site, &cfg);
            assert_eq!(c.evaluated & r.bit(), 0, "{r:?} evaluated without {field}");
        }
    }
}

/// An unregistered GSM cell in a LAC of the area, without ciphering (a legacy cell
/// missing from the inventory), heard by four phones five minutes apart;
/// `downgraded` of them had a downgrade to 2G on it.
fn null_cipher_cell(downgraded: &[u32]) -> Vec<CellMeasurement> {
    (0..4u32)
        .map(|p| {
            let mut m = report(
                p,
                i64::from(p) * 300,
                300.0 + 40.0 * f64::from(p),
                500.0,
                key(14_203, 9_998),
                75,
            );
            m.cipher = Some("A5/0".into());
            m.signal_dbm = Some(-85.0);
            m.ta = Some(1);
            if downgraded.contains(&p) {
                m.event = MeasurementEvent::RatDowngrade;
            }
            m
        })
        .collect()
}

#[test]
fn one_phone_downgraded_on_a_cell_without_ciphering_is_not_a_case() {
    // one downgrade in three or four reports is a share above min_event_fraction,
    // but one phone's fallback
    assert!(run(&mut null_cipher_cell(&[2])).is_empty());
    // two phones downgraded within the evidence window: the event holds
    let cases = run(&mut null_cipher_cell(&[2, 3]));
    let f = finals(&cases);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(reason(f[0], "RAT_DOWNGRADE").is_some(), "{:#?}", f[0]);
}
