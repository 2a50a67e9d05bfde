//! Stage A of the spam detector (docs/streaming.md, "The spam detector's two stages"):
//! the per-SIM part, keyed by operator and SIM. It keeps every SIM's windows in the
//! [`SimTable`], folds each record into them, decides whether the record is the SIM's
//! population sample for its medium window, measures the SIM's features, decides
//! whether the SIM is hot and evicts idle SIMs' windows. It reads nothing of the
//! cross-SIM part: what that part reads crosses as a [`Found`] with the record.

use super::allowlist::{Allowlist, AllowlistError};
use super::bursts::BurstSpec;
use super::candidate;
use super::evaluate;
use super::forward::SimForward;
use super::forward::{Found, Hot};
use super::ids::{OpIdx, Operators, SimKey};
use super::record::{self, RecordSpan};
use super::rules::{self, SimRules};
use super::state::{field, flag, SimState, SimTable, Specs};
use super::SweepClock;
use crate::config::SpamConfig;
use crate::detect::stage::{Emit, Stage};
use crate::detect::Reference;
use crate::model::{Event, SmsVolume};
use crate::window::prefetch_lines;

/// The per-SIM state of the spam detector.
pub(crate) struct SimStage {
    pub(super) specs: Specs,
    /// The long window, seconds: a SIM idle longer starts afresh.
    pub(super) long_s: u32,
    /// The medium window, seconds: one population sample per SIM and medium window.
    medium_s: u32,
    pub(super) allowlist: Allowlist,
    pub(super) operators: Operators,
    pub(super) sims: SimTable,
    /// The population baselines' refit period, ms.
    refresh_ms: i64,
    /// The next refit boundary of this task's records (`i64::MIN`: none seen yet).
    next_refit_ms: i64,
    /// Each slot's columns beside the table (`SimState` has no room left), one
    /// 8-byte entry so that a record touches one more cache line, not two.
    cols: Vec<SimCols>,
    burst_spec: BurstSpec,
    /// What the hot decision and the rules' measurements read.
    config: SpamConfig,
    rules: SimRules,
    sweep: SweepClock,
    pub(super) counters: Counters,
}

/// A slot's columns beside the SIM table.
#[derive(Debug, Clone, Copy, Default)]
struct SimCols {
    /// The last TAC the SIM reported since its state began (0: none): stage B,
    /// which learns the gateway models, judges it for a record without one.
    last_tac: u32,
    /// The burst column (`bursts.rs`).
    bursts: u32,
}

/// What stage A counted.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counters {
    pub(super) records: u64,
    /// Records forwarded whole (of hot SIMs), as a population sample only, as a
    /// refit tick only.
    pub(super) records_forwarded: u64,
    pub(super) samples_forwarded: u64,
    pub(super) ticks_forwarded: u64,
    pub(super) restarted_sims: u64,
    pub(super) evicted_sims: u64,
}

impl SimStage {
    pub(super) fn new(config: &SpamConfig, specs: Specs, allowlist: Allowlist) -> Self {
        SimStage {
            specs,
            long_s: config.long_window_secs,
            medium_s: config.medium_window_secs,
            allowlist,
            operators: Operators::default(),
            sims: SimTable::default(),
            refresh_ms: i64::from(config.baseline_refresh_secs.max(1)) * 1000,
            next_refit_ms: i64::MIN,
            cols: Vec::new(),
            burst_spec: BurstSpec::new(config, &specs),
            rules: SimRules::from_config(config),
            config: config.clone(),
            sweep: SweepClock::new(config),
            counters: Counters::default(),
        }
    }

    /// Fold one record into its SIM's state and say what stage B is to receive of
    /// it, if anything.
    #[inline]
    pub(super) fn on_record(&mut self, r: &SmsVolume) -> Option<Found> {
        self.counters.records += 1;
        let span = RecordSpan::of(r);
        let tick = self.refit_tick(span.end_ms);
        let (slot, stale) = self.slot(r, span.window_start_s);
        let mut restarted = false;
        if stale {
            // idle longer than the long window: the incident is over, start afresh
            restarted = self
                .sims
                .get(slot)
                .is_some_and(|st| st.has(flag::FORWARDED));
            self.counters.restarted_sims += 1;
            self.restart(slot, span.window_start_s);
        }
        let specs = self.specs;
        let st = self.sims.get_mut(slot)?;
        // the SIM's first record in this medium window: its population sample
        let period = self.medium_s.max(1);
        let sample = st.records == 0 || st.last_seen_s / period != span.t_s / period;
        let cols = &mut self.cols[slot as usize];
        let paused = self.burst_spec.paused_before(st, &specs, span.start_ms);
        let folded = record::fold(st, r, &specs, &span);
        let bursts = self.burst_spec.update(
            &mut cols.bursts,
            paused,
            st,
            &specs,
            (span.start_ms, span.end_ms),
        );
        let mut f = evaluate::sim_features(st, &specs, r, None);
        f.bursts = bursts;
        let may_open = evaluate::may_open_case(&self.rules, &self.config, &f);
        // what stage A can decide alone: the gateway marker is granted to every SIM
        // that reported a device (stage B learns which TACs are gateways)
        let candidate = candidate::qualifies(&self.config, &f, f.fields & field::DEVICE != 0);
        if may_open || candidate {
            st.set(flag::FORWARDED, true);
        }
        if candidate {
            st.set(flag::CANDIDATE, true);
        }
        let farm = st.has(flag::CANDIDATE);
        if let Some(t) = r.imei_tac {
            cols.last_tac = t;
        }
        let last_tac = cols.last_tac;
        let hot = st.has(flag::FORWARDED).then(|| {
            f.active_share = evaluate::active_share(st, &specs);
            if rules::held_pace(&self.rules, &f) {
                // every full bucket of the long window before the current one
                let full = (specs.long.len() - 1) as u32;
                (f.held_hours, f.held_min_per_hour) =
                    evaluate::held_hours(st, &specs, self.rules.held_rate_1h, full);
                (f.steady_buckets, f.steady_min_per_hour) = evaluate::steady_buckets(
                    st,
                    &specs,
                    r.window_secs,
                    self.rules.steady_rate_1h,
                    self.rules.steady_buckets,
                    self.rules.steady_record_secs,
                );
            }
            Hot {
                features: f,
                may_open,
                cell_hash: folded.cell_hash,
                flags: st.flags,
                records: st.records,
                first_seen_s: st.first_seen_s,
                last_seen_s: st.last_seen_s,
                pace_per_hour: evaluate::pace_per_hour(st, &specs),
                last_tac,
            }
        });
        let c = &mut self.counters;
        if hot.is_some() {
            c.records_forwarded += 1;
        } else if sample {
            c.samples_forwarded += 1;
        } else if tick {
            c.ticks_forwarded += 1;
        } else {
            return None;
        }
        Some(Found {
            sample,
            out_medium: f.out_medium,
            restarted,
            farm,
            hot,
        })
    }

