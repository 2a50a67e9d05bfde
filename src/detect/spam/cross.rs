//! Stage B of the spam detector (docs/streaming.md, "The spam detector's two
//! stages"): the cross-SIM part. It reads only what stage A forwards (the record and a [`Found`]):
//! population samples feed the baselines (refit at the first record past each
//! boundary), and every record of a hot SIM runs the rules (`evaluate.rs`), opens and
//! updates `spam_sim` cases (`cases.rs`), notes near misses and shared templates, and
//! is offered to farm grouping (`candidate.rs`, `farm/`), where gateway models are
//! learned. What it keeps per SIM is its own, keyed by (operator, SIM) with operators
//! it interns itself: never stage A's slot numbers, operator indexes or flags.

use super::baseline::BaselineParams;
use super::baselines::Baselines;
use super::cases::SimCase;
use super::farm::{FarmIndex, FarmParams};
use super::forward::{Found, Seen, SimForward};
use super::ids::{fast_map, FastMap, Operators, SimKey};
use super::near_miss::NearMisses;
use super::rules::{confidences, FarmRules, SimRules, ALL_RULES};
use super::state::flag;
use super::stats::SpamStats;
use super::templates::SharedTemplates;
use super::SweepClock;
use crate::config::SpamConfig;
use crate::detect::stage::{Emit, Never, Stage};
use crate::detect::CaseSink;
use crate::model::{Case, SmsVolume};

/// What stage B marks on a SIM, for the SIM's current incident (its state in stage
/// A, from its first record after an idle gap longer than the long window).
pub(super) mod mark {
    /// A `spam_sim` case is open (details in the case map).
    pub(crate) const CASE_OPEN: u8 = 1 << 0;
    /// A case was held back by the allowlist in this incident (counted once).
    pub(crate) const SUPPRESSED: u8 = 1 << 1;
    /// The SIM is indexed for farm grouping (or was kept out as allowlisted).
    pub(crate) const FARM_NODE: u8 = 1 << 2;
}

/// Stage B's own record of a hot SIM it marked: its marks and the evidence of the
/// last record forwarded (every record of a hot SIM is, so this is the SIM's state's
/// evidence in stage A too).
#[derive(Debug, Clone, Copy)]
pub(super) struct Marked {
    pub(super) marks: u8,
    pub(super) records: u32,
    pub(super) last_seen_s: u32,
}

/// The SIM's evidence at one record, as a case reports it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Evidence {
    pub(super) records: u64,
    pub(super) first_seen_ms: i64,
    pub(super) last_seen_ms: i64,
}

/// The cross-SIM stage.
pub(crate) struct CrossSim {
    pub(super) config: SpamConfig,
    pub(super) rules: SimRules,
    pub(super) confidence: [f64; ALL_RULES.len()],
    /// Operator names, interned in the order stage B meets them.
    pub(super) operators: Operators,
    /// The hot SIMs stage B marked (a few per cent of the tracked SIMs).
    pub(super) marked: FastMap<SimKey, Marked>,
    pub(super) cases: FastMap<SimKey, SimCase>,
    pub(super) baselines: Baselines,
    pub(super) near_misses: NearMisses,
    pub(super) templates: SharedTemplates,
    pub(super) next_refit_ms: i64,
    pub(super) farm: FarmIndex,
    /// Start of the first record (seconds): SIMs first seen then were already
    /// active, their onset is unknown. The feed's first record is a population
    /// sample (a SIM's first record), so stage B's first message carries it.
    pub(super) feed_start_s: Option<u32>,
    pub(super) stats: SpamStats,
    pub(super) scratch: Vec<Case>,
    sweep: SweepClock,
}

