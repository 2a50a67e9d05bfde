//! Stage A of the spam detector (docs/streaming.md, "The spam detector's two stages"):
//! the per-SIM part, keyed by operator and SIM. It keeps every SIM's windows in the
//! [`SimTable`], folds each record into them, decides whether the record is the SIM's
//! population sample for its medium window, measures the SIM's features and evicts
//! idle SIMs' windows. It reads nothing of the cross-SIM part but the gateway-TAC
//! verdict of the farm index (see the section for what remains before it runs as
//! tasks of its own).

use super::allowlist::{Allowlist, AllowlistError};
use super::evaluate;
use super::farm::FarmIndex;
use super::ids::{OpIdx, Operators, SimKey};
use super::record::{self, Folded, RecordSpan};
use super::rules::{self, SimFeatures, SimRules};
use super::state::{flag, SimState, SimTable, Specs};
use crate::model::SmsVolume;

/// The per-SIM state of the spam detector.
pub(super) struct SimStage {
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
}

/// What stage A found at one record of one SIM.
#[derive(Debug, Clone, Copy)]
pub(super) struct SimRecord {
    /// The SIM's operator (index into stage A's operators).
    pub(super) op: OpIdx,
    /// The record is the SIM's first in this medium window: its population sample.
    pub(super) sample: bool,
    pub(super) folded: Folded,
    /// The SIM's measurements after the record, population evidence not filled in.
    pub(super) features: SimFeatures,
}

impl SimStage {
    pub(super) fn new(
        specs: Specs,
        (long_s, medium_s, refresh_s): (u32, u32, u32),
        allowlist: Allowlist,
    ) -> Self {
        SimStage {
            specs,
            long_s,
            medium_s,
            allowlist,
            operators: Operators::default(),
            sims: SimTable::default(),
            refresh_ms: i64::from(refresh_s.max(1)) * 1000,
            next_refit_ms: i64::MIN,
        }
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
    pub(super) fn slot(&mut self, r: &SmsVolume, window_start_s: u32) -> (u32, bool) {
        let op = self.operators.intern(&r.operator);
        let key = SimKey::new(op, &r.sim);
        let allowlist = &self.allowlist;
        let (slot, _created) = self.sims.find_or_insert(key, |k| {
            SimState::new(k, window_start_s, allowlist.contains(&r.operator, &r.sim))
        });
        let long_s = self.long_s;
        let stale = self
            .sims
            .get(slot)
            .is_some_and(|st| st.last_seen_s.saturating_add(long_s) < window_start_s);
        (slot, stale)
    }

    /// Start the SIM's state afresh at `window_start_s` (its allowlist flag kept).
    pub(super) fn restart(&mut self, slot: u32, window_start_s: u32) {
        let st = self.sims.get_mut(slot).expect("slot just found");
        let allow = st.has(flag::ALLOWLISTED);
        *st = SimState::new(st.key.clone(), window_start_s, allow);
    }

    /// Fold the record into the SIM's windows and measure the SIM; `None` when the
    /// slot holds no state.
    #[inline]
    pub(super) fn fold(
        &mut self,
        slot: u32,
        r: &SmsVolume,
        span: &RecordSpan,
        farm: &FarmIndex,
    ) -> Option<SimRecord> {
        let specs = self.specs;
        let st = self.sims.get_mut(slot)?;
        // the SIM's first record in this medium window: its population sample
        let period = self.medium_s.max(1);
        let sample = st.records == 0 || st.last_seen_s / period != span.t_s / period;
        let folded = record::fold(st, r, &specs, span, farm);
        let features = evaluate::sim_features(st, &specs, r, folded.gateway_tac);
        Some(SimRecord {
            op: st.key.op(),
            sample,
            folded,
            features,
        })
    }

    /// Set the SIM's forwarded bit when it is `hot` at this record (it stays set
    /// until the state restarts or is evicted); the state's flags after that.
    #[inline]
    pub(super) fn note_forwarded(&mut self, slot: u32, hot: bool) -> u8 {
        match self.sims.get_mut(slot) {
            Some(st) => {
                if hot {
                    st.set(flag::FORWARDED, true);
                }
                st.flags
            }
            None => 0,
        }
    }

    /// The features only the rules read, measured for a SIM that may open or update
    /// a case: its active share and, when its pace is held, for how long.
    #[inline]
    pub(super) fn measure_for_rules(&self, slot: u32, rules: &SimRules, f: &mut SimFeatures) {
        let specs = &self.specs;
        if let Some(st) = self.sims.get(slot) {
            f.active_share = evaluate::active_share(st, specs);
            if rules::held_pace(rules, f) {
                // every full bucket of the long window before the current one
                let full = (specs.long.len() - 1) as u32;
                (f.held_hours, f.held_min_per_hour) =
                    evaluate::held_hours(st, specs, rules.held_rate_1h, full);
            }
        }
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
