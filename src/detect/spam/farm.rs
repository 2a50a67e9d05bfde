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
//! smallest member and the hour of opening, see [`farm_case_id`]) and every later
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

use super::ids::{fast_map, FastMap, SimKey};
use super::rules::{FarmFeatures, FarmRules, Fired, RuleId, ALL_RULES};
use super::simhash::hamming;
use crate::model::{Case, CaseKind, CaseStatus, ContentFingerprint};
use std::collections::VecDeque;

/// Most fingerprints remembered per cell and campaign window.
const MAX_CELL_FPS: usize = 2_048;
/// Most SIMs remembered per device.
const MAX_DEVICE_SIMS: usize = 512;

/// Parameters of the grouping (from [`crate::config::SpamConfig`]).
#[derive(Debug, Clone)]
pub struct FarmParams {
    pub rules: FarmRules,
    pub fp_hamming: u32,
    pub campaign_window_s: u32,
    pub long_window_s: u32,
    pub gateway_learn_sims: u32,
    pub configured_gateway_tacs: Vec<u32>,
    pub confidence: [f64; ALL_RULES.len()],
    pub open_score: f64,
    pub require_behaviour: bool,
}

/// One candidate SIM's record, as the grouping sees it.
#[derive(Debug, Clone, Copy)]
pub struct MemberRecord<'a> {
    pub key: &'a SimKey,
    pub operator: &'a str,
    pub t_s: u32,
    pub window_start_s: u32,
    pub device: Option<u64>,
    pub tac: Option<u32>,
    pub cell: Option<u64>,
    pub fps: &'a [ContentFingerprint],
    pub new_medium: u64,
    pub distinct_medium: u64,
    pub no_voice: bool,
    pub young_unverified: bool,
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
    gateway: bool,
    campaign: bool,
    /// Last fingerprint stored for this SIM in its cell, and when.
    last_fp: u64,
    last_fp_s: u32,
}

/// The open `sim_farm` case of a group.
#[derive(Debug, Clone)]
struct FarmCase {
    case: Case,
    fired: Fired,
    emitted_members: usize,
    emitted_mask: u32,
    emitted_evidence: u64,
}

#[derive(Debug, Clone, Default)]
struct Group {
    members: Vec<u32>,
    max_sims_per_device: u32,
    gateway_cell_members: u32,
    last_seen_s: u32,
    last_eval_s: u32,
    changed: bool,
    case: Option<FarmCase>,
}

#[derive(Debug, Default)]
struct DeviceEntry {
    nodes: Vec<u32>,
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
pub struct FarmCounters {
    pub cases_opened: u64,
    pub cases_updated: u64,
    pub cases_absorbed: u64,
    pub groups_expired: u64,
}

/// All candidates, their links and groups.
pub struct FarmIndex {
    params: FarmParams,
    nodes: Vec<Node>,
    node_of: FastMap<SimKey, u32>,
    groups: FastMap<u32, Group>,
    devices: FastMap<u64, DeviceEntry>,
    cells: FastMap<u64, CellEntry>,
    learned_gateway_tacs: FastMap<u32, u32>,
    dead_nodes: usize,
    pub counters: FarmCounters,
}

impl FarmIndex {
    pub fn new(params: FarmParams) -> Self {
        FarmIndex {
            params,
            nodes: Vec::new(),
            node_of: fast_map(),
            groups: fast_map(),
            devices: fast_map(),
            cells: fast_map(),
            learned_gateway_tacs: fast_map(),
            dead_nodes: 0,
            counters: FarmCounters::default(),
        }
    }

    /// Live candidate SIMs.
    pub fn nodes(&self) -> usize {
        self.nodes.len() - self.dead_nodes
    }

    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Whether the TAC is a gateway model (configured, or learned from a device that
    /// carried many SIMs).
    pub fn is_gateway_tac(&self, tac: u32) -> bool {
        self.params.configured_gateway_tacs.contains(&tac)
            || self.learned_gateway_tacs.contains_key(&tac)
    }

    pub fn learned_gateway_tacs(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.learned_gateway_tacs.keys().copied().collect();
        v.sort_unstable();
        v
    }

    fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while self.nodes[root as usize].parent != root {
            root = self.nodes[root as usize].parent;
        }
        while self.nodes[x as usize].parent != root {
            let next = self.nodes[x as usize].parent;
            self.nodes[x as usize].parent = root;
            x = next;
        }
        root
    }

