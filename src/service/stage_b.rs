//! Stage B of a detector split over Kafka (`[kafka] measurement_partitions` or
//! `sms_partitions` above 1): one task reading the detector's one-partition stage-B
//! topic, where its stage-A tasks (one per partition of the feed's internal topic)
//! write their forwards and watermark steps ([`super::hop`]). It holds the forwards
//! and applies them in canonical order at each step that every stage-A partition has
//! passed, then notifies the step — the sequence one process gives the detector's
//! last stage — and emits the final snapshots when every stage-A partition has
//! finished. The same machinery for every split detector: the fake-BTS detector's
//! `Transmitters` ([`super::transmitters`]) and the spam detector's `CrossSim`
//! ([`super::cross_sim`]). Kept apart from [`super::stage`] because it is the one
//! stage with its own hold queue over forwards instead of the pipeline's over events.

use super::error::ServiceError;
use super::hop::{frames, Hop, HopError};
use super::stage::Stage;
use super::worker::Worker;
use crate::detect::stage::{canonical_cmp, Emit, Message, Never, Stage as DetectStage};
use crate::detect::{CaseSink, Reference};
use crate::model::Feed;
use std::collections::BTreeMap;

/// As the pipeline: a jump of more steps than this (days without data) is crossed
/// in one notification.
const MAX_STEPS_PER_ADVANCE: u32 = 100_000;

/// A detector's last stage, as stage B runs it.
pub(crate) trait LastStage: DetectStage<Out = Never> + 'static {
    /// The feed whose stage-A tasks forward to it.
    const FEED: Feed;
    /// The stage's name in logs (`stage = …`) and its state gauge's `detector` label.
    const STAGE: &'static str;
    const GAUGE: &'static str;

    /// The input's end: every pending case's final snapshot, as the replay's end
    /// emits it (the state is spent).
    fn finish_all(&mut self, out: &mut dyn CaseSink);
}

/// Stage B as the worker sees it, whichever detector it runs.
pub(crate) trait CrossStage: Send {
    /// Take one message of the stage-B topic; true when it made the task emit its
    /// final snapshots (`live`: never while the state is being rebuilt).
    fn apply(
        &mut self,
        payload: &[u8],
        out: &mut dyn CaseSink,
        live: bool,
    ) -> Result<bool, HopError>;
    /// [`CrossStage::apply`] for a message of stage-B partition `partition` (a
    /// stage B over several partitions keeps a task per partition).
    fn apply_at(
        &mut self,
        _partition: i32,
        payload: &[u8],
        out: &mut dyn CaseSink,
        live: bool,
    ) -> Result<bool, HopError> {
        self.apply(payload, out, live)
    }
    /// The stage-B partitions this task now owns (after a rebuild's fresh start).
    fn own(&mut self, _partitions: &[i32]) {}
    /// The stage-A partitions that have not finished.
    fn unfinished(&self) -> Vec<i32>;
    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>);
    /// Keys tracked (the open-state gauge).
    fn state_size(&self) -> usize;
    /// The feed upstream, the stage's name in logs and its gauge's label.
    fn feed(&self) -> Feed;
    fn name(&self) -> &'static str;
    fn gauge(&self) -> &'static str;
}

/// What stage B knows of one stage-A partition.
#[derive(Debug, Default, Clone, Copy)]
struct Upstream {
    /// The first and the last step it notified.
    first: Option<i64>,
    last: Option<i64>,
    /// It released everything (the input's end).
    finished: bool,
}

/// Stage B's task: the last stage and the forwards held for canonical order.
pub(crate) struct StageBTask<B: LastStage> {
    b: B,
    upstream: BTreeMap<i32, Upstream>,
    /// Held forwards by event time, each list in arrival order.
    held: BTreeMap<i64, Vec<B::In>>,
    /// The last step applied and notified.
    released: Option<i64>,
    step_ms: i64,
    /// Forwards at or below a step already applied: a stage-A task rebuilt after a
    /// restart or a rebalance forwards them again.
    pub(crate) skipped: u64,
}

