//! Spam SIMs and SIM farms (rules and parameters: docs/detection.md): event-time
//! sliding windows per SIM, explainable rules scored against a population baseline,
//! and grouping of SIMs into farms.
//!
//! One [`SpamDetector`] consumes validated SMS-volume records; per record:
//!
//! 1. `record.rs`: the SIM's compact state (`state.rs`) gets the record's counts in its
//!    5 min / 1 h / 24 h windows (spread over the buckets the reporting interval covers);
//! 2. `evaluate.rs`: the population baseline (`baseline.rs`) gets the SIM's hourly rate;
//!    when the SIM could open or update a case, every per-SIM rule (`rules.rs`) is
//!    evaluated;
//! 3. `cases.rs`: a `spam_sim` case opens once a volume rule **and** the new-recipient
//!    rule fired and the noisy-OR score reaches `open_score`, and is updated when new
//!    rules fire;
//! 4. `candidate.rs`: SIMs showing weak risk markers are indexed for farm grouping
//!    (`farm/`), which opens and grows `sim_farm` cases;
//! 5. SIMs on the [`Allowlist`] never yield a case (counted in [`SpamStats`]).
//!
//! Event time only: windows, eviction (idle longer than the long window) and baseline
//! refits follow the records' timestamps, never the wall clock. A record for a SIM idle
//! for longer than the long window starts a fresh state whether or not the sweep has
//! already evicted it, so results do not depend on how input is batched.
//!
//! Two stages (docs/streaming.md, "The spam detector's two stages"): the per-SIM part
//! (step 1, the population-sample decision, the features, whether the SIM is hot) is
//! stage A, [`sims::SimStage`]; it hands stage B, [`cross::CrossSim`] (steps 2 to 5),
//! what it found at the records B reads ([`forward::SimForward`] between tasks).
//! Stage B keeps what it needs per SIM itself, keyed by (operator, SIM), and never
//! reads stage A's state.

pub(crate) mod allowlist;
pub(crate) mod baseline;
mod baselines;
mod bursts;
mod candidate;
mod cases;
mod contrary;
pub(crate) mod cross;
mod evaluate;
pub(crate) mod farm;
mod farm_rules;
pub(crate) mod forward;
pub(crate) mod ids;
mod near_miss;
mod record;
pub(crate) mod rules;
pub(crate) mod simhash;
pub(crate) mod sims;
pub(crate) mod state;
mod stats;
mod templates;

pub use allowlist::{AllowEntry, Allowlist, AllowlistError};
pub(crate) use cross::CrossSim;
pub use stats::SpamStats;

use crate::config::{ConfigError, SpamConfig};
use crate::detect::{CaseSink, Detector, Reference};
use crate::model::{Event, Feed, SmsVolume};
use sims::SimStage;
use state::Specs;

/// The spam-SIM and SIM-farm detector.
pub struct SpamDetector {
    /// Stage A: per SIM (windows, features, population samples, hot SIMs).
    stage_a: SimStage,
    /// Stage B: across SIMs (baselines, rules, cases, near misses, farms).
    stage_b: CrossSim,
}

/// When a stage sweeps idle SIMs: once per `eviction_sweep_secs` step of the
/// watermark, at the last step boundary it passed; each stage keeps its own clock and
/// both get the same cutoffs from the same watermarks.
#[derive(Debug, Clone, Copy)]
pub(super) struct SweepClock {
    step_ms: i64,
    long_ms: i64,
    next_ms: Option<i64>,
}

impl SweepClock {
    fn new(config: &SpamConfig) -> Self {
        SweepClock {
            step_ms: i64::from(config.eviction_sweep_secs.max(1)) * 1000,
            long_ms: i64::from(config.long_window_secs) * 1000,
            next_ms: None,
        }
    }

