//! The two stages of `[kafka] topology = "staged"`, as modes of the one worker:
//! "ingest" validates the feed partitions it owns (dead letters, archive) and
//! re-keys each valid event to an internal topic; "detect" reads the internal topics
//! and runs the detectors, skipping what it has applied already (a tail that a
//! restarted ingest produced again). Kept apart from [`super::worker`] so that the
//! single-stage path stays as it was.

use super::consumer::WorkerContext;
use super::envelope::{detector_key, feed_of_tag, feed_tag, partition_of, Envelope};
use super::error::ServiceError;
use super::hop::{batches, marker, Hop, Outbox, Produced};
use super::outputs::Batch;
use super::stage_b::CrossStage;
use super::transmitters::route_forward;
use super::worker::Worker;
use crate::detect::fakebts::regions::Grid;
use crate::detect::CaseSink;
use crate::model::{Event, Feed};
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long the brokers may take to tell a topic's partitions.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Which part of the work a worker does.
pub(super) enum Stage {
    /// Validate and detect (`topology = "single"`).
    Whole,
    Ingest(IngestState),
    Detect(DetectState),
    /// Stage B of a split detector (`measurement_partitions` or `sms_partitions`
    /// above 1).
    Cross(Box<dyn CrossStage>),
}

impl Stage {
    /// For logs: `whole`, `ingest`, `detect` or stage B's name (`transmitters`).
    pub(super) fn name(&self) -> &'static str {
        match self {
            Stage::Whole => "whole",
            Stage::Ingest(_) => "ingest",
            Stage::Detect(_) => "detect",
            Stage::Cross(task) => task.name(),
        }
    }
}

/// Where stage ingest sends each feed's events.
pub(super) struct IngestState {
    /// Internal topic and its partition count, per feed.
    pub(super) internal: BTreeMap<Feed, (String, i32)>,
    /// Envelopes of the records processed since the batch took the last ones.
    pub(super) pending: Vec<OutMessage>,
    /// `[pipeline] watermark_step_ms`: with several internal partitions, a source's
    /// watermark is broadcast to every partition each time it passes a step.
    pub(super) step_ms: i64,
    /// The last step broadcast per source.
    pub(super) marked: BTreeMap<(Feed, i32), i64>,
}

/// One message for an internal topic.
pub(crate) struct OutMessage {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) key: Option<String>,
    pub(crate) payload: Vec<u8>,
}

/// What stage detect has applied.
#[derive(Default)]
pub(super) struct DetectState {
    /// The partitions of each feed topic upstream (all of them hold the watermark
    /// until they deliver or turn idle).
    pub(super) upstream: Vec<(Feed, i32)>,
    /// The internal partitions this task owns.
    pub(super) owned: Vec<(Feed, i32)>,
    /// Highest feed offset applied, per source: an upstream partition as seen
    /// through one internal partition ([`source_id`]).
    pub(super) applied: BTreeMap<(Feed, i32), i64>,
    /// Per feed whose internal topic has several partitions: its detector's stage A
    /// runs here and puts what it forwards in this outbox, for its stage-B topic.
    pub(super) split: BTreeMap<Feed, SplitA>,
    /// Internal messages that could not be read (another version).
    pub(super) unreadable: u64,
}

/// A detector's stage A in stage detect: its outbox and where to send it.
pub(super) struct SplitA {
    pub(super) outbox: Outbox,
    pub(super) topic: String,
}

/// The pipeline source of upstream partition `source` as seen through internal
/// partition `internal`: each internal partition carries its own share of a
/// source's events with that source's watermark, so a task owning several internal
/// partitions holds one watermark per pair (with one partition, the source itself).
pub(super) fn source_id(internal: i32, source: i32) -> i32 {
    (internal << 16) | (source & 0xffff)
}

impl DetectState {
    /// Every pipeline source of `feeds`' owned internal partitions.
    pub(super) fn sources(&self, feeds: &BTreeSet<Feed>) -> Vec<(Feed, i32)> {
        let mut out = Vec::new();
        for (feed, internal) in self.owned.iter().filter(|(f, _)| feeds.contains(f)) {
            for (_, p) in self.upstream.iter().filter(|(f, _)| f == feed) {
                out.push((*feed, source_id(*internal, *p)));
            }
        }
        out
    }
}