    /// Evict the SIMs idle longer than the long window when a sweep is due (stage B
    /// ends their incidents by the same rule).
    pub(super) fn on_watermark(&mut self, watermark_ms: i64) {
        let Some(cutoff_s) = self.sweep.due(watermark_ms) else {
            return;
        };
        for slot in self.sims.slots_where(|st| st.last_seen_s < cutoff_s) {
            self.sims.remove(slot);
            self.counters.evicted_sims += 1;
        }
        tracing::debug!(
            tracked = self.sims.len(),
            evicted = self.counters.evicted_sims,
            "spam state swept"
        );
    }

    /// Whether a record ending at `end_ms` is this task's first past a refit
    /// boundary of the population baselines: stage A forwards it (a refit tick at
    /// least), so that stage B, which refits at the first record past a boundary,
    /// sees that record whichever task had it. Records come in event-time order (the
    /// end of their interval), so the first of all past a boundary is the earliest
    /// of the tasks' firsts.
    #[inline]
    pub(super) fn refit_tick(&mut self, end_ms: i64) -> bool {
        if end_ms < self.next_refit_ms {
            return false;
        }
        self.next_refit_ms = (end_ms.div_euclid(self.refresh_ms) + 1) * self.refresh_ms;
        true
    }

    /// The slot of the record's SIM (a new state if it had none), and whether its
    /// state is stale: idle for longer than the long window, so the record starts a
    /// new incident ([`SimStage::restart`] after the incident's case is closed).
    fn slot(&mut self, r: &SmsVolume, window_start_s: u32) -> (u32, bool) {
        let op = self.operators.intern(&r.operator);
        let key = SimKey::new(op, &r.sim);
        let allowlist = &self.allowlist;
        let (slot, created) = self.sims.find_or_insert(key, |k| {
            SimState::new(k, window_start_s, allowlist.contains(&r.operator, &r.sim))
        });
        let i = slot as usize;
        if i >= self.cols.len() {
            self.cols.resize(i + 1, SimCols::default());
        }
        if created {
            self.cols[i] = SimCols::default();
        } else {
            // read at the record's fold, far from here: its miss overlaps the state's
            prefetch_lines(self.cols.get(i), 0..1);
        }
        let long_s = self.long_s;
        let stale = self
            .sims
            .get(slot)
            .is_some_and(|st| st.last_seen_s.saturating_add(long_s) < window_start_s);
        (slot, stale)
    }

    /// Start the SIM's state afresh at `window_start_s` (its allowlist flag kept).
    fn restart(&mut self, slot: u32, window_start_s: u32) {
        let st = self.sims.get_mut(slot).expect("slot just found");
        let allow = st.has(flag::ALLOWLISTED);
        *st = SimState::new(st.key.clone(), window_start_s, allow);
        self.cols[slot as usize] = SimCols::default();
    }

    /// Bytes of the table and its columns.
    pub(super) fn memory_bytes(&self) -> usize {
        self.sims.memory_bytes() + self.cols.capacity() * std::mem::size_of::<SimCols>()
    }

    /// Apply a `cw.allowlist.v1` update and refresh the cached flag of every tracked
    /// state of that SIM (under any operator).
    pub(super) fn apply_allowlist_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), AllowlistError> {
        self.allowlist.apply_update(key, value)?;
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
        Ok(())
    }
}

impl Stage for SimStage {
    type In = Event;
    type Out = SimForward;

    fn name(&self) -> &'static str {
        "spam_sims"
    }

    fn on_message(&mut self, message: &Event, out: &mut Emit<'_, SimForward>) {
        if let Event::Sms(r) = message {
            if let Some(found) = self.on_record(r) {
                out.forward(SimForward::of(r, found));
            }
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, _out: &mut Emit<'_, SimForward>) {
        SimStage::on_watermark(self, watermark_ms);
    }

    /// `cw.allowlist.v1` updates: the allowlist, and the cached flag of the SIM.
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        if kind != Reference::Allowlist {
            return;
        }
        if let Err(e) = self.apply_allowlist_update(key, value) {
            tracing::warn!(error = %e, "allowlist update ignored");
        }
    }

    /// Nothing pending: a forward is sent with its record.
    fn flush(&mut self, _out: &mut Emit<'_, SimForward>) {}

    fn state_size(&self) -> usize {
        self.sims.len()
    }
}
