//! State rebuild: detector state lives in memory, so on every new assignment the
//! worker starts from fresh detectors and re-reads the recent history of its
//! partitions (from `now − restore window` up to the committed offsets), without
//! emitting cases again (stage detect, after a cooperative rebalance: only the feeds
//! whose task moved to it, the others keeping their state). Kept apart from the
//! consumer loop because it reads Kafka by offsets and timestamps outside the
//! consumer group.

use super::consumer::{plain_consumer, WorkerContext};
use super::error::ServiceError;
use super::stage::Stage;
use super::worker::Worker;
use crate::detect::CaseSink;
use crate::model::{Case, Feed};
use crate::pipeline::Pipeline;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Discards what detectors emit while state is being rebuilt: those cases came from
/// records whose offsets were committed, so the sinks already have them.
struct Discard;

impl CaseSink for Discard {
    fn emit(&mut self, _case: Case) {}
}

/// Offsets `start..end` of one partition to re-read.
struct Range {
    topic: String,
    partition: i32,
    start: i64,
    end: i64,
}

/// How long Kafka may take to answer one metadata or offsets request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Worker {
    /// Fresh detectors, then replay each assigned partition from
    /// `now − restore window` up to its committed offset (or up to `ends`, the next
    /// offset to process, where given), discarding emissions. Leaves the worker
    /// [`Worker::live`] unless the rebuild was interrupted by a shutdown.
    pub(super) fn rebuild(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        assigned: &[(String, i32)],
        ends: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), ServiceError> {
        let started = Instant::now();
        self.live = false;
        self.reset_pipeline()?;
        let feed_parts: Vec<(String, i32)> = assigned
            .iter()
            .filter(|(t, _)| self.feeds.contains_key(t))
            .cloned()
            .collect();
        if let Stage::Cross(task) = &mut self.stage {
            let mine: Vec<i32> = feed_parts.iter().map(|(_, p)| *p).collect();
            task.own(&mine);
        }
        if feed_parts.is_empty() {
            if let Stage::Detect(state) = &mut self.stage {
                state.upstream.clear();
                state.owned.clear();
                state.applied.clear();
            }
            self.live = true;
            return Ok(());
        }
        // Every assigned partition, empty or not, holds its feed's watermark back
        // until it delivers or turns idle (see `Pipeline::set_idle`); in stage
        // detect, every partition of the feed topics upstream does.
        if matches!(self.stage, Stage::Detect(_)) {
            self.refresh_upstream(consumer, &feed_parts)?;
            self.reset_detect();
        } else {
            for (t, p) in &feed_parts {
                self.pipeline.register_source(self.feeds[t], *p);
            }
        }
        self.starts.clear();
        let (ranges, resumed) = self.ranges_to_reread(consumer, &feed_parts, ends)?;
        let Some(rebuilt) = self.reread(&ranges)? else {
            return Ok(());
        };
        self.rebuilt(&feed_parts, resumed, 0, rebuilt, started);
        Ok(())
    }

    /// Stage detect after a cooperative rebalance moved `moved` to this worker while
    /// it keeps its other partitions (`assigned` is everything it owns now): only the
    /// feeds of `moved` start over (fresh detectors, their internal partition's
    /// history re-read); the kept feeds' state stays as it is, with nothing re-read.
    /// Leaves the worker [`Worker::live`] unless a shutdown interrupted it.
    pub(super) fn rebuild_moved(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        moved: &[(String, i32)],
        assigned: &[(String, i32)],
    ) -> Result<(), ServiceError> {
        let started = Instant::now();
        let feeds_of = |parts: &[(String, i32)]| -> BTreeSet<Feed> {
            parts
                .iter()
                .filter_map(|(t, _)| self.feeds.get(t).copied())
                .collect()
        };
        let fresh = feeds_of(moved);
        if fresh.is_empty() {
            return Ok(());
        }
        // Not live meanwhile: an idle marker read again must not finish the state.
        self.live = false;
        self.forget_feeds(&fresh)?;
        self.refresh_upstream(consumer, assigned)?;
        if let Stage::Detect(state) = &self.stage {
            for (feed, p) in state.sources(&fresh) {
                self.pipeline.register_source(feed, p);
            }
        }
        // Every owned partition of a feed that starts over is read again (with
        // `measurement_partitions` above 1 a task may own several, kept ones too).
        let reread: Vec<(String, i32)> = assigned
            .iter()
            .filter(|(t, _)| self.feeds.get(t).is_some_and(|f| fresh.contains(f)))
            .cloned()
            .collect();
        let (ranges, _) = self.ranges_to_reread(consumer, &reread, &BTreeMap::new())?;
        let Some(rebuilt) = self.reread(&ranges)? else {
            return Ok(());
        };
        let kept = assigned.len().saturating_sub(moved.len());
        self.rebuilt(moved, 0, kept, rebuilt, started);
        Ok(())
    }

    /// Stage detect: start the detectors of `feeds` over (fresh ones, with the latest
    /// reference data) and forget what was applied from their sources; the other
    /// feeds' state is kept. For a task that moved away, or one about to be rebuilt.
    pub(super) fn forget_feeds(&mut self, feeds: &BTreeSet<Feed>) -> Result<(), ServiceError> {
        let mut fresh = self.fresh_pipeline()?;
        for feed in feeds {
            self.pipeline.adopt_feed(*feed, &mut fresh);
        }
        if let Stage::Detect(state) = &mut self.stage {
            state.applied.retain(|(f, _), _| !feeds.contains(f));
            state.upstream.retain(|(f, _)| !feeds.contains(f));
            state.owned.retain(|(f, _)| !feeds.contains(f));
        }
        self.take_forwarded();
        Ok(())
    }

    /// Read `ranges` through the detectors, discarding what they emit: the records
    /// read, `None` when a shutdown interrupted it.
    fn reread(&mut self, ranges: &[Range]) -> Result<Option<u64>, ServiceError> {
        if ranges.is_empty() {
            return Ok(Some(0));
        }
        let reader = plain_consumer(&self.config.kafka)?;
        let mut assign = TopicPartitionList::new();
        for r in ranges {
            assign.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.start))?;
        }
        reader.assign(&assign)?;
        let read = self.read_ranges(&reader, ranges)?;
        if read.is_none() {
            tracing::info!("state rebuild interrupted by shutdown");
        }
        Ok(read)
    }

    /// A rebuild of `parts` is through: live again, counted and logged (`kept`: the
    /// partitions whose state was kept as it was).
    fn rebuilt(
        &mut self,
        parts: &[(String, i32)],
        resumed: usize,
        kept: usize,
        records: u64,
        started: Instant,
    ) {
        self.live = true;
        self.metrics.rebuilt_records.inc_by(records);
        self.report.rebuilds += 1;
        self.report.rebuilt_records += records;
        let feeds: Vec<&str> = parts.iter().map(|(t, _)| self.feeds[t].name()).collect();
        tracing::info!(
            stage = self.stage.name(),
            partitions = parts.len(),
            feeds = ?feeds,
            kept,
            resumed_from_checkpoint = resumed,
            records,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "detector state rebuilt"
        );
    }

    /// Fresh detectors and validators, with the latest reference data re-applied.
    fn reset_pipeline(&mut self) -> Result<(), ServiceError> {
        self.pipeline = self.fresh_pipeline()?;
        self.validators.clear();
        if let Stage::Cross(task) = &mut self.stage {
            let mut fresh = Self::new_stage_b(&self.config, self.cells.as_deref(), task.feed())?;
            for ((tag, key), value) in &self.references {
                fresh.on_reference_update(
                    super::worker::reference_of_tag(*tag),
                    key,
                    value.as_deref(),
                );
            }
            *task = fresh;
        }
        Ok(())
    }

    /// A pipeline of fresh detectors with the latest value of every reference key.
    fn fresh_pipeline(&self) -> Result<Pipeline, ServiceError> {
        let mut pipeline = Self::new_pipeline(&self.config, self.cells.as_deref(), &self.stage)?;
        for ((tag, key), value) in &self.references {
            pipeline.on_reference_update(
                super::worker::reference_of_tag(*tag),
                key,
                value.as_deref(),
            );
        }
        Ok(pipeline)
    }

    /// For each partition with a committed offset: the offsets from the first record
    /// of the restore window (from the committed offset where stage ingest resumes
    /// from a checkpoint) up to the committed one, or up to its entry in `ends`
    /// (skipped when empty), and how many partitions resumed from a checkpoint.
    /// Records the start positions for idleness checks.
    fn ranges_to_reread(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        feed_parts: &[(String, i32)],
        ends: &BTreeMap<(String, i32), i64>,
    ) -> Result<(Vec<Range>, usize), ServiceError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in feed_parts {
            tpl.add_partition(t, *p);
        }
        let committed = consumer.committed_offsets(tpl, REQUEST_TIMEOUT)?;
        let since =
            chrono::Utc::now().timestamp_millis() - self.config.pipeline.restore_window_ms();
        let mut ts_tpl = TopicPartitionList::new();
        for (t, p) in feed_parts {
            ts_tpl.add_partition_offset(t, *p, Offset::Offset(since))?;
        }
        let starts = consumer.offsets_for_times(ts_tpl, REQUEST_TIMEOUT)?;
        let mut ranges = Vec::new();
        let mut resumed = 0;
        for e in committed.elements() {
            let key = (e.topic().to_string(), e.partition());
            let Some(end) = self.reread_end(&key, ends, e.offset()) else {
                continue;
            };
            self.starts.insert(key, end);
            let start = match (
                self.resume(e.topic(), e.partition(), e.metadata()),
                e.offset(),
            ) {
                (true, Offset::Offset(committed)) => {
                    resumed += 1;
                    committed
                }
                _ => match starts
                    .find_partition(e.topic(), e.partition())
                    .map(|s| s.offset())
                {
                    Some(Offset::Offset(s)) => s,
                    _ => end,
                },
            };
            if start < end {
                ranges.push(Range {
                    topic: e.topic().to_string(),
                    partition: e.partition(),
                    start,
                    end,
                });
            }
        }
        Ok((ranges, resumed))
    }

    /// Where the re-read of partition `key` ends: its entry in `ends` when given;
    /// for a partition this worker kept through the rebalance, where its state of
    /// it ended (what it has flushed: its consumer goes on from there, whether or
    /// not the commit before the rebuild reached the group — one inside a rebalance
    /// can fail, and the records between the committed offset and the consumer's
    /// position would then be in no state: stage B missed their forwards); else
    /// the group's `committed` offset, where a new owner's consumer starts (`None`:
    /// nothing committed, nothing to re-read).
    pub(super) fn reread_end(
        &self,
        key: &(String, i32),
        ends: &BTreeMap<(String, i32), i64>,
        committed: Offset,
    ) -> Option<i64> {
        if let Some(end) = ends.get(key).or_else(|| self.flushed.get(key)) {
            return Some(*end);
        }
        match committed {
            Offset::Offset(end) => Some(end),
            _ => None,
        }
    }

    /// Stage ingest: resume a partition's validator from the checkpoint committed with
    /// its offset ([`super::checkpoint`]), so only records after the committed offset
    /// (up to `ends`) are read again. False when there is none: re-read the window.
    fn resume(&mut self, topic: &str, partition: i32, metadata: &str) -> bool {
        if !matches!(self.stage, Stage::Ingest(_)) {
            return false;
        }
        let (Some(feed), Some(max_event_ms)) = (
            self.feeds.get(topic).copied(),
            super::checkpoint::decode(metadata),
        ) else {
            return false;
        };
        let validator = self.validator(feed, partition);
        validator.resume_at(max_event_ms);
        if let Some(wm) = validator.watermark_ms() {
            self.pipeline
                .on_watermark(feed, partition, wm, &mut Discard);
        }
        true
    }

    /// Read every range to its end through the detectors, discarding what they emit;
    /// returns the number of records read, `None` when a shutdown interrupted it.
    fn read_ranges(
        &mut self,
        reader: &BaseConsumer,
        ranges: &[Range],
    ) -> Result<Option<u64>, ServiceError> {
        let mut open: BTreeMap<(String, i32), i64> = ranges
            .iter()
            .map(|r| ((r.topic.clone(), r.partition), r.end))
            .collect();
        let mut count = 0u64;
        let mut idle_polls = 0;
        while !open.is_empty() {
            if *self.stop.borrow() {
                return Ok(None);
            }
            let Some(msg) = reader.poll(Duration::from_millis(500)) else {
                idle_polls += 1;
                if idle_polls > 120 {
                    return Err(ServiceError::Setup(format!(
                        "state rebuild stalled with {} partitions unread; check the brokers",
                        open.len()
                    )));
                }
                continue;
            };
            idle_polls = 0;
            // Every range ends at a committed offset, which exists: reading up to it
            // is the only completion criterion (no partition-EOF events needed).
            let msg = msg?;
            let key = (msg.topic().to_string(), msg.partition());
            let Some(end) = open.get(&key).copied() else {
                continue;
            };
            if msg.offset() >= end {
                open.remove(&key);
                continue;
            }
            // Rebuilt records were archived when first consumed.
            let payload = msg.payload().unwrap_or(&[]);
            let _ = self.process(&key.0, key.1, msg.offset(), payload, &mut Discard, None);
            count += 1;
            if msg.offset() + 1 >= end {
                open.remove(&key);
            }
        }
        Ok(Some(count))
    }
}