impl<B: LastStage> StageBTask<B>
where
    B::In: PartialEq,
{
    /// Stage B over `partitions` stage-A partitions (each holds the watermark until
    /// it notifies a step or finishes).
    pub(crate) fn new(b: B, partitions: i32, step_ms: i64) -> Self {
        StageBTask {
            b,
            upstream: (0..partitions).map(|p| (p, Upstream::default())).collect(),
            held: BTreeMap::new(),
            released: None,
            step_ms: step_ms.max(1),
            skipped: 0,
        }
    }

    /// Take one message; true when it made the task emit its final snapshots
    /// (`live`: never while the state is being rebuilt).
    pub(crate) fn apply_hop(
        &mut self,
        hop: Hop<B::In>,
        out: &mut dyn CaseSink,
        live: bool,
    ) -> bool {
        match hop {
            Hop::Forward(f) => {
                let t = f.event_time_ms();
                if self.released.is_some_and(|r| t <= r) {
                    self.skipped += 1;
                } else {
                    self.held.entry(t).or_default().push(f);
                }
                false
            }
            Hop::Step {
                partition,
                watermark_ms,
            } => {
                let u = self.upstream.entry(partition).or_default();
                u.finished = false;
                u.first = Some(u.first.map_or(watermark_ms, |f| f.min(watermark_ms)));
                u.last = Some(u.last.map_or(watermark_ms, |l| l.max(watermark_ms)));
                self.advance(out);
                false
            }
            Hop::Finished { partition } => {
                self.upstream.entry(partition).or_default().finished = true;
                self.advance(out);
                if live && self.upstream.values().all(|u| u.finished) {
                    self.finish(out);
                    return true;
                }
                false
            }
        }
    }

    /// The step every stage-A partition has passed: the minimum over those still
    /// running (one that has notified nothing holds it), the maximum when all have
    /// finished.
    fn watermark(&self) -> Option<i64> {
        let running: Vec<&Upstream> = self.upstream.values().filter(|u| !u.finished).collect();
        if running.is_empty() {
            return self.upstream.values().filter_map(|u| u.last).max();
        }
        running.iter().map(|u| u.last).min().flatten()
    }

    /// Apply and notify every step up to the watermark, from the first step any
    /// stage-A task notified (the step of the earliest event, as in one process).
    fn advance(&mut self, out: &mut dyn CaseSink) {
        let Some(wm) = self.watermark() else {
            return;
        };
        let start = match self.released {
            Some(r) => r + self.step_ms,
            None => match self.upstream.values().filter_map(|u| u.first).min() {
                Some(first) => first,
                None => return,
            },
        };
        let mut boundary = start;
        let mut steps = 0u32;
        while boundary <= wm {
            steps += 1;
            if steps > MAX_STEPS_PER_ADVANCE && self.held.keys().next().is_none_or(|t| *t > wm) {
                boundary = wm;
            }
            self.release_until(boundary, out);
            self.b
                .on_watermark(boundary, &mut Emit::new(out, &mut Vec::new()));
            self.released = Some(boundary);
            boundary += self.step_ms;
        }
    }

    /// Apply the held forwards at or before `boundary` in canonical order (two
    /// copies of one forward, from a stage-A task that forwarded it again, once).
    fn release_until(&mut self, boundary: i64, out: &mut dyn CaseSink) {
        let later = self.held.split_off(&(boundary + 1));
        let ready = std::mem::replace(&mut self.held, later);
        self.apply_sorted(ready, out);
    }

    fn apply_sorted(&mut self, ready: BTreeMap<i64, Vec<B::In>>, out: &mut dyn CaseSink) {
        let mut none: Vec<Never> = Vec::new();
        let mut emit = Emit::new(out, &mut none);
        for (_, mut same_time) in ready {
            same_time.sort_by(canonical_cmp);
            same_time.dedup();
            for f in &same_time {
                self.b.on_message(f, &mut emit);
            }
        }
    }

    /// The input's end: every held forward in order, then the final snapshots, as
    /// the replay's end gives them.
    fn finish(&mut self, out: &mut dyn CaseSink) {
        let rest = std::mem::take(&mut self.held);
        self.apply_sorted(rest, out);
        self.b.finish_all(out);
    }
}

