//! One transmitter, one case: a candidate transmitter about to open a case that a
//! transmitter with an open case already explains is absorbed into it instead, so no
//! second case is ever emitted for it (nothing to retire downstream).
//!
//! Two ways a candidate splits off a transmitter before its case can take it over:
//! - the same forged identity heard from two sides of a strong transmitter at once
//!   (a 47 dBm blaster is heard several kilometres away on every side, and its first
//!   reports may come from phones farther apart than the association radius);
//! - a cloning blaster heard only with copies of real cells inventing an identity:
//!   at its first report nothing tells it from a stationary fake coming on air nearby
//!   ([`Emitter::may_take`] refuses it). By the time the candidate would open, the
//!   radio has told: the previous identity of a transmitter seen changing identity or
//!   moving went quiet when the new one came on air, where it was heard, no other
//!   transmitter came on air there meanwhile, and the silence lasted long enough for
//!   how often it was heard before (six mean intervals between its reports, at least
//!   a minute; a stationary fake beside a broadcasting blaster is heard beside it). While such
//!   a handover is still undecided the candidate's case waits, at most that long.

use super::emitter::Emitter;
use super::identity::{cell_key, same_identity};
use super::signature::agree;
use super::snapshot::emit_snapshot;
use super::transmitters::Transmitters;
use crate::detect::CaseSink;

/// The shortest silence of a transmitter's previous identity that tells it changed
/// identity, ms (a candidate that may be its successor waits that long for its case).
const HANDOVER_HOLD_MS: i64 = 60_000;
/// Silences longer than this many of the transmitter's mean intervals between
/// reports are telling.
const HANDOVER_GAPS: i64 = 6;
/// A transmitter heard too seldom to need a longer silence than this is not taken
/// as having changed identity, ms.
const HANDOVER_MAX_HOLD_MS: i64 = 150_000;
/// Reports of the previous identity later than the first report of the new one by
/// at most this much still count as a handover (phones report a moment late), ms.
const HANDOVER_SLACK_MS: i64 = 5_000;
/// Reports before the silence that its mean interval is taken over.
const HANDOVER_REPORTS: usize = 16;
/// The same identity is one transmitter up to this many association radii from
/// where the transmitter with the case was heard (two phones hearing one transmitter
/// are up to twice its range apart).
const SAME_IDENTITY_RADII: f64 = 2.0;

/// What to do with a candidate about to open a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Explained {
    /// No open case explains it: open its own.
    No,
    /// A handover to a transmitter with a case is not decided yet: open nothing now.
    Wait,
    /// The transmitter with this id and an open case is the same one.
    By(u64),
}

