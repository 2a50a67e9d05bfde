//! Which transmitter a report belongs to: one already carrying its identity nearby,
//! else (forged-looking broadcasts) a recent transmitter that may have changed to this
//! identity, else a new one; and unlinking an identity that a report of an older one
//! shows on air beside it. Kept apart from the detector's report path because this is
//! where one transmitter's identities are decided.

use super::emitter::Emitter;
use super::geometry::PathLoss;
use super::identity::{claimed_cell, IdKey};
use super::rules::{ReportCheck, Rule};
use super::signature::Signature;
use super::transmitters::Transmitters;
use crate::model::CellMeasurement;

impl Transmitters {
    /// The emitter this report belongs to: one already carrying its identity near the
    /// reporter, else (forged-looking broadcasts only) a recent compatible transmitter
    /// nearby that changed identity, else a new one. Returns `(id, linked)`.
    pub(super) fn select_emitter(
        &mut self,
        key: IdKey,
        m: &CellMeasurement,
        check: &ReportCheck,
        signature: Signature,
    ) -> (u64, bool) {
        let dbd = PathLoss::from_config(&self.cfg).db_per_decade();
        let cfg = &self.cfg;
        // Radio continuity with an emitter: how far beyond its reach the report is
        // (≤ 0 joins). Reach around the anchor widens with the distance it is heard
        // at; the footprint test accepts a report near any of its recent reporters.
        let excess = |e: &Emitter| {
            let gap_s = (m.ts_ms - e.last_seen).max(0) as f64 / 1000.0;
            let heard = cfg.association_spread_factor * e.heard_radius(dbd);
            let reach = cfg.association_radius_m.max(heard) + cfg.max_speed_mps * gap_s;
            let by_anchor = e.distance_to(m.lat, m.lon, dbd) - reach;
            let by_footprint = e.footprint_distance(
                m.ts_ms,
                m.lat,
                m.lon,
                cfg.association_footprint_reports,
                cfg.max_speed_mps,
            ) - cfg.association_radius_m;
            by_anchor.min(by_footprint)
        };
        let mut best: Option<(f64, u64)> = None;
        let claimed = claimed_cell(m);
        let identity = self.identities.get(&key);
        let first_heard = identity.map_or(m.ts_ms, |id| id.first_seen);
        if let Some(id) = identity {
            for eid in &id.emitters {
                let Some(e) = self.emitters.get(eid) else {
                    continue;
                };
                if !e.signature.compatible(&signature)
                    && !e.own_radio_of(&signature)
                    && !e.carries_copy(&claimed, &signature)
                {
                    continue;
                }
                let d = excess(e);
                if d <= 0.0 && best.is_none_or(|b| d < b.0) {
                    best = Some((d, *eid));
                }
            }
        }
        if let Some((_, eid)) = best {
            return (eid, false);
        }
        let mut linked = false;
        if signature.may_link(check) {
            for eid in &self.suspicious {
                let Some(e) = self.emitters.get(eid) else {
                    continue;
                };
                // a transmitter with a case keeps its radio: an invented identity on
                // its own channel and PCI/BSIC (both known) continues its case over
                // any gap its case stays open for (a blaster that went quiet, or
                // cloned cells for a while, then invents an identity again); a cloning
                // blaster with a case takes its next copy heard from next to the phone
                // far from its site over `far_clone_gap_secs` (it stops at corners,
                // and apps and MDT hear it seldom)
                let gap_ms = if e.case.is_some() && e.own_radio_exactly(m) && !check.registered {
                    cfg.case_idle_evict_ms()
                } else if e.case.is_some()
                    && e.clones_far()
                    && check.has(Rule::KnownCellFarFromSite)
                {
                    cfg.far_clone_gap_ms().max(cfg.link_gap_ms())
                } else {
                    cfg.link_gap_ms()
                };
                if m.ts_ms - e.last_seen > gap_ms
                    || !e.signature.linkable(&signature)
                    || !e.may_take(
                        m,
                        check,
                        cfg.link_gap_ms(),
                        (first_heard, cfg.link_coexist_ms()),
                    )
                {
                    continue;
                }
                let d = excess(e);
                if d <= 0.0 && best.is_none_or(|b| d < b.0) {
                    best = Some((d, *eid));
                }
            }
            linked = best.is_some();
        }
        let eid = match best {
            Some((_, eid)) => eid,
            None => {
                let eid = self.next_emitter;
                self.next_emitter += 1;
                self.emitters
                    .insert(eid, Box::new(Emitter::new(eid, m, signature)));
                if signature.suspicious() {
                    self.suspicious.push(eid);
                }
                eid
            }
        };
        if let Some(id) = self.identities.get_mut(&key) {
            if !id.emitters.contains(&eid) {
                id.emitters.push(eid);
            }
        }
        (eid, linked)
    }
}
