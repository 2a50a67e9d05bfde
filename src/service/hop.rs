//! A detector split over Kafka (`[kafka] measurement_partitions` or `sms_partitions`
//! above 1): what the per-key stage-A tasks (one per partition of the feed's
//! internal topic, inside stage detect) write to the one-partition topic of the
//! detector's stage B (`[kafka.topics] internal_transmitters` for the fake-BTS
//! detector, `internal_cross_sim` for the spam detector), and the detector that runs
//! a stage A in stage detect's pipeline, collecting what it forwards for the worker
//! to produce. Kept apart because it is the contract between stage A and stage B
//! ([`super::transmitters`]).

use crate::detect::stage::{Emit, Never, Stage};
use crate::detect::{CaseSink, Detector, Reference};
use crate::model::{Event, Feed};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Version byte in front of every message: a reader refuses what it does not know.
/// 2 since the spam detector's forwards carry only what stage B reads (1 carried
/// the whole record) and forwards come in batches.
const VERSION: u8 = 2;
/// First byte of a batch: forwards that stage A produced one after the other (no
/// marker between them), each as its own message would be, behind its length
/// (postcard varint). Stage B applies them in that order, as if they came apart.
const BATCH: u8 = 3;
/// Most forwards in one batch, and most bytes (far below the brokers' 1 MB limit).
const BATCH_MAX_FORWARDS: usize = 512;
const BATCH_MAX_BYTES: usize = 256 * 1024;

/// One message of a stage-B topic, forwarding `M` (the fake-BTS detector's
/// `Forward`, the spam detector's `SimForward`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Hop<M> {
    /// What stage A forwarded for one event (released in canonical order).
    Forward(M),
    /// Stage A's task of internal partition `partition` has released every event
    /// up to `watermark_ms` (a watermark step) and notified that step.
    Step { partition: i32, watermark_ms: i64 },
    /// That task has released everything (every source idle, the input's end).
    Finished { partition: i32 },
}

/// A stage-B-topic message that cannot be read (another version, corrupted).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stage-B-topic message: {0}")]
pub(crate) struct HopError(String);

impl<M: Serialize + serde::de::DeserializeOwned> Hop<M> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        // Serialising these plain types into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Hop<M>, HopError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| HopError(e.to_string()))
            }
            Some((v, _)) => Err(HopError(format!("version {v}, expected {VERSION}"))),
            None => Err(HopError("empty".into())),
        }
    }
}

/// The messages one stage-B-topic message holds: itself, or each of a batch's.
pub(crate) fn frames(bytes: &[u8]) -> Result<Vec<&[u8]>, HopError> {
    let Some((&BATCH, mut rest)) = bytes.split_first() else {
        return Ok(vec![bytes]);
    };
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (len, tail) =
            postcard::take_from_bytes::<u32>(rest).map_err(|e| HopError(format!("batch: {e}")))?;
        let len = len as usize;
        if len > tail.len() {
            return Err(HopError("batch: truncated".into()));
        }
        let (frame, tail) = tail.split_at(len);
        frames.push(frame);
        rest = tail;
    }
    Ok(frames)
}

/// Consecutive forwards (each encoded as its `Hop::Forward`) as batches of at most
/// [`BATCH_MAX_FORWARDS`] and [`BATCH_MAX_BYTES`]; a lone forward stays as it is.
pub(crate) fn batches(forwards: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0;
    let close = |batch: &mut Vec<Vec<u8>>, out: &mut Vec<Vec<u8>>| {
        if batch.len() == 1 {
            out.extend(batch.pop());
        } else if !batch.is_empty() {
            let mut b = Vec::with_capacity(1 + batch.iter().map(|f| f.len() + 5).sum::<usize>());
            b.push(BATCH);
            let mut len = [0u8; 5];
            for f in batch.drain(..) {
                let l = postcard::to_slice(&(f.len() as u32), &mut len).unwrap_or_default();
                b.extend_from_slice(l);
                b.extend_from_slice(&f);
            }
            out.push(b);
        }
    };
    for f in forwards {
        if batch.len() >= BATCH_MAX_FORWARDS || bytes + f.len() > BATCH_MAX_BYTES {
            close(&mut batch, &mut out);
            bytes = 0;
        }
        bytes += f.len() + 5;
        batch.push(f);
    }
    close(&mut batch, &mut out);
    out
}

/// A step or end marker, encoded as every `Hop<M>` encodes it (the variant and its
/// fields; `M` does not appear).
pub(crate) fn marker(hop: Hop<Never>) -> Vec<u8> {
    hop.encode()
}

/// What a stage-A detector produced since the worker last took it (the worker
/// knows which partitions it owns and tags the steps with them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Produced {
    /// A forward, already encoded as its `Hop::Forward`.
    Forward(Vec<u8>),
    Step(i64),
    Finished,
}

/// Shared between a stage-A detector (inside the pipeline) and its worker.
pub(crate) type Outbox = Arc<Mutex<Vec<Produced>>>;

/// A stage A as a detector of stage detect's pipeline: it sees the events of its
/// feed's partitions that its worker owns, in canonical order with their watermark
/// steps, and emits no case; what it forwards goes to the outbox.
pub(crate) struct StageATask<S: Stage<In = Event>> {
    stage: S,
    /// The detector's name (metrics) and feed.
    name: &'static str,
    feed: Feed,
    outbox: Outbox,
    forwarded: Vec<S::Out>,
}