impl Transmitters {
    /// The transmitters with a case that candidate `n` (id `nid`) could be: forged
    /// looking (`suspicious`), of the same technology, network and encryption, none
    /// refusing the other's identities. What a case handover
    /// ([`Self::handed_over_to`]) and an absorption ([`Self::explained_by_case`]) both
    /// start from.
    pub(super) fn case_peers<'a>(
        &'a self,
        nid: u64,
        n: &'a Emitter,
    ) -> impl Iterator<Item = (u64, &'a Emitter)> + 'a {
        self.suspicious.iter().filter_map(move |&eid| {
            let e = self.emitters.get(&eid)?;
            let peer = eid != nid
                && e.case.is_some()
                && e.signature.linkable(&n.signature)
                && !refuses(e, n)
                && !refuses(n, e);
            peer.then_some((eid, e.as_ref()))
        })
    }

    /// Whether the candidate `nid` (no case yet) is a transmitter that already has an
    /// open case: the same forged identity heard at about the same time within reach,
    /// or a new identity that took over when that transmitter's went quiet. Of
    /// several, the same identity first, then the closest handover in time, then the
    /// lowest id (deterministic).
    pub(super) fn explained_by_case(&self, nid: u64) -> Explained {
        let Some(n) = self.emitters.get(&nid) else {
            return Explained::No;
        };
        let Some(at) = first_heard_at(n) else {
            return Explained::No;
        };
        // a candidate opens a case on forged signs: one whose flags are unknown (heard
        // only without cipher or neighbours) may be a forged broadcast's
        if !n.signature.may_be_forged() {
            return Explained::No;
        }
        let cfg = &self.cfg;
        let mut wait = false;
        let mut best: Option<(u8, i64, u64)> = None;
        for (eid, e) in self.case_peers(nid, n) {
            let near = self.beyond_footprint(e, at);
            let same = n.identities.iter().any(|(c, _)| e.has_identity(c));
            let rank = if same {
                if e.last_seen + cfg.link_gap_ms() < n.first_seen
                    || near > SAME_IDENTITY_RADII * cfg.association_radius_m
                {
                    continue;
                }
                (0, 0, eid)
            } else if let Some(gap) = self.far_copy_successor(e, n, near) {
                (2, gap, eid)
            } else {
                let quiet_since = self.identities_last_heard(e, nid);
                let gap = n.first_seen - quiet_since;
                let Some(hold) = telling_silence(e, n.first_seen) else {
                    continue;
                };
                if gap < -HANDOVER_SLACK_MS
                    || gap > hold
                    || near > cfg.association_radius_m
                    || !radio_agrees(e, n)
                    || self.another_came_on_air(e, n, quiet_since, hold)
                {
                    continue;
                }
                if n.last_seen - quiet_since < hold {
                    wait = true;
                    continue;
                }
                (1, gap.abs(), eid)
            };
            if best.is_none_or(|b| rank < b) {
                best = Some(rank);
            }
        }
        match best {
            Some((_, _, eid)) => Explained::By(eid),
            None if wait => Explained::Wait,
            None => Explained::No,
        }
    }

    /// Whether `n` is the next copy of the cloning blaster `e` (with a case): both
    /// heard only with copies of registered cells, `e` with one heard
    /// `KNOWN_CELL_FAR_FROM_SITE` ([`Emitter::clones_far`]), `n` with one heard at
    /// least beyond its cell's reach ([`Emitter::copies_away`]), `n` first heard after
    /// `e`'s identities went quiet, within `far_clone_gap_secs` (the gap `e` takes
    /// its next far copy over when the report shows it, `select.rs`), and where a
    /// road vehicle could have driven since (`near`: beyond `e`'s footprint widened by
    /// `max_speed_mps` over the gap, within the association radius). A copy first
    /// reported by an app (no timing advance, an ordinary signal: nothing tells the
    /// transmitter is next to the phone) is not taken when linking and starts a
    /// transmitter of its own, which opened a second case for the blaster on its
    /// phones' events (outside radio scenario, seeds 1 and 3), before or after MDT
    /// showed it far from its site. Here it is about to open a case on forged signs
    /// of its own anyway: the only question is whether it is one more. Returns the
    /// silence between them, ms. A real cell, even one listed at
    /// the wrong place, keeps its identity on air and is first heard long before the
    /// blaster goes quiet beside it; it never comes here without forged signs of its
    /// own to open a case on.
    fn far_copy_successor(&self, e: &Emitter, n: &Emitter, near: f64) -> Option<i64> {
        let cfg = &self.cfg;
        if !(e.clones_far() && n.copies_away()) || near > cfg.association_radius_m {
            return None;
        }
        let gap = n.first_seen - self.identities_last_heard(e, n.id);
        (gap >= -HANDOVER_SLACK_MS && gap <= cfg.far_clone_gap_ms().max(cfg.link_gap_ms()))
            .then_some(gap.max(0))
    }

    /// When `e`'s identities were last heard as forged, by `e` or by another candidate
    /// than `nid` (a report beyond `e`'s reach starts a candidate of its own until
    /// its case would open).
    fn identities_last_heard(&self, e: &Emitter, nid: u64) -> i64 {
        let mut last = e.last_seen;
        for (cell, _) in &e.identities {
            let Some(id) = self.identities.get(&(cell.rat, cell_key(cell))) else {
                continue;
            };
            for x in id.emitters.iter().filter(|&&x| x != nid && x != e.id) {
                if let Some(other) = self.emitters.get(x) {
                    last = last.max(other.last_seen);
                }
            }
        }
        last
    }

    /// How far `at` (time, lat, lon) is from where `e` was heard recently (its
    /// footprint, allowing for travel since), metres.
    fn beyond_footprint(&self, e: &Emitter, (ts_ms, lat, lon): (i64, f64, f64)) -> f64 {
        e.footprint_distance(
            ts_ms,
            lat,
            lon,
            self.cfg.association_footprint_reports,
            self.cfg.max_speed_mps,
        )
    }

    /// Whether a transmitter other than `n` came on air where `e` was heard between
    /// `e` going quiet and `hold` after: which of them took over is then unknown.
    fn another_came_on_air(&self, e: &Emitter, n: &Emitter, quiet_since: i64, hold: i64) -> bool {
        let cfg = &self.cfg;
        self.emitters.values().any(|x| {
            if x.id == n.id || x.id == e.id || !x.signature.suspicious() {
                return false;
            }
            if x.first_seen < quiet_since - HANDOVER_SLACK_MS || x.first_seen > quiet_since + hold {
                return false;
            }
            if x.identities
                .iter()
                .any(|(c, _)| n.has_identity(c) || e.has_identity(c))
            {
                return false;
            }
            first_heard_at(x)
                .is_some_and(|at| self.beyond_footprint(e, at) <= cfg.association_radius_m)
        })
    }

    /// Absorb the candidate `nid` into `eid` (see [`Self::explained_by_case`]): its
    /// identities and reports move over, it is forgotten, and the case's next
    /// snapshot (emitted now when it gained an identity) lists them.
    pub(super) fn absorb_into(&mut self, nid: u64, eid: u64, now_ms: i64, out: &mut dyn CaseSink) {
        let Some(n) = self.emitters.remove(&nid) else {
            return;
        };
        self.suspicious.retain(|&s| s != nid);
        let Some(e) = self.emitters.get_mut(&eid) else {
            return;
        };
        let before = e.identities.len();
        e.absorb(&n, self.cfg.max_observations);
        for (cell, _) in &n.identities {
            if let Some(id) = self.identities.get_mut(&(cell.rat, cell_key(cell))) {
                id.emitters.retain(|&x| x != nid);
                if !id.emitters.contains(&eid) {
                    id.emitters.push(eid);
                }
            }
        }
        tracing::debug!(
            emitter = eid,
            absorbed = nid,
            ts_ms = now_ms,
            cell = %n.identities.first().map_or(String::new(), |c| cell_key(&c.0).to_string()),
            "candidate transmitter absorbed into a case"
        );
        if e.identities.len() > before {
            e.localise(now_ms, &self.cfg, &self.solver);
            self.stats.localisations += 1;
            emit_snapshot(e, &self.cfg, &self.spec, out, &mut self.stats, false);
        }
    }
}

