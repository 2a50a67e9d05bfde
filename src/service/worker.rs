//! One worker's record processing: a consumed record is validated against its
//! source (feed, partition), run through the shared pipeline, archived and counted.
//! The consumer loop ([`super::run`]) feeds it bursts of records; the state rebuild
//! ([`super::rebuild`]) feeds it history.

use super::error::ServiceError;
use super::metrics::{DetectorLabel, FeedLabel, Metrics, TopicLabel, TopicReasonLabel};
use super::outputs::Batch;
use super::reference::ReferenceUpdate;
use super::report::ServiceReport;
use super::stage::{DetectState, Stage};
use super::stage_time::{thread_cpu, Step, ENCODE_SAMPLE};
use crate::config::Config;
use crate::detect::setup::RunSetup;
use crate::detect::{CaseSink, Reference};
use crate::ingest::OriginRef;
use crate::model::{Event, Feed, InvalidReason, TimeBounds, ValidationError};
use crate::pipeline::{Pipeline, PipelineTiming};
use crate::sink::clickhouse::RecordArchive;
use crate::validate::{parse_bytes, Checked, DeadLetter, SourceValidator};
use prometheus_client::metrics::counter::Counter;
use rdkafka::message::{BorrowedMessage, Message};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The consumer side of the service: the pipeline and what it needs to take records
/// of the assigned partitions.
pub(super) struct Worker {
    pub(super) config: Config,
    pub(super) cells: Option<PathBuf>,
    pub(super) metrics: Metrics,
    pub(super) bounds: TimeBounds,
    pub(super) pipeline: Pipeline,
    /// One validator per source, keyed by feed and partition (found without
    /// allocating a key per record).
    pub(super) validators: BTreeMap<(Feed, i32), SourceValidator>,
    /// The feed of each feed topic.
    pub(super) feeds: BTreeMap<String, Feed>,
    /// `received` / `valid` counters of each feed topic, resolved once.
    counters: BTreeMap<String, (Counter, Counter)>,
    /// Latest value of every reference key, re-applied after a rebuild.
    pub(super) references: BTreeMap<(u8, String), Option<Vec<u8>>>,
    pub(super) report: ServiceReport,
    /// Archive valid records (ClickHouse store with `sink.archive_records`).
    archive: bool,
    /// The detector state is complete and running: rebuilt for the assignment and
    /// not yet finished (final snapshots emitted at quiescence, revocation or stop).
    /// A record that arrives while not live triggers a rebuild first.
    pub(super) live: bool,
    /// Where each partition's consumption started at the last rebuild (its committed
    /// offset), for telling whether a partition has been consumed to its end.
    pub(super) starts: BTreeMap<(String, i32), i64>,
    /// Next offset of each assigned partition up to which everything consumed has
    /// been flushed and its offset stored for commit: where the state this worker
    /// holds of the partition ends, and where the re-read of a partition it keeps
    /// through a rebalance ends ([`Worker::reread_end`]). Forgotten when the
    /// partition is revoked.
    pub(super) flushed: BTreeMap<(String, i32), i64>,
    /// Turns true on shutdown: a rebuild in progress stops early.
    pub(super) stop: tokio::sync::watch::Receiver<bool>,
    /// The part of the work this worker does (the whole, or one stage).
    pub(super) stage: Stage,
    /// Archive rows encoded so far, and the sampled time of encoding them
    /// ([`super::stage_time::ENCODE_SAMPLE`]).
    encoded: u32,
    encode_time: Duration,
    /// The thread that parses large bursts beside this one ([`super::burst`]),
    /// started at the first.
    pub(super) parse_helper: Option<super::burst::ParseHelper>,
}

/// Where a burst started, for [`Worker::account_burst`].
pub(super) struct BurstMark {
    at: Instant,
    cpu: Duration,
    pipeline: PipelineTiming,
    encode: Duration,
}

