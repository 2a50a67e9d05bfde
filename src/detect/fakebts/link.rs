//! Identity linking on a transmitter: whether a report of another identity can be its
//! next one (a blaster hopping or cloning real cells), and unlinking an identity that
//! turns out to be on air beside an older one (another transmitter).

use super::emitter::{keep_bounded, Emitter};
use super::identity::{claimed_cell, same_identity};
use super::reported::Reported;
use super::rules::{ReportCheck, Rule};
use super::signature::{agree, Signature};
use super::track::refilter;
use crate::model::{CellMeasurement, ClaimedCell};

/// A newer identity heard at most this long before a report of an older one is on
/// air beside it, ms.
const ON_AIR_MS: i64 = 30_000;
/// Reports of an older identity heard beside a newer one that unlink the newer one.
const COEXIST_REPORTS: u32 = 4;
impl Emitter {
    /// Whether a report of another identity (its check `check`) can be this
    /// transmitter's next identity, as far as the radio tells: not one found on air
    /// beside it before; a copy of a registered cell (its own channel) may come from
    /// any radio that is not an established static cell; any other broadcast is first
    /// heard within the coexistence grace (`on_air`: when its identity was first heard,
    /// and the grace) and keeps one of the transmitter's own channel and PCI/BSIC
    /// pairs (unknown fields agree; a transmitter heard only with copies has none; a
    /// report without either is taken only by a transmitter that may change identity,
    /// as a copy).
    pub(crate) fn may_take(
        &self,
        m: &CellMeasurement,
        check: &ReportCheck,
        young_ms: i64,
        on_air: (i64, i64),
    ) -> bool {
        let claimed = claimed_cell(m);
        if self.refused.iter().any(|c| same_identity(c, &claimed)) {
            return false;
        }
        // a static rogue cell keeps its identity: a clone links to a transmitter
        // already seen changing identity or moving, or on air for less than the link
        // gap (a blaster's first identity). A report that shows neither a forged
        // broadcast (its cipher or neighbours absent) nor the radio (no channel, no
        // PCI/BSIC) is weaker evidence: only a transmitter seen changing identity or
        // moving takes it (a young stationary fake took an IMSI catcher's identity
        // heard by an app nearby, then every blaster identity passing by).
        let changed = self.identities.len() >= 2 || self.displaced;
        let shows_forged = check.has(Rule::NullCipher) || check.has(Rule::NoNeighbours);
        let young = shows_forged && self.last_seen - self.first_seen <= young_ms;
        if check.registered && !check.has(Rule::ArfcnInconsistent) {
            // a copy heard where its cell is (not beyond its reach, far from its site
            // or against its timing advance) is the cell itself or a static fake
            // beside it, not a blaster that cloned it: a blaster clones distant cells,
            // and one cloning a cell nearby is found by its case's handover
            // (absorb.rs)
            // a cloning blaster takes its next distant copy (beyond the cell's reach,
            // not merely against its timing advance: a static clone stands within it)
            // however long it held the last one: its phones may not report the cipher
            // or neighbours that make a report show a forged broadcast (apps, MDT)
            let distant = check.has(Rule::BeyondReach) || check.has(Rule::KnownCellFarFromSite);
            return heard_away_from_its_site(check)
                && (changed || young || (distant && self.clones_far()));
        }
        if m.arfcn.is_none() && m.pci.is_none() && !changed {
            return false;
        }
        // an identity of its own is new when the transmitter takes it: one already on
        // air for longer than the coexistence grace is another transmitter's (a
        // blaster that only clones has no channel of its own to compare)
        let (first_heard, coexist_ms) = on_air;
        if first_heard + coexist_ms < m.ts_ms {
            return false;
        }
        // a transmitter heard only with copies has no radio of its own to compare: an
        // invented identity is not linked to it (a stationary fake coming on air, or
        // another blaster's invented identity, as a cloning blaster changes identity
        // nearby looks the same from here)
        self.own_radio
            .iter()
            .any(|&(a, p)| agree(a, m.arfcn) && agree(p, m.pci))
    }

