//! An identity found on air beside an older one of its transmitter is another
//! transmitter's (two cloning blasters on the road at once take each other's next
//! identity when they change at about the same time): it leaves with its reports
//! ([`Emitter::detach_coexisting`]) as a candidate of its own, which goes at once to
//! the transmitter with a case that went quiet when it came on air, if any. Kept
//! apart from `select.rs` (which decides a report's transmitter) because this undoes
//! a decision made there.

use super::absorb::{first_heard_at, radio_agrees, Explained};
use super::emitter::Emitter;
use super::identity::{cell_key, claimed_cell};
use super::transmitters::Transmitters;
use crate::detect::CaseSink;
use crate::model::CellMeasurement;

/// Reports of the previous identity later than the first report of the new one by
/// at most this much still count as a handover (phones report a moment late), ms.
const SLACK_MS: i64 = 5_000;

impl Transmitters {
    /// A report of an identity its emitter carried before later ones: those heard for
    /// longer than `unlink_after_secs` are on air beside it, another transmitter's.
    /// They leave with their reports as a candidate of its own, which the transmitter
    /// that handed over to them takes at once ([`Self::handed_over_to`]), else one
    /// whose case explains it ([`Self::explained_by_case`]).
    pub(super) fn detach_coexisting(
        &mut self,
        eid: u64,
        m: &CellMeasurement,
        out: &mut dyn CaseSink,
    ) {
        let Some(e) = self.emitters.get_mut(&eid) else {
            return;
        };
        if e.identities.len() < 2 {
            return;
        }
        let detached = e.detach_coexisting(
            &claimed_cell(m),
            m.ts_ms,
            self.cfg.unlink_after_ms(),
            self.cfg.track_filter(),
        );
        if detached.cells.is_empty() {
            return;
        }
        let nid = self.next_emitter;
        self.next_emitter += 1;
        let n = Emitter::split_from(nid, e, m, &detached, self.cfg.max_observations);
        for (cell, _) in &detached.cells {
            tracing::debug!(emitter = eid, split = nid, cell = %cell_key(cell), beside = %m.cell, "identity on air beside an older one: unlinked");
            if let Some(id) = self.identities.get_mut(&(cell.rat, cell_key(cell))) {
                id.emitters.retain(|&x| x != eid);
                id.emitters.push(nid);
            }
        }
        self.emitters.insert(nid, Box::new(n));
        self.suspicious.push(nid);
        let into = match self.handed_over_to(nid) {
            Some(into) => Some(into),
            None => match self.explained_by_case(nid) {
                Explained::By(into) => Some(into),
                Explained::Wait | Explained::No => None,
            },
        };
        if let Some(into) = into {
            self.absorb_into(nid, into, m.ts_ms, out);
        }
    }

    /// The transmitter with a case that the split-off candidate `nid` took over
    /// from: one that may have changed to its identities (same technology, network
    /// and encryption, a radio that agrees, none of them refused; an identity with a
    /// radio of its own never goes to a transmitter heard only with copies, as in
    /// [`Emitter::may_take`]), went quiet at
    /// most `link_gap_secs` before it came on air and not after, and was heard within
    /// the association radius of where it came on air; of several, the one quiet for
    /// the shortest time, then the lowest id. An identity unlinked from one blaster
    /// was taken by a transmitter changing identity, so the silence need not be as
    /// telling as for a candidate nobody linked ([`Self::explained_by_case`]).
    pub(super) fn handed_over_to(&self, nid: u64) -> Option<u64> {
        let n = self.emitters.get(&nid)?;
        let (at_ms, lat, lon) = first_heard_at(n)?;
        let cfg = &self.cfg;
        let mut best: Option<(i64, u64)> = None;
        for (eid, e) in self.case_peers(nid, n) {
            if !radio_agrees(e, n) || (e.own_radio.is_empty() && !n.own_radio.is_empty()) {
                continue;
            }
            let gap = at_ms - e.last_seen;
            if !(-SLACK_MS..=cfg.link_gap_ms()).contains(&gap) {
                continue;
            }
            let near = e.footprint_distance(
                at_ms,
                lat,
                lon,
                cfg.association_footprint_reports,
                cfg.max_speed_mps,
            );
            if near > cfg.association_radius_m {
                continue;
            }
            if best.is_none_or(|b| (gap.abs(), eid) < b) {
                best = Some((gap.abs(), eid));
            }
        }
        best.map(|(_, eid)| eid)
    }
}
