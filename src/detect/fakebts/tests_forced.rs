//! Detector-level tests of a registered identity heard unciphered in place where the
//! inventory lists no channel (`cipher.rs`): a clone of a nearby cell on a channel of
//! its own that forces every phone it catches down to 2G is a case; a legacy cell
//! without ciphering, reached by 2G-only phones and the odd circuit-switched fallback,
//! is not, nor a clone heard by fewer than `forced_min_phones` phones.

use super::index::Site;
use super::tests::{city, finals, reason, report, run_over, LAT, LON, M_LAT, M_LON, T0};
use crate::model::{Case, CellMeasurement, MeasurementEvent};

/// `city()` with no channel in the inventory (an operator that sends no `arfcn`
/// column).
fn city_without_channels() -> Vec<Site> {
    city()
        .into_iter()
        .map(|s| Site { arfcn: None, ..s })
        .collect()
}

fn run_without_channels(reports: &mut [CellMeasurement]) -> Vec<Case> {
    run_over(city_without_channels(), reports)
}

/// Where `city()[60]`'s site is, local metres.
fn site_xy() -> (f64, f64) {
    let s = city()[60];
    ((s.lon - LON) * M_LON, (s.lat - LAT) * M_LAT)
}

/// `phones` phones, one every 10 minutes from minute 20, each heard three times
/// 40 s apart around `(x, y)` on `city()[60]`'s identity on channel `arfcn`: every
/// third a probe reporting `cipher`, the others apps without cipher, neighbours or
/// timing advance; a phone's first report is a downgrade when `forced(p)`.
fn phones_of(
    phones: u32,
    (x, y): (f64, f64),
    arfcn: u32,
    cipher: &str,
    forced: impl Fn(u32) -> bool,
) -> Vec<CellMeasurement> {
    let key = city()[60].key;
    let mut v = Vec::new();
    for p in 0..phones {
        let a = f64::from(p) * 1.7;
        let r = 60.0 + 30.0 * f64::from(p % 4);
        for j in 0..3i64 {
            let t = 1_200 + i64::from(p) * 600 + j * 40;
            let mut m = report(200 + p, t, x + r * a.cos(), y + r * a.sin(), key, arfcn);
            m.signal_dbm = Some((-50.0 - r / 10.0) as f32);
            if p % 3 == 0 {
                m.source = "probe".into();
                m.cipher = Some(cipher.into());
            } else {
                m.cipher = None;
                m.neighbors = None;
                m.ta = None;
            }
            if j == 0 && forced(p) {
                m.event = MeasurementEvent::RatDowngrade;
            }
            v.push(m);
        }
    }
    v
}

/// The clone: 800 m east of the real site (within its reach), on another channel,
/// without ciphering, forcing every phone it catches down to 2G.
fn clone_reports(phones: u32) -> (Vec<CellMeasurement>, (f64, f64)) {
    let (sx, sy) = site_xy();
    let at = (sx + 800.0, sy);
    let arfcn = city()[60].arfcn.unwrap() + 7;
    (phones_of(phones, at, arfcn, "A5/0", |_| true), at)
}

#[test]
fn a_clone_forcing_every_phone_down_on_an_inventory_without_channels_is_a_case() {
    let (mut v, (cx, cy)) = clone_reports(8);
    let cases = run_without_channels(&mut v);
    let finals = finals(&cases);
    assert_eq!(finals.len(), 1, "{finals:#?}");
    let c = finals[0];
    let forced = reason(c, "REJECTS_EVERY_PHONE").expect("forced-down reason");
    assert!(forced.value >= 3.0, "{forced:?}");
    assert_eq!(forced.threshold, 3.0);
    assert!(reason(c, "NULL_CIPHER").is_some(), "{:?}", c.reasons);
    // opened at the third phone's first report: the identity's phones are its
    // transmitter's witnesses
    let opened = cases.iter().map(|c| c.opened_at).min().unwrap();
    assert_eq!(opened, T0 + (1_200 + 2 * 600) * 1000);
    let loc = c.location.unwrap();
    let (x, y) = ((loc.lon - LON) * M_LON, (loc.lat - LAT) * M_LAT);
    assert!(
        (x - cx).hypot(y - cy) < 200.0,
        "located at {x:.0}, {y:.0}, clone at {cx:.0}, {cy:.0}"
    );
}

#[test]
fn a_clone_heard_by_fewer_phones_than_forced_min_phones_is_not_a_case() {
    let (mut v, _) = clone_reports(2);
    assert!(run_without_channels(&mut v).is_empty());
}

#[test]
fn a_legacy_cell_without_ciphering_and_the_odd_fallback_is_not_a_case() {
    // the real cell itself, unciphered for every phone, at its site: a third of its
    // phones came by circuit-switched fallback (a downgrade), the others are 2G-only
    let (sx, sy) = site_xy();
    let arfcn = city()[60].arfcn.unwrap();
    let mut v = phones_of(18, (sx, sy), arfcn, "A5/0", |p| p % 3 == 1);
    assert!(run_without_channels(&mut v).is_empty());
    // nor when it is heard by three phones only, one of them downgraded
    let mut v = phones_of(3, (sx, sy), arfcn, "A5/0", |p| p == 1);
    assert!(run_without_channels(&mut v).is_empty());
}
