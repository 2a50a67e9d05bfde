//! The `sim_farm` case of a group: opened once the group's evaluation shows a link, the
//! behaviour and the score; re-emitted (same id) when members or reasons are added;
//! a last snapshot when the group expires or the input ends; the one opened first
//! survives when two groups with cases unite.

use super::assessment::{member_records, members_last_seen, GroupEvaluation};
use super::{FarmCounters, FarmIndex, FarmParams};
use crate::detect::spam::cases::sim_case_id;
use crate::detect::spam::rules::{Fired, RuleId};
use crate::model::{round4, Case, CaseKind, CaseStatus, Reason};

/// The reason code of a farm with more members than its case lists.
pub(crate) const FARM_MEMBERS_UNLISTED: &str = "FARM_MEMBERS_UNLISTED";

/// The open `sim_farm` case of a group.
#[derive(Debug, Clone)]
pub(super) struct FarmCase {
    case: Case,
    fired: Fired,
    /// Members the farm is known to have: the listed SIMs, or more when the list
    /// reached `max_sims_listed`.
    members: usize,
    max_listed: usize,
    emitted_members: usize,
    emitted_mask: u32,
    emitted_evidence: u64,
}

impl FarmCase {
    /// Open a case when the evaluation shows a link rule, the behaviour rule (unless
    /// not required) and the opening score; its snapshot goes to `out`.
    pub(super) fn open(
        params: &FarmParams,
        eval: GroupEvaluation<'_>,
        t_s: u32,
        out: &mut Vec<Case>,
        counters: &mut FarmCounters,
    ) -> Option<FarmCase> {
        let fired = eval.fired;
        let linked = fired.mask & RuleId::LINK_MASK != 0;
        // the behaviour rule is required only when the members' feed can carry it
        let behaves = !params.require_behaviour
            || fired.has(RuleId::NewRecipientRatio)
            || eval.members_with_new == 0;
        if !(linked && behaves && eval.score >= params.open_score) {
            return None;
        }
        let sims = eval.sims;
        let (first_sim, operator) = (sims[0].0.clone(), sims[0].1.to_string());
        let members = sims.len();
        let mut listed: Vec<String> = sims.into_iter().map(|s| s.0).collect();
        listed.truncate(params.max_sims_listed);
        let opened_at = i64::from(t_s) * 1000;
        let case = Case {
            case_id: farm_case_id(&operator, &first_sim, opened_at),
            kind: CaseKind::SimFarm,
            status: CaseStatus::Open,
            opened_at,
            first_seen: i64::from(eval.first_seen_s) * 1000,
            last_seen: i64::from(eval.last_seen_s) * 1000,
            score: round4(eval.score),
            operator: Some(operator),
            sims: listed,
            claimed_cell: None,
            identities: Vec::new(),
            location: None,
            track: Vec::new(),
            reasons: fired.reasons(),
            evidence_count: eval.evidence,
        };
        let mut fc = FarmCase {
            members,
            max_listed: params.max_sims_listed,
            emitted_members: members,
            emitted_mask: fired.mask,
            emitted_evidence: eval.evidence,
            case,
            fired,
        };
        fc.note_unlisted(0);
        tracing::debug!(case_id = %fc.case.case_id, members, "sim farm case opened");
        out.push(fc.case.clone());
        counters.cases_opened += 1;
        Some(fc)
    }

    /// Past `max_listed` members: the reason that says how many the farm has, and a
    /// warning the first time (`before`: the members known before this evaluation).
    fn note_unlisted(&mut self, before: usize) {
        if self.members <= self.max_listed {
            return;
        }
        if before <= self.max_listed {
            tracing::warn!(
                case_id = %self.case.case_id,
                members = self.members,
                max_farm_sims_listed = self.max_listed,
                "sim farm case lists its first spam.max_farm_sims_listed SIMs only; reason FARM_MEMBERS_UNLISTED carries the member count"
            );
        }
        self.case.reasons.push(Reason::new(
            FARM_MEMBERS_UNLISTED,
            self.members as f64,
            self.max_listed as f64,
        ));
    }

