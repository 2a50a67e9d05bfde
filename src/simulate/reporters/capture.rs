//! Phones captured by a rogue transmitter of their network: the moving blaster
//! catches a phone briefly (downgrade → phishing SMS → optional reject within
//! ~10 s, again at the earliest 15 min later); the stationary and low-power ones
//! hold it while it stays in reach. A captured phone reports the transmitter's
//! broadcast identity instead of a real cell.

use super::Reporters;
use crate::model::Rat;
use crate::simulate::city::round6;
use crate::simulate::fakes::{FakeKind, Transmitter};
use crate::simulate::output::FeedWriter;
use crate::simulate::radio::timing_advance;
use crate::simulate::records::{MeasurementLine, Ts};
use crate::simulate::util::{normal, uniform_u32};
use crate::simulate::SimulateError;
use rand::Rng;

/// Brand names a captured phone shows as sender of a blaster SMS (bank phishing).
const PHISHING_SENDERS: [&str; 8] = [
    "Vietcombank",
    "VietinBank",
    "Techcombank",
    "BIDV",
    "MBBank",
    "VPBank",
    "Agribank",
    "ACB",
];

/// A rogue transmitter as one phone sees it.
struct Contact<'a> {
    /// Index of the transmitter (into the reporter's `fake_state`).
    index: usize,
    fake: &'a Transmitter,
    distance_m: f64,
    rx_dbm: f64,
    /// Strong enough to be heard and close enough to the best real cell to capture.
    in_reach: bool,
}

impl Reporters {
    /// Whether a rogue transmitter of reporter `ri`'s network captures it at `t`
    /// (`best_rx`: level of its best real cell); the captured reports are written.
    pub(super) fn captured(
        &mut self,
        ri: usize,
        t: i64,
        best_rx: f64,
        fakes: &[Transmitter],
        out: &mut FeedWriter,
    ) -> Result<bool, SimulateError> {
        let (x, y, op) = {
            let r = &self.reporters[ri];
            (r.x, r.y, r.operator)
        };
        for (index, f) in fakes.iter().enumerate() {
            if f.operator != op || !f.active(t) {
                continue;
            }
            let (fx, fy) = f.position(t);
            let d = (fx - x).hypot(fy - y);
            if d > 6_000.0 {
                continue;
            }
            let rx =
                self.radio
                    .received_dbm(f.eirp_dbm, d, self.radio.shadowing_db(f.shadow_key, x, y));
            let contact = Contact {
                index,
                fake: f,
                distance_m: d,
                rx_dbm: rx,
                in_reach: rx >= -102.0 && rx + f.capture_margin_db >= best_rx,
            };
            let captured = match f.kind {
                FakeKind::MovingBlaster => self.blasted(ri, t, &contact, out)?,
                FakeKind::Stationary | FakeKind::LowPower => self.held(ri, t, &contact, out)?,
            };
            if captured {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The moving blaster: capture → downgrade → SMS → release within ~10 s; again
    /// at the earliest 15 min later.
    fn blasted(
        &mut self,
        ri: usize,
        t: i64,
        c: &Contact,
        out: &mut FeedWriter,
    ) -> Result<bool, SimulateError> {
        let state = self.reporters[ri].fake_state[c.index];
        if !(c.in_reach && t >= state && self.rng.random::<f64>() < c.fake.capture_probability) {
            return Ok(false);
        }
        self.reporters[ri].fake_state[c.index] = t + 900_000;
        let first = if self.reporters[ri].serving_rat != Rat::Gsm {
            "rat_downgrade"
        } else {
            "camped"
        };
        self.emit_fake(ri, t, c, first, None, out)?;
        let t2 = self.phishing_sms(ri, t, (2, 6), c, out)?;
        if self.rng.random_bool(0.3) {
            let t3 = t2 + i64::from(uniform_u32(&mut self.rng, 1, 4)) * 1000;
            self.emit_fake(ri, t3, c, "reject", None, out)?;
        }
        self.reporters[ri].serving_rat = Rat::Gsm;
        Ok(true)
    }

    /// The stationary and low-power transmitters: a phone in reach is captured and
    /// held (the stationary one downgrades it, rejects some, sends phishing SMS);
    /// released when it leaves the reach.
    fn held(
        &mut self,
        ri: usize,
        t: i64,
        c: &Contact,
        out: &mut FeedWriter,
    ) -> Result<bool, SimulateError> {
        let held = self.reporters[ri].fake_state[c.index] >= t;
        let stationary = c.fake.kind == FakeKind::Stationary;
        if c.in_reach && (held || self.rng.random::<f64>() < c.fake.capture_probability) {
            self.reporters[ri].fake_state[c.index] = t + 600_000;
            let newly = !held;
            let event = if newly && self.reporters[ri].serving_rat != Rat::Gsm && stationary {
                "rat_downgrade"
            } else if stationary && self.rng.random_bool(0.08) {
                "reject"
            } else {
                "camped"
            };
            self.emit_fake(ri, t, c, event, None, out)?;
            if stationary && newly && self.rng.random_bool(0.35) {
                self.phishing_sms(ri, t, (3, 9), c, out)?;
            }
            self.reporters[ri].serving_rat = Rat::Gsm;
            self.reporters[ri].serving = None;
            return Ok(true);
        }
        if held && !c.in_reach {
            self.reporters[ri].fake_state[c.index] = i64::MIN;
        }
        Ok(false)
    }

    /// A phishing SMS received from the transmitter `delay_s` (a range, seconds)
    /// after `t`; when it was received.
    fn phishing_sms(
        &mut self,
        ri: usize,
        t: i64,
        delay_s: (u32, u32),
        c: &Contact,
        out: &mut FeedWriter,
    ) -> Result<i64, SimulateError> {
        let sender = PHISHING_SENDERS[self.rng.random_range(0..PHISHING_SENDERS.len())];
        let received = t + i64::from(uniform_u32(&mut self.rng, delay_s.0, delay_s.1)) * 1000;
        self.emit_fake(ri, received, c, "sms_received", Some(sender), out)?;
        Ok(received)
    }

    /// Write the report of reporter `ri` captured by the transmitter of `c` at `t`.
    fn emit_fake(
        &mut self,
        ri: usize,
        t: i64,
        c: &Contact,
        event: &'static str,
        sender: Option<&'static str>,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let f = c.fake;
        let b = f.broadcast(t);
        let r = &self.reporters[ri];
        let (acc, lat, lon) = super::gps_fix(&mut self.rng, r);
        let signal = self.radio.reported_signal(
            Rat::Gsm,
            c.rx_dbm + self.radio.fast_fading_sigma_db * normal(&mut self.rng),
        );
        let line = MeasurementLine {
            source: r.source,
            reporter: &r.id,
            ts: Ts::Ms(t),
            lat: round6(lat),
            lon: round6(lon),
            accuracy_m: Some((acc * 10.0).round() / 10.0),
            rat: Rat::Gsm.as_str(),
            mcc: b.cell.mcc,
            mnc: b.cell.mnc,
            lac: b.cell.lac,
            cid: b.cell.cid,
            arfcn: b.cell.arfcn,
            pci: Some(b.pci),
            signal_dbm: Some(signal),
            ta: timing_advance(Rat::Gsm, c.distance_m),
            neighbors: Some(f.neighbors),
            cipher: Some(f.cipher),
            event: Some(event),
            sms_sender: sender,
        };
        out.push(&line, t, false)
    }
}
