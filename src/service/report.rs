//! What a finished service run did, in figures (printed by `cellwatch run` and the
//! demo at the end).

use crate::model::InvalidReason;
use std::collections::BTreeMap;

/// Figures of a finished run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServiceReport {
    pub records: u64,
    pub(crate) valid: u64,
    pub invalid: u64,
    pub late: u64,
    pub(crate) invalid_by_reason: BTreeMap<InvalidReason, u64>,
    pub(crate) case_snapshots: u64,
    pub(crate) flushes: u64,
    pub rebuilds: u64,
    pub rebuilt_records: u64,
    /// Times the final snapshots were emitted (quiescence, revocation, stop).
    pub finishes: u64,
    /// Group consumers made again after the group fenced them (static members) or
    /// they were stuck outside their group (`[kafka] group_stall_secs`).
    pub consumers_recreated: u64,
}
