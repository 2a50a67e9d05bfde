//! SIM-farm grouping: candidate SIMs linked by a shared device, by near-duplicate
//! content in one cell and time window, or by one gateway TAC in one cell are united
//! (union-find) into groups; a group whose members together look like a farm becomes
//! one `sim_farm` case, updated (same id) as the farm grows.
//!
//! Only *candidates* are indexed (SIMs that already show weak risk markers, see
//! [`crate::config::SpamConfig::farm_candidate_markers`]), so grouping costs nothing for
//! ordinary subscribers and a family sharing a phone never forms a group. Members may
//! each stay below every per-SIM threshold ("low and slow", GSMA): the group's
//! aggregated behaviour decides.
//!
//! Expiry is event-time only and invisible in the results: a group whose members were
//! all idle for longer than the long window is dead for any later record whether or not
//! the sweep already removed it.
//!
//! One farm, one case. A group's case is opened once (id from the operator, the
//! smallest member and the hour of opening, see [`cases::farm_case_id`]) and every later
//! snapshot of the group — new members, new reasons, more evidence — carries the same
//! id, which the case book merges. When two groups that each already have a case are
//! united, the united group keeps the case **opened first** (ties: the smaller id):
//! the earliest alarm is the one analysts may already have acted on, and the minimum
//! over `(opened_at, case_id)` does not depend on the order in which several groups
//! join, so the surviving id is deterministic. The surviving case lists every member
//! of both groups from its next snapshot on; the absorbed case is not emitted again
//! (its last snapshot, a subset of the survivor, stays as it was handed over; the
//! contract has no "merged into" status to retire it with) and is counted in
//! `farm_cases_absorbed`.
//!
//! At most `spam.max_open_farm_cases` cases are open: one that must open past it
//! first closes the open case whose group was idle the longest, with its final
//! snapshot (a warning, and the `farm` count of the cap metric).

mod assessment;
mod cases;
mod evaluate;
mod groups;
mod links;
mod sites;

use super::ids::{fast_map, FastMap, SimKey};
use super::rules::{FarmRules, ALL_RULES};
use crate::model::{Case, ContentFingerprint};
use cases::FarmCase;
use std::collections::VecDeque;

/// Most fingerprints remembered per cell and campaign window.
const MAX_CELL_FPS: usize = 2_048;
/// Most SIMs remembered per device.
const MAX_DEVICE_SIMS: usize = 512;

/// Parameters of the grouping (from [`crate::config::SpamConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct FarmParams {
    pub(crate) rules: FarmRules,
    pub(crate) fp_hamming: u32,
    pub(crate) campaign_window_s: u32,
    pub(crate) onset_window_s: u32,
    /// `spam.short_window_secs`: an onset slot's SIMs that reported within this long
    /// (or the record's interval) are still sending when the slot is united.
    pub(crate) recent_s: u32,
    /// `spam.onset_rate_spread` (0: off).
    pub(crate) onset_rate_spread: f64,
    /// `spam.onset_late_join_secs`.
    pub(crate) onset_late_join_s: u32,
    /// `spam.farm_site_onset_secs` (0: sites are never joined).
    pub(crate) site_onset_s: u32,
    pub(crate) long_window_s: u32,
    pub(crate) gateway_learn_sims: u32,
    pub(crate) configured_gateway_tacs: Vec<u32>,
    pub(crate) confidence: [f64; ALL_RULES.len()],
    pub(crate) open_score: f64,
    pub(crate) require_behaviour: bool,
    /// Most SIMs a case lists (`spam.max_farm_sims_listed`).
    pub(crate) max_sims_listed: usize,
    /// Most cases open at once (`spam.max_open_farm_cases`).
    pub(crate) max_open_cases: usize,
}

/// One candidate SIM's record, as the grouping sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberRecord<'a> {
    pub(crate) key: &'a SimKey,
    pub(crate) operator: &'a str,
    pub(crate) t_s: u32,
    pub(crate) window_start_s: u32,
    pub(crate) device: Option<u64>,
    pub(crate) tac: Option<u32>,
    pub(crate) cell: Option<u64>,
    pub(crate) fps: &'a [ContentFingerprint],
    pub(crate) new_medium: u64,
    pub(crate) distinct_medium: u64,
    /// SMS per hour over the short window: the SIM's pace now.
    pub(crate) rate_per_hour: f64,
    /// SMS per hour over the time since its first record (at most the medium
    /// window): the pace it kept, which a burst that slowed down does not share with
    /// a farm.
    pub(crate) rate_seen_per_hour: f64,
    pub(crate) no_voice: bool,
    pub(crate) young_unverified: bool,
    /// The SIM's records carry `new_recipients`.
    pub(crate) has_new: bool,
    /// When the SIM's records carry no device, cell or content (only its onset can
    /// link it): the start of its first record, if it started after the feed did.
    pub(crate) onset_s: Option<u32>,
    /// The record's interval, seconds: an onset is known to within one interval.
    pub(crate) window_s: u32,
    /// The SIM has kept sending for `onset_late_hold_secs` and still does: what
    /// a latecomer to an onset farm must show (see `link_by_onset`).
    pub(crate) onset_proven: bool,
}

