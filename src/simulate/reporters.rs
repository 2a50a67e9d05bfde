//! Reporting devices (monitoring probes, crowd-sourced app users, operator MDT
//! reports) moving through the city and reporting the cell they camp on; phones in
//! reach of a rogue transmitter get captured and report its identity.

use super::city::{population_point, round6, to_latlon, City, MCC, OPERATORS};
use super::fakes::{FakeKind, Transmitter};
use super::output::FeedWriter;
use super::pseudonym::Pseudonymizer;
use super::radio::{timing_advance, RadioConfig};
use super::records::{MeasurementLine, Ts};
use super::util::{diurnal, normal, uniform, uniform_u32, weighted_index, SimRng};
use super::{SimulateError, STEP_MS};
use crate::model::Rat;
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mobility {
    /// A fixed monitoring station of the regulator.
    Fixed,
    Walk,
    Vehicle,
}

/// Tunables of the reporter population.
#[derive(Debug, Clone, Copy)]
pub struct ReporterParams {
    pub count: usize,
}

struct Reporter {
    id: String,
    source: &'static str,
    operator: usize,
    mobility: Mobility,
    x: f64,
    y: f64,
    wx: f64,
    wy: f64,
    speed: f64,
    pause_until: i64,
    last_t: i64,
    next_report: i64,
    interval: (u32, u32),
    accuracy: (f64, f64),
    serving: Option<usize>,
    serving_rat: Rat,
    /// Per transmitter: until when this phone is held (stationary / low-power) or
    /// when it may be captured again (blaster).
    fake_state: [i64; 3],
}

/// The reporter population and its per-step generator.
pub struct Reporters {
    reporters: Vec<Reporter>,
    radio: RadioConfig,
    rng: SimRng,
    near: Vec<usize>,
}

impl Reporters {
    pub fn generate(
        params: ReporterParams,
        start_ms: i64,
        pseudo: &Pseudonymizer,
        mut rng: SimRng,
    ) -> Reporters {
        let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
        let mut reporters = Vec::with_capacity(params.count);
        for i in 0..params.count {
            let operator = weighted_index(&mut rng, &shares);
            let r: f64 = rng.random();
            let (source, mobility, interval, accuracy) = if r < 0.02 {
                ("probe", Mobility::Fixed, (60, 60), (2.0, 5.0))
            } else if r < 0.06 {
                ("probe", Mobility::Vehicle, (60, 60), (3.0, 10.0))
            } else if r < 0.66 {
                let m = if rng.random_bool(0.7) {
                    Mobility::Walk
                } else {
                    Mobility::Vehicle
                };
                ("app", m, (120, 300), (5.0, 50.0))
            } else {
                let m = if rng.random_bool(0.6) {
                    Mobility::Walk
                } else {
                    Mobility::Vehicle
                };
                (OPERATORS[operator].0, m, (60, 300), (8.0, 50.0))
            };
            let tac = [
                "35332510", "35391110", "35260011", "86471503", "86928705", "35875209",
            ][i % 6];
            let (x, y) = population_point(&mut rng);
            let (wx, wy) = population_point(&mut rng);
            let speed = match mobility {
                Mobility::Fixed => 0.0,
                Mobility::Walk => uniform(&mut rng, 0.8, 1.5),
                Mobility::Vehicle => uniform(&mut rng, 4.0, 12.0),
            };
            reporters.push(Reporter {
                id: pseudo.imei(tac, 500_000 + i as u32),
                source,
                operator,
                mobility,
                x,
                y,
                wx,
                wy,
                speed,
                pause_until: start_ms,
                last_t: start_ms,
                next_report: start_ms + i64::from(uniform_u32(&mut rng, 0, interval.1)) * 1000,
                interval,
                accuracy,
                serving: None,
                serving_rat: Rat::Lte,
                fake_state: [i64::MIN; 3],
            });
        }
        Reporters {
            reporters,
            radio: RadioConfig::default(),
            rng,
            near: Vec::with_capacity(64),
        }
    }

