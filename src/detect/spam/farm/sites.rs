//! One farm at several sites (`FARM_SITES`): the links of `links.rs` stop at a cell
//! (content and gateway model) or a device, so a farm whose gateways stand at four
//! serving cells forms four groups, each a farm on its own. A *site* — a group tied
//! both by hardware (`SIMS_PER_DEVICE` or `GATEWAY_TAC_CELL`) and by one template in
//! its cell (`TEMPLATE_CAMPAIGN`) — without a case joins the open farm case of
//! another site when what ties gateways of one owner together across cells holds:
//! the same operator, the same template (a member's fingerprint within `fp_hamming`
//! bits of a case member's) and a common start (first records within
//! `spam.farm_site_onset_secs`).
//!
//! Independent spammers of one campaign share a template and maybe a start, but
//! not a device; a phone shared by a few spam SIMs of whatever campaigns, scattered
//! over cells, shows no template campaign in a cell (seen: four such phones of one
//! campaign were merged into one "farm at 4 sites" when a shared device was enough).
//! Gateway models are no requirement: they are often learned only after the sites
//! opened their cases. A feed without `content_fps` cannot show the template, and
//! one without `device` and `imei_tac` the hardware, so its sites stay apart (absent
//! evidence is no evidence). The search runs only for a site without a case, at
//! most once a minute of event time per group, over the open cases.

use super::{FarmIndex, Group, Node};
use crate::detect::spam::simhash::hamming;

/// Most fingerprints compared per group (its members' latest).
const MAX_SITE_FPS: usize = 64;

impl FarmIndex {
    /// Whether a group is a site, a farm's gateways in one cell: tied by one
    /// template in its cell (`TEMPLATE_CAMPAIGN` would fire on it), or by hardware
    /// (`SIMS_PER_DEVICE` or `GATEWAY_TAC_CELL` would) with every member that
    /// reported a cell in the same one (at least `campaign_min_sims` of them). Either
    /// holds from a site's first minute, whichever of its links formed first: sites
    /// of one farm starting together would otherwise open their cases before they
    /// are sites, one case each. A phone shared by spam SIMs scattered over cells is
    /// neither.
    pub(super) fn is_site(&self, g: &Group) -> bool {
        let r = &self.params.rules;
        let min = r.campaign_min as usize;
        let live = || {
            g.members
                .iter()
                .map(|&m| &self.nodes[m as usize])
                .filter(|n| n.alive)
        };
        if live().filter(|n| n.campaign).count() >= min {
            return true;
        }
        let hardware = g.max_sims_per_device >= r.sims_per_device
            || g.gateway_cell_members >= r.gateway_cell_min;
        if !hardware {
            return false;
        }
        let mut cells = live().map(|n| n.cell).filter(|&c| c != 0);
        let Some(first) = cells.next() else {
            return false;
        };
        let mut n = 1;
        for c in cells {
            if c != first {
                return false;
            }
            n += 1;
        }
        n >= min
    }

    /// Join the site of `root` (no case yet) to every open case whose group is a
    /// site of the same farm; returns the root of the united group when it joined.
    pub(super) fn join_sites(&mut self, root: u32) -> Option<u32> {
        if self.params.site_onset_s == 0 || self.site_cases.is_empty() {
            return None;
        }
        let (operator, onset, fps) = {
            let g = self.groups.get(&root)?;
            let live = live_members(&self.nodes, g);
            let first = live
                .iter()
                .map(|&m| (self.nodes[m as usize].key.sim(), m))
                .min()?;
            let operator = self.nodes[first.1 as usize].operator.clone();
            let onset = live
                .iter()
                .map(|&m| self.nodes[m as usize].first_seen_s)
                .min()?;
            (operator, onset, member_fingerprints(&self.nodes, &live))
        };
        if fps.is_empty() {
            return None;
        }
        let mut roots: Vec<u32> = Vec::with_capacity(self.site_cases.len());
        for i in 0..self.site_cases.len() {
            let r = self.find(self.site_cases[i]);
            if self.groups.get(&r).is_some_and(|g| g.case.is_some()) && !roots.contains(&r) {
                roots.push(r);
            }
        }
        roots.sort_unstable();
        // one entry per live site case (the others died or were absorbed)
        self.site_cases.clone_from(&roots);
        let matched: Vec<u32> = roots
            .into_iter()
            .filter(|&r| r != root && self.same_farm(r, &operator, onset, &fps))
            .collect();
        if matched.is_empty() {
            return None;
        }
        let mut sites = 0;
        let mut united = root;
        for &r in std::iter::once(&root).chain(&matched) {
            sites += self.groups.get(&r).map_or(1, |g| g.sites.max(1));
        }
        for r in matched {
            united = self.union(united, r);
        }
        let g = self.groups.get_mut(&united)?;
        g.sites = sites;
        tracing::debug!(sites, "sim farm sites joined into one case");
        Some(united)
    }

    /// Whether the open case of group `r` is a site of the same farm as a group of
    /// `operator` that started at `onset` and sends `fps`.
    fn same_farm(&self, r: u32, operator: &str, onset: u32, fps: &[u64]) -> bool {
        let Some(g) = self.groups.get(&r) else {
            return false;
        };
        let Some(case) = g.case.as_ref().map(|c| c.case()) else {
            return false;
        };
        if case.operator.as_deref() != Some(operator) || !self.is_site(g) {
            return false;
        }
        let their_onset = (case.first_seen / 1000).clamp(0, i64::from(u32::MAX));
        if (their_onset - i64::from(onset)).unsigned_abs() > u64::from(self.params.site_onset_s) {
            return false;
        }
        let theirs = member_fingerprints(&self.nodes, &live_members(&self.nodes, g));
        let k = self.params.fp_hamming;
        fps.iter()
            .any(|&a| theirs.iter().any(|&b| hamming(a, b) <= k))
    }
}

fn live_members(nodes: &[Node], g: &Group) -> Vec<u32> {
    g.members
        .iter()
        .copied()
        .filter(|&m| nodes[m as usize].alive)
        .collect()
}

/// The latest stored fingerprint of each member that sent content (one per member,
/// at most [`MAX_SITE_FPS`]).
fn member_fingerprints(nodes: &[Node], members: &[u32]) -> Vec<u64> {
    members
        .iter()
        .map(|&m| &nodes[m as usize])
        .filter(|n| n.last_fp_s != 0)
        .map(|n| n.last_fp)
        .take(MAX_SITE_FPS)
        .collect()
}