impl CrossSim {
    pub(super) fn new(config: &SpamConfig) -> Self {
        let confidence = confidences(&config.confidence);
        let farm = FarmIndex::new(FarmParams {
            rules: FarmRules::from_config(config),
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
        CrossSim {
            rules: SimRules::from_config(config),
            confidence,
            operators: Operators::default(),
            marked: fast_map(),
            cases: fast_map(),
            baselines,
            near_misses: NearMisses::default(),
            templates: SharedTemplates::default(),
            next_refit_ms: i64::MIN,
            farm,
            feed_start_s: None,
            stats: SpamStats::default(),
            scratch: Vec::new(),
            sweep: SweepClock::new(config),
            config: config.clone(),
        }
    }

    /// Act on one message of stage A: refit the baselines at the first record past a
    /// boundary, end the incident of a restarted SIM, take the population sample, and
    /// for a hot SIM run the rules and farm grouping.
    pub(super) fn on_forward(&mut self, r: &Seen, fwd: &Found, out: &mut dyn CaseSink) {
        let span = &r.span();
        self.feed_start_s.get_or_insert(span.window_start_s);
        self.refresh_baseline(span.end_ms);
        let op = self.operators.intern(r.operator);
        let key = (fwd.restarted || fwd.hot.is_some()).then(|| SimKey::new(op, r.sim));
        if let (true, Some(key)) = (fwd.restarted, &key) {
            // idle longer than the long window: the incident is over
            self.end_incident(key, out);
        }
        // Records come only for intervals with activity, so the medium-window sum is
        // the SIM's count over the whole medium window.
        let hours = f64::from(self.config.medium_window_secs) / 3600.0;
        let population = self.baselines.index(op, r.window_secs);
        self.observe_population(population, fwd.out_medium, fwd.sample, hours);
        let (Some(hot), Some(key)) = (&fwd.hot, &key) else {
            return;
        };
        debug_assert!(hot.flags & flag::FORWARDED != 0, "a hot SIM is forwarded");
        let evidence = Evidence {
            records: u64::from(hot.records),
            first_seen_ms: i64::from(hot.first_seen_s) * 1000,
            last_seen_ms: i64::from(hot.last_seen_s) * 1000,
        };
        let marks = match self.marked.get_mut(key) {
            Some(m) => {
                (m.records, m.last_seen_s) = (hot.records, hot.last_seen_s);
                m.marks
            }
            None => 0,
        };
        let mut f = hot.features;
        f.gateway_tac = self.gateway_tac(r, hot.last_tac);
        if marks & mark::CASE_OPEN != 0 || hot.may_open {
            let fired = self.evaluate_rules(population, &mut f, hours);
            let allowlisted = hot.flags & flag::ALLOWLISTED != 0;
            let sim = (key, r, evidence, allowlisted);
            self.apply_sim_rules(sim, span.end_ms, &fired, &f, out);
        }
        self.consider_farm_candidate(key, r, (span, fwd.farm), hot, &f, out);
    }

    /// The record's device model when it is a gateway: its TAC, or 0 when it carries
    /// none and the last one the SIM reported (`last_tac`, 0: none) is a gateway's.
    #[inline]
    fn gateway_tac(&self, r: &Seen, last_tac: u32) -> Option<u32> {
        match r.imei_tac {
            Some(tac) => self.farm.is_gateway_tac(tac).then_some(tac),
            None => (last_tac != 0 && self.farm.is_gateway_tac(last_tac)).then_some(0),
        }
    }

    /// Refit the population baseline when event time crosses a refresh boundary.
    #[inline]
    fn refresh_baseline(&mut self, end_ms: i64) {
        if end_ms >= self.next_refit_ms {
            let refresh_ms = i64::from(self.config.baseline_refresh_secs.max(1)) * 1000;
            self.baselines.refresh(end_ms);
            self.next_refit_ms = (end_ms.div_euclid(refresh_ms) + 1) * refresh_ms;
        }
    }

    /// The SIM's marks now (0 when it has none).
    #[inline]
    pub(super) fn marks(&self, key: &SimKey) -> u8 {
        self.marked.get(key).map_or(0, |m| m.marks)
    }

    /// Whether stage B marked the record's SIM (the debug check that stage A forwards
    /// every record of such a SIM).
    pub(super) fn marks_sim(&self, r: &SmsVolume) -> bool {
        self.operators
            .get(&r.operator)
            .is_some_and(|op| self.marked.contains_key(&SimKey::new(op, &r.sim)))
    }

    /// Set or clear a mark of a SIM at a record with this evidence.
    pub(super) fn set_mark(&mut self, key: &SimKey, evidence: &Evidence, bit: u8, on: bool) {
        let m = match self.marked.get_mut(key) {
            Some(m) => m,
            None => self.marked.entry(key.clone()).or_insert(Marked {
                marks: 0,
                records: evidence.records.min(u64::from(u32::MAX)) as u32,
                last_seen_s: (evidence.last_seen_ms / 1000) as u32,
            }),
        };
        if on {
            m.marks |= bit;
        } else {
            m.marks &= !bit;
        }
    }

    /// End the SIM's incident: the final snapshot of its case (if it moved), and its
    /// marks forgotten.
    fn end_incident(&mut self, key: &SimKey, out: &mut dyn CaseSink) {
        self.close_case(key, out);
        self.marked.remove(key);
    }

    /// When a sweep is due, the incidents of the SIMs idle longer than the long window
    /// end (stage A evicts their states by the same rule), in (operator, SIM) order;
    /// farm groups expire likewise.
    pub(super) fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        let Some(cutoff_s) = self.sweep.due(watermark_ms) else {
            return;
        };
        let mut idle: Vec<(String, String, SimKey)> = self
            .marked
            .iter()
            .filter(|(_, m)| m.last_seen_s < cutoff_s)
            .map(|(k, _)| (self.operators.name(k.op()).to_string(), k.sim(), k.clone()))
            .collect();
        idle.sort_unstable();
        for (_, _, key) in idle {
            self.end_incident(&key, out);
        }
        self.farm.sweep(cutoff_s, &mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
    }

    /// End of input: the last snapshots of the open cases and of the farms.
    pub(crate) fn finish(&mut self, out: &mut dyn CaseSink) {
        self.flush_cases(out);
        self.farm.flush(&mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
    }

    /// Bytes of the marked SIMs' map (the open cases are counted apart).
    pub(super) fn marked_bytes(&self) -> usize {
        self.marked.capacity() * (std::mem::size_of::<(SimKey, Marked)>() + 1)
            + self.marked.keys().map(SimKey::heap_bytes).sum::<usize>()
    }
}

impl Stage for CrossSim {
    type In = SimForward;
    type Out = Never;

    fn name(&self) -> &'static str {
        "spam_cross_sim"
    }

    fn on_message(&mut self, message: &SimForward, out: &mut Emit<'_, Never>) {
        self.on_forward(&message.seen(), &message.found, out.cases());
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Emit<'_, Never>) {
        CrossSim::on_watermark(self, watermark_ms, out.cases());
    }

    /// The snapshots the end of input would emit (open cases whose evidence moved),
    /// with nothing marked as emitted.
    fn flush(&mut self, out: &mut Emit<'_, Never>) {
        self.peek_cases(out.cases());
        self.farm.peek_snapshots(&mut self.scratch);
        for c in self.scratch.drain(..) {
            out.case(c);
        }
    }

    /// Hot SIMs stage B marked.
    fn state_size(&self) -> usize {
        self.marked.len()
    }

    /// Near misses (`spam_near_miss`): SIMs held back by contrary evidence.
    fn findings(&self) -> Vec<serde_json::Value> {
        self.near_misses.findings()
    }
}
