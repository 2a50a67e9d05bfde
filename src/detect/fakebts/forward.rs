//! What crosses from the fake-BTS detector's per-identity stage
//! ([`super::identities::IdentityStage`], stage A, keyed by claimed identity) to its
//! transmitter stage ([`super::transmitters::Transmitters`], stage B, one task):
//! every anomalous report with what stage A decided about it, and a marker for a
//! normal report (with a channel) of an identity that had an anomalous report off its
//! registered channel within the horizon (a transmitter carrying it on another
//! channel has then duplicated it).
//!
//! One report gives at most one forward, and a forward orders exactly as the report
//! it came from ([`Event::tie_cmp`]): merged from any number of stage-A tasks in
//! canonical order, stage B sees the very sequence one task would give it.

use super::rules::ReportCheck;
use crate::detect::stage::Message;
use crate::model::{CellMeasurement, Event};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One message of stage A to stage B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Forward {
    /// An anomalous report: stage B routes it to a transmitter.
    Anomaly(Box<Anomaly>),
    /// A normal report (with a channel) of an identity recently anomalous off its
    /// registered channel.
    Marker(Box<Marker>),
}

/// An anomalous report and what stage A found about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Anomaly {
    pub(crate) m: CellMeasurement,
    /// The rules' verdict, with the neighbourhood and cipher conflicts applied.
    pub(crate) check: ReportCheck,
    /// FNV-1a of the reporter pseudonym.
    pub(crate) reporter: u64,
    /// When the identity was last heard on another channel (or ciphered, for this
    /// unciphered report), if this report is the forged side of a duplicate.
    pub(crate) duplicate_at: Option<i64>,
    /// When stage A first heard the identity (what linking compares "on air beside"
    /// with).
    pub(crate) first_seen: i64,
}

/// A normal report with a channel: what `mark_duplicates` reads. The measurement is
/// kept whole so that the marker orders as its report does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Marker {
    pub(crate) m: CellMeasurement,
    /// The channel the inventory lists for the identity, if any.
    pub(crate) registered_arfcn: Option<u32>,
}

impl Forward {
    /// The report the forward came from.
    pub(crate) fn measurement(&self) -> &CellMeasurement {
        match self {
            Forward::Anomaly(a) => &a.m,
            Forward::Marker(k) => &k.m,
        }
    }
}

impl Message for Forward {
    fn event_time_ms(&self) -> i64 {
        self.measurement().ts_ms
    }

    /// As [`Event::tie_cmp`] of the reports: the natural key, then (never for two
    /// delivered reports, which the pipeline deduplicates by it) the whole record.
    fn tie_cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.measurement(), other.measurement());
        (&a.reporter, a.ts_ms, a.cell)
            .cmp(&(&b.reporter, b.ts_ms, b.cell))
            .then_with(|| Event::Measurement(a.clone()).tie_cmp(&Event::Measurement(b.clone())))
    }

    /// Stage B runs as one task.
    fn route_key(&self) -> u64 {
        0
    }
}
