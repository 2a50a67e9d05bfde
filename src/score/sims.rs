//! SIM-level scores: precision, recall, F1, farm-member recall, detection delay.

use crate::model::Case;
use crate::simulate::truth::Truth;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SimScores {}

pub fn score_sims(_truth: &Truth, _cases: &[Case]) -> SimScores {
    SimScores {}
}

impl SimScores {
    pub fn one_line(&self) -> String {
        String::from("sims: not scored yet")
    }
}