/// The validator of one feed partition in `validators`, made on its first use.
fn source_validator<'a>(
    validators: &'a mut BTreeMap<(Feed, i32), SourceValidator>,
    config: &Config,
    bounds: TimeBounds,
    feed: Feed,
    partition: i32,
) -> &'a mut SourceValidator {
    let lateness = config.pipeline.allowed_lateness_ms();
    let depth = config.pipeline.max_json_depth;
    validators.entry((feed, partition)).or_insert_with(|| {
        SourceValidator::new(feed, bounds, lateness)
            .with_source(partition)
            .with_max_json_depth(depth)
    })
}

/// Append an archive row, timing one row in [`ENCODE_SAMPLE`] (scaled).
fn push_sampled(
    archive: &mut RecordArchive,
    (encoded, time): (&mut u32, &mut Duration),
    event: &Event,
    origin: OriginRef<'_>,
    payload: &[u8],
) {
    // Valid, so `payload` passed `parse_bytes`'s UTF-8 check.
    *encoded = encoded.wrapping_add(1);
    if *encoded % ENCODE_SAMPLE != 0 {
        archive.push_utf8(event, origin, payload);
        return;
    }
    let t = Instant::now();
    archive.push_utf8(event, origin, payload);
    *time += t.elapsed() * ENCODE_SAMPLE;
}

/// The kind of a reference key as stored in [`Worker::references`] (inventory
/// first), and back.
fn reference_tag(kind: Reference) -> u8 {
    match kind {
        Reference::Inventory => 0,
        Reference::Allowlist => 1,
    }
}

pub(super) fn reference_of_tag(tag: u8) -> Reference {
    if tag == 0 {
        Reference::Inventory
    } else {
        Reference::Allowlist
    }
}

impl Worker {
    /// A worker for the feed topics `feeds`, with detectors built from `config` and
    /// the inventory `cells`, doing the work of `stage`.
    pub(super) fn new(
        config: Config,
        cells: Option<PathBuf>,
        metrics: Metrics,
        bounds: TimeBounds,
        feeds: BTreeMap<String, Feed>,
        stop: tokio::sync::watch::Receiver<bool>,
        stage: Stage,
    ) -> Result<Self, ServiceError> {
        Ok(Worker {
            pipeline: Worker::new_pipeline(&config, cells.as_deref(), &stage)?,
            stage,
            config,
            cells,
            metrics,
            bounds,
            validators: BTreeMap::new(),
            feeds,
            counters: BTreeMap::new(),
            references: BTreeMap::new(),
            report: ServiceReport::default(),
            archive: false,
            live: false,
            starts: BTreeMap::new(),
            flushed: BTreeMap::new(),
            stop,
            encoded: 0,
            encode_time: Duration::ZERO,
            parse_helper: None,
        })
    }

    /// Archive the valid records (ClickHouse store with `sink.archive_records`).
    pub(super) fn with_archive(mut self, archive: bool) -> Self {
        self.archive = archive;
        self
    }

    /// The pipeline of a stage: stage ingest has no detectors (its pipeline only
    /// keeps which sources are idle).
    pub(super) fn new_pipeline(
        config: &Config,
        cells: Option<&std::path::Path>,
        stage: &Stage,
    ) -> Result<Pipeline, ServiceError> {
        match stage {
            Stage::Ingest(_) | Stage::Cross(_) => {
                return Ok(Pipeline::from_config(Vec::new(), &config.pipeline));
            }
            Stage::Detect(DetectState { split, .. }) if !split.is_empty() => {
                let outboxes = split.iter().map(|(f, s)| (*f, s.outbox.clone())).collect();
                let detectors = super::hop::detect_detectors(config, cells, &outboxes)
                    .map_err(ServiceError::Setup)?;
                return Ok(Pipeline::from_config(detectors, &config.pipeline));
            }
            _ => {}
        }
        let setup = RunSetup::build(config, cells).map_err(ServiceError::Setup)?;
        Ok(Pipeline::from_config(setup.detectors, &config.pipeline))
    }

