//! Counters of the fake-BTS detector, reported at the end of a run and in the
//! service's gauges.

use serde::Serialize;

/// Counters of the detector (`FakeBtsDetector::stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FakeBtsStats {
    pub reports_checked: u64,
    /// Reports routed to a candidate transmitter.
    pub anomalous_reports: u64,
    pub identities_tracked: usize,
    pub emitters_tracked: usize,
    pub cases_opened: u64,
    /// Snapshots emitted after the opening one.
    pub case_updates: u64,
    pub localisations: u64,
    pub inventory_updates: u64,
    pub inventory_findings: usize,
    /// Mean bytes of state per tracked identity (identity evidence plus candidate
    /// transmitters, spread over identities).
    pub state_bytes_per_identity: f64,
}