    /// Generate every report with a timestamp in `[step_start, step_start + 5 min)`.
    pub fn step(
        &mut self,
        step_start: i64,
        city: &City,
        fakes: &[Transmitter],
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let step_end = step_start + STEP_MS;
        for ri in 0..self.reporters.len() {
            while self.reporters[ri].next_report < step_end {
                let t = self.reporters[ri].next_report;
                let (lo, hi) = self.reporters[ri].interval;
                let next = t + i64::from(uniform_u32(&mut self.rng, lo, hi)) * 1000;
                self.reporters[ri].next_report = next;
                self.advance(ri, t);
                // App users report less at night.
                if self.reporters[ri].source == "app"
                    && self.rng.random::<f64>() > 0.3 + 0.7 * diurnal(t).min(1.0)
                {
                    continue;
                }
                self.report(ri, t, city, fakes, out)?;
            }
        }
        Ok(())
    }

    /// Move reporter `ri` to its position at `t` (random waypoints with pauses).
    fn advance(&mut self, ri: usize, t: i64) {
        let rng = &mut self.rng;
        let r = &mut self.reporters[ri];
        let mut now = r.last_t.max(r.pause_until);
        while now < t && r.mobility != Mobility::Fixed {
            let dist = (r.wx - r.x).hypot(r.wy - r.y);
            let dt = (t - now) as f64 / 1000.0;
            if dist <= r.speed * dt {
                now += (dist / r.speed * 1000.0) as i64;
                r.x = r.wx;
                r.y = r.wy;
                let pause = match r.mobility {
                    Mobility::Fixed => 0,
                    Mobility::Walk => uniform_u32(rng, 60, 1_800),
                    Mobility::Vehicle => uniform_u32(rng, 30, 900),
                };
                now += i64::from(pause) * 1000;
                r.pause_until = now;
                let (wx, wy) = population_point(rng);
                r.wx = wx;
                r.wy = wy;
            } else {
                let f = r.speed * dt / dist;
                r.x += (r.wx - r.x) * f;
                r.y += (r.wy - r.y) * f;
                now = t;
            }
        }
        r.last_t = t;
    }

