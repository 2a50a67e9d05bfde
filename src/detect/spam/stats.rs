//! What the spam detector counted and how much memory it holds, for the replay summary,
//! the service's metrics and the benchmarks.

use super::cases::SimCase;
use super::ids::SimKey;
use super::state::SimState;
use super::SpamDetector;
use serde::Serialize;

/// Counters and memory figures of a [`SpamDetector`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SpamStats {
    /// SMS-volume records processed.
    pub(crate) records: u64,
    /// Records stage A would forward to stage B whole (docs/streaming.md, "The spam
    /// detector's two stages"): every record of a SIM from the first at which it
    /// could open a case or looked like a farm candidate.
    pub(crate) records_forwarded: u64,
    /// Records of other SIMs that stage A would forward as a population sample only.
    pub(crate) samples_forwarded: u64,
    /// Records of other SIMs, not samples, that stage A would forward as a refit
    /// tick only (its first past a refit boundary).
    pub(crate) ticks_forwarded: u64,
    /// SIMs currently tracked.
    pub tracked_sims: u64,
    /// Hot SIMs stage B marks (open case, suppressed, farm node), and the bytes of
    /// its map of them.
    pub(crate) marked_sims: u64,
    pub(crate) stage_b_marked_bytes: u64,
    /// SIM states evicted after being idle longer than the long window.
    pub evicted_sims: u64,
    /// States restarted because a record came after an idle gap longer than the long
    /// window (before the sweep got to them).
    pub(crate) restarted_sims: u64,
    /// `spam_sim` cases held back because the SIM is allowlisted.
    pub allowlist_suppressed: u64,
    /// Records at which contrary evidence held back a case the rules would open.
    pub(crate) near_miss_holds: u64,
    /// SIMs held back so (near misses kept for the findings), and those not kept
    /// because `near_miss_max` were.
    pub(crate) near_misses: u64,
    pub(crate) near_misses_dropped: u64,
    /// Population baselines (one per operator and reporting interval).
    pub(crate) baselines: u64,
    /// Allowlisted SIMs kept out of farm grouping although they showed risk markers.
    pub(crate) allowlist_farm_excluded: u64,
    pub spam_cases_opened: u64,
    /// Open `spam_sim` cases closed early (with their final snapshot) because
    /// `spam.max_open_cases` were open when another had to open.
    pub cases_closed_by_cap: u64,
    pub(crate) spam_cases_updated: u64,
    pub farm_cases_opened: u64,
    pub(crate) farm_cases_updated: u64,
    /// Open `sim_farm` cases closed early (with their final snapshot) because
    /// `spam.max_open_farm_cases` were open when another had to open.
    pub farm_cases_closed_by_cap: u64,
    /// Farm cases merged into another when their groups joined.
    pub(crate) farm_cases_absorbed: u64,
    /// SIMs indexed for farm grouping.
    pub farm_candidates: u64,
    pub(crate) farm_groups: u64,
    /// TACs learned as gateway models from devices carrying many SIMs.
    pub(crate) learned_gateway_tacs: Vec<u32>,
    /// `size_of` one SIM's state (key and windows included), bytes.
    pub state_bytes_per_sim: u64,
    /// Measured bytes of every structure of the detector (SIM table, open cases,
    /// farm index, baseline) divided by the tracked SIMs.
    pub memory_bytes_per_sim: f64,
}

impl SpamDetector {
    /// Counters and memory figures now.
    pub fn stats(&self) -> SpamStats {
        let (a, b) = (&self.stage_a, &self.stage_b);
        let mut s = b.stats.clone();
        let c = a.counters;
        s.records = c.records;
        s.records_forwarded = c.records_forwarded;
        s.samples_forwarded = c.samples_forwarded;
        s.ticks_forwarded = c.ticks_forwarded;
        s.restarted_sims = c.restarted_sims;
        s.evicted_sims = c.evicted_sims;
        s.tracked_sims = a.sims.len() as u64;
        s.marked_sims = b.marked.len() as u64;
        s.farm_candidates = b.farm.nodes() as u64;
        s.farm_groups = b.farm.groups() as u64;
        s.farm_cases_opened = b.farm.counters.cases_opened;
        s.farm_cases_updated = b.farm.counters.cases_updated;
        s.farm_cases_absorbed = b.farm.counters.cases_absorbed;
        s.farm_cases_closed_by_cap = b.farm.counters.cases_closed_by_cap;
        s.learned_gateway_tacs = b.farm.learned_gateway_tacs();
        s.near_misses = b.near_misses.len() as u64;
        s.near_misses_dropped = b.near_misses.dropped;
        s.baselines = b.baselines.len() as u64;
        s.state_bytes_per_sim = std::mem::size_of::<Option<SimState>>() as u64;
        // 512 bytes: the reasons, SIMs and id of an open case
        let case_bytes = b.cases.capacity() * (std::mem::size_of::<(SimKey, SimCase)>() + 1)
            + b.cases.len() * 512;
        s.stage_b_marked_bytes = b.marked_bytes() as u64;
        // a baseline's histogram is ~1.6 kB; a near miss ~512 bytes with its reasons
        let total = a.memory_bytes()
            + b.marked_bytes()
            + case_bytes
            + b.farm.memory_bytes()
            + b.baselines.len() * 2 * 1024
            + b.near_misses.len() * 512;
        s.memory_bytes_per_sim = if a.sims.is_empty() {
            0.0
        } else {
            total as f64 / a.sims.len() as f64
        };
        s
    }
}