    /// The node of a SIM, a fresh one if it has none or its group is dead.
    fn node_for(&mut self, rec: &MemberRecord<'_>) -> u32 {
        if let Some(&n) = self.node_of.get(rec.key) {
            let root = self.find(n);
            let group_alive = self.groups.get(&root).is_some_and(|g| {
                g.last_seen_s.saturating_add(self.params.long_window_s) >= rec.t_s
            });
            if group_alive && self.nodes[n as usize].alive {
                return n;
            }
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            key: rec.key.clone(),
            operator: rec.operator.into(),
            parent: id,
            alive: true,
            first_seen_s: rec.window_start_s,
            last_seen_s: rec.t_s,
            records: 0,
            new_medium: 0,
            distinct_medium: 0,
            cell: 0,
            no_voice: false,
            young_unverified: false,
            gateway: false,
            campaign: false,
            last_fp: 0,
            last_fp_s: 0,
        });
        if let Some(old) = self.node_of.insert(rec.key.clone(), id) {
            // the old node belongs to a dead group: it is swept with it
            self.nodes[old as usize].alive = false;
            self.dead_nodes += 1;
        }
        self.groups.insert(
            id,
            Group {
                members: vec![id],
                last_seen_s: rec.t_s,
                changed: true,
                ..Group::default()
            },
        );
        id
    }

    /// Unite the groups of `a` and `b`; returns the root of the result.
    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let size = |g: &FastMap<u32, Group>, r: u32| g.get(&r).map_or(0, |g| g.members.len());
        let (big, small) = if size(&self.groups, ra) >= size(&self.groups, rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let small_group = self.groups.remove(&small).unwrap_or_default();
        self.nodes[small as usize].parent = big;
        let g = self.groups.entry(big).or_default();
        g.members.extend(small_group.members);
        g.max_sims_per_device = g.max_sims_per_device.max(small_group.max_sims_per_device);
        g.gateway_cell_members = g.gateway_cell_members.max(small_group.gateway_cell_members);
        g.last_seen_s = g.last_seen_s.max(small_group.last_seen_s);
        g.changed = true;
        // two open cases merge into the one opened first (ties: smaller id)
        g.case = match (g.case.take(), small_group.case) {
            (Some(x), Some(y)) => {
                self.counters.cases_absorbed += 1;
                let x_first =
                    (x.case.opened_at, &x.case.case_id) <= (y.case.opened_at, &y.case.case_id);
                Some(if x_first { x } else { y })
            }
            (x, y) => x.or(y),
        };
        big
    }