impl IngestState {
    /// Queue a valid event of feed partition `source` for its internal partition;
    /// with several internal partitions, the source's watermark to the others each
    /// time it passes a step (so that each partition's watermark advances even when
    /// it gets no event of that source).
    pub(super) fn forward(&mut self, event: Event, source: i32, offset: i64, watermark_ms: i64) {
        let feed = event.feed();
        let Some((topic, partitions)) = self.internal.get(&feed) else {
            return;
        };
        let (topic, partitions) = (topic.clone(), *partitions);
        let key = detector_key(&event);
        let partition = partition_of(&key, partitions);
        let payload = Envelope::Data {
            source,
            offset,
            watermark_ms,
            event,
        }
        .encode();
        self.pending.push(OutMessage {
            topic: topic.clone(),
            partition,
            key: Some(key),
            payload,
        });
        if partitions < 2 || watermark_ms == i64::MIN {
            return;
        }
        let step = watermark_ms.div_euclid(self.step_ms.max(1));
        if self.marked.get(&(feed, source)).is_some_and(|s| *s >= step) {
            return;
        }
        self.marked.insert((feed, source), step);
        let mark = Envelope::Mark {
            feed: feed_tag(feed),
            source,
            next: offset + 1,
            watermark_ms: Some(watermark_ms),
            idle: false,
        }
        .encode();
        for p in (0..partitions).filter(|p| *p != partition) {
            self.pending.push(OutMessage {
                topic: topic.clone(),
                partition: p,
                key: None,
                payload: mark.clone(),
            });
        }
    }

    /// Tell every internal partition of `feed` that `source` is idle (consumed to
    /// `next` and silent).
    pub(super) fn mark_idle(
        &mut self,
        feed: Feed,
        source: i32,
        next: i64,
        watermark_ms: Option<i64>,
    ) {
        let Some((topic, partitions)) = self.internal.get(&feed) else {
            return;
        };
        let payload = Envelope::Mark {
            feed: feed_tag(feed),
            source,
            next,
            watermark_ms,
            idle: true,
        }
        .encode();
        for partition in 0..*partitions {
            self.pending.push(OutMessage {
                topic: topic.clone(),
                partition,
                key: None,
                payload: payload.clone(),
            });
        }
    }
}

impl Worker {
    /// Stage detect: apply one internal-topic message to the detectors. Events
    /// already applied (offset at or below the source's last) are skipped; an idle
    /// marker that leaves every source idle emits the final snapshots (when live,
    /// never while rebuilding).
    pub(super) fn apply_internal(&mut self, internal: i32, payload: &[u8], out: &mut dyn CaseSink) {
        let Stage::Detect(state) = &mut self.stage else {
            return;
        };
        let envelope = match Envelope::decode(payload) {
            Ok(e) => e,
            Err(e) => {
                state.unreadable += 1;
                tracing::warn!(error = %e, "internal-topic message skipped");
                return;
            }
        };
        match envelope {
            Envelope::Data {
                source,
                offset,
                watermark_ms,
                event,
            } => {
                let feed = event.feed();
                let source = source_id(internal, source);
                let last = state.applied.entry((feed, source)).or_insert(-1);
                if offset <= *last {
                    return;
                }
                *last = offset;
                self.pipeline.on_event(event, out);
                self.pipeline.on_watermark(feed, source, watermark_ms, out);
            }
            Envelope::Mark {
                feed,
                source,
                next,
                watermark_ms,
                idle,
            } => {
                let feed = feed_of_tag(feed);
                let source = source_id(internal, source);
                // Stale: this source has delivered beyond the marker since.
                if state
                    .applied
                    .get(&(feed, source))
                    .is_some_and(|a| *a >= next)
                {
                    return;
                }
                if let Some(wm) = watermark_ms {
                    self.pipeline.on_watermark(feed, source, wm, out);
                }
                if idle {
                    self.pipeline.set_idle(feed, source, true, out);
                    if self.pipeline.all_idle() {
                        self.finish(out, "every partition idle");
                    }
                }
            }
        }
    }

    /// Partitions revoked from this worker: their sources no longer hold a feed's
    /// watermark. Stage detect's pipeline sources are pairs (internal partition,
    /// upstream partition) ([`source_id`]), so there the feeds of `parts` are
    /// forgotten whole (detectors, sources, what was applied and owned): left behind,
    /// their state would be finished at the next stop as if it were still this
    /// worker's, and stage A would tell stage B that partitions it no longer owns
    /// had finished.
    pub(super) fn release(&mut self, parts: &[(String, i32)]) -> Result<(), ServiceError> {
        if matches!(self.stage, Stage::Detect(_)) {
            let feeds: BTreeSet<Feed> = parts.iter().filter_map(|(t, _)| self.feed_of(t)).collect();
            return self.forget_feeds(&feeds);
        }
        for (t, p) in parts {
            if let Some(feed) = self.feed_of(t) {
                self.pipeline.remove_source(feed, *p);
            }
        }
        Ok(())
    }

    /// Stage detect running some detector's stage A (a feed over several
    /// partitions).
    pub(super) fn runs_stage_a(&self) -> bool {
        matches!(&self.stage, Stage::Detect(state) if !state.split.is_empty())
    }