/// How long `e` must stay quiet after `ts_ms` for its silence to tell that it
/// changed identity: [`HANDOVER_GAPS`] times its mean interval between reports
/// before, at least [`HANDOVER_HOLD_MS`]; `None` when that is beyond
/// [`HANDOVER_MAX_HOLD_MS`] (a transmitter heard that seldom is quiet by chance).
fn telling_silence(e: &Emitter, ts_ms: i64) -> Option<i64> {
    let mut recent = e
        .observations
        .iter()
        .rev()
        .filter(|o| o.ts_ms() <= ts_ms + HANDOVER_SLACK_MS)
        .take(HANDOVER_REPORTS);
    let last = recent.next()?.ts_ms();
    let (count, first) = recent.fold((1i64, last), |(c, _), o| (c + 1, o.ts_ms()));
    if count < HANDOVER_REPORTS as i64 {
        return None;
    }
    let mean_gap = (last - first) / (count - 1);
    let hold = (HANDOVER_GAPS * mean_gap).max(HANDOVER_HOLD_MS);
    (hold <= HANDOVER_MAX_HOLD_MS).then_some(hold)
}

/// Whether `a` refuses one of `b`'s identities (found on air beside its own).
pub(super) fn refuses(a: &Emitter, b: &Emitter) -> bool {
    b.identities
        .iter()
        .any(|(c, _)| a.refused.iter().any(|r| same_identity(r, c)))
}

/// Whether `n` can be `e`'s radio: one of them heard only with copies of registered
/// cells (a cloning blaster copies each cell's channel), or a channel and PCI/BSIC of
/// their own in common (unknown fields agree).
pub(super) fn radio_agrees(e: &Emitter, n: &Emitter) -> bool {
    e.own_radio.is_empty()
        || n.own_radio.is_empty()
        || e.own_radio
            .iter()
            .any(|&(a, p)| n.own_radio.iter().any(|&(b, q)| agree(a, b) && agree(p, q)))
}

/// When and where `x` was first heard (its oldest kept report): time, lat, lon.
pub(super) fn first_heard_at(x: &Emitter) -> Option<(i64, f64, f64)> {
    let first = x.observations.front()?;
    let (lat, lon) = x.frame.to_lat_lon(first.x(), first.y());
    Some((first.ts_ms(), lat, lon))
}
