//! SMS-volume records from the SIMs' activity, as each operator's feed profile says
//! (docs/simulator.md, "Feed profiles"): 60-s profiles split a step into minute
//! records, 300-s ones write one record per step, longer ones sum their steps into one
//! record; the optional fields the profile omits are left out; the profile's share of
//! `window_start`s are RFC 3339 text; some records are re-sent and one batch per
//! period is delivered late. The defaults are the default scenario's: 45201 every
//! 900 s without `offnet_out`, 45202 every 60 s with 30 % local-time RFC 3339
//! timestamps, 45204 every 300 s.

use super::activity::{add_fp, Activity};
use super::population::Behaviour;
use super::Sims;
use crate::simulate::city::OPERATORS;
use crate::simulate::knobs::{SmsField, TextOffset};
use crate::simulate::output::{Delivery, FeedWriter};
use crate::simulate::records::{FpCount, SmsLine, Ts};
use crate::simulate::util::{diurnal, diurnal_mean, uniform_u32};
use crate::simulate::{SimulateError, STEP_MS};
use rand::Rng;

const DAY_MS: i64 = 86_400_000;

impl Sims {
    /// Generate and write the records of step `step` (starting at `step_start`).
    pub(crate) fn step(
        &mut self,
        step: usize,
        step_start: i64,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let day_factor = diurnal(step_start) / diurnal_mean();
        for si in 0..self.population.sims.len() {
            let Some(act) = self.activity(si, step_start, day_factor) else {
                continue;
            };
            match self.window_secs(si) {
                60 => self.emit_split(si, step, step_start, act, out)?,
                300 => self.emit(si, step, step_start, 300, &act, out)?,
                _ => match &mut self.pending[si] {
                    Some(p) => p.merge(act),
                    slot @ None => {
                        *slot = Some(act);
                        self.touched.push(si as u32);
                    }
                },
            }
        }
        self.flush_long_windows(step, step_start, out)
    }

    /// The reporting interval of SIM `si`'s operator, seconds.
    fn window_secs(&self, si: usize) -> u32 {
        self.feeds.of(self.population.sims[si].operator).window_secs
    }

    /// Write the aggregates of the long windows that end with step `step` (starting
    /// at `step_start`), in SIM order.
    fn flush_long_windows(
        &mut self,
        step: usize,
        step_start: i64,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        let mut keep = Vec::new();
        for &si in &touched {
            let secs = self.window_secs(si as usize);
            let steps = (secs / 300) as usize;
            if (step + 1) % steps != 0 {
                keep.push(si);
                continue;
            }
            if let Some(mut act) = self.pending[si as usize].take() {
                act.distinct = act.distinct.min(act.so);
                act.new = act.new.min(act.distinct);
                let window_start = step_start - (steps as i64 - 1) * STEP_MS;
                self.emit(si as usize, step, window_start, secs, &act, out)?;
            }
        }
        self.touched = keep;
        Ok(())
    }

    /// Split a 5-minute activity of a 60-s operator into minute records.
    fn emit_split(
        &mut self,
        si: usize,
        step: usize,
        step_start: i64,
        act: Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let mut subs: [Activity; 5] = Default::default();
        // A SIM activated inside the step only acts in the minutes after activation.
        let first =
            ((self.population.sims[si].active_from - step_start).max(0) / 60_000).min(4) as usize;
        let rng = if si < self.default_sims {
            &mut self.rng
        } else {
            &mut self.extra_rng
        };
        for s in subs.iter_mut() {
            s.cell = act.cell;
            s.device = act.device;
        }
        // Messages: each to a minute, with its fingerprint.
        let mut fp_units: Vec<u64> = Vec::with_capacity(act.so as usize);
        for &(fp, n) in &act.fps {
            fp_units.extend(std::iter::repeat_n(fp, n as usize));
        }
        fp_units.resize(act.so as usize, act.fps.first().map_or(0, |f| f.0));
        for fp in fp_units {
            let s = &mut subs[rng.random_range(first..5)];
            s.so += 1;
            add_fp(&mut s.fps, fp, 1);
        }
        for _ in 0..act.si {
            subs[rng.random_range(first..5)].si += 1;
        }
        for _ in 0..act.co {
            subs[rng.random_range(first..5)].co += 1;
        }
        for _ in 0..act.ci {
            subs[rng.random_range(first..5)].ci += 1;
        }
        for (k, s) in subs.iter_mut().enumerate() {
            if s.so + s.si + s.co + s.ci == 0 {
                continue;
            }
            if s.so > 0 && act.so > 0 {
                let share = f64::from(s.so) / f64::from(act.so);
                s.distinct = ((f64::from(act.distinct) * share).round() as u32).clamp(1, s.so);
                s.new = ((f64::from(act.new) * share).round() as u32).min(s.distinct);
                s.offnet = ((f64::from(act.offnet) * share).round() as u32).min(s.so);
            }
            let s = std::mem::take(s);
            self.emit(si, step, step_start + k as i64 * 60_000, 60, &s, out)?;
        }
        Ok(())
    }