impl<B: LastStage> CrossStage for StageBTask<B>
where
    B::In: PartialEq,
{
    fn apply(
        &mut self,
        payload: &[u8],
        out: &mut dyn CaseSink,
        live: bool,
    ) -> Result<bool, HopError> {
        let mut finished = false;
        for frame in frames(payload)? {
            finished |= self.apply_hop(Hop::decode(frame)?, out, live);
        }
        Ok(finished)
    }

    fn unfinished(&self) -> Vec<i32> {
        self.upstream
            .iter()
            .filter(|(_, u)| !u.finished)
            .map(|(p, _)| *p)
            .collect()
    }

    fn on_reference_update(&mut self, kind: Reference, key: &str, value: Option<&[u8]>) {
        self.b.on_reference_update(kind, key, value);
    }

    fn state_size(&self) -> usize {
        self.b.state_size()
    }

    fn feed(&self) -> Feed {
        B::FEED
    }

    fn name(&self) -> &'static str {
        B::STAGE
    }

    fn gauge(&self) -> &'static str {
        B::GAUGE
    }
}

impl Worker {
    /// A fresh stage B of `feed`'s detector from the configuration and the
    /// inventory `cells`.
    pub(super) fn new_stage_b(
        config: &crate::config::Config,
        cells: Option<&std::path::Path>,
        feed: Feed,
    ) -> Result<Box<dyn CrossStage>, ServiceError> {
        let (spam, fakebts) = crate::detect::setup::RunSetup::build_split(config, cells)
            .map_err(ServiceError::Setup)?;
        let (k, step) = (&config.kafka, config.pipeline.watermark_step_ms());
        Ok(match feed {
            Feed::Measurements if k.transmitter_partitions > 1 => {
                Box::new(super::transmitters::RegionTasks::new(
                    fakebts.into_stages().1,
                    k.transmitter_partitions,
                    k.measurement_partitions,
                    step,
                ))
            }
            Feed::Measurements => Box::new(StageBTask::new(
                fakebts.into_stages().1,
                k.measurement_partitions,
                step,
            )),
            Feed::SmsVolume => Box::new(StageBTask::new(
                spam.into_stages().1,
                k.sms_partitions,
                step,
            )),
        })
    }

    /// Stage B: the feed whose stage-A tasks forward to it; `None` for other stages.
    pub(super) fn stage_b_feed(&self) -> Option<Feed> {
        match &self.stage {
            Stage::Cross(task) => Some(task.feed()),
            _ => None,
        }
    }

    /// Stage B: the stage-A partitions it still waits for (empty once it has emitted
    /// its final snapshots); `None` for other stages.
    pub(super) fn unfinished_stage_a(&self) -> Option<Vec<i32>> {
        match &self.stage {
            Stage::Cross(_) if !self.live => Some(Vec::new()),
            Stage::Cross(task) => Some(task.unfinished()),
            _ => None,
        }
    }

    /// Stage B: apply one message of its topic (of partition 0).
    #[cfg(test)]
    pub(super) fn apply_hop(&mut self, payload: &[u8], out: &mut dyn CaseSink) {
        self.apply_hop_at(0, payload, out);
    }

    /// Stage B: apply one message of its topic's partition `partition`. The final
    /// snapshots, when every stage-A partition has finished, spend the state: the
    /// next message rebuilds it first, as after quiescence elsewhere.
    pub(super) fn apply_hop_at(&mut self, partition: i32, payload: &[u8], out: &mut dyn CaseSink) {
        let live = self.live;
        let Stage::Cross(task) = &mut self.stage else {
            return;
        };
        let finished = match task.apply_at(partition, payload, out, live) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, stage = task.name(), "stage-B message skipped");
                return;
            }
        };
        if finished {
            self.live = false;
            self.report.finishes += 1;
            tracing::info!(
                reason = "every stage-A partition finished",
                stage = task.name(),
                "final snapshots emitted"
            );
        }
    }
}
