//! The fake-BTS detector split over Kafka (`[kafka] measurement_partitions` above 1,
//! experimental): what the per-identity stage A tasks (one per partition of the
//! measurements internal topic, inside stage detect) write to `[kafka.topics]
//! internal_transmitters`, and the detector that runs stage A in stage detect's
//! pipeline, collecting what it forwards for the worker to produce. Kept apart
//! because it is the contract between stage A and stage B ([`super::transmitters`]).

use crate::detect::fakebts::forward::Forward;
use crate::detect::fakebts::identities::IdentityStage;
use crate::detect::stage::Stage as _;
use crate::detect::{CaseSink, Detector, Reference};
use crate::model::{Event, Feed};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Version byte in front of every message: a reader refuses what it does not know.
const VERSION: u8 = 1;

/// One message of the transmitters internal topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Hop {
    /// What stage A forwarded for one report (released in canonical order).
    Forward(Forward),
    /// Stage A's task of measurements partition `partition` has released every
    /// report up to `watermark_ms` (a watermark step) and notified that step.
    Step { partition: i32, watermark_ms: i64 },
    /// That task has released everything (every source idle, the input's end).
    Finished { partition: i32 },
}

/// A transmitters-topic message that cannot be read (another version, corrupted).
#[derive(Debug, thiserror::Error)]
#[error("unreadable transmitters-topic message: {0}")]
pub(crate) struct HopError(String);

impl Hop {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        // Serialising these plain types into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Hop, HopError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| HopError(e.to_string()))
            }
            Some((v, _)) => Err(HopError(format!("version {v}, expected {VERSION}"))),
            None => Err(HopError("empty".into())),
        }
    }
}

/// What the stage-A detector produced since the worker last took it (the worker
/// knows which partitions it owns and tags the steps with them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Produced {
    Forward(Forward),
    Step(i64),
    Finished,
}

/// Shared between the stage-A detector (inside the pipeline) and its worker.
pub(crate) type Outbox = Arc<Mutex<Vec<Produced>>>;

/// Stage A as a detector of stage detect's pipeline: it sees the measurements of
/// the partitions its worker owns, in canonical order with their watermark steps,
/// and emits no case; what it forwards goes to the outbox.
pub(crate) struct IdentityTask {
    stage: IdentityStage,
    outbox: Outbox,
}

impl IdentityTask {
    pub(crate) fn new(stage: IdentityStage, outbox: Outbox) -> Self {
        IdentityTask { stage, outbox }
    }

    fn push(&self, p: Produced) {
        self.outbox.lock().expect("outbox lock").push(p);
    }
}

impl Detector for IdentityTask {
    fn name(&self) -> &'static str {
        "fake_bts"
    }

    fn feed(&self) -> Option<Feed> {
        Some(Feed::Measurements)
    }

    fn on_event(&mut self, event: &Event, _out: &mut dyn CaseSink) {
        if let Event::Measurement(m) = event {
            if let Some(f) = self.stage.on_report(m) {
                self.push(Produced::Forward(f));
            }
        }
    }

    fn on_watermark(&mut self, watermark_ms: i64, _out: &mut dyn CaseSink) {
        self.stage.advance(watermark_ms);
        self.push(Produced::Step(watermark_ms));
    }

    fn finish(&mut self, _out: &mut dyn CaseSink) {
        self.stage.finish_all();
        self.push(Produced::Finished);
    }

    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        self.stage.on_reference_update(kind, key, value);
    }

    fn state_size(&self) -> usize {
        self.stage.len()
    }
}

/// The detectors of stage detect when stage A runs there: the spam detector and
/// stage A, forwarding to `outbox`.
pub(crate) fn split_detectors(
    config: &crate::config::Config,
    cells: Option<&std::path::Path>,
    outbox: Outbox,
) -> Result<Vec<Box<dyn Detector>>, String> {
    let (spam, fakebts) = crate::detect::setup::RunSetup::build_split(config, cells)?;
    let (identities, _) = fakebts.into_stages();
    Ok(vec![
        Box::new(spam),
        Box::new(IdentityTask::new(identities, outbox)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_survive_the_round_trip_and_foreign_bytes_are_refused() {
        for hop in [
            Hop::Step {
                partition: 2,
                watermark_ms: 1_000,
            },
            Hop::Finished { partition: 0 },
        ] {
            assert_eq!(Hop::decode(&hop.encode()).unwrap(), hop);
        }
        assert!(Hop::decode(&[9, 1, 2]).is_err());
        assert!(Hop::decode(&[]).is_err());
    }
}
