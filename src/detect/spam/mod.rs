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
//! The per-SIM part (step 1, the population-sample decision and the features) is
//! stage A, [`sims::SimStage`], on the way to running it as tasks of its own
//! (docs/streaming.md, "The spam detector's two stages"): it marks each SIM whose
//! records the cross-SIM part reads (`flag::FORWARDED`), and debug builds check that
//! the rest never acts on a record of another SIM.

pub(crate) mod allowlist;
pub(crate) mod baseline;
mod baselines;
mod candidate;
mod cases;
mod contrary;
mod evaluate;
pub(crate) mod farm;
mod farm_rules;
pub(crate) mod ids;
mod near_miss;
mod record;
pub(crate) mod rules;
pub(crate) mod simhash;
mod sims;
pub(crate) mod state;
mod stats;
mod templates;

pub use allowlist::{AllowEntry, Allowlist, AllowlistError};
pub use stats::SpamStats;

use crate::config::{ConfigError, SpamConfig};
use crate::detect::{CaseSink, Detector, Reference};
use crate::model::{Case, Event, Feed, SmsVolume};
use baseline::BaselineParams;
use baselines::Baselines;
use cases::SimCase;
use farm::{FarmIndex, FarmParams};
use ids::{fast_map, FastMap};
use near_miss::NearMisses;
use record::RecordSpan;
use rules::{confidences, FarmRules, SimRules, ALL_RULES};
use sims::SimStage;
use state::{field, flag, Specs};

