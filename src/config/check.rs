//! The small vocabulary of validation: every section's `check` records what cannot
//! work in a [`Problems`] list, each problem naming its key in full
//! (`spam.open_score`), so one `config check` run reports all of them.

use super::error::{ConfigError, Problem};

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.to_string(),
            message: message.into(),
            variable: None,
        });
    }

    /// `Ok` when nothing was found, else the error listing every problem.
    pub(crate) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems: self.0 })
        }
    }
}

/// `value >= min` (counts, sizes, intervals that must not be zero).
pub(crate) fn at_least(p: &mut Problems, key: &str, value: u64, min: u64) {
    if value < min {
        p.push(key, format!("must be at least {min}, got {value}"));
    }
}

/// `lo <= value <= hi` (shares, probabilities, scores).
pub(crate) fn within(p: &mut Problems, key: &str, value: f64, lo: f64, hi: f64) {
    if !(lo..=hi).contains(&value) {
        p.push(key, format!("must be within {lo}..={hi}, got {value}"));
    }
}

/// `value > 0` (distances, σ, factors that divide or scale).
pub(crate) fn positive(p: &mut Problems, key: &str, value: f64) {
    if !(value > 0.0 && value.is_finite()) {
        p.push(key, format!("must be a number greater than 0, got {value}"));
    }
}

/// `value >= 0` (margins, tolerances, weights).
pub(crate) fn non_negative(p: &mut Problems, key: &str, value: f64) {
    if !(value >= 0.0 && value.is_finite()) {
        p.push(key, format!("must be a number of 0 or more, got {value}"));
    }
}

/// Any finite number (levels in dB or dBm may be negative).
pub(crate) fn finite(p: &mut Problems, key: &str, value: f64) {
    if !value.is_finite() {
        p.push(key, format!("must be a finite number, got {value}"));
    }
}

/// A text value that must not be empty.
pub(crate) fn not_empty(p: &mut Problems, key: &str, value: &str) {
    if value.trim().is_empty() {
        p.push(key, "must not be empty");
    }
}