    /// Run one consumed record through validation and the detectors; a valid
    /// record is appended to `archive` when given (not while rebuilding state).
    pub(super) fn process(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: &[u8],
        out: &mut dyn CaseSink,
        archive: Option<&mut RecordArchive>,
    ) -> Option<DeadLetter> {
        self.process_parsed(topic, partition, offset, payload, None, out, archive)
    }

    /// [`Worker::process`] with the record's stateless parse already done (on
    /// another thread, see [`Worker::take_burst`]); `None` parses here.
    #[allow(clippy::too_many_arguments)]
    fn process_parsed(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: &[u8],
        parsed: Option<Result<Event, ValidationError>>,
        out: &mut dyn CaseSink,
        archive: Option<&mut RecordArchive>,
    ) -> Option<DeadLetter> {
        let feed = *self.feeds.get(topic)?;
        match self.stage {
            Stage::Detect(_) => {
                self.apply_internal(partition, payload, out);
                return None;
            }
            Stage::Cross(_) => {
                self.apply_hop_at(partition, payload, out);
                return None;
            }
            _ => {}
        }
        let forward = archive.is_some();
        let (bounds, depth) = (self.bounds, self.config.pipeline.max_json_depth);
        let validator =
            source_validator(&mut self.validators, &self.config, bounds, feed, partition);
        let origin = OriginRef::Kafka {
            topic,
            partition,
            offset,
        };
        let limit = self.config.pipeline.max_record_bytes;
        if payload.len() > limit {
            let head = &payload[..crate::ingest::lines::TOO_LONG_HEAD_BYTES.min(payload.len())];
            let d = validator.too_large(head, payload.len() as u64, limit, origin.to_origin());
            self.pipeline.on_dead_letter(&d);
            return Some(d);
        }
        let parsed = parsed.unwrap_or_else(|| parse_bytes(feed, &bounds, depth, payload));
        let checked = validator.admit(parsed, payload, origin);
        if let Stage::Ingest(state) = &mut self.stage {
            return match checked {
                Checked::Valid(event) => {
                    if forward {
                        if let Some(archive) = archive.filter(|_| self.archive) {
                            let sample = (&mut self.encoded, &mut self.encode_time);
                            push_sampled(archive, sample, &event, origin, payload);
                        }
                        let wm = validator.watermark_ms().unwrap_or(i64::MIN);
                        state.forward(event, partition, offset, wm);
                    }
                    // Only which sources are idle is kept here (no detectors).
                    if let Some(wm) = validator.watermark_ms() {
                        self.pipeline.on_watermark(feed, partition, wm, out);
                    }
                    None
                }
                Checked::Invalid(dead) => {
                    self.pipeline.on_dead_letter(&dead);
                    Some(*dead)
                }
            };
        }
        match archive.filter(|_| self.archive) {
            Some(archive) => {
                let (encoded, time) = (&mut self.encoded, &mut self.encode_time);
                self.pipeline
                    .on_checked(validator, checked, out, &mut |event| {
                        push_sampled(archive, (&mut *encoded, &mut *time), event, origin, payload)
                    })
            }
            None => self
                .pipeline
                .on_checked(validator, checked, out, &mut |_| {}),
        }
    }

    /// A batch went through the sinks: what it consumed is flushed (its offsets
    /// stored for commit).
    pub(super) fn note_flushed(&mut self, offsets: &BTreeMap<(String, i32), i64>) {
        for (key, next) in offsets {
            let at = self.flushed.entry(key.clone()).or_insert(*next);
            *at = (*at).max(*next);
        }
    }

    /// The validator of one feed partition, made on its first record.
    pub(super) fn validator(&mut self, feed: Feed, partition: i32) -> &mut SourceValidator {
        source_validator(
            &mut self.validators,
            &self.config,
            self.bounds,
            feed,
            partition,
        )
    }

