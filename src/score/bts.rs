//! Transmitter-level scores: detected / total, false fake_bts cases, localisation error, time to detect.

use crate::model::Case;
use crate::simulate::truth::Truth;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BtsScores {}

pub fn score_bts(_truth: &Truth, _cases: &[Case]) -> BtsScores {
    BtsScores {}
}

impl BtsScores {
    pub fn one_line(&self) -> String {
        String::from("bts: not scored yet")
    }
}
