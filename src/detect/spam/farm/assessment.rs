//! What one evaluation of a group measures: the aggregates of its live members
//! ([`FarmFeatures`]), the farm rules and score over them, its evidence and span.

use super::{FarmParams, Group, Node};
use crate::detect::spam::rules::{FarmFeatures, Fired};

/// What one evaluation of a group found.
pub(super) struct GroupEvaluation<'a> {
    pub(crate) fired: Fired,
    pub(crate) score: f64,
    /// Live members whose records carry `new_recipients`.
    pub(crate) members_with_new: u32,
    /// Records of the live members.
    pub(crate) evidence: u64,
    pub(crate) first_seen_s: u32,
    pub(crate) last_seen_s: u32,
    /// `(SIM, operator)` of the live members, sorted, without repeats.
    pub(crate) sims: Vec<(String, &'a str)>,
}

impl<'a> GroupEvaluation<'a> {
    pub(super) fn of(
        nodes: &'a [Node],
        params: &FarmParams,
        g: &Group,
        t_s: u32,
    ) -> GroupEvaluation<'a> {
        let members: Vec<u32> = g
            .members
            .iter()
            .copied()
            .filter(|&m| nodes[m as usize].alive)
            .collect();
        let mut feats = features(nodes, &members);
        feats.max_sims_per_device = g.max_sims_per_device;
        feats.gateway_cell_members = g.gateway_cell_members;
        feats.onset_members = g.onset_members;
        feats.sites = g.sites;
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
            members_with_new: feats.members_with_new,
            evidence,
            first_seen_s,
            last_seen_s,
            sims,
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
        f.members_with_new += u32::from(n.has_new);
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

/// Records of the members (their evidence count).
pub(super) fn member_records(nodes: &[Node], members: &[u32]) -> u64 {
    members
        .iter()
        .map(|&m| u64::from(nodes[m as usize].records))
        .sum()
}

/// Latest event time of the members, seconds.
pub(super) fn members_last_seen(nodes: &[Node], members: &[u32]) -> Option<u32> {
    members.iter().map(|&m| nodes[m as usize].last_seen_s).max()
}
