//! When a group is due for evaluation, and what its evaluation does to its case
//! (open or update), within the cap on open cases.

use super::assessment::{member_records, members_last_seen, GroupEvaluation};
use super::cases::FarmCase;
use super::FarmIndex;
use crate::model::Case;

impl FarmIndex {
    /// Evaluate the group of `root` if it is large enough and due, and open or update
    /// its case. Re-evaluation follows structure changes; otherwise at most once a
    /// minute (no case yet) or every 15 minutes (open case: only new reasons can
    /// change it). A site (`sites.rs`) without a case first looks for the open
    /// case of another site of its farm to join.
    pub(super) fn evaluate(&mut self, mut root: u32, t_s: u32, out: &mut Vec<Case>) {
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
        if g.case.is_none() && self.is_site(g) {
            if let Some(united) = self.join_sites(root) {
                root = united;
            }
        }
        let Some(g) = self.groups.get(&root) else {
            return;
        };
        let eval = GroupEvaluation::of(&self.nodes, &self.params, g, t_s);
        let g = self.groups.get_mut(&root).expect("group checked above");
        g.changed = false;
        g.last_eval_s = t_s;
        if let Some(fc) = g.case.as_mut() {
            fc.update(eval, out, &mut self.counters);
            return;
        }
        let mut opened = Vec::with_capacity(1);
        let Some(fc) = FarmCase::open(&self.params, eval, t_s, &mut opened, &mut self.counters)
        else {
            return;
        };
        if self.open_cases >= self.params.max_open_cases {
            self.make_room(out);
        }
        out.append(&mut opened);
        self.open_cases += 1;
        self.site_cases.push(root);
        if let Some(g) = self.groups.get_mut(&root) {
            g.case = Some(fc);
        }
    }

    /// `spam.max_open_farm_cases` are open: close the case of the group idle the
    /// longest (ties: the lowest root, so the choice depends on the input only) with
    /// its final snapshot. A scan of the groups, paid only at the cap.
    fn make_room(&mut self, out: &mut Vec<Case>) {
        let oldest = self
            .groups
            .iter()
            .filter(|(_, g)| g.case.is_some())
            .map(|(&root, g)| (g.last_seen_s, root))
            .min();
        let Some((_, root)) = oldest else {
            return;
        };
        let g = self.groups.get_mut(&root).expect("root found above");
        let fc = g.case.take().expect("a group with a case");
        let case_id = fc.case_id().to_string();
        let evidence = member_records(&self.nodes, &g.members);
        let last_seen = members_last_seen(&self.nodes, &g.members).unwrap_or(0);
        out.extend(fc.closing_snapshot(evidence, last_seen));
        self.open_cases -= 1;
        self.counters.cases_closed_by_cap += 1;
        let n = self.counters.cases_closed_by_cap;
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(
                max_open_farm_cases = self.params.max_open_cases,
                closed = %case_id,
                closed_by_cap_total = n,
                "spam.max_open_farm_cases reached: the open sim_farm case idle the longest was closed with its final snapshot to open a new one; raise spam.max_open_farm_cases if this repeats"
            );
        }
    }
}
