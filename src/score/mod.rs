//! `cellwatch score`: measures cases against a scenario's `truth.json`.
//!
//! SIM-level figures (spam SIMs and farms) live in `sims.rs`, transmitter figures
//! (fake base stations) in `bts.rs`, the statistics they share in `stats.rs`; this
//! file only joins them into one report.

pub mod bts;
pub mod sims;
pub(crate) mod stats;

use crate::model::Case;
use crate::simulate::truth::Truth;
use serde::Serialize;

/// Everything `cellwatch score` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    pub sims: sims::SimScores,
    pub bts: bts::BtsScores,
}

/// Score a set of final cases against the truth of the scenario they came from.
pub fn score(truth: &Truth, cases: &[Case]) -> ScoreReport {
    ScoreReport {
        sims: sims::score_sims(truth, cases),
        bts: bts::score_bts(truth, cases),
    }
}

impl ScoreReport {
    /// The one-line summary printed last by `cellwatch score`.
    pub fn one_line(&self) -> String {
        format!("{} | {}", self.sims.one_line(), self.bts.one_line())
    }
}
