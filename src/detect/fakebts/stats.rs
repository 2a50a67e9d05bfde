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
}
