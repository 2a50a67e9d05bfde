//! Evaluation of a group: the aggregates of its live members ([`FarmFeatures`]), the
//! farm rules and score over them, and when a group is due for evaluation.

use super::cases::FarmCase;
use super::groups::{member_records, members_last_seen};
use super::{FarmIndex, FarmParams, Group, Node};
use crate::detect::spam::rules::{FarmFeatures, Fired};
use crate::model::Case;

/// What one evaluation of a group found.
pub(super) struct GroupEvaluation<'a> {
    pub fired: Fired,
    pub score: f64,
    /// Records of the live members.
    pub evidence: u64,
    pub first_seen_s: u32,
    pub last_seen_s: u32,
    /// `(SIM, operator)` of the live members, sorted, without repeats.
    pub sims: Vec<(String, &'a str)>,
}

impl<'a> GroupEvaluation<'a> {
    fn of(nodes: &'a [Node], params: &FarmParams, g: &Group, t_s: u32) -> GroupEvaluation<'a> {
        let members: Vec<u32> = g
            .members
            .iter()
            .copied()
            .filter(|&m| nodes[m as usize].alive)
            .collect();
        let mut feats = features(nodes, &members);
        feats.max_sims_per_device = g.max_sims_per_device;
        feats.gateway_cell_members = g.gateway_cell_members;
        let fired = params.rules.evaluate(&feats);
        let score = fired.score(&params.confidence);
        let evidence = member_records(nodes, &members);
        let first_seen_s = members
            .iter()
            .map(|&m| nodes[m as usize].first_seen_s)
            .min()
            .unwrap_or(t_s);
        let last_seen_s = members_last_seen(nodes, &members).unwrap_or(t_s);
        let mut sims: Vec<(String, &str)> = members
            .iter()
            .map(|&m| {
                let n = &nodes[m as usize];
                (n.key.sim(), &*n.operator)
            })
            .collect();
        sims.sort_unstable();
        sims.dedup();
        GroupEvaluation {
            fired,
            score,
            evidence,
            first_seen_s,
            last_seen_s,
            sims,
        }
    }
}

impl FarmIndex {
    /// Evaluate the group of `root` if it is large enough and due, and open or update
    /// its case. Re-evaluation follows structure changes; otherwise at most once a
    /// minute (no case yet) or every 15 minutes (open case: only new reasons can
    /// change it).
    pub(super) fn evaluate(&mut self, root: u32, t_s: u32, out: &mut Vec<Case>) {
        let Some(g) = self.groups.get(&root) else {
            return;
        };
        if g.members.len() < self.params.rules.min_members as usize {
            return;
        }
        let interval = if g.case.is_some() { 900 } else { 60 };
        if !g.changed && t_s < g.last_eval_s.saturating_add(interval) {
            return;
        }
        let eval = GroupEvaluation::of(&self.nodes, &self.params, g, t_s);
        let g = self.groups.get_mut(&root).expect("group checked above");
        g.changed = false;
        g.last_eval_s = t_s;
        match g.case.as_mut() {
            Some(fc) => fc.update(eval, out, &mut self.counters),
            None => g.case = FarmCase::open(&self.params, eval, t_s, out, &mut self.counters),
        }
    }
}

/// Aggregates of the members (the most SIMs per device and the gateway-cell members
/// are the group's, filled in by the caller).
fn features(nodes: &[Node], members: &[u32]) -> FarmFeatures {
    let mut f = FarmFeatures::default();
    let mut cells: Vec<u64> = Vec::with_capacity(members.len());
    for &m in members {
        let n = &nodes[m as usize];
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
