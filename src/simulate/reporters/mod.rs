//! Reporting devices (monitoring probes, crowd-sourced app users, operator MDT
//! reports) moving through the city by random waypoints and reporting at their
//! own intervals: the cell they camp on (`serving.rs`) or, when a rogue transmitter
//! in reach captures the phone, the transmitter's identity (`capture.rs`); with the
//! `cells` knobs, also brief camps on GSM cells heard far away (`overshoot.rs`).
//!
//! Knob-driven behaviour (the transmitters the knobs add, overshoot, 2G-only phones)
//! draws from a stream of its own, swapped in by [`Reporters::with_extra_stream`].

mod capture;
mod overshoot;
mod serving;

use super::city::{population_point, to_latlon, City, OPERATORS};
use super::fakes::Transmitter;
use super::knobs::{CellKnobs, ReportField, ReportProfile, Reports};
use super::output::{Delivery, FeedWriter};
use super::pseudonym::Pseudonymizer;
use super::radio::RadioConfig;
use super::records::MeasurementLine;
use super::util::{diurnal, normal, stream, uniform, uniform_u32, weighted_index, SimRng};
use super::{SimulateError, STEP_MS};
use crate::model::Rat;
use rand::Rng;

/// The default scenario's transmitters come first in the list a step gets; the
/// ones knobs add follow and use the extra stream.
pub(crate) const DEFAULT_TRANSMITTERS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mobility {
    /// A fixed monitoring station of the regulator.
    Fixed,
    Walk,
    Vehicle,
}

/// Tunables of the reporter population.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReporterParams {
    pub(crate) count: usize,
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
    /// when it may be captured again (blaster); `i64::MAX` once it barred it.
    fake_state: Vec<i64>,
    /// A 2G-only phone (a knob): camps on GSM cells only.
    gsm_only: bool,
}

/// The reporter population and its per-step generator.
pub(crate) struct Reporters {
    reporters: Vec<Reporter>,
    radio: RadioConfig,
    rng: SimRng,
    near: Vec<usize>,
    /// The stream of knob-driven behaviour; swapped with `rng` while it is used.
    extra_rng: SimRng,
    /// Whether `rng` is the extra stream just now.
    in_extra: bool,
    /// Chance per report of a brief camp on a GSM cell heard far away.
    overshoot_probability: f64,
    /// Per transmitter: phones it caught so far (paces `max_captures`).
    captures: Vec<u32>,
    /// Which optional fields each kind of device sends (the `reports` knobs).
    profiles: Reports,
    /// Per transmitter: event time of the first report a phone it captured wrote
    /// (truth's `first_heard_ms`).
    first_heard: Vec<Option<i64>>,
}

/// `line` as a device of `profile` sends it: without the fields it leaves out.
fn shape<'a>(line: &MeasurementLine<'a>, profile: &ReportProfile) -> MeasurementLine<'a> {
    let mut l = line.clone();
    for field in &profile.omit {
        match field {
            ReportField::AccuracyM => l.accuracy_m = None,
            ReportField::Arfcn => l.arfcn = None,
            ReportField::Pci => l.pci = None,
            ReportField::SignalDbm => l.signal_dbm = None,
            ReportField::Ta => l.ta = None,
            ReportField::Neighbors => l.neighbors = None,
            ReportField::Cipher => l.cipher = None,
            ReportField::SmsSender => l.sms_sender = None,
        }
    }
    l
}

/// Source, mobility, report interval (s) and GPS accuracy (m) of a new reporter:
/// a few fixed and drive-test probes, app users (fewer reports) and operator MDT.
fn reporter_kind(
    rng: &mut SimRng,
    operator: usize,
) -> (&'static str, Mobility, (u32, u32), (f64, f64)) {
    let r: f64 = rng.random();
    if r < 0.02 {
        ("probe", Mobility::Fixed, (60, 60), (2.0, 5.0))
    } else if r < 0.06 {
        ("probe", Mobility::Vehicle, (60, 60), (3.0, 10.0))
    } else if r < 0.66 {
        ("app", walk_or_drive(rng, 0.7), (120, 300), (5.0, 50.0))
    } else {
        let m = walk_or_drive(rng, 0.6);
        (OPERATORS[operator].0, m, (60, 300), (8.0, 50.0))
    }
}

/// A walker with probability `p_walk`, else a vehicle.
fn walk_or_drive(rng: &mut SimRng, p_walk: f64) -> Mobility {
    if rng.random_bool(p_walk) {
        Mobility::Walk
    } else {
        Mobility::Vehicle
    }
}

