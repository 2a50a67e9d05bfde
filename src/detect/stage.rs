//! Stages of the dataflow (docs/streaming.md, "Topology"): the unit that the replay
//! and the Kafka service both run, one task per partition of the stage's input.
//!
//! A detector is split into stages where its state is keyed differently: per-key work
//! (one SIM's windows, one claimed identity's reports) runs in a stage whose input is
//! partitioned by that key, so it scales with partitions; cross-key work (population
//! baselines, SIM farms, transmitters that change identity) runs in a stage fed by what
//! the per-key stage forwards. Every task receives its input in canonical event-time
//! order ([`Message::event_time_ms`], then [`Message::tie_cmp`]) with watermarks, so
//! its output depends only on its input, never on arrival order or on which other keys
//! share its partition: the same input gives the same cases however many instances
//! and partitions run it.

use super::{CaseSink, Reference};
use crate::model::{stable_hash, Case, Event};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cmp::Ordering;

/// What flows into a stage: events from the feeds, or what an upstream stage
/// forwarded. Messages cross Kafka between instances, hence serde.
pub trait Message: Clone + Send + Serialize + DeserializeOwned + 'static {
    /// Event time of the message, milliseconds.
    fn event_time_ms(&self) -> i64;

    /// Order of two messages with the same event time. It must depend on content
    /// only; two messages may compare `Equal` only when applying them in either order
    /// gives the same result (e.g. two partial counts that are summed).
    fn tie_cmp(&self, other: &Self) -> Ordering;

    /// The key that decides which partition of the stage's input the message goes
    /// to: every message of one key lands in one task. Stable across processes.
    fn route_key(&self) -> u64;
}

/// Total canonical order of two messages: event time, then [`Message::tie_cmp`].
pub fn canonical_cmp<M: Message>(a: &M, b: &M) -> Ordering {
    a.event_time_ms()
        .cmp(&b.event_time_ms())
        .then_with(|| a.tie_cmp(b))
}

/// Where a stage puts what it produces: cases, and messages for the next stage.
pub struct Emit<'a, O> {
    cases: &'a mut dyn CaseSink,
    forward: &'a mut Vec<O>,
}

impl<'a, O> Emit<'a, O> {
    pub fn new(cases: &'a mut dyn CaseSink, forward: &'a mut Vec<O>) -> Self {
        Emit { cases, forward }
    }

    /// A case snapshot (replaces earlier snapshots with the same id downstream).
    pub fn case(&mut self, case: Case) {
        self.cases.emit(case);
    }

    /// The case sink itself, for code written against [`CaseSink`].
    pub fn cases(&mut self) -> &mut dyn CaseSink {
        &mut *self.cases
    }

    /// A message for the next stage. Its event time must not be earlier than the
    /// input being processed (or the watermark being notified): downstream watermarks
    /// follow this stage's.
    pub fn forward(&mut self, message: O) {
        self.forward.push(message);
    }
}

/// Nothing: the output type of a last stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Never {}

impl Message for Never {
    fn event_time_ms(&self) -> i64 {
        match *self {}
    }
    fn tie_cmp(&self, _other: &Self) -> Ordering {
        match *self {}
    }
    fn route_key(&self) -> u64 {
        match *self {}
    }
}

/// One stage of a detector: its state for one partition of its input.
pub trait Stage: Send {
    /// What the stage consumes.
    type In: Message;
    /// What it forwards to the next stage ([`Never`] for a last stage).
    type Out: Message;

    /// A short stable name, used in topic names, metrics and logs.
    fn name(&self) -> &'static str;

    /// Take one message, in canonical order, already checked against the watermark.
    fn on_message(&mut self, message: &Self::In, out: &mut Emit<'_, Self::Out>);

    /// Event time has advanced: every message at or before `watermark_ms` has been
    /// delivered. Close windows, evict idle state, emit what became final.
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Emit<'_, Self::Out>);

    /// A reference-data update (`value` None = removal); stages that do not use this
    /// kind of reference data ignore it.
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        let _ = (kind, key, value);
    }

    /// Emit the latest snapshot of every case the stage holds and forward what is
    /// pending, without forgetting anything: at the end of a replay, when every input
    /// has gone quiet, and on shutdown. Calling it twice in a row emits the same
    /// snapshots twice and changes no state, so a stream that goes on afterwards
    /// gives the same cases as if it had never been called.
    fn flush(&mut self, out: &mut Emit<'_, Self::Out>);

    /// Keys currently held in state (SIMs, identities), for the open-state gauge.
    fn state_size(&self) -> usize {
        0
    }

    /// Low-severity findings that are not cases (e.g. inventory discrepancies), one
    /// JSON object each, in a deterministic order; computed without changing state.
    fn findings(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
}

impl Message for Event {
    fn event_time_ms(&self) -> i64 {
        Event::event_time_ms(self)
    }

    fn tie_cmp(&self, other: &Self) -> Ordering {
        Event::tie_cmp(self, other)
    }

    /// SMS-volume records by operator and SIM, measurements by claimed identity
    /// (radio technology and cell): the keys the per-key stages keep state for.
    fn route_key(&self) -> u64 {
        match self {
            Event::Sms(r) => stable_hash(&[r.operator.as_bytes(), r.sim.as_bytes()]),
            Event::Measurement(m) => {
                let c = m.cell;
                stable_hash(&[
                    m.rat.as_str().as_bytes(),
                    &c.mcc.to_le_bytes(),
                    &c.mnc.to_le_bytes(),
                    &c.lac.to_le_bytes(),
                    &c.cid.to_le_bytes(),
                ])
            }
        }
    }
}
