//! Spam SIMs and SIM farms (issue 3): event-time sliding windows per SIM, explainable
//! rules scored against a population baseline, and grouping of SIMs into farms.
//!
//! One [`SpamDetector`] consumes validated SMS-volume records:
//!
//! 1. the SIM's compact state ([`state`]) gets the record's counts in its 5 min / 1 h /
//!    24 h windows (spread over the buckets the reporting interval covers);
//! 2. the population baseline ([`baseline`]) gets the SIM's hourly rate;
//! 3. when the SIM could open or update a case, every per-SIM rule ([`rules`]) is
//!    evaluated; a `spam_sim` case opens once a volume rule **and** the new-recipient
//!    rule fired and the noisy-OR score reaches `open_score`;
//! 4. SIMs showing weak risk markers are indexed for farm grouping ([`farm`]), which
//!    opens and grows `sim_farm` cases;
//! 5. SIMs on the [`Allowlist`] never yield a case (counted in [`SpamStats`]).
//!
//! Event time only: windows, eviction (idle longer than the long window) and baseline
//! refits follow the records' timestamps, never the wall clock. A record for a SIM idle
//! for longer than the long window starts a fresh state whether or not the sweep has
//! already evicted it, so results do not depend on how input is batched.

pub mod allowlist;
pub mod baseline;
pub mod farm;
pub mod ids;
pub mod rules;
pub mod simhash;
pub mod state;

pub use allowlist::{AllowEntry, Allowlist, AllowlistError};

use crate::config::{ConfigError, SpamConfig};
use crate::detect::{CaseSink, Detector, Reference};
use crate::model::{Case, CaseKind, CaseStatus, Event, Feed, SmsVolume};
use baseline::{BaselineParams, PopulationBaseline};
use farm::{FarmIndex, FarmParams, MemberRecord};
use ids::{fast_map, hash64, FastMap, OpIdx, Operators, SimKey};
use rules::{confidences, FarmRules, Fired, RuleId, SimFeatures, SimRules, ALL_RULES};
use serde::Serialize;
use sha2::{Digest, Sha256};
use state::{flag, spread_add, spread_add_scalar, SimState, SimTable, Specs, AGE_UNKNOWN};

