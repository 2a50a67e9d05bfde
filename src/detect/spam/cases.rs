//! The `spam_sim` case of a SIM, from opening to its last snapshot: it opens when an
//! evaluation passes the behaviour gate and the score, is re-emitted when new rules
//! fire, and gets a final snapshot (if its evidence moved) when the SIM goes idle or
//! the input ends. One incident, one case; a SIM idle for longer than the long window
//! starts a new incident. Stage B's (`cross.rs`): cases are keyed by (operator, SIM).

use super::contrary::Contrary;
use super::cross::{mark, CrossSim, Evidence};
use super::forward::Seen;
use super::ids::SimKey;
use super::rules::{Fired, RuleId, SimFeatures};
use super::state::field;
use crate::detect::case_id::digest_id;
use crate::detect::CaseSink;
use crate::model::{round4, Case, CaseKind, CaseStatus};

/// Deterministic case id of a SIM case (`spam_sim`, `sim_farm`): `PREFIX-` + the first
/// 16 hex characters of SHA-256 over `kind|operator|sim|hour of opened_at`.
pub(crate) fn sim_case_id(
    prefix: &str,
    kind: CaseKind,
    operator: &str,
    sim: &str,
    opened_at_ms: i64,
) -> String {
    let hour = opened_at_ms.div_euclid(3_600_000);
    digest_id(
        prefix,
        &format!("{}|{}|{}|{}", kind.as_str(), operator, sim, hour),
    )
}

/// Whether the fired rules show a broadcast: one message per recipient, or most to
/// numbers the SIM never texted (each only where the feed carries its fields).
#[inline]
fn broadcast(fired: &Fired) -> bool {
    fired.has(RuleId::NewRecipientRatio) || fired.has(RuleId::DistinctRatio)
}

/// Event time in whole seconds.
#[inline]
fn secs(ms: i64) -> u32 {
    (ms.max(0) / 1000).min(i64::from(u32::MAX)) as u32
}

/// What the opening gate decided for a SIM without an open case.
enum Gate {
    Closed,
    Open,
    /// The rules would open a case, but the feed carries evidence against it.
    Held(Contrary),
}

/// An open `spam_sim` case.
#[derive(Debug, Clone)]
pub(super) struct SimCase {
    case: Case,
    fired: Fired,
    emitted_mask: u32,
    emitted_evidence: u64,
    /// When its template was last written to the shared templates (seconds).
    noted_s: u32,
}

/// A SIM at one record, as stage B knows it: its key, the record (operator and SIM
/// by name), its evidence and whether it is allowlisted.
pub(super) type SimAt<'a> = (&'a SimKey, &'a Seen<'a>, Evidence, bool);

impl SimCase {
    /// Fold a later evaluation in; true when it fired new rules (a snapshot is due).
    fn update(&mut self, fired: &Fired, score: f64, evidence: Evidence) -> bool {
        self.fired.merge_max(fired);
        self.case.score = self.case.score.max(round4(score));
        self.case.last_seen = self.case.last_seen.max(evidence.last_seen_ms);
        self.case.evidence_count = evidence.records;
        if self.fired.mask == self.emitted_mask {
            return false;
        }
        self.case.reasons = self.fired.reasons();
        self.emitted_mask = self.fired.mask;
        self.emitted_evidence = evidence.records;
        true
    }

    /// Bring the evidence count and last sighting up to the SIM's last record.
    fn catch_up(&mut self, records: u32, last_seen_s: u32) {
        self.case.evidence_count = u64::from(records);
        self.case.last_seen = self.case.last_seen.max(i64::from(last_seen_s) * 1000);
    }

    /// The case's operator and SIM: the order of snapshots emitted together.
    fn names(&self) -> (&str, &str) {
        let sim = self.case.sims.first().map_or("", String::as_str);
        (self.case.operator.as_deref().unwrap_or(""), sim)
    }

    /// Whether the evidence moved since the last snapshot.
    fn evidence_moved(&self) -> bool {
        self.case.evidence_count != self.emitted_evidence
    }
}

