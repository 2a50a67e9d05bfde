//! Stage B of the fake-BTS detector split over Kafka (`[kafka]
//! measurement_partitions` above 1): the transmitter stage keyed by region
//! ([`Regions`]) as the last stage that [`super::stage_b`] runs over `[kafka.topics]
//! internal_transmitters`, where the stage-A tasks (one per measurements partition)
//! write their forwards and watermark steps ([`super::hop`]).
//!
//! With `[kafka] transmitter_partitions` above 1 that topic is keyed by tile: stage A
//! sends each forward to the partition of every tile it reaches and its markers to
//! every partition ([`route_forward`]), and a stage-B worker runs one task per
//! partition it owns ([`RegionTasks`]), each hosting the tiles whose key hashes to
//! its partition, with its own hold queue, watermark, skipping and final snapshots.

use super::hop::{Hop, HopError};
use super::stage_b::{CrossStage, LastStage, StageBTask};
use crate::detect::fakebts::forward::Forward;
use crate::detect::fakebts::regional::Regions;
use crate::detect::fakebts::regions::{Grid, RegionKey};
use crate::detect::{CaseSink, Reference};
use crate::model::Feed;
use std::collections::{BTreeMap, BTreeSet};

impl LastStage for Regions {
    const FEED: Feed = Feed::Measurements;
    const STAGE: &'static str = "transmitters";
    const GAUGE: &'static str = "fake_bts_transmitters";

    fn finish_all(&mut self, out: &mut dyn CaseSink) {
        Regions::finish_all(self, out);
    }
}

/// Stage A's side: the partitions (of `n`) of the transmitter topic an encoded
/// `Hop::Forward` goes to, ascending (one per partition hosting a tile it reaches;
/// partition 0 for a message that cannot be read, which stage B then refuses).
pub(crate) fn route_forward(
    grid: &Grid,
    n: i32,
    payload: &[u8],
    keys: &mut Vec<RegionKey>,
    out: &mut Vec<u64>,
) {
    match Hop::<Forward>::decode(payload) {
        Ok(Hop::Forward(f)) => {
            let m = f.measurement();
            grid.partitions_of(m.lat, m.lon, n.max(1) as u64, keys, out);
        }
        _ => {
            out.clear();
            out.push(0);
        }
    }
}

/// Stage B over `transmitter_partitions` partitions: one task per owned partition,
/// each over the tiles of its partition (`Regions::hosting`), each its own stage B
/// (hold queue, watermark over the stage-A partitions, skipping, final snapshots).
/// The worker's state is spent (its next message rebuilds it) once every owned
/// task has emitted its final snapshots.
pub(crate) struct RegionTasks {
    /// A fresh stage B of the configuration: each task is a sibling of it (they
    /// share its set of registered cells, so inventory updates go to it alone).
    template: Regions,
    partitions: i32,
    stage_a: i32,
    step_ms: i64,
    tasks: BTreeMap<i32, StageBTask<Regions>>,
    /// Owned tasks that have emitted their final snapshots.
    spent: BTreeSet<i32>,
    /// Messages for a spent task while another owned task was still running (only
    /// records after quiescence can do that; the worker's rebuild, once every task
    /// is spent, reads them again).
    pub(crate) ignored: u64,
}

impl RegionTasks {
    pub(crate) fn new(template: Regions, partitions: i32, stage_a: i32, step_ms: i64) -> Self {
        RegionTasks {
            template,
            partitions: partitions.max(1),
            stage_a,
            step_ms,
            tasks: BTreeMap::new(),
            spent: BTreeSet::new(),
            ignored: 0,
        }
    }

    fn task(&mut self, partition: i32) -> &mut StageBTask<Regions> {
        let (template, n, a, step) = (&self.template, self.partitions, self.stage_a, self.step_ms);
        self.tasks.entry(partition).or_insert_with(|| {
            let b = template.sibling(partition.max(0) as u64, n as u64);
            StageBTask::new(b, a, step)
        })
    }
}

impl CrossStage for RegionTasks {
    fn apply(
        &mut self,
        payload: &[u8],
        out: &mut dyn CaseSink,
        live: bool,
    ) -> Result<bool, HopError> {
        self.apply_at(0, payload, out, live)
    }

    fn apply_at(
        &mut self,
        partition: i32,
        payload: &[u8],
        out: &mut dyn CaseSink,
        live: bool,
    ) -> Result<bool, HopError> {
        if self.spent.contains(&partition) {
            self.ignored += 1;
            return Ok(false);
        }
        if self.task(partition).apply(payload, out, live)? {
            self.spent.insert(partition);
        }
        Ok(live && self.tasks.keys().all(|p| self.spent.contains(p)))
    }

    fn own(&mut self, partitions: &[i32]) {
        self.tasks.retain(|p, _| partitions.contains(p));
        self.spent.retain(|p| partitions.contains(p));
        for p in partitions {
            self.task(*p);
        }
    }

    fn unfinished(&self) -> Vec<i32> {
        let all: BTreeSet<i32> = self
            .tasks
            .iter()
            .filter(|(p, _)| !self.spent.contains(p))
            .flat_map(|(_, t)| t.unfinished())
            .collect();
        all.into_iter().collect()
    }

    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        // The tasks share the template's set of registered cells.
        crate::detect::stage::Stage::on_reference_update(&mut self.template, kind, key, value);
    }

    fn state_size(&self) -> usize {
        self.tasks.values().map(CrossStage::state_size).sum()
    }

    fn feed(&self) -> Feed {
        Feed::Measurements
    }

    fn name(&self) -> &'static str {
        <Regions as LastStage>::STAGE
    }

    fn gauge(&self) -> &'static str {
        <Regions as LastStage>::GAUGE
    }
}