#[derive(Debug, Clone)]
struct Node {
    key: SimKey,
    operator: Box<str>,
    parent: u32,
    alive: bool,
    first_seen_s: u32,
    last_seen_s: u32,
    records: u32,
    new_medium: u32,
    distinct_medium: u32,
    cell: u64,
    no_voice: bool,
    young_unverified: bool,
    has_new: bool,
    gateway: bool,
    campaign: bool,
    /// Linked by its onset already (a bare candidate joins its onset slots once).
    onset: bool,
    /// (Bare candidates) the start of the SIM's first record, its onset.
    onset_s: u32,
    /// SMS per hour over the short window at its last record: its pace.
    rate_per_hour: f32,
    /// SMS per hour since its first record (at most the medium window) at its last
    /// record: the pace it kept.
    rate_seen_per_hour: f32,
    /// Last fingerprint stored for this SIM in its cell, and when.
    last_fp: u64,
    last_fp_s: u32,
}

#[derive(Debug, Clone, Default)]
struct Group {
    members: Vec<u32>,
    max_sims_per_device: u32,
    gateway_cell_members: u32,
    onset_members: u32,
    /// Device-linked groups joined into this one as sites of one farm (0 or 1: none).
    sites: u32,
    last_seen_s: u32,
    last_eval_s: u32,
    changed: bool,
    case: Option<FarmCase>,
}

#[derive(Debug, Default)]
struct DeviceEntry {
    nodes: Vec<u32>,
    /// (Onset slots) the slot's SIMs were united: every SIM listed is linked.
    formed: bool,
    /// (Onset slots, once united) the farm's start: the median onset of the SIMs
    /// united. A SIM that began a whole record's interval (or the short window)
    /// before it was there before the farm started and is not linked.
    start_s: u32,
    /// (Onset slots, once united) the median rate of the SIMs united, SMS per hour.
    rate_per_hour: f32,
}

#[derive(Debug, Default)]
struct CellEntry {
    /// `(fingerprint, node, event time s)`, oldest first.
    fps: VecDeque<(u64, u32, u32)>,
    /// `(tac, node)` of candidates seen in the cell.
    tacs: Vec<(u32, u32)>,
    /// Gateway TACs whose members in this cell were already united.
    linked_tacs: Vec<u32>,
    last_seen_s: u32,
}

/// What the grouping did, for the detector's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FarmCounters {
    pub(crate) cases_opened: u64,
    pub(crate) cases_updated: u64,
    pub(crate) cases_absorbed: u64,
    pub(crate) groups_expired: u64,
    /// Open cases closed early because `spam.max_open_farm_cases` were open.
    pub(crate) cases_closed_by_cap: u64,
}

/// All candidates, their links and groups.
pub(crate) struct FarmIndex {
    params: FarmParams,
    nodes: Vec<Node>,
    node_of: FastMap<SimKey, u32>,
    groups: FastMap<u32, Group>,
    devices: FastMap<u64, DeviceEntry>,
    /// Bare candidates by operator and onset slot (two staggered slottings).
    onsets: FastMap<u64, DeviceEntry>,
    cells: FastMap<u64, CellEntry>,
    /// A member of each group that opened a case (sites a later
    /// site may join, see `sites.rs`).
    site_cases: Vec<u32>,
    learned_gateway_tacs: FastMap<u32, u32>,
    dead_nodes: usize,
    /// Groups with an open case.
    open_cases: usize,
    pub(crate) counters: FarmCounters,
}

impl FarmIndex {
    pub(crate) fn new(params: FarmParams) -> Self {
        FarmIndex {
            params,
            nodes: Vec::new(),
            node_of: fast_map(),
            groups: fast_map(),
            devices: fast_map(),
            onsets: fast_map(),
            cells: fast_map(),
            site_cases: Vec::new(),
            learned_gateway_tacs: fast_map(),
            dead_nodes: 0,
            open_cases: 0,
            counters: FarmCounters::default(),
        }
    }