    /// A report of `cell` at `ts_ms`: the identities linked after `cell`, first heard
    /// more than `grace_ms` before and repeatedly heard beside it, were not its
    /// successors but another transmitter's. They are removed (and refused from now
    /// on) and returned with their reports; the track is rewound to before the first
    /// of them came on air (its later fixes mixed the two transmitters).
    pub(crate) fn detach_coexisting(
        &mut self,
        cell: &ClaimedCell,
        ts_ms: i64,
        grace_ms: i64,
        track: (f64, f64),
    ) -> Detached {
        let Some(i) = self.identity_index(cell) else {
            return Detached::default();
        };
        // A newer identity on air for longer than the grace and heard within the last
        // ON_AIR_MS: the older one is heard beside it. A blaster going back to an old
        // identity does so once, after the newer one went quiet; two transmitters side
        // by side alternate all the time, so a few such reports decide.
        let mut out = Detached::default();
        for j in i + 1..self.identities.len() {
            let (cell, first) = self.identities[j];
            let on_air = &mut self.on_air[j];
            if first + grace_ms < ts_ms && on_air.0 + ON_AIR_MS >= ts_ms {
                on_air.1 += 1;
                if on_air.1 >= COEXIST_REPORTS {
                    out.cells.push((cell, first));
                }
            }
        }
        if out.cells.is_empty() {
            return out;
        }
        let detached: Vec<ClaimedCell> = out.cells.iter().map(|(c, _)| *c).collect();
        // each listed identity's new number: among those kept (Ok) or those detached
        // (Err), worked out once for all the reports
        let number = |j: usize| u16::try_from(j).unwrap_or(u16::MAX);
        let mut kept_count = 0;
        let slots: Vec<Result<u16, u16>> = self
            .identities
            .iter()
            .map(|(c, _)| match detached.iter().position(|d| d == c) {
                Some(j) => Err(number(j)),
                None => {
                    kept_count += 1;
                    Ok(number(kept_count - 1))
                }
            })
            .collect();
        let mut listed = slots.iter();
        self.on_air
            .retain(|_| listed.next().is_none_or(|slot| slot.is_ok()));
        self.identities.retain(|(c, _)| !detached.contains(c));
        let mut kept = std::collections::VecDeque::with_capacity(self.observations.len());
        for o in &self.observations {
            match slots.get(usize::from(o.identity)) {
                Some(Ok(identity)) => kept.push_back(Reported {
                    identity: *identity,
                    ..*o
                }),
                Some(Err(identity)) => out.reports.push(Reported {
                    identity: *identity,
                    ..*o
                }),
                None => out.reports.push(Reported {
                    identity: u16::MAX,
                    ..*o
                }),
            }
        }
        self.observations = kept;
        let since = out.cells.iter().map(|(_, f)| *f).min().unwrap_or(ts_ms);
        self.rewind_track(since, track);
        for c in &detached {
            if self.refused.len() < 16 {
                self.refused.push(*c);
            }
        }
        out
    }

    /// Forget the fixes from `since` on (they mixed another transmitter's reports)
    /// and run the filter again over those before (`track`: its acceleration noise
    /// and initial speed σ); without any left, position and track start afresh.
    fn rewind_track(&mut self, since: i64, (q, speed_sigma): (f64, f64)) {
        self.fix = None;
        self.track_fixes.retain(|f| f.0 < since);
        self.short_fixes.retain(|f| f.ts_ms < since);
        self.kalman = refilter(&self.track_fixes, q, speed_sigma).map(Box::new);
        if self.kalman.is_none() {
            self.moving = false;
            self.displaced = false;
        }
    }
}

impl Emitter {
    /// A candidate of its own for what `from` split off (`detached`, see
    /// [`Emitter::detach_coexisting`]), started at report `m` in `from`'s frame: its
    /// identities and reports, the radio `from` heard on their channels, no rule
    /// counts (its case, if any, rests on its reports from now on).
    pub(crate) fn split_from(
        id: u64,
        from: &Emitter,
        m: &CellMeasurement,
        detached: &Detached,
        max_observations: usize,
    ) -> Emitter {
        let mut n = Emitter::new(id, m, from.signature);
        n.frame = from.frame;
        for &(cell, first) in &detached.cells {
            n.take_identity(cell, first, (first, 0));
        }
        n.own_radio = from
            .own_radio
            .iter()
            .filter(|(a, _)| detached.cells.iter().any(|(c, _)| agree(*a, c.arfcn)))
            .copied()
            .collect();
        if let (Some(first), Some(last)) = (detached.reports.first(), detached.reports.last()) {
            n.first_seen = first.ts_ms();
            n.last_seen = last.ts_ms();
        }
        for o in &detached.reports {
            n.widen_bbox(o.x(), o.y());
            keep_bounded(&mut n.observations, *o, max_observations.max(8));
        }
        n.reports = detached.reports.len() as u64;
        n
    }
}