/// Where a reporter's GPS puts it: an accuracy drawn from its range and a position
/// off by about that much; `(accuracy_m, lat, lon)`.
fn gps_fix(rng: &mut SimRng, r: &Reporter) -> (f64, f64, f64) {
    let acc = uniform(rng, r.accuracy.0, r.accuracy.1);
    let (lat, lon) = to_latlon(r.x + acc / 1.5 * normal(rng), r.y + acc / 1.5 * normal(rng));
    (acc, lat, lon)
}

impl Reporters {
    pub(crate) fn generate(
        params: ReporterParams,
        start_ms: i64,
        pseudo: &Pseudonymizer,
        mut rng: SimRng,
    ) -> Reporters {
        let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
        let mut reporters = Vec::with_capacity(params.count);
        for i in 0..params.count {
            let operator = weighted_index(&mut rng, &shares);
            let (source, mobility, interval, accuracy) = reporter_kind(&mut rng, operator);
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
                fake_state: vec![i64::MIN; DEFAULT_TRANSMITTERS],
                gsm_only: false,
            });
        }
        Reporters {
            reporters,
            radio: RadioConfig::default(),
            rng,
            near: Vec::with_capacity(64),
            extra_rng: stream(0, "reporters/unused"),
            in_extra: false,
            overshoot_probability: 0.0,
            captures: vec![0; DEFAULT_TRANSMITTERS],
            profiles: Reports::default(),
            first_heard: vec![None; DEFAULT_TRANSMITTERS],
        }
    }

    /// Apply the `cells` knobs (2G-only phones, overshoot) and the `reports` knobs
    /// (which fields each kind of device sends), and make room for
    /// `transmitters` rogue transmitters; knob-driven draws come from streams of
    /// `seed`.
    pub(crate) fn configure(
        &mut self,
        knobs: &CellKnobs,
        reports: &Reports,
        transmitters: usize,
        seed: u64,
    ) {
        self.profiles = reports.clone();
        self.extra_rng = stream(seed, "reporters/extra");
        if knobs.gsm_overshoot_share > 0.0 {
            self.overshoot_probability = knobs.overshoot_report_probability;
        }
        self.captures = vec![0; transmitters.max(DEFAULT_TRANSMITTERS)];
        self.first_heard = vec![None; transmitters.max(DEFAULT_TRANSMITTERS)];
        let mut rng = stream(seed, "reporters/gsm_only");
        for r in &mut self.reporters {
            r.fake_state
                .resize(transmitters.max(DEFAULT_TRANSMITTERS), i64::MIN);
            if knobs.gsm_only_reporters > 0.0 {
                r.gsm_only = rng.random_bool(knobs.gsm_only_reporters);
            }
        }
    }

    /// Per transmitter (in the order of the list `step` gets): event time of the
    /// first report written by a phone it captured, `None` if no phone reported it.
    pub(crate) fn first_heard(&self) -> &[Option<i64>] {
        &self.first_heard
    }

    /// Run `f` with the knob-driven stream as `self.rng` (and `in_extra` set).
    fn with_extra_stream<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        std::mem::swap(&mut self.rng, &mut self.extra_rng);
        self.in_extra = true;
        let out = f(self);
        self.in_extra = false;
        std::mem::swap(&mut self.rng, &mut self.extra_rng);
        out
    }

    /// Write a report: the default way, or as a knob-driven record when the extra
    /// stream is in use.
    fn write(
        &self,
        out: &mut FeedWriter,
        line: &MeasurementLine,
        t: i64,
        late_eligible: bool,
    ) -> Result<(), SimulateError> {
        let profile = self.profiles.of_source(line.source);
        let shaped;
        let line = if profile.omit.is_empty() {
            line
        } else {
            shaped = shape(line, profile);
            &shaped
        };
        if self.in_extra {
            out.push_extra(line, t, Delivery::OnTime)
        } else {
            out.push(line, t, late_eligible)
        }
    }

    /// Generate every report with a timestamp in `[step_start, step_start + 5 min)`.
    pub(crate) fn step(
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

    /// One report of reporter `ri` at `t`: on the transmitter that captures it, or
    /// on the real cell it camps on.
    fn report(
        &mut self,
        ri: usize,
        t: i64,
        city: &City,
        fakes: &[Transmitter],
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let Some((cell, best_rx)) = self.camp(ri, t, city) else {
            return Ok(());
        };
        if self.captured(ri, t, best_rx, fakes, out)? {
            return Ok(());
        }
        self.report_on_cell(ri, t, cell, city, out)?;
        if self.overshoot_probability > 0.0 {
            self.with_extra_stream(|me| me.overshoot(ri, t, city, out))?;
        }
        Ok(())
    }
}