/// The spam-SIM and SIM-farm detector.
pub struct SpamDetector {
    config: SpamConfig,
    /// Stage A: per SIM (windows, features, population samples).
    stage_a: SimStage,
    rules: SimRules,
    confidence: [f64; ALL_RULES.len()],
    cases: FastMap<u32, SimCase>,
    baselines: Baselines,
    near_misses: NearMisses,
    templates: templates::SharedTemplates,
    next_refit_ms: i64,
    farm: FarmIndex,
    next_sweep_ms: Option<i64>,
    /// Start of the first record seen (seconds): SIMs first seen then were already
    /// active, their onset is unknown.
    feed_start_s: Option<u32>,
    stats: SpamStats,
    scratch: Vec<Case>,
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
        let confidence = confidences(&config.confidence);
        let farm = FarmIndex::new(FarmParams {
            rules: FarmRules::from_config(&config),
            fp_hamming: config.fp_hamming,
            campaign_window_s: config.campaign_window_secs,
            onset_window_s: config.onset_window_secs,
            recent_s: config.short_window_secs,
            onset_rate_spread: config.onset_rate_spread,
            onset_late_join_s: config.onset_late_join_secs,
            site_onset_s: config.farm_site_onset_secs,
            long_window_s: config.long_window_secs,
            gateway_learn_sims: config.gateway_learn_sims,
            configured_gateway_tacs: config.gateway_tac_values(),
            confidence,
            open_score: config.farm_open_score,
            require_behaviour: config.require_behaviour,
            max_sims_listed: config.max_farm_sims_listed,
            max_open_cases: config.max_open_farm_cases,
        });
        let baselines = Baselines::new(BaselineParams {
            min_samples: f64::from(config.baseline_min_samples),
            trim_quantile: config.baseline_trim_quantile,
            min_rate_per_hour: config.baseline_min_rate_per_hour,
            min_log_mad: config.baseline_min_log_mad,
            half_life_ms: i64::from(config.baseline_half_life_secs) * 1000,
        });
        Ok(SpamDetector {
            rules: SimRules::from_config(&config),
            stage_a: SimStage::new(
                specs,
                (
                    config.long_window_secs,
                    config.medium_window_secs,
                    config.baseline_refresh_secs,
                ),
                allowlist,
            ),
            confidence,
            cases: fast_map(),
            baselines,
            near_misses: NearMisses::default(),
            templates: templates::SharedTemplates::default(),
            next_refit_ms: i64::MIN,
            farm,
            next_sweep_ms: None,
            feed_start_s: None,
            stats: SpamStats::default(),
            scratch: Vec::new(),
            config,
        })
    }

    /// Process one SMS-volume record: fold it into the SIM's state, evaluate the rules
    /// when the SIM may open or update a case, and offer the SIM to farm grouping.
    pub(crate) fn on_sms(&mut self, r: &SmsVolume, out: &mut dyn CaseSink) {
        self.stats.records += 1;
        let span = RecordSpan::of(r);
        self.feed_start_s.get_or_insert(span.window_start_s);
        let tick = self.stage_a.refit_tick(span.end_ms);
        debug_assert!(
            tick || span.end_ms < self.next_refit_ms,
            "a refit happens at a record stage A forwards"
        );
        self.refresh_baseline(span.end_ms);
        let slot = self.sim_slot(r, span.window_start_s, out);
        let Some(a) = self.stage_a.fold(slot, r, &span, &self.farm) else {
            return;
        };
        let (mut folded, mut f) = (a.folded, a.features);
        let may_open = self.may_open_case(&f);
        // what stage A can decide alone: the gateway marker is granted to every SIM
        // that reported a device (stage B learns which TACs are gateways)
        let candidate = candidate::qualifies(&self.config, &f, f.fields & field::DEVICE != 0);
        folded.flags = self.stage_a.note_forwarded(slot, may_open || candidate);
        if folded.flags & flag::FORWARDED != 0 {
            self.stats.records_forwarded += 1;
        } else if a.sample {
            self.stats.samples_forwarded += 1;
        } else if tick {
            self.stats.ticks_forwarded += 1;
        }
        // Records come only for intervals with activity, so the medium-window sum is the
        // SIM's count over the whole medium window.
        let hours = f64::from(self.config.medium_window_secs) / 3600.0;
        let population = self.baselines.index(a.op, r.window_secs);
        self.observe_population(population, f.out_medium, a.sample, hours);
        if folded.flags & flag::CASE_OPEN != 0 || may_open {
            debug_assert!(
                folded.flags & flag::FORWARDED != 0,
                "a record the rules read is one stage A forwards"
            );
            self.stage_a.measure_for_rules(slot, &self.rules, &mut f);
            let fired = self.evaluate_rules(population, &mut f, hours);
            self.apply_sim_rules(slot, span.end_ms, &fired, &f, out);
        }
        self.consider_farm_candidate(slot, r, &span, &folded, &f, out);
    }

    /// Evict SIMs idle since before `cutoff_ms`, and expire farm groups likewise.
    fn sweep(&mut self, cutoff_ms: i64, out: &mut dyn CaseSink) {
        let cutoff_s = secs_ceil(cutoff_ms);
        let idle = self
            .stage_a
            .sims
            .slots_where(|st| st.last_seen_s < cutoff_s);
        for slot in idle {
            self.close_case(slot, out);
            self.stage_a.sims.remove(slot);
            self.stats.evicted_sims += 1;
        }
        self.farm.sweep(cutoff_s, &mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
        tracing::debug!(
            tracked = self.stage_a.sims.len(),
            evicted = self.stats.evicted_sims,
            "spam state swept"
        );
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
            ("spam", self.stats.cases_closed_by_cap),
            ("farm", self.farm.counters.cases_closed_by_cap),
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

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        let step = i64::from(self.config.eviction_sweep_secs.max(1)) * 1000;
        let long_ms = i64::from(self.stage_a.long_s) * 1000;
        let next = *self
            .next_sweep_ms
            .get_or_insert((watermark_ms.div_euclid(step) + 1) * step);
        if watermark_ms < next {
            return;
        }
        // sweep once, at the last boundary the watermark passed
        let boundary = watermark_ms.div_euclid(step) * step;
        self.sweep(boundary - long_ms, out);
        self.next_sweep_ms = Some(boundary + step);
    }

    /// Near misses (`spam_near_miss`): SIMs held back by contrary evidence.
    fn findings(&self) -> Vec<serde_json::Value> {
        self.near_misses.findings()
    }

    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.flush_cases(out);
        self.farm.flush(&mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
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
