//! SMS-volume records from the SIMs' activity, in each operator's reporting
//! interval: 45201 sums three steps into one 900-s record (no `offnet_out`), 45202
//! splits a step into 60-s records (30 % RFC 3339 timestamps in local time), 45204
//! writes one 300-s record per step.

use super::activity::{add_fp, Activity};
use super::population::Behaviour;
use super::{Sims, WINDOW_SECS};
use crate::simulate::city::OPERATORS;
use crate::simulate::output::FeedWriter;
use crate::simulate::records::{FpCount, SmsLine, Ts};
use crate::simulate::util::{diurnal, diurnal_mean};
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
            match WINDOW_SECS[self.population.sims[si].operator] {
                900 => match &mut self.pending[si] {
                    Some(p) => p.merge(act),
                    slot @ None => {
                        *slot = Some(act);
                        self.touched.push(si as u32);
                    }
                },
                60 => self.emit_split(si, step_start, act, out)?,
                _ => self.emit(si, step_start, 300, &act, out)?,
            }
        }
        // Flush the 900-s aggregates at the end of each quarter hour.
        if step % 3 == 2 {
            self.flush_quarter_hour(step_start - 2 * STEP_MS, out)?;
        }
        Ok(())
    }

    /// Write the 900-s aggregates of the window starting at `window_start`.
    fn flush_quarter_hour(
        &mut self,
        window_start: i64,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        for &si in &touched {
            if let Some(act) = self.pending[si as usize].take() {
                let mut act = act;
                act.distinct = act.distinct.min(act.so);
                act.new = act.new.min(act.distinct);
                self.emit(si as usize, window_start, 900, &act, out)?;
            }
        }
        touched.clear();
        self.touched = touched;
        Ok(())
    }

    /// Split a 5-minute activity of a 60-s operator into minute records.
    fn emit_split(
        &mut self,
        si: usize,
        step_start: i64,
        act: Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let mut subs: [Activity; 5] = Default::default();
        // A SIM activated inside the step only acts in the minutes after activation.
        let first =
            ((self.population.sims[si].active_from - step_start).max(0) / 60_000).min(4) as usize;
        let rng = &mut self.rng;
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
            self.emit(si, step_start + k as i64 * 60_000, 60, &s, out)?;
        }
        Ok(())
    }

    /// Write one record of SIM `si` for the window starting at `window_start`.
    fn emit(
        &mut self,
        si: usize,
        window_start: i64,
        window_secs: u32,
        a: &Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let sim = &self.population.sims[si];
        let op = sim.operator;
        let text_ts = if op == 1 { 0.3 } else { 0.01 };
        let ts = if self.rng.random_bool(text_ts) {
            Ts::rfc3339(window_start, op == 1)
        } else {
            Ts::Ms(window_start)
        };
        let age = sim.age_at_start + ((window_start - self.start_ms).max(0) / DAY_MS) as u32;
        let has_so = a.so > 0;
        let line = SmsLine {
            operator: OPERATORS[op].0,
            sim: &sim.id,
            window_start: ts,
            window_secs,
            sms_out: a.so,
            sms_in: Some(a.si),
            distinct_recipients: Some(a.distinct.min(a.so)),
            new_recipients: Some(a.new.min(a.distinct).min(a.so)),
            // 45201 does not report off-net counts.
            offnet_out: if op == 0 {
                None
            } else {
                Some(a.offnet.min(a.so))
            },
            calls_out: Some(a.co),
            calls_in: Some(a.ci),
            device: Some(&self.population.devices[a.device as usize]),
            imei_tac: Some(sim.tac),
            cell: Some(&self.cell_keys[a.cell as usize]),
            sim_age_days: Some(age),
            kyc_verified: Some(sim.kyc),
            content_fps: if has_so {
                a.fps
                    .iter()
                    .filter(|f| f.1 > 0)
                    .map(|&(fp, n)| FpCount::new(fp, n))
                    .collect()
            } else {
                Vec::new()
            },
        };
        let ordinary = matches!(sim.behaviour, Behaviour::Normal);
        out.push(
            &line,
            window_start + i64::from(window_secs) * 1000,
            ordinary,
        )
    }
}
