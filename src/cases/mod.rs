//! Case bookkeeping: merges the snapshots detectors emit into one final case per id.

use crate::model::Case;
use std::collections::BTreeMap;

/// All cases of a run, keyed by `case_id`. A later snapshot of a case replaces the
/// earlier one but keeps the earliest `opened_at` and `first_seen`, so an update never
/// moves the moment the evidence first crossed the threshold.
#[derive(Debug, Default)]
pub struct CaseBook {
    cases: BTreeMap<String, Case>,
    updates: u64,
}

impl CaseBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merge one snapshot; returns the merged case.
    pub fn upsert(&mut self, mut case: Case) -> &Case {
        self.updates += 1;
        let id = case.case_id.clone();
        if let Some(prev) = self.cases.get(&id) {
            case.opened_at = case.opened_at.min(prev.opened_at);
            case.first_seen = case.first_seen.min(prev.first_seen);
            case.last_seen = case.last_seen.max(prev.last_seen);
        }
        self.cases.insert(id.clone(), case);
        &self.cases[&id]
    }

    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Number of snapshots merged (opens plus updates).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Final cases in a deterministic order: by `opened_at`, then `case_id`.
    pub fn into_sorted(self) -> Vec<Case> {
        let mut v: Vec<Case> = self.cases.into_values().collect();
        v.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then_with(|| a.case_id.cmp(&b.case_id)));
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = &Case> {
        self.cases.values()
    }
}