    /// Fold one candidate record in; returns the snapshots of farm cases opened or
    /// materially changed by it.
    pub fn on_record(&mut self, rec: &MemberRecord<'_>, out: &mut Vec<Case>) {
        let node = self.node_for(rec);
        let tac = rec.tac.unwrap_or(0);
        let prev_cell = self.nodes[node as usize].cell;
        {
            let n = &mut self.nodes[node as usize];
            n.last_seen_s = n.last_seen_s.max(rec.t_s);
            n.records = n.records.saturating_add(1);
            n.new_medium = rec.new_medium.min(u64::from(u32::MAX)) as u32;
            n.distinct_medium = rec.distinct_medium.min(u64::from(u32::MAX)) as u32;
            n.no_voice = rec.no_voice;
            n.young_unverified = rec.young_unverified;
            if let Some(c) = rec.cell {
                n.cell = c;
            }
        }
        let mut links: Vec<u32> = Vec::new();
        let mut device_sims = 0u32;
        let long = self.params.long_window_s;
        let t = rec.t_s;

        // Shared device: a newcomer on a device joins its list (idle members dropped);
        // when the list reaches `sims_per_device` everyone is united, later newcomers
        // join the first member.
        if let Some(d) = rec.device {
            let nodes = &self.nodes;
            let live = |m: &u32| {
                let n = &nodes[*m as usize];
                n.alive && n.last_seen_s.saturating_add(long) >= t
            };
            let entry = self.devices.entry(d).or_default();
            if !entry.nodes.contains(&node) {
                entry.nodes.retain(live);
                if entry.nodes.len() < MAX_DEVICE_SIMS {
                    entry.nodes.push(node);
                }
                let n = entry.nodes.len() as u32;
                if n >= self.params.gateway_learn_sims && tac != 0 {
                    self.learned_gateway_tacs.insert(tac, n);
                }
                let min = self.params.rules.sims_per_device;
                if n == min {
                    links.extend(entry.nodes.iter().copied());
                } else if n > min {
                    links.push(entry.nodes[0]);
                }
            }
            device_sims = entry.nodes.len() as u32;
        }
        let gateway = tac != 0 && self.is_gateway_tac(tac);
        self.nodes[node as usize].gateway = gateway;

        let mut gateway_cell = 0u32;
        if let Some(c) = rec.cell {
            let window = self.params.campaign_window_s;
            let k = self.params.fp_hamming;
            let nodes = &mut self.nodes;
            let entry = self.cells.entry(c).or_default();
            entry.last_seen_s = entry.last_seen_s.max(t);
            // Near-duplicate content in this cell and window. A SIM already linked by a
            // campaign does not search again (newcomers find it); a fingerprint close
            // to the SIM's last one is not stored twice.
            while entry
                .fps
                .front()
                .is_some_and(|&(_, _, ft)| ft.saturating_add(window) < t)
            {
                entry.fps.pop_front();
            }
            let searching = !nodes[node as usize].campaign;
            let mut matched: Vec<u32> = Vec::new();
            for f in rec.fps {
                if searching {
                    for &(fp, m, ft) in &entry.fps {
                        if m != node
                            && ft.saturating_add(window) >= t
                            && hamming(fp, f.fp) <= k
                            && !matched.contains(&m)
                        {
                            matched.push(m);
                        }
                    }
                }
                let n = &mut nodes[node as usize];
                let fresh = prev_cell == c
                    && n.last_fp_s.saturating_add(window / 2) >= t
                    && hamming(n.last_fp, f.fp) <= k;
                if !fresh {
                    if entry.fps.len() >= MAX_CELL_FPS {
                        entry.fps.pop_front();
                    }
                    entry.fps.push_back((f.fp, node, t));
                    n.last_fp = f.fp;
                    n.last_fp_s = t;
                }
            }
            if searching && matched.len() + 1 >= self.params.rules.campaign_min as usize {
                links.extend(matched.iter().copied());
                for &m in matched.iter().chain(std::iter::once(&node)) {
                    nodes[m as usize].campaign = true;
                }
            }
            // One gateway model in one cell: united once the count is reached, later
            // newcomers join the first.
            if tac != 0 {
                let newcomer = !entry.tacs.contains(&(tac, node));
                if newcomer {
                    entry.tacs.retain(|&(_, m)| {
                        let n = &nodes[m as usize];
                        n.alive && n.last_seen_s.saturating_add(long) >= t
                    });
                    entry.tacs.push((tac, node));
                }
                if gateway {
                    let mut same = entry.tacs.iter().filter(|x| x.0 == tac).map(|x| x.1);
                    gateway_cell = same.clone().count() as u32;
                    if gateway_cell >= self.params.rules.gateway_cell_min {
                        if !entry.linked_tacs.contains(&tac) {
                            entry.linked_tacs.push(tac);
                            links.extend(same);
                        } else if newcomer {
                            links.extend(same.next());
                        }
                    }
                }
            }
        }

        for m in links {
            if m != node {
                self.union(node, m);
            }
        }
        let root = self.find(node);
        if let Some(g) = self.groups.get_mut(&root) {
            g.last_seen_s = g.last_seen_s.max(t);
            g.max_sims_per_device = g.max_sims_per_device.max(device_sims);
            g.gateway_cell_members = g.gateway_cell_members.max(gateway_cell);
        }
        self.evaluate(root, t, out);
    }

    fn features(&self, members: &[u32]) -> FarmFeatures {
        let mut f = FarmFeatures::default();
        let mut cells: Vec<u64> = Vec::with_capacity(members.len());
        for &m in members {
            let n = &self.nodes[m as usize];
            f.members += 1;
            f.new_medium += u64::from(n.new_medium);
            f.distinct_medium += u64::from(n.distinct_medium);
            f.no_voice_members += u32::from(n.no_voice);
            f.young_unverified_members += u32::from(n.young_unverified);
            f.gateway_members += u32::from(n.gateway);
            f.campaign_members += u32::from(n.campaign);
            if n.cell != 0 {
                cells.push(n.cell);
            }
        }
        cells.sort_unstable();
        let mut best = 0u32;
        let mut run = 0u32;
        for i in 0..cells.len() {
            run = if i > 0 && cells[i] == cells[i - 1] {
                run + 1
            } else {
                1
            };
            best = best.max(run);
        }
        f.same_cell_members = best;
        f
    }