/// Deterministic case id: `PREFIX-` + the first 16 hex characters of SHA-256 over
/// `kind|operator|sim|hour of opened_at`.
pub(crate) fn case_id(
    prefix: &str,
    kind: CaseKind,
    operator: &str,
    sim: &str,
    opened_at_ms: i64,
) -> String {
    let hour = opened_at_ms.div_euclid(3_600_000);
    let digest =
        Sha256::digest(format!("{}|{}|{}|{}", kind.as_str(), operator, sim, hour).as_bytes());
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    id.push('-');
    for b in &digest[..8] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Counters and memory figures of a [`SpamDetector`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SpamStats {
    /// SMS-volume records processed.
    pub records: u64,
    /// SIMs currently tracked.
    pub tracked_sims: u64,
    /// SIM states evicted after being idle longer than the long window.
    pub evicted_sims: u64,
    /// States restarted because a record came after an idle gap longer than the long
    /// window (before the sweep got to them).
    pub restarted_sims: u64,
    /// `spam_sim` cases held back because the SIM is allowlisted.
    pub allowlist_suppressed: u64,
    /// Allowlisted SIMs kept out of farm grouping although they showed risk markers.
    pub allowlist_farm_excluded: u64,
    pub spam_cases_opened: u64,
    pub spam_cases_updated: u64,
    pub farm_cases_opened: u64,
    pub farm_cases_updated: u64,
    /// Farm cases merged into another when their groups joined.
    pub farm_cases_absorbed: u64,
    /// SIMs indexed for farm grouping.
    pub farm_candidates: u64,
    pub farm_groups: u64,
    /// TACs learned as gateway models from devices carrying many SIMs.
    pub learned_gateway_tacs: Vec<u32>,
    /// `size_of` one SIM's state (key and windows included), bytes.
    pub state_bytes_per_sim: u64,
    /// Measured bytes of every structure of the detector (SIM table, open cases,
    /// farm index, baseline) divided by the tracked SIMs.
    pub memory_bytes_per_sim: f64,
}

/// An open `spam_sim` case.
#[derive(Debug, Clone)]
struct SimCase {
    case: Case,
    fired: Fired,
    emitted_mask: u32,
    emitted_evidence: u64,
}

/// The spam-SIM and SIM-farm detector.
pub struct SpamDetector {
    config: SpamConfig,
    specs: Specs,
    long_s: u32,
    rules: SimRules,
    confidence: [f64; ALL_RULES.len()],
    allowlist: Allowlist,
    operators: Operators,
    sims: SimTable,
    cases: FastMap<u32, SimCase>,
    baseline: PopulationBaseline,
    next_refit_ms: i64,
    farm: FarmIndex,
    next_sweep_ms: Option<i64>,
    stats: SpamStats,
    scratch: Vec<Case>,
}

impl SpamDetector {
    /// A detector with this configuration and allowlist. An invalid configuration
    /// (see [`SpamConfig::validate`]) is refused, never replaced by the defaults.
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
            long_window_s: config.long_window_secs,
            gateway_learn_sims: config.gateway_learn_sims,
            configured_gateway_tacs: config.gateway_tac_values(),
            confidence,
            open_score: config.farm_open_score,
            require_behaviour: config.require_behaviour,
        });
        let baseline = PopulationBaseline::new(BaselineParams {
            min_samples: f64::from(config.baseline_min_samples),
            trim_quantile: config.baseline_trim_quantile,
            min_rate_per_hour: config.baseline_min_rate_per_hour,
            min_log_mad: config.baseline_min_log_mad,
            half_life_ms: i64::from(config.baseline_half_life_secs) * 1000,
        });
        Ok(SpamDetector {
            rules: SimRules::from_config(&config),
            long_s: config.long_window_secs,
            specs,
            confidence,
            allowlist,
            operators: Operators::default(),
            sims: SimTable::default(),
            cases: fast_map(),
            baseline,
            next_refit_ms: i64::MIN,
            farm,
            next_sweep_ms: None,
            stats: SpamStats::default(),
            scratch: Vec::new(),
            config,
        })
    }

    pub fn config(&self) -> &SpamConfig {
        &self.config
    }

    /// Counters and memory figures now.
    pub fn stats(&self) -> SpamStats {
        let mut s = self.stats.clone();
        s.tracked_sims = self.sims.len() as u64;
        s.farm_candidates = self.farm.nodes() as u64;
        s.farm_groups = self.farm.groups() as u64;
        s.farm_cases_opened = self.farm.counters.cases_opened;
        s.farm_cases_updated = self.farm.counters.cases_updated;
        s.farm_cases_absorbed = self.farm.counters.cases_absorbed;
        s.learned_gateway_tacs = self.farm.learned_gateway_tacs();
        s.state_bytes_per_sim = std::mem::size_of::<Option<SimState>>() as u64;
        let case_bytes =
            self.cases.capacity() * (std::mem::size_of::<SimCase>() + 5) + self.cases.len() * 512; // reasons, sims and ids of an open case
        let total = self.sims.memory_bytes() + case_bytes + self.farm.memory_bytes() + 4 * 1024;
        s.memory_bytes_per_sim = if self.sims.is_empty() {
            0.0
        } else {
            total as f64 / self.sims.len() as f64
        };
        s
    }

    /// Process one SMS-volume record.
    pub fn on_sms(&mut self, r: &SmsVolume, out: &mut dyn CaseSink) {
        self.stats.records += 1;
        let start_ms = r.window_start_ms;
        let end_ms = start_ms + i64::from(r.window_secs) * 1000;
        let t_s = secs_ceil(end_ms);
        if end_ms >= self.next_refit_ms {
            let refresh_ms = i64::from(self.config.baseline_refresh_secs.max(1)) * 1000;
            self.baseline.maybe_refresh(end_ms, 0);
            self.next_refit_ms = (end_ms.div_euclid(refresh_ms) + 1) * refresh_ms;
        }

        let op = self.operators.intern(&r.operator);
        let key = SimKey::new(op, &r.sim);
        let allowlist = &self.allowlist;
        let window_start_s = secs_ceil(start_ms);
        let (slot, _created) = self.sims.find_or_insert(key, |k| {
            SimState::new(k, window_start_s, allowlist.contains(&r.operator, &r.sim))
        });
        let long_s = self.long_s;
        let stale = self
            .sims
            .get(slot)
            .is_some_and(|st| st.last_seen_s.saturating_add(long_s) < window_start_s);
        if stale {
            // idle longer than the long window: the incident is over, start afresh
            self.close_case(slot, out);
            self.stats.restarted_sims += 1;
            let st = self.sims.get_mut(slot).expect("slot just found");
            let allow = st.has(flag::ALLOWLISTED);
            *st = SimState::new(st.key.clone(), window_start_s, allow);
        }

        let specs = self.specs;
        let Some(st) = self.sims.get_mut(slot) else {
            return;
        };
        let distinct = r.distinct_recipients.unwrap_or(0);
        let new = r.new_recipients.unwrap_or(0);
        let calls = r
            .calls_out
            .unwrap_or(0)
            .saturating_add(r.calls_in.unwrap_or(0));
        let sms_in = r.sms_in.unwrap_or(0);
        spread_add(
            &mut st.medium,
            &specs.medium,
            start_ms,
            end_ms,
            [r.sms_out, distinct, new],
        );
        spread_add_scalar(&mut st.long, &specs.long, start_ms, end_ms, r.sms_out);
        if calls > 0 || sms_in > 0 {
            spread_add(&mut st.aux, &specs.aux, start_ms, end_ms, [calls, sms_in]);
        }
        st.last_seen_s = st.last_seen_s.max(t_s);
        st.first_seen_s = st.first_seen_s.min(window_start_s);
        st.records = st.records.saturating_add(1);
        if let Some(age) = r.sim_age_days {
            st.age_days = age.min(u32::from(AGE_UNKNOWN - 1)) as u16;
        }
        if let Some(k) = r.kyc_verified {
            st.set(flag::KYC_KNOWN, true);
            st.set(flag::KYC_VERIFIED, k);
        }
        let cell_hash = r.cell.map(|c| {
            hash64(&[
                &c.mcc.to_le_bytes(),
                &c.mnc.to_le_bytes(),
                &c.lac.to_le_bytes(),
                &c.cid.to_le_bytes(),
            ])
        });
        if let Some(h) = cell_hash {
            let c = (h as u16).max(1);
            if r.sms_out > 0 {
                st.cell_streak = if c == st.cell {
                    st.cell_streak.saturating_add(1)
                } else {
                    1
                };
            }
            st.cell = c;
        }
        // The device model: from the record's TAC, else the last one reported
        // (reason value 0 then: "not in this record").
        let gateway_tac = match r.imei_tac {
            Some(tac) => {
                let g = self.farm.is_gateway_tac(tac);
                st.set(flag::GATEWAY_TAC, g);
                g.then_some(tac)
            }
            None => st.has(flag::GATEWAY_TAC).then_some(0),
        };
        let gateway = gateway_tac.is_some();

        // Window sums at the SIM's newest event time.
        let now_ms = i64::from(st.last_seen_s) * 1000;
        let medium = st.medium.sum(&specs.medium, now_ms);
        let short = st
            .medium
            .sum_last(&specs.medium, now_ms, specs.short_buckets);
        let long = st.long.sum(&specs.long, now_ms);
        let aux = st.aux.sum(&specs.aux, now_ms);
        // Records come only for intervals with activity, so the medium-window sum is the
        // SIM's count over the whole medium window.
        let hours = f64::from(self.config.medium_window_secs) / 3600.0;
        let age = (st.age_days != AGE_UNKNOWN).then_some(u32::from(st.age_days));
        let kyc = st
            .has(flag::KYC_KNOWN)
            .then_some(st.has(flag::KYC_VERIFIED));
        let mut f = SimFeatures {
            out_short: short[0],
            out_medium: medium[0],
            out_long: long,
            distinct_medium: medium[1],
            new_medium: medium[2],
            voice_long: aux[0],
            in_long: aux[1],
            tail_log10: None,
            robust_z: None,
            age_days: age,
            kyc_verified: kyc,
            gateway_tac,
            cell_streak: u32::from(st.cell_streak),
            max_fp_count: r.content_fps.iter().map(|f| f.n).max().unwrap_or(0),
        };
        self.baseline.observe_weighted(
            medium[0] as f64 / hours,
            f64::from(r.window_secs) / f64::from(self.config.medium_window_secs),
        );
        if self.baseline.fit().is_none()
            && self.baseline.samples() >= f64::from(self.config.baseline_min_samples)
        {
            self.baseline.refit();
        }

        let flags = st.flags;
        let young_unverified =
            matches!((age, kyc), (Some(a), Some(false)) if a <= self.config.young_sim_days);
        let no_voice =
            f.voice_long == 0 && f.out_long >= u64::from(self.config.candidate_no_voice_min_sms);
        let case_open = flags & flag::CASE_OPEN != 0;
        let may_open =
            self.rules.new_recipient_ratio(&f).is_some() || !self.config.require_behaviour;
        if case_open || may_open {
            self.population_evidence(&mut f, hours);
            let fired = self.rules.evaluate(&f);
            self.apply_sim_rules(slot, end_ms, &fired, out);
        }

        // Farm candidacy.
        let markers = u32::from(gateway)
            + u32::from(young_unverified)
            + u32::from(no_voice)
            + u32::from(
                f.new_medium >= u64::from(self.config.candidate_min_new)
                    && f.new_medium as f64
                        >= self.config.new_recipient_ratio * f.distinct_medium as f64,
            )
            + u32::from(
                f.out_medium >= u64::from(self.config.candidate_min_sms)
                    && f.distinct_medium as f64 >= self.config.distinct_ratio * f.out_medium as f64,
            );
        let is_node = flags & flag::FARM_NODE != 0;
        if is_node || markers >= self.config.farm_candidate_markers {
            if flags & flag::ALLOWLISTED != 0 {
                // counted once per SIM state; the flag keeps it out of later counts
                if !is_node {
                    self.stats.allowlist_farm_excluded += 1;
                    if let Some(st) = self.sims.get_mut(slot) {
                        st.set(flag::FARM_NODE, true);
                    }
                }
                return;
            }
            let Some(st) = self.sims.get_mut(slot) else {
                return;
            };
            st.set(flag::FARM_NODE, true);
            let key = st.key.clone();
            let device = r.device.as_deref().map(|d| hash64(&[d.as_bytes()]));
            let rec = MemberRecord {
                key: &key,
                operator: &r.operator,
                t_s,
                window_start_s,
                device,
                tac: r.imei_tac,
                cell: cell_hash,
                fps: &r.content_fps,
                new_medium: f.new_medium,
                distinct_medium: f.distinct_medium,
                no_voice,
                young_unverified,
            };
            self.farm.on_record(&rec, &mut self.scratch);
            for c in self.scratch.drain(..) {
                out.emit(c);
            }
        }
    }

    /// Tail probability and robust z of the SIM's medium-window count under the
    /// population model (only for SIMs that may open or update a case).
    ///
    /// The exact negative-binomial tail is computed only above mean + 3 standard
    /// deviations of the model: below that the tail of a negative binomial is well
    /// above 10⁻³ (Poisson-like shapes ≈ the normal tail at 3σ, dispersed shapes
    /// heavier), so the rule cannot fire at its default 10⁻⁶ and the value is reported
    /// as 0. With a configured tail probability above 10⁻³ the tail is always computed.
    fn population_evidence(&self, f: &mut SimFeatures, hours: f64) {
        let Some(fit) = self.baseline.fit() else {
            return;
        };
        let count = f.out_medium;
        let mean = fit.shape * fit.scale_per_hour * hours;
        let var = mean + mean * mean / fit.shape;
        let gate = if self.config.population_tail_p <= 1e-3 {
            mean + 3.0 * var.sqrt()
        } else {
            0.0
        };
        f.tail_log10 = Some(if count > 0 && count as f64 > gate {
            -fit.tail_probability(count, hours).max(1e-300).log10()
        } else {
            0.0
        });
        f.robust_z = Some(fit.robust_z(count as f64 / hours));
    }

    fn apply_sim_rules(&mut self, slot: u32, end_ms: i64, fired: &Fired, out: &mut dyn CaseSink) {
        let score = fired.score(&self.confidence);
        let Some(st) = self.sims.get_mut(slot) else {
            return;
        };
        let evidence = u64::from(st.records);
        let first_seen = i64::from(st.first_seen_s) * 1000;
        let last_seen = i64::from(st.last_seen_s) * 1000;
        if st.has(flag::CASE_OPEN) {
            let Some(sc) = self.cases.get_mut(&slot) else {
                return;
            };
            sc.fired.merge_max(fired);
            sc.case.score = sc.case.score.max(round4(score));
            sc.case.last_seen = sc.case.last_seen.max(last_seen);
            sc.case.evidence_count = evidence;
            if sc.fired.mask != sc.emitted_mask {
                sc.case.reasons = sc.fired.reasons();
                sc.emitted_mask = sc.fired.mask;
                sc.emitted_evidence = evidence;
                out.emit(sc.case.clone());
                self.stats.spam_cases_updated += 1;
            }
            return;
        }
        let volume = fired.mask & RuleId::VOLUME_MASK != 0;
        let behaviour = fired.has(RuleId::NewRecipientRatio);
        let gate = !self.config.require_behaviour || (volume && behaviour);
        if !gate || score < self.config.open_score {
            return;
        }
        if st.has(flag::ALLOWLISTED) {
            if !st.has(flag::SUPPRESSED) {
                st.set(flag::SUPPRESSED, true);
                self.stats.allowlist_suppressed += 1;
                tracing::debug!(sim = %st.key.sim(), "spam case suppressed by the allowlist");
            }
            return;
        }
        st.set(flag::CASE_OPEN, true);
        let operator = self.operators.name(st.key.op()).to_string();
        let sim = st.key.sim();
        let case = Case {
            case_id: case_id("spam", CaseKind::SpamSim, &operator, &sim, end_ms),
            kind: CaseKind::SpamSim,
            status: CaseStatus::Open,
            opened_at: end_ms,
            first_seen,
            last_seen,
            score: round4(score),
            operator: Some(operator),
            sims: vec![sim],
            claimed_cell: None,
            identities: Vec::new(),
            location: None,
            track: Vec::new(),
            reasons: fired.reasons(),
            evidence_count: evidence,
        };
        tracing::debug!(case_id = %case.case_id, score = case.score, "spam sim case opened");
        out.emit(case.clone());
        self.stats.spam_cases_opened += 1;
        self.cases.insert(
            slot,
            SimCase {
                case,
                fired: *fired,
                emitted_mask: fired.mask,
                emitted_evidence: evidence,
            },
        );
    }

    /// End the incident of a SIM: emit the case's final snapshot if it moved since.
    fn close_case(&mut self, slot: u32, out: &mut dyn CaseSink) {
        if let Some(mut sc) = self.cases.remove(&slot) {
            if let Some(st) = self.sims.get(slot) {
                sc.case.evidence_count = u64::from(st.records);
                sc.case.last_seen = sc.case.last_seen.max(i64::from(st.last_seen_s) * 1000);
            }
            if sc.case.evidence_count != sc.emitted_evidence {
                out.emit(sc.case);
            }
        }
        if let Some(st) = self.sims.get_mut(slot) {
            st.set(flag::CASE_OPEN, false);
        }
    }

    /// Evict SIMs idle since before `cutoff_ms`, and expire farm groups likewise.
    fn sweep(&mut self, cutoff_ms: i64, out: &mut dyn CaseSink) {
        let cutoff_s = secs_ceil(cutoff_ms);
        let idle = self.sims.slots_where(|st| st.last_seen_s < cutoff_s);
        for slot in idle {
            self.close_case(slot, out);
            self.sims.remove(slot);
            self.stats.evicted_sims += 1;
        }
        self.farm.sweep(cutoff_s, &mut self.scratch);
        for c in self.scratch.drain(..) {
            out.emit(c);
        }
        tracing::debug!(
            tracked = self.sims.len(),
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
        self.sims.len()
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
        if let Err(e) = self.allowlist.apply_update(key, value) {
            tracing::warn!(error = %e, "allowlist update ignored");
            return;
        }
        let mut op: OpIdx = 0;
        loop {
            let name = self.operators.name(op);
            if name.is_empty() {
                break;
            }
            let allowed = self.allowlist.contains(name, key);
            if let Some(slot) = self.sims.find(&SimKey::new(op, key)) {
                if let Some(st) = self.sims.get_mut(slot) {
                    st.set(flag::ALLOWLISTED, allowed);
                }
            }
            match op.checked_add(1) {
                Some(next) => op = next,
                None => break,
            }
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        let step = i64::from(self.config.eviction_sweep_secs.max(1)) * 1000;
        let long_ms = i64::from(self.long_s) * 1000;
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

    fn finish(&mut self, out: &mut dyn CaseSink) {
        let mut slots: Vec<u32> = self.cases.keys().copied().collect();
        slots.sort_unstable();
        for slot in slots {
            let Some(st) = self.sims.get(slot) else {
                continue;
            };
            let (records, last_seen) = (u64::from(st.records), i64::from(st.last_seen_s) * 1000);
            if let Some(sc) = self.cases.get_mut(&slot) {
                sc.case.evidence_count = records;
                sc.case.last_seen = sc.case.last_seen.max(last_seen);
                if sc.case.evidence_count != sc.emitted_evidence {
                    sc.emitted_evidence = sc.case.evidence_count;
                    out.emit(sc.case.clone());
                }
            }
        }
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

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests;