impl CrossSim {
    /// Act on one evaluation of a SIM's rules: update its open case, or open one when
    /// the gate and the score are met and no contrary evidence holds it back (unless
    /// the SIM is allowlisted); a SIM held back is a near miss.
    pub(super) fn apply_sim_rules(
        &mut self,
        sim: SimAt,
        end_ms: i64,
        fired: &Fired,
        f: &SimFeatures,
        out: &mut dyn CaseSink,
    ) {
        let t_s = secs(end_ms);
        let mut fired = *fired;
        let mut score = fired.score(&self.confidence);
        let (key, r, evidence, allowlisted) = sim;
        if self.marks(key) & mark::CASE_OPEN != 0 {
            let Some(sc) = self.cases.get_mut(key) else {
                return;
            };
            // keep the SIM's template known to later broadcasters while it sends
            let due = t_s >= sc.noted_s.saturating_add(self.config.short_window_secs);
            if let (true, Some(fp)) = (due && broadcast(&fired), f.top_fp) {
                sc.noted_s = t_s;
                self.templates.note(fp, key, t_s, self.config.fp_hamming);
            }
            if sc.update(&fired, score, evidence) {
                out.emit(sc.case.clone());
                self.stats.spam_cases_updated += 1;
            }
            return;
        }
        if score >= self.config.open_score {
            self.campaign_template(key, t_s, &mut fired, f);
            score = fired.score(&self.confidence);
        }
        let fired = &fired;
        match self.gate(fired, score, f) {
            Gate::Closed => return,
            Gate::Held(contrary) => {
                self.hold(r, end_ms, fired, score, contrary);
                return;
            }
            Gate::Open => {}
        }
        if allowlisted {
            self.suppress_case(key, r, &evidence);
            return;
        }
        self.open_case(sim, end_ms, fired, score, out);
    }

    /// The opening gate: the score reaches `open_score`, and either a volume rule and
    /// the behaviour rule fired (unless behaviour is not required; on a feed without
    /// `new_recipients`, `DISTINCT_RATIO` with `TEMPLATE_CAMPAIGN` stands for it) or
    /// `RATE_FAR_BEYOND` did; then the contrary evidence the feed carries may still
    /// hold the case back.
    fn gate(&self, fired: &Fired, score: f64, f: &SimFeatures) -> Gate {
        if score < self.config.open_score {
            return self.within_contact_book(f);
        }
        let volume = fired.mask & RuleId::VOLUME_MASK != 0;
        // where the feed does not carry `new_recipients`, one message per recipient
        // of a template other broadcasters send shows the broadcast instead
        let campaign = !f.carries(field::NEW)
            && fired.has(RuleId::DistinctRatio)
            && fired.has(RuleId::TemplateCampaign);
        let behaviour = fired.has(RuleId::NewRecipientRatio) || campaign;
        let by_behaviour = !self.config.require_behaviour || (volume && behaviour);
        let by_far = fired.opens_alone();
        if !by_behaviour && !by_far {
            return self.within_contact_book(f);
        }
        let contrary = Contrary::of(&self.config, f, fired);
        if (by_behaviour && !contrary.holds_behaviour) || (by_far && !contrary.holds_far) {
            return Gate::Open;
        }
        Gate::Held(contrary)
    }

    /// A SIM whose rate is far beyond and held, on a feed that cannot tell its burst
    /// from a subscriber's "send to all" before it has sent more than a contact book
    /// holds: not flagged yet, and a near miss that says why
    /// (`WITHIN_CONTACT_BOOK`: value the SMS sent over the long window).
    fn within_contact_book(&self, f: &SimFeatures) -> Gate {
        if !super::rules::far_within_contact_book(&self.rules, f) {
            return Gate::Closed;
        }
        Gate::Held(Contrary::within_contact_book(
            f.out_long,
            self.config.far_rate_24h,
        ))
    }

    /// A broadcast whose template other broadcasting SIMs sent within the campaign
    /// window (`templates.rs`) fires `TEMPLATE_CAMPAIGN` (value: the SIMs, this one
    /// included); the SIM's template is remembered for later broadcasters either way.
    fn campaign_template(&mut self, key: &SimKey, t_s: u32, fired: &mut Fired, f: &SimFeatures) {
        let Some(fp) = f.top_fp.filter(|_| broadcast(fired)) else {
            return;
        };
        let c = &self.config;
        let since = t_s.saturating_sub(c.campaign_window_secs);
        let sims = self.templates.others(fp, key, since, c.fp_hamming) + 1;
        self.templates.note(fp, key, t_s, c.fp_hamming);
        if sims >= c.campaign_min_sims {
            fired.push(
                RuleId::TemplateCampaign,
                f64::from(sims),
                f64::from(c.campaign_min_sims),
            );
        }
    }

    /// A SIM met the gate but contrary evidence held it back: a near miss.
    fn hold(&mut self, r: &Seen, end_ms: i64, fired: &Fired, score: f64, contrary: Contrary) {
        let mut reasons = fired.reasons();
        reasons.extend(contrary.reasons);
        let max = self.config.near_miss_max as usize;
        self.near_misses.hold(
            max,
            (r.operator, r.sim.to_string()),
            end_ms,
            round4(score),
            reasons,
        );
        self.stats.near_miss_holds += 1;
    }