    /// Stage ingest: note each partition's highest admitted event time in `batch`,
    /// which holds every record consumed since the last one was sealed, so the value
    /// is the state right after the batch's last record of that partition.
    pub(super) fn checkpoint(&self, batch: &mut Batch) {
        if !matches!(self.stage, Stage::Ingest(_)) {
            return;
        }
        for (topic, partition) in batch.offsets.keys() {
            let Some(feed) = self.feeds.get(topic) else {
                continue;
            };
            if let Some(ms) = self
                .validators
                .get(&(*feed, *partition))
                .and_then(SourceValidator::max_event_ms)
            {
                batch.checkpoints.insert((topic.clone(), *partition), ms);
            }
        }
    }

    /// The feed of a topic, if it is a feed topic.
    pub(super) fn feed_of(&self, topic: &str) -> Option<Feed> {
        self.feeds.get(topic).copied()
    }

    /// Emit the final snapshots of the state this worker owns, as the replay's end
    /// does (held events released in order, then every detector's pending cases);
    /// the state is then spent: the next record rebuilds it first.
    pub(super) fn finish(&mut self, out: &mut dyn CaseSink, why: &'static str) {
        // Stage B finishes when every stage-A partition has (`apply_hop`).
        if !self.live || matches!(self.stage, Stage::Ingest(_) | Stage::Cross(_)) {
            return;
        }
        self.pipeline.finish(out);
        self.live = false;
        self.report.finishes += 1;
        tracing::info!(reason = why, "final snapshots emitted");
    }

    /// Stage detect, a cooperative rebalance moving the tasks of `feeds` away while
    /// this worker keeps the others: [`Worker::finish`] for those feeds only (the
    /// worker stays live for the others; the finished feeds are then forgotten).
    pub(super) fn finish_feeds(
        &mut self,
        out: &mut dyn CaseSink,
        feeds: &std::collections::BTreeSet<Feed>,
        why: &'static str,
    ) {
        if !self.live || !matches!(self.stage, Stage::Detect(_)) {
            return;
        }
        for feed in feeds {
            self.pipeline.finish_feed(*feed, out);
        }
        self.report.finishes += 1;
        let feeds: Vec<&str> = feeds.iter().map(|f| f.name()).collect();
        tracing::info!(reason = why, feeds = ?feeds, "final snapshots emitted");
    }

    /// Pass a reference-topic update to the detectors, and keep it for a rebuild.
    pub(super) fn apply_reference(&mut self, update: ReferenceUpdate) {
        self.pipeline
            .on_reference_update(update.kind, &update.key, update.value.as_deref());
        if let Stage::Cross(task) = &mut self.stage {
            task.on_reference_update(update.kind, &update.key, update.value.as_deref());
        }
        self.references
            .insert((reference_tag(update.kind), update.key), update.value);
    }

    /// Count a consumed record in the per-topic metrics.
    fn count(&mut self, topic: &str, dead: Option<&DeadLetter>) {
        if !self.counters.contains_key(topic) {
            let label = TopicLabel {
                topic: topic.into(),
            };
            let received = self.metrics.received.get_or_create(&label).clone();
            let valid = self.metrics.valid.get_or_create(&label).clone();
            self.counters.insert(topic.to_string(), (received, valid));
        }
        let Some((received, valid)) = self.counters.get(topic) else {
            return;
        };
        received.inc();
        match dead {
            None => {
                valid.inc();
            }
            Some(d) => {
                self.metrics
                    .invalid
                    .get_or_create(&TopicReasonLabel {
                        topic: topic.into(),
                        reason: d.reason.to_string(),
                    })
                    .inc();
            }
        }
    }

