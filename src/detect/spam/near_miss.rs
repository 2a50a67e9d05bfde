//! Near misses: SIMs whose rules would have opened a `spam_sim` case but whose feed
//! carried evidence that explains the volume (`contrary.rs`). They are not cases;
//! they are kept (up to `near_miss_max`, later ones counted) and written as findings
//! (`kind = "spam_near_miss"`), so an analyst can see why a close SIM was not
//! flagged. A SIM whose case opens later is no near miss and is dropped.

use crate::model::Reason;
use serde::Serialize;
use std::collections::BTreeMap;

/// One SIM held back, as the findings list it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NearMiss {
    kind: &'static str,
    severity: &'static str,
    operator: String,
    sim: String,
    /// Event time of the first and the latest record held back, ms.
    first_seen: i64,
    last_seen: i64,
    /// Records held back.
    records: u64,
    /// Highest score the fired rules reached.
    score: f64,
    /// The rules that fired, then the contrary evidence (at the last hold).
    reasons: Vec<Reason>,
}

/// The near misses of a run, by operator and SIM.
#[derive(Debug, Default)]
pub(crate) struct NearMisses {
    by_sim: BTreeMap<(String, String), NearMiss>,
    /// Near misses not kept because `max` were already kept.
    pub(crate) dropped: u64,
}

impl NearMisses {
    /// Note that the SIM was held back at `t_ms` with these reasons.
    pub(crate) fn hold(
        &mut self,
        max: usize,
        (operator, sim): (&str, String),
        t_ms: i64,
        score: f64,
        reasons: Vec<Reason>,
    ) {
        let key = (operator.to_string(), sim);
        if let Some(n) = self.by_sim.get_mut(&key) {
            n.last_seen = n.last_seen.max(t_ms);
            n.records += 1;
            n.score = n.score.max(score);
            n.reasons = reasons;
            return;
        }
        if self.by_sim.len() >= max {
            self.dropped += 1;
            return;
        }
        let (operator, sim) = key.clone();
        self.by_sim.insert(
            key,
            NearMiss {
                kind: "spam_near_miss",
                severity: "low",
                operator,
                sim,
                first_seen: t_ms,
                last_seen: t_ms,
                records: 1,
                score,
                reasons,
            },
        );
    }

    /// The SIM's case opened after all: it is no near miss.
    pub(crate) fn forget(&mut self, operator: &str, sim: &str) {
        if self.by_sim.is_empty() {
            return;
        }
        self.by_sim.remove(&(operator.to_string(), sim.to_string()));
    }

    pub(crate) fn len(&self) -> usize {
        self.by_sim.len()
    }

    /// Every near miss as a JSON object, by operator and SIM.
    pub(crate) fn findings(&self) -> Vec<serde_json::Value> {
        self.by_sim
            .values()
            .filter_map(|n| serde_json::to_value(n).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sim_held_twice_is_one_near_miss_and_an_opened_case_removes_it() {
        let mut n = NearMisses::default();
        let r = vec![Reason::new("ONE_OFF_BURST", 300.0, 500.0)];
        n.hold(2, ("45201", "aa".repeat(8)), 1_000, 0.9, r.clone());
        n.hold(2, ("45201", "aa".repeat(8)), 2_000, 0.95, r.clone());
        n.hold(2, ("45201", "bb".repeat(8)), 2_000, 0.9, r.clone());
        n.hold(2, ("45201", "cc".repeat(8)), 2_000, 0.9, r);
        assert_eq!((n.len(), n.dropped), (2, 1));
        let f = n.findings();
        assert_eq!(f[0]["kind"], "spam_near_miss");
        assert_eq!(f[0]["records"], 2);
        assert_eq!(f[0]["last_seen"], 2_000);
        assert_eq!(f[0]["reasons"][0]["code"], "ONE_OFF_BURST");
        n.forget("45201", &"aa".repeat(8));
        assert_eq!(n.len(), 1);
    }
}
