//! When a group is due for evaluation, and what its evaluation does to its case
//! (open or update).

use super::assessment::GroupEvaluation;
use super::cases::FarmCase;
use super::FarmIndex;
use crate::model::Case;

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