    /// Refresh the watermark-delay and state-size gauges.
    pub(super) fn update_gauges(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        for (feed, stats) in &self.pipeline.stats.by_feed {
            if let Some(wm) = stats.watermark_ms {
                self.metrics
                    .watermark_delay_seconds
                    .get_or_create(&FeedLabel {
                        feed: feed.name().into(),
                    })
                    .set((now - wm) / 1000);
            }
        }
        if let Stage::Cross(task) = &self.stage {
            self.metrics
                .state_size
                .get_or_create(&DetectorLabel {
                    detector: task.gauge().into(),
                })
                .set(task.state_size() as i64);
        }
        for d in self.pipeline.detectors() {
            self.metrics
                .state_size
                .get_or_create(&DetectorLabel {
                    detector: d.name().into(),
                })
                .set(d.state_size() as i64);
            for (detector, closed) in d.cases_closed_by_cap() {
                self.metrics
                    .open_cases_closed_by_cap
                    .get_or_create(&DetectorLabel {
                        detector: detector.into(),
                    })
                    .set(closed as i64);
            }
        }
    }

    /// Mark the start of a burst's accounting.
    pub(super) fn burst_mark(&self) -> BurstMark {
        BurstMark {
            at: Instant::now(),
            cpu: thread_cpu(),
            pipeline: self.pipeline.timing,
            encode: self.encode_time,
        }
    }

    /// Account a burst begun at `mark` whose records were taken from the consumer
    /// by `polled`, the loop having waited `parse_wait` for their parse: the rest,
    /// until now, is admission, ordering, detection and archive encoding (the
    /// pipeline's and the sampled encoder's own clocks tell those apart).
    pub(super) fn account_burst(&self, mark: BurstMark, polled: Instant, parse_wait: Duration) {
        let clock = &self.metrics.stages;
        clock.add(Step::Poll, polled.saturating_duration_since(mark.at));
        clock.add(Step::Parse, parse_wait);
        let now = Instant::now();
        let order = self
            .pipeline
            .timing
            .order
            .saturating_sub(mark.pipeline.order);
        let detect = self
            .pipeline
            .timing
            .detect
            .saturating_sub(mark.pipeline.detect);
        let encode = self.encode_time.saturating_sub(mark.encode);
        let processing = now
            .saturating_duration_since(polled)
            .saturating_sub(parse_wait);
        clock.add(Step::Order, order);
        clock.add(Step::Detect, detect);
        clock.add(Step::EncodeRecords, encode);
        clock.add(
            Step::Admit,
            processing.saturating_sub(order + detect + encode),
        );
        clock.add(Step::BurstCpu, thread_cpu().saturating_sub(mark.cpu));
    }

    /// Take one consumed record of `topic` into `batch`: its offset, its cases, its
    /// archived bytes or its dead letter; `parsed` as from [`Worker::take_burst`].
    pub(super) fn consume_one(
        &mut self,
        batch: &mut Batch,
        m: &BorrowedMessage<'_>,
        topic: &str,
        parsed: Option<Result<Event, ValidationError>>,
    ) {
        let (partition, offset) = (m.partition(), m.offset());
        let payload = m.payload().unwrap_or(&[]);
        batch.note_record(topic, partition, offset);
        // The batch is both the case sink and the archive's owner: take the archive
        // out for the call (moving three words, no allocation).
        let mut archive = std::mem::take(&mut batch.archive);
        let dead = self.process_parsed(
            topic,
            partition,
            offset,
            payload,
            parsed,
            batch,
            Some(&mut archive),
        );
        batch.archive = archive;
        match &mut self.stage {
            Stage::Ingest(state) => batch.envelopes.append(&mut state.pending),
            Stage::Detect(DetectState { split, .. }) if !split.is_empty() => {
                batch.envelopes.append(&mut self.take_forwarded())
            }
            _ => {}
        }
        self.count(topic, dead.as_ref());
        let r = &mut self.report;
        r.records += 1;
        match &dead {
            None => r.valid += 1,
            Some(d) => {
                if d.reason == InvalidReason::Late {
                    r.late += 1;
                } else {
                    r.invalid += 1;
                }
                *r.invalid_by_reason.entry(d.reason).or_default() += 1;
            }
        }
        if let Some(d) = dead {
            batch.dead.push(d);
        }
    }
}
