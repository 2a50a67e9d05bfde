//! Phones captured by a rogue transmitter of their network: the blasters catch a
//! phone briefly (downgrade → phishing SMS → optional reject within ~10 s, again at
//! the earliest 15 min later); the stationary, low-power and static-clone ones hold
//! it while it stays in reach; the IMSI catcher rejects it once, after which the
//! phone bars its location area for good. A captured phone reports the
//! transmitter's broadcast identity instead of a real cell.

use super::{Reporters, DEFAULT_TRANSMITTERS};
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
        let op = self.reporters[ri].operator;
        for (index, f) in fakes.iter().enumerate() {
            if f.operator != op || !f.active(t) {
                continue;
            }
            let captured = if index < DEFAULT_TRANSMITTERS {
                self.capture_by(ri, t, best_rx, index, f, out)?
            } else {
                self.with_extra_stream(|me| me.capture_by(ri, t, best_rx, index, f, out))?
            };
            if captured {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether transmitter `index` (`f`, of the phone's network, on air) captures
    /// reporter `ri` at `t`; the captured reports are written.
    fn capture_by(
        &mut self,
        ri: usize,
        t: i64,
        best_rx: f64,
        index: usize,
        f: &Transmitter,
        out: &mut FeedWriter,
    ) -> Result<bool, SimulateError> {
        let (x, y) = {
            let r = &self.reporters[ri];
            (r.x, r.y)
        };
        let (fx, fy) = f.position(t);
        let d = (fx - x).hypot(fy - y);
        if d > 6_000.0 {
            return Ok(false);
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
        match f.kind {
            FakeKind::MovingBlaster | FakeKind::CloningBlaster => {
                self.blasted(ri, t, &contact, out)
            }
            FakeKind::Stationary | FakeKind::LowPower | FakeKind::StaticClone => {
                self.held(ri, t, &contact, out)
            }
            FakeKind::ImsiCatcher => self.rejected(ri, t, &contact, out),
        }
    }

    /// The IMSI catcher: a phone in reach that has not barred it yet attempts a
    /// location update, is rejected and bars the location area for good.
    fn rejected(
        &mut self,
        ri: usize,
        t: i64,
        c: &Contact,
        out: &mut FeedWriter,
    ) -> Result<bool, SimulateError> {
        let barred = self.reporters[ri].fake_state[c.index] == i64::MAX;
        if barred || !c.in_reach || !self.paced(t, c) {
            return Ok(false);
        }
        if self.rng.random::<f64>() >= c.fake.capture_probability {
            return Ok(false);
        }
        self.captures[c.index] += 1;
        self.reporters[ri].fake_state[c.index] = i64::MAX;
        self.emit_fake(ri, t, c, "reject", None, out)?;
        Ok(true)
    }

    /// Whether the transmitter of `c` may catch one more phone at `t` under its
    /// `max_captures` (at most that many times the elapsed share of its window,
    /// rounded up).
    fn paced(&self, t: i64, c: &Contact) -> bool {
        let Some(max) = c.fake.max_captures else {
            return true;
        };
        let f = c.fake;
        let len = (f.active_to_ms - f.active_from_ms).max(1) as f64;
        let share = ((t - f.active_from_ms) as f64 / len).clamp(0.0, 1.0);
        let allowed = (f64::from(max) * share).ceil() as u32;
        self.captures[c.index] < allowed.max(1)
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
        let stationary = matches!(c.fake.kind, FakeKind::Stationary | FakeKind::StaticClone);
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
            neighbors: Some(b.neighbors),
            cipher: f.cipher.as_deref(),
            event: Some(event),
            sms_sender: sender,
        };
        let first = &mut self.first_heard[c.index];
        *first = Some(first.map_or(t, |f| f.min(t)));
        self.write(out, &line, t, false)
    }
}
