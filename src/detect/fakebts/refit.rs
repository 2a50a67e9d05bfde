//! When a transmitter's fix over all its kept reports is refitted
//! (`fakebts.locate_refit_share`): a localisation keeps that fix while the reports
//! heard since it was fitted are a small share of those kept (the fit over a few
//! hundred binned reports was the largest part of the detector's work, and a few
//! new reports barely move it), and a final snapshot settles a kept fix first.
//! Kept apart from `emitter.rs`, which holds the transmitter's state.

use super::emitter::Emitter;
use super::locate::{bin_observations, multilaterate_from, Fix, Observation, SolverParams};
use super::reported::Reported;
use crate::config::FakeBtsConfig;

impl Emitter {
    /// Fit the fix over all kept reports (binned: work bounded by the footprint),
    /// warm-started from the previous fix; kept as `fix` when there is one.
    pub(super) fn fit_all(&mut self, cfg: &FakeBtsConfig, solver: &SolverParams) -> Option<Fix> {
        let all: Vec<Observation> = self
            .observations
            .iter()
            .map(Reported::observation)
            .collect();
        let all = bin_observations(&all, cfg.locate_bin_m);
        let warm = self.fix.map(|f| (f.x, f.y));
        let fix = multilaterate_from(&all, solver, warm)?;
        self.fix = Some(fix);
        self.reports_at_fit = self.reports;
        self.refit_forced = false;
        Some(fix)
    }

    /// Before a final snapshot: a fix that a localisation kept while reports arrived
    /// (`locate_refit_share`) is refitted over every kept report, without feeding the
    /// track; a localisation still due does both.
    /// Returns whether it fitted.
    pub(crate) fn settle_fix(&mut self, cfg: &FakeBtsConfig, solver: &SolverParams) -> bool {
        if self.reports_since_locate > 0 {
            self.refit_next();
            self.localise(self.last_seen, cfg, solver);
            true
        } else if self.fix.is_some() && self.reports_at_fit != self.reports {
            self.fit_all(cfg, solver);
            true
        } else {
            false
        }
    }

    /// Have the next localisation refit the whole-window fix whatever changed.
    pub(crate) fn refit_next(&mut self) {
        self.refit_forced = true;
    }

    /// Whether the whole-window fix is to be refitted: the reports heard since its
    /// fit (linked ones included) are at least `share` of those kept.
    pub(super) fn refit_due(&self, share: f64) -> bool {
        let new = self.reports.saturating_sub(self.reports_at_fit);
        self.refit_forced || new as f64 >= share * self.observations.len() as f64
    }
}