    fn evaluate(&mut self, root: u32, t_s: u32, out: &mut Vec<Case>) {
        let Some(g) = self.groups.get(&root) else {
            return;
        };
        if g.members.len() < self.params.rules.min_members as usize {
            return;
        }
        // Re-evaluate on structure changes; otherwise at most once a minute (no case
        // yet) or every 15 minutes (open case: only new reasons can change it).
        let interval = if g.case.is_some() { 900 } else { 60 };
        if !g.changed && t_s < g.last_eval_s.saturating_add(interval) {
            return;
        }
        let members: Vec<u32> = g
            .members
            .iter()
            .copied()
            .filter(|&m| self.nodes[m as usize].alive)
            .collect();
        let mut feats = self.features(&members);
        feats.max_sims_per_device = g.max_sims_per_device;
        feats.gateway_cell_members = g.gateway_cell_members;
        let fired = self.params.rules.evaluate(&feats);
        let score = fired.score(&self.params.confidence);
        let evidence: u64 = members
            .iter()
            .map(|&m| u64::from(self.nodes[m as usize].records))
            .sum();
        let first_seen = members
            .iter()
            .map(|&m| self.nodes[m as usize].first_seen_s)
            .min()
            .unwrap_or(t_s);
        let last_seen = members
            .iter()
            .map(|&m| self.nodes[m as usize].last_seen_s)
            .max()
            .unwrap_or(t_s);
        let mut sims: Vec<(String, &str)> = members
            .iter()
            .map(|&m| {
                let n = &self.nodes[m as usize];
                (n.key.sim(), &*n.operator)
            })
            .collect();
        sims.sort_unstable();
        sims.dedup();
        let params = &self.params;
        let g = self.groups.get_mut(&root).expect("group checked above");
        g.changed = false;
        g.last_eval_s = t_s;
        match &mut g.case {
            None => {
                let linked = fired.mask & RuleId::LINK_MASK != 0;
                let behaves = !params.require_behaviour || fired.has(RuleId::NewRecipientRatio);
                if !(linked && behaves && score >= params.open_score) {
                    return;
                }
                let (first_sim, operator) = (sims[0].0.clone(), sims[0].1.to_string());
                let opened_at = i64::from(t_s) * 1000;
                let case = Case {
                    case_id: farm_case_id(&operator, &first_sim, opened_at),
                    kind: CaseKind::SimFarm,
                    status: CaseStatus::Open,
                    opened_at,
                    first_seen: i64::from(first_seen) * 1000,
                    last_seen: i64::from(last_seen) * 1000,
                    score: round4(score),
                    operator: Some(operator),
                    sims: sims.into_iter().map(|s| s.0).collect(),
                    claimed_cell: None,
                    identities: Vec::new(),
                    location: None,
                    track: Vec::new(),
                    reasons: fired.reasons(),
                    evidence_count: evidence,
                };
                tracing::debug!(case_id = %case.case_id, members = case.sims.len(), "sim farm case opened");
                out.push(case.clone());
                self.counters.cases_opened += 1;
                g.case = Some(FarmCase {
                    emitted_members: case.sims.len(),
                    emitted_mask: fired.mask,
                    emitted_evidence: evidence,
                    case,
                    fired,
                });
            }
            Some(fc) => {
                fc.fired.merge_max(&fired);
                fc.case.score = fc.case.score.max(round4(score));
                fc.case.first_seen = fc.case.first_seen.min(i64::from(first_seen) * 1000);
                fc.case.last_seen = fc.case.last_seen.max(i64::from(last_seen) * 1000);
                fc.case.evidence_count = fc.case.evidence_count.max(evidence);
                let mut all: Vec<String> = std::mem::take(&mut fc.case.sims);
                all.extend(sims.into_iter().map(|s| s.0));
                all.sort_unstable();
                all.dedup();
                fc.case.sims = all;
                fc.case.reasons = fc.fired.reasons();
                if fc.case.sims.len() > fc.emitted_members || fc.fired.mask != fc.emitted_mask {
                    fc.emitted_members = fc.case.sims.len();
                    fc.emitted_mask = fc.fired.mask;
                    fc.emitted_evidence = fc.case.evidence_count;
                    out.push(fc.case.clone());
                    self.counters.cases_updated += 1;
                }
            }
        }
    }

    /// Emit the final snapshot of every open farm case whose evidence moved since its
    /// last snapshot (end of input).
    pub fn flush(&mut self, out: &mut Vec<Case>) {
        let mut roots: Vec<u32> = self.groups.keys().copied().collect();
        roots.sort_unstable();
        for r in roots {
            let members: Vec<u32> = self.groups[&r].members.clone();
            let evidence: u64 = members
                .iter()
                .map(|&m| u64::from(self.nodes[m as usize].records))
                .sum();
            let last_seen = members
                .iter()
                .map(|&m| self.nodes[m as usize].last_seen_s)
                .max()
                .unwrap_or(0);
            if let Some(fc) = self.groups.get_mut(&r).and_then(|g| g.case.as_mut()) {
                fc.case.evidence_count = fc.case.evidence_count.max(evidence);
                fc.case.last_seen = fc.case.last_seen.max(i64::from(last_seen) * 1000);
                if fc.case.evidence_count != fc.emitted_evidence {
                    fc.emitted_evidence = fc.case.evidence_count;
                    out.push(fc.case.clone());
                }
            }
        }
    }

