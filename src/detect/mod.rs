//! Detectors: turn validated events into cases.
//!
//! Every detector implements [`Detector`]; the replay and the Kafka service drive the
//! same implementations, in event-time order per source, so the same input gives the
//! same cases. Detectors never read the wall clock.

pub(crate) mod case_id;
pub mod fakebts;
pub mod setup;
pub mod spam;
pub mod stage;

use crate::model::{Case, Event};

/// Where detectors put the cases they open or update. A case is emitted as a full
/// snapshot; later snapshots with the same `case_id` replace earlier ones
/// (see [`crate::cases::CaseBook`]).
pub trait CaseSink {
    fn emit(&mut self, case: Case);
}

impl CaseSink for Vec<Case> {
    fn emit(&mut self, case: Case) {
        self.push(case);
    }
}

/// Reference data that changes at run time, from compacted topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `cw.cell-inventory.v1`: key `MCC-MNC-LAC-CID`, value a cell or null.
    Inventory,
    /// `cw.allowlist.v1`: key a SIM pseudonym, value an entry or null.
    Allowlist,
}

/// A detector fed with validated events of one pipeline.
pub trait Detector: Send {
    /// A short stable name, used in metrics and logs.
    fn name(&self) -> &'static str;

    /// The feed this detector consumes: it gets only that feed's events and
    /// watermarks. `None` means every event and the minimum watermark over feeds.
    fn feed(&self) -> Option<crate::model::Feed> {
        None
    }

    /// Take one validated event (already checked against the watermark).
    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink);

    /// Event time has advanced: everything at or before `watermark_ms` has been
    /// seen. Detectors close windows, evict idle state and emit what became final.
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink);

    /// A reference-data update (`value` None = removal). Detectors that do not use
    /// this kind of reference data ignore it.
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        let _ = (kind, key, value);
    }

    /// Keys currently held in state (SIMs, identities), for the open-state gauge.
    fn state_size(&self) -> usize {
        0
    }

    /// Open cases closed early because a cap on open cases was reached (each with
    /// its final snapshot), for the service's metric: one count per cap, with the
    /// metric's `detector` label (the spam detector has two: `spam` and `farm`).
    fn cases_closed_by_cap(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Low-severity findings that are not cases (e.g. inventory discrepancies), one
    /// JSON object each, in a deterministic order.
    fn findings(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }

    /// The input ended (replay end or shutdown): emit what is still pending.
    fn finish(&mut self, out: &mut dyn CaseSink);
}
