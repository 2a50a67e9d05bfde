//! GSM cells heard far beyond their site (a `cells` knob): a high mast, a GSM 900
//! carrier or propagation over the river carries a cell 4–12 km, and a phone there
//! now and then camps on it briefly with a weak signal and the timing advance of the
//! true distance. Legitimate, but its reports lie far beyond the inventory's range.

use super::Reporters;
use crate::model::Rat;
use crate::simulate::city::{round6, City, MCC};
use crate::simulate::output::FeedWriter;
use crate::simulate::radio::timing_advance;
use crate::simulate::records::{MeasurementLine, Ts};
use crate::simulate::util::{normal, uniform, uniform_u32};
use crate::simulate::SimulateError;
use rand::Rng;

/// Distances at which an overshooting cell is heard, metres.
const OVERSHOOT_M: std::ops::Range<f64> = 4_000.0..12_000.0;

impl Reporters {
    /// After reporter `ri`'s report at `t`: with the knob's probability, a brief camp
    /// on an overshooting GSM cell of its network, a few seconds later.
    pub(super) fn overshoot(
        &mut self,
        ri: usize,
        t: i64,
        city: &City,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        if !self.rng.random_bool(self.overshoot_probability) {
            return Ok(());
        }
        let (x, y, op) = {
            let r = &self.reporters[ri];
            (r.x, r.y, r.operator)
        };
        let far: Vec<usize> = (0..city.cells.len())
            .filter(|&i| {
                let c = &city.cells[i];
                c.overshoot
                    && c.operator == op
                    && c.on_air_at(t)
                    && OVERSHOOT_M.contains(&(c.x - x).hypot(c.y - y))
            })
            .collect();
        if far.is_empty() {
            return Ok(());
        }
        let ci = far[self.rng.random_range(0..far.len())];
        let c = &city.cells[ci];
        let d = (c.x - x).hypot(c.y - y);
        // What carries it this far: a few dB above the city's path loss.
        let gain = uniform(&mut self.rng, 5.0, 15.0);
        let rx = self
            .radio
            .received_dbm(c.eirp_dbm, d, self.radio.shadowing_db(ci as u64, x, y))
            + gain;
        if rx < self.radio.sensitivity_dbm {
            return Ok(());
        }
        let signal = self.radio.reported_signal(
            Rat::Gsm,
            rx + self.radio.fast_fading_sigma_db * normal(&mut self.rng),
        );
        let at = t + i64::from(uniform_u32(&mut self.rng, 1, 20)) * 1000;
        let r = &self.reporters[ri];
        let (acc, lat, lon) = super::gps_fix(&mut self.rng, r);
        let line = MeasurementLine {
            source: r.source,
            reporter: &r.id,
            ts: Ts::Ms(at),
            lat: round6(lat),
            lon: round6(lon),
            accuracy_m: Some((acc * 10.0).round() / 10.0),
            rat: Rat::Gsm.as_str(),
            mcc: MCC,
            mnc: c.mnc(),
            lac: c.lac,
            cid: c.cid,
            arfcn: Some(c.arfcn),
            pci: Some(c.pci),
            signal_dbm: Some(signal),
            ta: timing_advance(Rat::Gsm, d),
            neighbors: Some(c.neighbors),
            cipher: Some(c.cipher),
            event: Some("reselect"),
            sms_sender: None,
        };
        self.write(out, &line, at, false)
    }
}