    /// Fold a later evaluation in; a snapshot goes to `out` when members or reasons
    /// were added.
    pub(super) fn update(
        &mut self,
        eval: GroupEvaluation<'_>,
        out: &mut Vec<Case>,
        counters: &mut FarmCounters,
    ) {
        self.fired.merge_max(&eval.fired);
        let case = &mut self.case;
        case.score = case.score.max(round4(eval.score));
        case.first_seen = case.first_seen.min(i64::from(eval.first_seen_s) * 1000);
        case.last_seen = case.last_seen.max(i64::from(eval.last_seen_s) * 1000);
        case.evidence_count = case.evidence_count.max(eval.evidence);
        let mut all: Vec<String> = std::mem::take(&mut case.sims);
        all.extend(eval.sims.into_iter().map(|s| s.0));
        all.sort_unstable();
        all.dedup();
        let before = self.members;
        self.members = self.members.max(all.len());
        all.truncate(self.max_listed);
        case.sims = all;
        case.reasons = self.fired.reasons();
        self.note_unlisted(before);
        if self.members > self.emitted_members || self.fired.mask != self.emitted_mask {
            self.emitted_members = self.members;
            self.emitted_mask = self.fired.mask;
            self.emitted_evidence = self.case.evidence_count;
            out.push(self.case.clone());
            counters.cases_updated += 1;
        }
    }

    /// Two groups with cases united: the case opened first survives (ties: the smaller
    /// id), whatever order the groups join in.
    pub(super) fn opened_first(x: FarmCase, y: FarmCase) -> FarmCase {
        let x_first = (x.case.opened_at, &x.case.case_id) <= (y.case.opened_at, &y.case.case_id);
        if x_first {
            x
        } else {
            y
        }
    }

    /// The case as last folded (its operator and first sighting for `FARM_SITES`).
    pub(super) fn case(&self) -> &Case {
        &self.case
    }

    pub(super) fn case_id(&self) -> &str {
        &self.case.case_id
    }

    /// The last snapshot of a case closed while its group lives on (the cap on open
    /// cases): as at the end of the input, with the members' `evidence` and last
    /// sighting, if the evidence moved.
    pub(super) fn closing_snapshot(mut self, evidence: u64, last_seen_s: u32) -> Option<Case> {
        self.case.last_seen = self.case.last_seen.max(i64::from(last_seen_s) * 1000);
        self.final_snapshot(evidence)
    }

    /// The last snapshot of an expired group's case, if its members' `evidence` moved.
    pub(super) fn final_snapshot(mut self, evidence: u64) -> Option<Case> {
        self.case.evidence_count = self.case.evidence_count.max(evidence);
        (self.case.evidence_count != self.emitted_evidence).then_some(self.case)
    }
}

impl FarmIndex {
    /// Emit the final snapshot of every open farm case whose evidence moved since its
    /// last snapshot (end of input).
    pub(crate) fn flush(&mut self, out: &mut Vec<Case>) {
        self.snapshots(out, true);
    }

    /// The snapshots [`FarmIndex::flush`] would emit, in the same order, with nothing
    /// marked as emitted (a stage's flush: state unchanged).
    pub(crate) fn peek_snapshots(&mut self, out: &mut Vec<Case>) {
        self.snapshots(out, false);
    }

    fn snapshots(&mut self, out: &mut Vec<Case>, mark: bool) {
        let mut roots: Vec<u32> = self.groups.keys().copied().collect();
        roots.sort_unstable();
        for r in roots {
            let members = &self.groups[&r].members;
            let evidence = member_records(&self.nodes, members);
            let last_seen = members_last_seen(&self.nodes, members).unwrap_or(0);
            if let Some(fc) = self.groups.get_mut(&r).and_then(|g| g.case.as_mut()) {
                let mut case = fc.case.clone();
                case.evidence_count = case.evidence_count.max(evidence);
                case.last_seen = case.last_seen.max(i64::from(last_seen) * 1000);
                let moved = case.evidence_count != fc.emitted_evidence;
                if mark {
                    fc.case = case.clone();
                    if moved {
                        fc.emitted_evidence = case.evidence_count;
                    }
                }
                if moved {
                    out.push(case);
                }
            }
        }
    }
}

/// `farm-` + 16 hex of SHA-256 over kind, operator, the smallest member when the case
/// opened and the hour it opened: the same input always gives the same id, and the id
/// stays when the farm grows.
pub(crate) fn farm_case_id(operator: &str, first_member: &str, opened_at_ms: i64) -> String {
    sim_case_id(
        "farm",
        CaseKind::SimFarm,
        operator,
        first_member,
        opened_at_ms,
    )
}