    /// An allowlisted SIM met the opening gate: no case, counted once per incident.
    fn suppress_case(&mut self, key: &SimKey, r: &Seen, evidence: &Evidence) {
        if self.marks(key) & mark::SUPPRESSED == 0 {
            self.set_mark(key, evidence, mark::SUPPRESSED, true);
            self.stats.allowlist_suppressed += 1;
            tracing::debug!(sim = %r.sim, "spam case suppressed by the allowlist");
        }
    }

    fn open_case(
        &mut self,
        (key, r, evidence, _): SimAt,
        end_ms: i64,
        fired: &Fired,
        score: f64,
        out: &mut dyn CaseSink,
    ) {
        self.set_mark(key, &evidence, mark::CASE_OPEN, true);
        let operator = r.operator.to_string();
        let sim = r.sim.to_string();
        self.near_misses.forget(&operator, &sim);
        let case = Case {
            case_id: sim_case_id("spam", CaseKind::SpamSim, &operator, &sim, end_ms),
            kind: CaseKind::SpamSim,
            status: CaseStatus::Open,
            opened_at: end_ms,
            first_seen: evidence.first_seen_ms,
            last_seen: evidence.last_seen_ms,
            score: round4(score),
            operator: Some(operator),
            sims: vec![sim],
            claimed_cell: None,
            identities: Vec::new(),
            location: None,
            track: Vec::new(),
            reasons: fired.reasons(),
            evidence_count: evidence.records,
        };
        if self.cases.len() >= self.config.max_open_cases {
            self.make_room(out);
        }
        tracing::debug!(case_id = %case.case_id, score = case.score, "spam sim case opened");
        out.emit(case.clone());
        self.stats.spam_cases_opened += 1;
        self.cases.insert(
            key.clone(),
            SimCase {
                case,
                fired: *fired,
                emitted_mask: fired.mask,
                emitted_evidence: evidence.records,
                noted_s: secs(end_ms),
            },
        );
    }

    /// `spam.max_open_cases` are open: close the one idle the longest (earliest last
    /// sighting; ties: the lowest (operator, SIM), so the choice depends on the input
    /// only) with its final snapshot. A scan of the open cases, paid only at the cap.
    fn make_room(&mut self, out: &mut dyn CaseSink) {
        let oldest = self
            .cases
            .iter()
            .min_by(|(_, a), (_, b)| {
                (a.case.last_seen, a.names()).cmp(&(b.case.last_seen, b.names()))
            })
            .map(|(key, _)| key.clone());
        let Some(key) = oldest else {
            return;
        };
        let case_id = self.cases[&key].case.case_id.clone();
        self.close_case(&key, out);
        self.stats.cases_closed_by_cap += 1;
        let n = self.stats.cases_closed_by_cap;
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(
                max_open_cases = self.config.max_open_cases,
                closed = %case_id,
                closed_by_cap_total = n,
                "spam.max_open_cases reached: the longest-idle open case was closed with its final snapshot to open a new one; raise spam.max_open_cases if this repeats"
            );
        }
    }

    /// Close the SIM's case: its final snapshot if it moved since.
    pub(super) fn close_case(&mut self, key: &SimKey, out: &mut dyn CaseSink) {
        let Some(mut sc) = self.cases.remove(key) else {
            return;
        };
        if let Some(m) = self.marked.get_mut(key) {
            sc.catch_up(m.records, m.last_seen_s);
            m.marks &= !mark::CASE_OPEN;
        }
        if sc.evidence_moved() {
            out.emit(sc.case);
        }
    }

    /// The snapshots [`CrossSim::flush_cases`] would emit, in the same order, with
    /// nothing marked as emitted.
    pub(super) fn peek_cases(&self, out: &mut dyn CaseSink) {
        let mut open: Vec<(&SimKey, &SimCase)> = self.cases.iter().collect();
        open.sort_unstable_by(|(_, a), (_, b)| a.names().cmp(&b.names()));
        for (key, sc) in open {
            let mut sc = sc.clone();
            if let Some(m) = self.marked.get(key) {
                sc.catch_up(m.records, m.last_seen_s);
            }
            if sc.evidence_moved() {
                out.emit(sc.case);
            }
        }
    }

    /// End of input: a last snapshot of every open case whose evidence moved, in
    /// (operator, SIM) order.
    pub(super) fn flush_cases(&mut self, out: &mut dyn CaseSink) {
        let mut open: Vec<(&SimKey, &mut SimCase)> = self.cases.iter_mut().collect();
        open.sort_unstable_by(|(_, a), (_, b)| a.names().cmp(&b.names()));
        for (key, sc) in open {
            if let Some(m) = self.marked.get(key) {
                sc.catch_up(m.records, m.last_seen_s);
            }
            if sc.evidence_moved() {
                sc.emitted_evidence = sc.case.evidence_count;
                out.emit(sc.case.clone());
            }
        }
    }
}