    /// The cutoff (seconds) of a sweep due at this watermark: SIMs last seen before
    /// it are idle longer than the long window.
    fn due(&mut self, watermark_ms: i64) -> Option<u32> {
        let step = self.step_ms;
        let next = *self
            .next_ms
            .get_or_insert((watermark_ms.div_euclid(step) + 1) * step);
        if watermark_ms < next {
            return None;
        }
        let boundary = watermark_ms.div_euclid(step) * step;
        self.next_ms = Some(boundary + step);
        Some(secs_ceil(boundary - self.long_ms))
    }
}

impl SpamDetector {
    /// A detector with this configuration and allowlist. An invalid configuration
    /// (see `SpamConfig::validate`) is refused, never replaced by the defaults.
    pub fn new(config: SpamConfig, allowlist: Allowlist) -> Result<Self, ConfigError> {
        config.validate()?;
        let specs = Specs::new(
            config.short_window_secs,
            config.medium_window_secs,
            config.long_window_secs,
        )
        .expect("validated windows make ring layouts");
        Ok(SpamDetector {
            stage_a: SimStage::new(&config, specs, allowlist),
            stage_b: CrossSim::new(&config),
        })
    }

    /// Its two stages apart (the service runs them in separate tasks when the SMS
    /// internal topic has several partitions).
    pub(crate) fn into_stages(self) -> (SimStage, CrossSim) {
        (self.stage_a, self.stage_b)
    }

    /// Process one SMS-volume record: stage A folds it into the SIM's state, and
    /// stage B acts on what stage A forwards of it.
    pub(crate) fn on_sms(&mut self, r: &SmsVolume, out: &mut dyn CaseSink) {
        let fwd = self.stage_a.on_record(r);
        debug_assert!(
            fwd.is_some_and(|f| f.hot.is_some() || f.restarted) || !self.stage_b.marks_sim(r),
            "stage B never needs a record stage A keeps"
        );
        if let Some(fwd) = fwd {
            self.stage_b.on_forward(&forward::Seen::of(r), &fwd, out);
        }
    }
}

impl Detector for SpamDetector {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::SmsVolume)
    }

    /// SIMs currently tracked.
    fn state_size(&self) -> usize {
        self.stage_a.sims.len()
    }

    fn cases_closed_by_cap(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("spam", self.stage_b.stats.cases_closed_by_cap),
            ("farm", self.stage_b.farm.counters.cases_closed_by_cap),
        ]
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        if let Event::Sms(r) = event {
            self.on_sms(r, out);
        }
    }

    /// `cw.allowlist.v1` updates (key = SIM pseudonym, value = entry or null): the
    /// allowlist changes, and SIMs already tracked get their cached flag refreshed.
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        if kind != Reference::Allowlist {
            return;
        }
        if let Err(e) = self.stage_a.apply_allowlist_update(key, value) {
            tracing::warn!(error = %e, "allowlist update ignored");
        }
    }

    /// Stage A evicts the SIMs idle longer than the long window, stage B ends their
    /// incidents and expires farm groups likewise.
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.stage_a.on_watermark(watermark_ms);
        self.stage_b.on_watermark(watermark_ms, out);
    }

    /// Near misses (`spam_near_miss`): SIMs held back by contrary evidence.
    fn findings(&self) -> Vec<serde_json::Value> {
        self.stage_b.near_misses.findings()
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.stage_b.finish(out);
        let s = self.stats();
        tracing::info!(
            records = s.records,
            tracked_sims = s.tracked_sims,
            spam_cases = s.spam_cases_opened,
            farm_cases = s.farm_cases_opened,
            allowlist_suppressed = s.allowlist_suppressed,
            bytes_per_sim = s.memory_bytes_per_sim,
            "spam detector finished"
        );
    }
}

/// Event time in whole seconds, rounded up (window ends are on whole seconds anyway).
#[inline]
fn secs_ceil(ms: i64) -> u32 {
    (ms.max(0) + 999).div_euclid(1000).min(i64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_stages;

#[cfg(test)]
mod tests_split;
