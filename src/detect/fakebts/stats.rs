//! Counters of the fake-BTS detector, reported at the end of a run and in the
//! service's gauges.

use serde::Serialize;

/// Counters of the detector (`FakeBtsDetector::stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct FakeBtsStats {
    pub(crate) reports_checked: u64,
    /// Reports routed to a candidate transmitter.
    pub(crate) anomalous_reports: u64,
    pub(crate) identities_tracked: usize,
    pub(crate) emitters_tracked: usize,
    pub(crate) cases_opened: u64,
    /// Open cases closed early (with their final snapshot) because
    /// `fakebts.max_open_cases` were open.
    pub(crate) cases_closed_by_cap: u64,
    /// Snapshots emitted after the opening one.
    pub(crate) case_updates: u64,
    pub(crate) localisations: u64,
    pub(crate) inventory_updates: u64,
    pub(crate) inventory_findings: usize,
    /// Mean bytes of state per tracked identity (identity evidence plus candidate
    /// transmitters, spread over identities).
    pub(crate) state_bytes_per_identity: f64,
    /// The same bytes per tracked identity, by part.
    pub(crate) state_parts: StateParts,
}

/// Bytes of state per tracked identity, by part (they add up to
/// `state_bytes_per_identity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct StateParts {
    /// Identity evidence, without profiles.
    pub(crate) identities: f64,
    /// Profiles of misplaced registered cells (their reports and reporters).
    pub(crate) profiles: f64,
    /// Candidate transmitters, without their reports and reporters.
    pub(crate) emitters: f64,
    /// Reports kept by the transmitters for localisation.
    pub(crate) observations: f64,
    /// The transmitters' reporters.
    pub(crate) reporters: f64,
}