    fn report(
        &mut self,
        ri: usize,
        t: i64,
        city: &City,
        fakes: &[Transmitter],
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let (x, y, op) = {
            let r = &self.reporters[ri];
            (r.x, r.y, r.operator)
        };
        // Camp on the strongest real cell of the home network (LTE preferred).
        city.cells_near(op, x, y, &mut self.near);
        if self.near.is_empty() {
            city.cells_near(op, 0.0, 0.0, &mut self.near);
        }
        // Cells beyond 4 km are never the best server in this city; skip them.
        const MAX_D2: f64 = 4_000.0 * 4_000.0;
        /// Reselection hysteresis: stay on the current cell unless another is this much better.
        const HYSTERESIS_DB: f64 = 4.0;
        let current = self.reporters[ri].serving;
        let mut best: Option<(usize, f64, f64)> = None; // (cell, score, rx)
        for &ci in &self.near {
            let c = &city.cells[ci];
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
        let Some((cell_i, _, best_rx)) = best else {
            return Ok(());
        };

        // A rogue transmitter of the same network in reach may capture the phone.
        for (fi, f) in fakes.iter().enumerate() {
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
            let in_reach = rx >= -102.0 && rx + f.capture_margin_db >= best_rx;
            let state = self.reporters[ri].fake_state[fi];
            match f.kind {
                FakeKind::MovingBlaster => {
                    if in_reach && t >= state && self.rng.random::<f64>() < f.capture_probability {
                        // Capture → downgrade → SMS → release within ~10 s; again at
                        // the earliest 15 min later.
                        self.reporters[ri].fake_state[fi] = t + 900_000;
                        let first = if self.reporters[ri].serving_rat != Rat::Gsm {
                            "rat_downgrade"
                        } else {
                            "camped"
                        };
                        self.emit_fake(ri, t, f, d, rx, first, None, out)?;
                        let sender =
                            PHISHING_SENDERS[self.rng.random_range(0..PHISHING_SENDERS.len())];
                        let t2 = t + i64::from(uniform_u32(&mut self.rng, 2, 6)) * 1000;
                        self.emit_fake(ri, t2, f, d, rx, "sms_received", Some(sender), out)?;
                        if self.rng.random_bool(0.3) {
                            let t3 = t2 + i64::from(uniform_u32(&mut self.rng, 1, 4)) * 1000;
                            self.emit_fake(ri, t3, f, d, rx, "reject", None, out)?;
                        }
                        self.reporters[ri].serving_rat = Rat::Gsm;
                        return Ok(());
                    }
                }
                FakeKind::Stationary | FakeKind::LowPower => {
                    let held = state >= t;
                    if in_reach && (held || self.rng.random::<f64>() < f.capture_probability) {
                        self.reporters[ri].fake_state[fi] = t + 600_000;
                        let newly = !held;
                        let event = if newly
                            && self.reporters[ri].serving_rat != Rat::Gsm
                            && f.kind == FakeKind::Stationary
                        {
                            "rat_downgrade"
                        } else if f.kind == FakeKind::Stationary && self.rng.random_bool(0.08) {
                            "reject"
                        } else {
                            "camped"
                        };
                        self.emit_fake(ri, t, f, d, rx, event, None, out)?;
                        if f.kind == FakeKind::Stationary && newly && self.rng.random_bool(0.35) {
                            let sender =
                                PHISHING_SENDERS[self.rng.random_range(0..PHISHING_SENDERS.len())];
                            let t2 = t + i64::from(uniform_u32(&mut self.rng, 3, 9)) * 1000;
                            self.emit_fake(ri, t2, f, d, rx, "sms_received", Some(sender), out)?;
                        }
                        self.reporters[ri].serving_rat = Rat::Gsm;
                        self.reporters[ri].serving = None;
                        return Ok(());
                    }
                    if held && !in_reach {
                        self.reporters[ri].fake_state[fi] = i64::MIN;
                    }
                }
            }
        }

        // Ordinary report on the real cell.
        let c = &city.cells[cell_i];
        let reselected = self.reporters[ri].serving.is_some_and(|s| s != cell_i);
        let roll: f64 = self.rng.random();
        let (event, sender) = if roll < 0.003 {
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
        };
        // Circuit-switched fallback: an LTE phone on a voice call drops to 2G/3G.
        let (c, event) = if c.rat == Rat::Lte && self.rng.random_bool(0.002) {
            match city.nearest(op, x, y, |k| k.rat == Rat::Gsm) {
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
        let neighbors =
            (i32::from(c.neighbors) + self.rng.random_range(-1..=1)).clamp(4, 12) as u16;
        let r = &self.reporters[ri];
        let acc = uniform(&mut self.rng, r.accuracy.0, r.accuracy.1);
        let (lat, lon) = to_latlon(
            x + acc / 1.5 * normal(&mut self.rng),
            y + acc / 1.5 * normal(&mut self.rng),
        );
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
        out.push(&line, t, true)?;
        let rat = c.rat;
        let r = &mut self.reporters[ri];
        r.serving = Some(cell_i);
        r.serving_rat = rat;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_fake(
        &mut self,
        ri: usize,
        t: i64,
        f: &Transmitter,
        d: f64,
        rx: f64,
        event: &'static str,
        sender: Option<&'static str>,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let b = f.broadcast(t);
        let r = &self.reporters[ri];
        let acc = uniform(&mut self.rng, r.accuracy.0, r.accuracy.1);
        let (lat, lon) = to_latlon(
            r.x + acc / 1.5 * normal(&mut self.rng),
            r.y + acc / 1.5 * normal(&mut self.rng),
        );
        let signal = self.radio.reported_signal(
            Rat::Gsm,
            rx + self.radio.fast_fading_sigma_db * normal(&mut self.rng),
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
            ta: timing_advance(Rat::Gsm, d),
            neighbors: Some(f.neighbors),
            cipher: Some(f.cipher),
            event: Some(event),
            sms_sender: sender,
        };
        out.push(&line, t, false)
    }
}