    /// Stage detect with stage-A tasks: what they forwarded since the last call, as
    /// messages of their stage-B topics (a step or the end for each owned partition
    /// of the feed).
    pub(super) fn take_forwarded(&mut self) -> Vec<OutMessage> {
        let Stage::Detect(DetectState { split, owned, .. }) = &self.stage else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (feed, split) in split {
            let produced = std::mem::take(&mut *split.outbox.lock().expect("outbox lock"));
            let mine: Vec<i32> = owned
                .iter()
                .filter(|(f, _)| f == feed)
                .map(|(_, p)| *p)
                .collect();
            // The fake-BTS stage-B topic keyed by tile: each forward to the
            // partitions of the tiles it reaches, each marker to every partition.
            let tiles = (*feed == Feed::Measurements)
                .then_some(self.config.kafka.transmitter_partitions)
                .filter(|n| *n > 1)
                .map(|n| (Grid::new(&self.config.fakebts), n));
            let every: Vec<i32> = (0..tiles.map_or(1, |(_, n)| n)).collect();
            let (mut keys, mut to) = (Vec::new(), Vec::new());
            let mut push = |payload: Vec<u8>, partitions: &[i32]| {
                let Some((&last, others)) = partitions.split_last() else {
                    return;
                };
                let message = |partition, payload| OutMessage {
                    topic: split.topic.clone(),
                    partition,
                    key: None,
                    payload,
                };
                for &partition in others {
                    out.push(message(partition, payload.clone()));
                }
                out.push(message(last, payload));
            };
            // Forwards to the one partition go in batches, each ended by a marker.
            let mut pending = Vec::new();
            for p in produced {
                if !matches!(p, Produced::Forward(_)) {
                    for batch in batches(std::mem::take(&mut pending)) {
                        push(batch, &[0]);
                    }
                }
                match p {
                    Produced::Forward(payload) => match &tiles {
                        Some((grid, n)) => {
                            route_forward(grid, *n, &payload, &mut keys, &mut to);
                            let parts: Vec<i32> = to.iter().map(|p| *p as i32).collect();
                            push(payload, &parts);
                        }
                        None => pending.push(payload),
                    },
                    Produced::Step(watermark_ms) => {
                        for &partition in &mine {
                            let step = Hop::Step {
                                partition,
                                watermark_ms,
                            };
                            push(marker(step), &every);
                        }
                    }
                    Produced::Finished => {
                        for &partition in &mine {
                            push(marker(Hop::Finished { partition }), &every);
                        }
                    }
                }
            }
            for batch in batches(pending) {
                push(batch, &[0]);
            }
        }
        out
    }

    /// Stage ingest: a feed partition is idle; tell stage detect.
    pub(super) fn mark_idle(&mut self, feed: Feed, source: i32, next: i64, batch: &mut Batch) {
        if let Stage::Ingest(state) = &mut self.stage {
            let wm = self
                .validators
                .get(&(feed, source))
                .and_then(|v| v.watermark_ms());
            state.mark_idle(feed, source, next, wm);
            batch.envelopes.append(&mut state.pending);
        }
    }

    /// Stage detect: learn the partitions of the feed topics upstream of the
    /// internal partitions `parts` this task owns (from the brokers' metadata), each
    /// of which holds the watermark until it delivers or is declared idle. A task
    /// that owns only one feed's internal partitions (the detect group spreads them
    /// over its members) waits for that feed only.
    pub(super) fn refresh_upstream(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        parts: &[(String, i32)],
    ) -> Result<(), ServiceError> {
        let owned_parts: Vec<(Feed, i32)> = parts
            .iter()
            .filter_map(|(t, p)| self.feeds.get(t).map(|f| (*f, *p)))
            .collect();
        let owned: BTreeSet<Feed> = owned_parts.iter().map(|(f, _)| *f).collect();
        let topics = &self.config.kafka.topics;
        let feeds = [
            (Feed::SmsVolume, topics.sms_volume.clone()),
            (Feed::Measurements, topics.measurements.clone()),
        ];
        let mut upstream = Vec::new();
        for (feed, topic) in feeds.into_iter().filter(|(f, _)| owned.contains(f)) {
            let md = consumer.fetch_metadata(Some(&topic), METADATA_TIMEOUT)?;
            let n = md.topics().first().map_or(0, |t| t.partitions().len());
            if n == 0 {
                tracing::warn!(%topic, "feed topic missing: its partitions cannot hold the watermark; create the feed topics before starting");
            }
            upstream.extend((0..n as i32).map(|p| (feed, p)));
        }
        if let Stage::Detect(state) = &mut self.stage {
            state.upstream = upstream;
            state.owned = owned_parts;
        }
        Ok(())
    }

    /// Stage detect: the feeds whose upstream partitions hold this task's watermark
    /// (those of the internal partitions it owns).
    pub(super) fn upstream_feeds(&self) -> BTreeSet<Feed> {
        match &self.stage {
            Stage::Detect(state) => state.upstream.iter().map(|(f, _)| *f).collect(),
            _ => BTreeSet::new(),
        }
    }

    /// Register every upstream source of stage detect (all partitions of the feed
    /// topics it owns) and forget what was applied: a rebuild starts over.
    pub(super) fn reset_detect(&mut self) {
        if let Stage::Detect(state) = &mut self.stage {
            state.applied.clear();
            let feeds = state.owned.iter().map(|(f, _)| *f).collect();
            for (feed, p) in state.sources(&feeds) {
                self.pipeline.register_source(feed, p);
            }
        }
    }
}