    /// Drop groups, devices and cells idle since before `cutoff_s`, emitting the final
    /// snapshot of their cases; compact the node table when most of it is dead.
    pub fn sweep(&mut self, cutoff_s: u32, out: &mut Vec<Case>) {
        let mut dead_roots: Vec<u32> = self
            .groups
            .iter()
            .filter(|(_, g)| g.last_seen_s < cutoff_s)
            .map(|(&r, _)| r)
            .collect();
        dead_roots.sort_unstable();
        for r in dead_roots {
            let g = self.groups.remove(&r).expect("root listed above");
            if let Some(mut fc) = g.case {
                let evidence: u64 = g
                    .members
                    .iter()
                    .map(|&m| u64::from(self.nodes[m as usize].records))
                    .sum();
                fc.case.evidence_count = fc.case.evidence_count.max(evidence);
                if fc.case.evidence_count != fc.emitted_evidence {
                    out.push(fc.case);
                }
            }
            for m in g.members {
                let n = &mut self.nodes[m as usize];
                if n.alive {
                    n.alive = false;
                    self.dead_nodes += 1;
                }
                if self.node_of.get(&n.key) == Some(&m) {
                    self.node_of.remove(&n.key);
                }
            }
            self.counters.groups_expired += 1;
        }
        let nodes = &self.nodes;
        self.devices.retain(|_, d| {
            d.nodes
                .retain(|&m| nodes[m as usize].alive && nodes[m as usize].last_seen_s >= cutoff_s);
            !d.nodes.is_empty()
        });
        self.cells.retain(|_, c| c.last_seen_s >= cutoff_s);
        if self.dead_nodes > 1_024 && self.dead_nodes * 2 > self.nodes.len() {
            self.compact();
        }
    }

    /// Renumber live nodes densely and rewrite every reference to them. Each group's
    /// first live member becomes its new root.
    fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::with_capacity(self.nodes.len() - self.dead_nodes);
        for (i, n) in self.nodes.iter().enumerate() {
            if n.alive {
                remap[i] = nodes.len() as u32;
                nodes.push(n.clone());
            }
        }
        let mut old_groups: Vec<(u32, Group)> = std::mem::replace(&mut self.groups, fast_map())
            .into_iter()
            .collect();
        old_groups.sort_unstable_by_key(|(r, _)| *r);
        for (_, mut g) in old_groups {
            g.members = g
                .members
                .iter()
                .map(|&m| remap[m as usize])
                .filter(|&m| m != u32::MAX)
                .collect();
            let Some(&root) = g.members.first() else {
                continue;
            };
            for &m in &g.members {
                nodes[m as usize].parent = root;
            }
            self.groups.insert(root, g);
        }
        self.node_of = fast_map();
        for (i, n) in nodes.iter().enumerate() {
            self.node_of.insert(n.key.clone(), i as u32);
        }
        for d in self.devices.values_mut() {
            d.nodes = d
                .nodes
                .iter()
                .map(|&m| remap[m as usize])
                .filter(|&m| m != u32::MAX)
                .collect();
        }
        for c in self.cells.values_mut() {
            c.fps = c
                .fps
                .iter()
                .filter(|x| remap[x.1 as usize] != u32::MAX)
                .map(|&(fp, m, t)| (fp, remap[m as usize], t))
                .collect();
            c.tacs = c
                .tacs
                .iter()
                .filter(|x| remap[x.1 as usize] != u32::MAX)
                .map(|&(tac, m)| (tac, remap[m as usize]))
                .collect();
        }
        self.nodes = nodes;
        self.dead_nodes = 0;
    }

    /// Approximate bytes held by the grouping structures.
    pub fn memory_bytes(&self) -> usize {
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

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// `farm-` + 16 hex of SHA-256 over kind, operator, the smallest member when the case
/// opened and the hour it opened: the same input always gives the same id, and the id
/// stays when the farm grows.
pub fn farm_case_id(operator: &str, first_member: &str, opened_at_ms: i64) -> String {
    super::case_id(
        "farm",
        CaseKind::SimFarm,
        operator,
        first_member,
        opened_at_ms,
    )
}
