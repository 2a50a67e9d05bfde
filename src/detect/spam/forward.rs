//! What crosses from the spam detector's per-SIM stage ([`super::sims::SimStage`],
//! stage A, keyed by operator and SIM) to its cross-SIM stage
//! ([`super::cross::CrossSim`], stage B): one message per record at most, and only
//! what stage B reads (docs/streaming.md, "The spam detector's two stages").
//!
//! - every record of a **hot** SIM (one that could open a case or showed a farm
//!   candidate's markers since its state began): its features and what the rules,
//!   the case and farm grouping read of the SIM's state ([`Hot`]);
//! - of any other SIM, its **population sample** (the first record of a medium
//!   window: operator, interval, medium-window count);
//! - a **refit tick**: the task's first record past a refit boundary of the
//!   population baselines;
//! - a **restart** marker: the record restarted a hot SIM's state (idle longer than
//!   the long window), so stage B ends the SIM's incident there.
//!
//! Stage B keys what it keeps per SIM by (operator, SIM) itself; nothing of stage A's
//! slot numbers or flags but the allowlist and forwarded bits crosses.
//!
//! A forward orders exactly as its record ([`Event::tie_cmp`]): merged from any
//! number of stage-A tasks in canonical order, stage B sees the very sequence one
//! task gives it (`tests_split.rs`).

use super::record::RecordSpan;
use super::rules::SimFeatures;
use crate::detect::stage::Message;
use crate::model::{stable_hash, Event, SmsVolume};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One message of stage A to stage B: the record and what stage A found at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SimForward {
    pub(super) record: SmsVolume,
    pub(super) found: Found,
}

/// What stage A found at one record that stage B reads (in process, stage B takes it
/// beside the record it already has).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Found {
    pub(super) span: RecordSpan,
    /// The record is the SIM's population sample (its first in this medium window).
    pub(super) sample: bool,
    /// The SIM's count over the medium window after the record (the sample's value).
    pub(super) out_medium: u64,
    /// The record restarted the state of a SIM that was hot: its incident ended.
    pub(super) restarted: bool,
    /// The SIM is hot: what stage B reads of the record and the SIM's state.
    pub(super) hot: Option<Hot>,
}

/// What stage B reads of a hot SIM at one record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hot {
    /// The SIM's measurements after the record: population evidence and the gateway
    /// verdict not filled in; `active_share` and, when the pace is held, the held
    /// hours measured.
    pub(super) features: SimFeatures,
    /// The SIM could open a case at this record (`may_open_case`).
    pub(super) may_open: bool,
    /// 64-bit digest of the record's serving cell, if it names one.
    pub(super) cell_hash: Option<u64>,
    /// The state's flags after the record (stage B reads `ALLOWLISTED` and
    /// `FORWARDED`).
    pub(super) flags: u8,
    /// Records folded into the SIM's state, and its first and last sighting
    /// (seconds): the case's evidence.
    pub(super) records: u32,
    pub(super) first_seen_s: u32,
    pub(super) last_seen_s: u32,
    /// The SIM's pace now, SMS per hour (`evaluate::pace_per_hour`).
    pub(super) pace_per_hour: f64,
    /// The last TAC the SIM's state saw (0: none), for a record that carries none:
    /// stage B decides whether it is a gateway model.
    pub(super) last_tac: u32,
}

impl Message for SimForward {
    /// The record's end, as [`Event::event_time_ms`].
    fn event_time_ms(&self) -> i64 {
        self.found.span.end_ms
    }

    /// As [`Event::tie_cmp`] of the records: the natural key, then (never for two
    /// delivered records, which the pipeline deduplicates by it) the whole record.
    fn tie_cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.record, &other.record);
        (&a.operator, &a.sim, a.window_start_ms, a.window_secs)
            .cmp(&(&b.operator, &b.sim, b.window_start_ms, b.window_secs))
            .then_with(|| Event::Sms(a.clone()).tie_cmp(&Event::Sms(b.clone())))
    }

    /// By operator and SIM, as the record (stage B runs as one task today).
    fn route_key(&self) -> u64 {
        stable_hash(&[self.record.operator.as_bytes(), self.record.sim.as_bytes()])
    }
}