/// What [`Emitter::detach_coexisting`] split off: identities (with when each was
/// first heard) and their reports, numbered in that order.
#[derive(Debug, Default)]
pub(crate) struct Detached {
    pub(crate) cells: Vec<(ClaimedCell, i64)>,
    pub(crate) reports: Vec<Reported>,
}

impl Emitter {
    /// Whether a broadcast with this signature is one of this transmitter's own
    /// radios (an identity it took with another channel than its first one).
    pub(crate) fn own_radio_of(&self, s: &Signature) -> bool {
        self.signature.linkable(s) && self.own_radio.contains(&(s.arfcn, s.pci))
    }

    /// Whether report `m` is on one of this transmitter's own radios, its channel and
    /// PCI/BSIC both known and equal (unknown fields do not agree here: only the
    /// radio itself tells that a transmitter quiet for longer than the link gap is
    /// back, see `select_emitter`).
    pub(crate) fn own_radio_exactly(&self, m: &CellMeasurement) -> bool {
        m.arfcn.is_some() && m.pci.is_some() && self.own_radio.contains(&(m.arfcn, m.pci))
    }

    /// Whether a broadcast of `cell` with this signature is one of the copies this
    /// transmitter, heard only with copies, already carries: the same identity on the
    /// same channel, with its encryption (a transmitter with a radio of its own keeps
    /// linking a copy report by report: its own identities are never unlinked by a
    /// copy it took by mistake). A cloning blaster's copies each bring the cloned cell's channel
    /// and PCI/BSIC, which its first signature does not know; without this each of
    /// their reports was linked afresh, so a report of an older identity heard beside
    /// a newer one never unlinked it ([`Emitter::detach_coexisting`]).
    pub(crate) fn carries_copy(&self, cell: &ClaimedCell, s: &Signature) -> bool {
        self.own_radio.is_empty()
            && cell.arfcn.is_some()
            && self.signature.linkable(s)
            && self.identities.iter().any(|(c, _)| c == cell)
    }

    /// Take over `other`, a candidate found to be this transmitter (see
    /// [`super::absorb`]): its identities (appended in their order of first use), its
    /// own channels, its reports for localisation (moved into this frame, merged in
    /// event-time order, the newest `max_observations` kept), its time span and its
    /// duplicate sighting. Its windowed rule counts and reporters are not added: this
    /// transmitter's case keeps its own assessment.
    pub(crate) fn absorb(&mut self, other: &Emitter, max_observations: usize) {
        self.signature.learn(&other.signature);
        let mut index = Vec::with_capacity(other.identities.len());
        for (k, &(cell, first)) in other.identities.iter().enumerate() {
            let on_air = other.on_air.get(k).copied().unwrap_or((first, 0));
            let i = self.take_identity(cell, first, on_air);
            index.push(u16::try_from(i).unwrap_or(u16::MAX));
        }
        for &cell in &other.far_copies {
            self.note_far_copy(cell);
        }
        for radio in &other.own_radio {
            if self.own_radio.len() < 8 && !self.own_radio.contains(radio) {
                self.own_radio.push(*radio);
            }
        }
        let moved = other.observations.iter().map(|o| {
            let (lat, lon) = other.frame.to_lat_lon(o.x(), o.y());
            let (x, y) = self.frame.to_xy(lat, lon);
            let identity = index
                .get(usize::from(o.identity))
                .copied()
                .unwrap_or(u16::MAX);
            o.at(x, y).with_identity(identity)
        });
        let mut all: Vec<Reported> = self.observations.drain(..).chain(moved).collect();
        all.sort_by_key(|o| o.ts_ms());
        let cap = max_observations.max(8);
        let skip = all.len().saturating_sub(cap);
        for o in all.into_iter().skip(skip) {
            self.widen_bbox(o.x(), o.y());
            keep_bounded(&mut self.observations, o, cap);
        }
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.reports += other.reports;
        self.reports_since_locate = self
            .reports_since_locate
            .saturating_add(other.reports_since_locate.max(1));
        if let Some(t) = other.duplicate_seen_ms {
            self.duplicate_seen_ms = Some(self.duplicate_seen_ms.map_or(t, |d| d.max(t)));
        }
    }
}

/// Whether a report of a registered cell places it away from its registered site:
/// beyond its reach, far from the site, or against its timing advance.
fn heard_away_from_its_site(check: &ReportCheck) -> bool {
    check.has(Rule::BeyondReach)
        || check.has(Rule::KnownCellFarFromSite)
        || check.has(Rule::TaInconsistent)
}
