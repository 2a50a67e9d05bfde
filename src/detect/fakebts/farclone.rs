//! `CLONES_DISTANT_CELLS`: a transmitter that broadcast several registered
//! identities one after the other, each heard from next to the phones kilometres
//! from its own site. Kept apart from the emitter's bookkeeping because it is a sign
//! of the transmitter, not of one report: a real cell keeps its identity, and an
//! inventory row at the wrong place is one identity (or several heard side by side,
//! the sectors of a misplaced site), while a cloning blaster driving the roads
//! changes to another distant cell every quarter of an hour. Where its phones report
//! no cipher or neighbours (apps, MDT) and the inventory has no channels, that
//! succession is the only forged sign it shows.

use super::emitter::{Assessment, Emitter};
use super::identity::same_identity;
use super::rules::Rule;
use crate::config::FakeBtsConfig;
use crate::model::{ClaimedCell, Reason};

/// The reason code of the sign.
pub(crate) const CLONES_DISTANT_CELLS: &str = "CLONES_DISTANT_CELLS";
/// Most identities remembered as heard far from their site, per transmitter.
const MAX_FAR_COPIES: usize = 32;

impl Emitter {
    /// A report of `cell` held `KNOWN_CELL_FAR_FROM_SITE`: remember the identity.
    pub(crate) fn note_far_copy(&mut self, cell: ClaimedCell) {
        if self.far_copies.len() < MAX_FAR_COPIES
            && !self.far_copies.iter().any(|c| same_identity(c, &cell))
        {
            self.far_copies.push(cell);
        }
    }

    /// Heard only with copies of registered cells, one of them beyond its cell's
    /// reach (`BEYOND_REACH`) or far from its site with the transmitter near the
    /// phone (`KNOWN_CELL_FAR_FROM_SITE`): a cloning blaster's copy as an app alone
    /// may report it (no timing advance, an ordinary signal).
    pub(crate) fn copies_away(&self) -> bool {
        self.own_radio.is_empty()
            && (self.values.fired(Rule::KnownCellFarFromSite as usize)
                || self.values.fired(Rule::BeyondReach as usize))
    }

    /// Identities heard far from their site that this transmitter broadcast in
    /// succession: in order of first hearing, the first counts, and each next one
    /// when every earlier one was last heard at most `grace_ms` after it came on air
    /// (an identity still heard after the next came on air was beside it, not before
    /// it) and it has itself been heard over at least `settle_ms` (the sectors of a
    /// misplaced site, heard in turn, show the older one again within minutes). Only
    /// identities it still carries count (one unlinked as another transmitter's
    /// does not).
    pub(crate) fn successive_far_copies(&self, grace_ms: i64, settle_ms: i64) -> usize {
        let mut spans: Vec<(i64, i64)> = self
            .identities
            .iter()
            .zip(&self.on_air)
            .filter(|((cell, _), _)| self.far_copies.iter().any(|c| same_identity(c, cell)))
            .map(|(&(_, first), &(last, _))| (first, last.max(first)))
            .collect();
        spans.sort_unstable();
        let mut count = 0;
        let mut last_heard = i64::MIN;
        for (first, last) in spans {
            let after = first.saturating_add(grace_ms) >= last_heard;
            if count == 0 || after && last - first >= settle_ms {
                count += 1;
            }
            last_heard = last_heard.max(last);
        }
        count
    }

    /// Adds the sign to `a` when it holds (`fakebts.far_clone_min_identities`, 0 off).
    pub(crate) fn assess_far_clones(&self, a: &mut Assessment, cfg: &FakeBtsConfig) {
        if cfg.far_clone_min_identities < 2 || self.far_copies.len() < 2 {
            return;
        }
        a.far_clones = self.successive_far_copies(cfg.unlink_after_ms(), cfg.link_coexist_ms());
        if a.far_clones >= cfg.far_clone_min_identities {
            a.points += cfg.weights.clones_distant_cells;
            a.rogue_points += cfg.weights.clones_distant_cells;
        }
    }
}

/// The sign's reason when it holds now or held in the strongest assessment (value:
/// the identities in succession, threshold `far_clone_min_identities`).
pub(crate) fn far_clone_reason(
    now: &Assessment,
    best: &Assessment,
    cfg: &FakeBtsConfig,
) -> Option<Reason> {
    let n = now.far_clones.max(best.far_clones);
    (cfg.far_clone_min_identities >= 2 && n >= cfg.far_clone_min_identities).then(|| {
        Reason::new(
            CLONES_DISTANT_CELLS,
            n as f64,
            cfg.far_clone_min_identities as f64,
        )
    })
}