impl<S: Stage<In = Event>> StageATask<S> {
    pub(crate) fn new(stage: S, name: &'static str, feed: Feed, outbox: Outbox) -> Self {
        StageATask {
            stage,
            name,
            feed,
            outbox,
            forwarded: Vec::new(),
        }
    }

    /// Move what the stage forwarded, then `then`, to the outbox.
    fn push(&mut self, then: Option<Produced>) {
        if self.forwarded.is_empty() && then.is_none() {
            return;
        }
        let mut outbox = self.outbox.lock().expect("outbox lock");
        for m in self.forwarded.drain(..) {
            outbox.push(Produced::Forward(Hop::Forward(m).encode()));
        }
        outbox.extend(then);
    }
}

impl<S: Stage<In = Event>> Detector for StageATask<S> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn feed(&self) -> Option<Feed> {
        Some(self.feed)
    }

    fn on_event(&mut self, event: &Event, out: &mut dyn CaseSink) {
        self.stage
            .on_message(event, &mut Emit::new(out, &mut self.forwarded));
        self.push(None);
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut dyn CaseSink) {
        self.stage
            .on_watermark(watermark_ms, &mut Emit::new(out, &mut self.forwarded));
        self.push(Some(Produced::Step(watermark_ms)));
    }

    /// The input's end: what is pending forwarded, then the end marker (the state is
    /// spent: the worker rebuilds before it takes more).
    fn finish(&mut self, out: &mut dyn CaseSink) {
        self.stage.flush(&mut Emit::new(out, &mut self.forwarded));
        self.push(Some(Produced::Finished));
    }

    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        self.stage.on_reference_update(kind, key, value);
    }

    fn state_size(&self) -> usize {
        self.stage.state_size()
    }
}

/// The detectors of stage detect: each detector whole, or its stage A forwarding to
/// the outbox of its feed in `split` (the feeds whose internal topic has several
/// partitions).
pub(crate) fn detect_detectors(
    config: &crate::config::Config,
    cells: Option<&std::path::Path>,
    split: &std::collections::BTreeMap<Feed, Outbox>,
) -> Result<Vec<Box<dyn Detector>>, String> {
    let (spam, fakebts) = crate::detect::setup::RunSetup::build_split(config, cells)?;
    // Each detector's stage A as a task of the feed, when its feed is split.
    fn stage_a<S: Stage<In = Event> + 'static>(
        stage: S,
        name: &'static str,
        feed: Feed,
        outbox: &Outbox,
    ) -> Box<dyn Detector> {
        Box::new(StageATask::new(stage, name, feed, outbox.clone()))
    }
    let spam: Box<dyn Detector> = match split.get(&Feed::SmsVolume) {
        Some(outbox) => stage_a(spam.into_stages().0, "spam", Feed::SmsVolume, outbox),
        None => Box::new(spam),
    };
    let fakebts: Box<dyn Detector> = match split.get(&Feed::Measurements) {
        Some(o) => stage_a(fakebts.into_stages().0, "fake_bts", Feed::Measurements, o),
        None => Box::new(fakebts),
    };
    Ok(vec![spam, fakebts])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fakebts::forward::Forward;

    #[test]
    fn hops_survive_the_round_trip_and_foreign_bytes_are_refused() {
        for hop in [
            Hop::<Forward>::Step {
                partition: 2,
                watermark_ms: 1_000,
            },
            Hop::Finished { partition: 0 },
        ] {
            assert_eq!(Hop::decode(&hop.encode()).unwrap(), hop);
        }
        assert!(Hop::<Forward>::decode(&[9, 1, 2]).is_err());
        assert!(Hop::<Forward>::decode(&[]).is_err());
    }

    #[test]
    fn batches_hold_the_forwards_in_order_and_a_lone_forward_stays_apart() {
        let forwards: Vec<Vec<u8>> = (0..1_100u32)
            .map(|i| vec![VERSION; 1 + (i as usize % 300)])
            .collect();
        let batched = batches(forwards.clone());
        assert_eq!(batched.len(), 3, "512 forwards at most in a batch");
        let back: Vec<Vec<u8>> = batched
            .iter()
            .flat_map(|b| frames(b).unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(back, forwards);
        assert_eq!(batches(vec![vec![VERSION, 7]]), vec![vec![VERSION, 7]]);
        assert_eq!(frames(&[VERSION, 7]).unwrap(), vec![&[VERSION, 7][..]]);
        let big: Vec<Vec<u8>> = (0..3).map(|_| vec![VERSION; 200 * 1024]).collect();
        assert_eq!(batches(big).len(), 3, "256 KB at most in a batch");
        assert!(
            frames(&[BATCH, 9, 1]).is_err(),
            "a truncated batch is refused"
        );
    }

    #[test]
    fn markers_encode_as_every_hop_does() {
        let step = Hop::<Never>::Step {
            partition: 1,
            watermark_ms: 20_000,
        };
        assert_eq!(
            Hop::<Forward>::decode(&marker(step)).unwrap(),
            Hop::Step {
                partition: 1,
                watermark_ms: 20_000
            }
        );
    }
}