    /// Live candidate SIMs.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes.len() - self.dead_nodes
    }

    /// Groups with an open case.
    #[cfg(test)]
    pub(crate) fn open_cases(&self) -> usize {
        self.open_cases
    }

    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Whether the TAC is a gateway model (configured, or learned from a device that
    /// carried many SIMs).
    pub(crate) fn is_gateway_tac(&self, tac: u32) -> bool {
        self.params.configured_gateway_tacs.contains(&tac)
            || self.learned_gateway_tacs.contains_key(&tac)
    }

    pub(crate) fn learned_gateway_tacs(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.learned_gateway_tacs.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Fold one candidate record in: update its node, unite it with the candidates it
    /// links to (shared device, campaign in its cell, gateway model in its cell) and
    /// evaluate its group; returns the snapshots of farm cases opened or materially
    /// changed by it.
    pub(crate) fn on_record(&mut self, rec: &MemberRecord<'_>, out: &mut Vec<Case>) {
        let node = self.node_for(rec);
        let prev_cell = self.nodes[node as usize].note(rec);
        let mut links: Vec<u32> = Vec::new();
        let onset = match rec.onset_s {
            Some(s) if !self.nodes[node as usize].onset => {
                let joined = self.link_by_onset(node, rec, s, &mut links);
                self.nodes[node as usize].onset = joined.is_some();
                joined.unwrap_or(0)
            }
            _ => 0,
        };
        let device_sims = match rec.device {
            Some(d) => self.link_by_device(node, d, rec, &mut links),
            None => 0,
        };
        let tac = rec.tac.unwrap_or(0);
        self.nodes[node as usize].gateway = tac != 0 && self.is_gateway_tac(tac);
        let gateway_cell = match rec.cell {
            Some(c) => self.link_in_cell(node, c, prev_cell, rec, &mut links),
            None => 0,
        };
        for m in links {
            if m != node {
                self.union(node, m);
            }
        }
        let root = self.find(node);
        if let Some(g) = self.groups.get_mut(&root) {
            g.last_seen_s = g.last_seen_s.max(rec.t_s);
            g.max_sims_per_device = g.max_sims_per_device.max(device_sims);
            g.gateway_cell_members = g.gateway_cell_members.max(gateway_cell);
            g.onset_members = g.onset_members.max(onset);
        }
        self.evaluate(root, rec.t_s, out);
    }

    /// Approximate bytes held by the grouping structures.
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let nodes = self.nodes.capacity() * size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| n.key.heap_bytes() + n.operator.len())
                .sum::<usize>();
        let node_of = self.node_of.capacity() * (size_of::<SimKey>() + 4 + 1);
        let groups = self.groups.capacity() * (size_of::<Group>() + 5)
            + self
                .groups
                .values()
                .map(|g| g.members.capacity() * 4)
                .sum::<usize>();
        let devices = self.devices.capacity() * (size_of::<DeviceEntry>() + 9)
            + self
                .devices
                .values()
                .map(|d| d.nodes.capacity() * 4)
                .sum::<usize>();
        let cells = self.cells.capacity() * (size_of::<CellEntry>() + 9)
            + self
                .cells
                .values()
                .map(|c| c.fps.capacity() * 16 + c.tacs.capacity() * 8)
                .sum::<usize>();
        nodes + node_of + groups + devices + cells
    }
}

impl Node {
    /// Whether the SIM is still a candidate at `t_s`: not dropped, and active within
    /// the long window `long_s`.
    #[inline]
    fn live_at(&self, t_s: u32, long_s: u32) -> bool {
        self.alive && self.last_seen_s.saturating_add(long_s) >= t_s
    }

    /// Take the record's per-SIM figures; returns the cell the SIM was in before.
    #[inline]
    fn note(&mut self, rec: &MemberRecord<'_>) -> u64 {
        let prev_cell = self.cell;
        self.last_seen_s = self.last_seen_s.max(rec.t_s);
        self.records = self.records.saturating_add(1);
        self.new_medium = rec.new_medium.min(u64::from(u32::MAX)) as u32;
        self.distinct_medium = rec.distinct_medium.min(u64::from(u32::MAX)) as u32;
        self.no_voice = rec.no_voice;
        self.young_unverified = rec.young_unverified;
        self.has_new = rec.has_new;
        self.rate_per_hour = rec.rate_per_hour as f32;
        self.rate_seen_per_hour = rec.rate_seen_per_hour as f32;
        if let Some(c) = rec.cell {
            self.cell = c;
        }
        prev_cell
    }
}