    /// Write one record of SIM `si` for the window starting at `window_start`,
    /// written during step `step`.
    fn emit(
        &mut self,
        si: usize,
        step: usize,
        window_start: i64,
        window_secs: u32,
        a: &Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let sim = &self.population.sims[si];
        let op = sim.operator;
        let profile = self.feeds.of(op);
        let default_sim = si < self.default_sims;
        let rng = if default_sim {
            &mut self.rng
        } else {
            &mut self.extra_rng
        };
        let ts = if rng.random_bool(profile.rfc3339_share) {
            Ts::rfc3339(window_start, profile.rfc3339_offset == TextOffset::Local)
        } else {
            Ts::Ms(window_start)
        };
        let age = sim.age_at_start + ((window_start - self.start_ms).max(0) / DAY_MS) as u32;
        let has_so = a.so > 0;
        let sends = |f: SmsField| profile.sends(f);
        let line = SmsLine {
            operator: OPERATORS[op].0,
            sim: &sim.id,
            window_start: ts,
            window_secs,
            sms_out: a.so,
            sms_in: sends(SmsField::SmsIn).then_some(a.si),
            distinct_recipients: sends(SmsField::DistinctRecipients)
                .then_some(a.distinct.min(a.so)),
            new_recipients: sends(SmsField::NewRecipients)
                .then_some(a.new.min(a.distinct).min(a.so)),
            offnet_out: sends(SmsField::OffnetOut).then_some(a.offnet.min(a.so)),
            calls_out: sends(SmsField::CallsOut).then_some(a.co),
            calls_in: sends(SmsField::CallsIn).then_some(a.ci),
            device: sends(SmsField::Device)
                .then_some(self.population.devices[a.device as usize].as_str()),
            imei_tac: sends(SmsField::ImeiTac).then_some(sim.tac),
            cell: sends(SmsField::Cell).then_some(self.cell_keys[a.cell as usize].as_str()),
            sim_age_days: sends(SmsField::SimAgeDays).then_some(age),
            kyc_verified: sends(SmsField::KycVerified).then_some(sim.kyc),
            content_fps: if has_so && sends(SmsField::ContentFps) {
                a.fps
                    .iter()
                    .filter(|f| f.1 > 0)
                    .map(|&(fp, n)| FpCount::new(fp, n))
                    .collect()
            } else {
                Vec::new()
            },
        };
        let event_ms = window_start + i64::from(window_secs) * 1000;
        let every = (profile.late_batch_every_min / 5) as usize;
        let late_batch = self.late_batch_step[op].is_some_and(|s| step % every == s);
        let delay_ms = if late_batch {
            i64::from(profile.late_batch_delay_min) * 60_000
        } else {
            0
        };
        if late_batch {
            out.push_extra(&line, event_ms, Delivery::Delayed { delay_ms })?;
        } else if default_sim {
            let ordinary = matches!(sim.behaviour, Behaviour::Normal);
            out.push(&line, event_ms, ordinary)?;
        } else {
            out.push_extra(&line, event_ms, Delivery::OnTime)?;
        }
        if profile.redeliver_share > 0.0 && self.feed_rng.random_bool(profile.redeliver_share) {
            let [lo, hi] = profile.redeliver_delay_secs;
            let delay_ms = i64::from(uniform_u32(&mut self.feed_rng, lo, hi)) * 1000;
            out.push_extra(&line, event_ms, Delivery::Redelivered { delay_ms })?;
        }
        self.note_carried(si, a.so, event_ms + delay_ms);
        Ok(())
    }
}
