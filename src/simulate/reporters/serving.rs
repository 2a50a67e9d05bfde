//! Reports on real cells: the cell a phone camps on (the strongest of its network,
//! LTE preferred, with reselection hysteresis) and the ordinary report on it, with
//! the background events of a real network (reselection, circuit-switched fallback
//! to GSM, rare rejects, legitimate SMS from brands).

use super::{gps_fix, Reporters};
use crate::model::Rat;
use crate::simulate::city::{round6, City, MCC};
use crate::simulate::output::FeedWriter;
use crate::simulate::radio::timing_advance;
use crate::simulate::records::{MeasurementLine, Ts};
use crate::simulate::util::normal;
use crate::simulate::SimulateError;
use rand::Rng;

/// Senders of legitimate SMS received on real cells (brand names and OTPs).
const LEGIT_SENDERS: [&str; 8] = [
    "Viettel",
    "VinaPhone",
    "MobiFone",
    "Vietcombank",
    "Shopee",
    "Grab",
    "EVNHANOI",
    "Techcombank",
];

/// Cells beyond 4 km are never the best server in this city; skip them.
const MAX_D2: f64 = 4_000.0 * 4_000.0;
/// Reselection hysteresis: stay on the current cell unless another is this much better.
const HYSTERESIS_DB: f64 = 4.0;

impl Reporters {
    /// The real cell reporter `ri` camps on at `t` (the strongest of its home network
    /// on air, LTE preferred, GSM only for a 2G-only phone) and its received level,
    /// dBm; `None` without any cell.
    pub(super) fn camp(&mut self, ri: usize, t: i64, city: &City) -> Option<(usize, f64)> {
        let (x, y, op, gsm_only) = {
            let r = &self.reporters[ri];
            (r.x, r.y, r.operator, r.gsm_only)
        };
        city.cells_near(op, x, y, &mut self.near);
        if self.near.is_empty() {
            city.cells_near(op, 0.0, 0.0, &mut self.near);
        }
        let current = self.reporters[ri].serving;
        let mut best: Option<(usize, f64, f64)> = None; // (cell, score, rx)
        for &ci in &self.near {
            let c = &city.cells[ci];
            if !c.on_air_at(t) || (gsm_only && c.rat != Rat::Gsm) {
                continue;
            }
            let d2 = (c.x - x) * (c.x - x) + (c.y - y) * (c.y - y);
            if d2 > MAX_D2 && best.is_some() {
                continue;
            }
            let rx = c.eirp_dbm - self.radio.path_loss_db_sq(d2)
                + self.radio.shadowing_db(ci as u64, x, y);
            if rx < self.radio.sensitivity_dbm && best.is_some() {
                continue;
            }
            let prio = match c.rat {
                Rat::Lte | Rat::Nr => 8.0,
                Rat::Umts => 3.0,
                Rat::Gsm => 0.0,
            };
            let hyst = if current == Some(ci) {
                HYSTERESIS_DB
            } else {
                0.0
            };
            let score = if rx < self.radio.sensitivity_dbm {
                rx - 50.0
            } else {
                rx + prio + hyst
            };
            if best.is_none_or(|b| score > b.1) {
                best = Some((ci, score, rx));
            }
        }
        best.map(|(ci, _, rx)| (ci, rx))
    }

    /// The event of an ordinary report, and the SMS sender when it is a received SMS.
    fn real_event(&mut self, reselected: bool) -> (&'static str, Option<&'static str>) {
        let roll: f64 = self.rng.random();
        if roll < 0.003 {
            // Legitimate SMS (OTP, operator notice) while camped on a real cell.
            (
                "sms_received",
                Some(LEGIT_SENDERS[self.rng.random_range(0..LEGIT_SENDERS.len())]),
            )
        } else if roll < 0.004 {
            ("reject", None)
        } else if reselected && roll < 0.15 {
            ("reselect", None)
        } else {
            ("camped", None)
        }
    }

    /// The ordinary report of reporter `ri` at `t`, camped on real cell `cell_i`.
    pub(super) fn report_on_cell(
        &mut self,
        ri: usize,
        t: i64,
        cell_i: usize,
        city: &City,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let (x, y, op) = {
            let r = &self.reporters[ri];
            (r.x, r.y, r.operator)
        };
        let c = &city.cells[cell_i];
        let reselected = self.reporters[ri].serving.is_some_and(|s| s != cell_i);
        let (event, sender) = self.real_event(reselected);
        // Circuit-switched fallback: an LTE phone on a voice call drops to 2G/3G.
        let (c, event) = if c.rat == Rat::Lte && self.rng.random_bool(0.002) {
            match city.nearest(op, x, y, |k| k.rat == Rat::Gsm && k.on_air_at(t)) {
                Some(g) => (&city.cells[g], "rat_downgrade"),
                None => (c, event),
            }
        } else {
            (c, event)
        };
        let d = (c.x - x).hypot(c.y - y);
        let rx =
            self.radio
                .received_dbm(c.eirp_dbm, d, self.radio.shadowing_db(cell_i as u64, x, y));
        let signal = self.radio.reported_signal(
            c.rat,
            rx + self.radio.fast_fading_sigma_db * normal(&mut self.rng),
        );
        let ta = timing_advance(c.rat, (d + 40.0 * normal(&mut self.rng)).max(0.0));
        // Cells announce 4–12 neighbours, a few (a knob) 0–2.
        let (lo, hi) = if c.neighbors >= 4 {
            (4, 12)
        } else {
            (0, i32::from(c.neighbors) + 1)
        };
        let neighbors =
            (i32::from(c.neighbors) + self.rng.random_range(-1..=1)).clamp(lo, hi) as u16;
        let r = &self.reporters[ri];
        let (acc, lat, lon) = gps_fix(&mut self.rng, r);
        let ts = if self.rng.random_bool(0.03) {
            Ts::rfc3339(t, self.rng.random_bool(0.5))
        } else {
            Ts::Ms(t)
        };
        let line = MeasurementLine {
            source: r.source,
            reporter: &r.id,
            ts,
            lat: round6(lat),
            lon: round6(lon),
            // Some app reports come without a GPS accuracy (network location).
            accuracy_m: if r.source == "app" && self.rng.random_bool(0.03) {
                None
            } else {
                Some((acc * 10.0).round() / 10.0)
            },
            rat: c.rat.as_str(),
            mcc: MCC,
            mnc: c.mnc(),
            lac: c.lac,
            cid: c.cid,
            arfcn: Some(c.arfcn),
            pci: Some(c.pci),
            signal_dbm: Some(signal),
            ta,
            neighbors: Some(neighbors),
            cipher: Some(c.cipher),
            event: if event == "camped" && self.rng.random_bool(0.5) {
                None
            } else {
                Some(event)
            },
            sms_sender: sender,
        };
        self.write(out, &line, t, true)?;
        let rat = c.rat;
        let r = &mut self.reporters[ri];
        r.serving = Some(cell_i);
        r.serving_rat = rat;
        Ok(())
    }
}
