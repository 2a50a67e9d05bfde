//! The service loop: consume the feed topics in a consumer group, run the shared
//! pipeline, flush batches to the sinks and store offsets only after the sinks
//! acknowledged (at-least-once, end to end). On every new assignment the detector
//! state is rebuilt from the partitions' recent history without re-emitting cases.

use super::consumer::{group_consumer, plain_consumer, producer, AssignmentChange, WorkerContext};
use super::metrics::{DetectorLabel, FeedLabel, Metrics, TopicLabel, TopicReasonLabel};
use super::outputs::{Batch, CaseStore, Outputs, SinkError};
use super::reference::{spawn_reference_reader, ReferenceUpdate};
use crate::config::Config;
use crate::detect::{CaseSink, Reference};
use crate::ingest::Origin;
use crate::model::{Case, Feed, InvalidReason, TimeBounds};
use crate::pipeline::Pipeline;
use crate::setup::RunSetup;
use crate::sink::clickhouse::RecordRow;
use crate::validate::{DeadLetter, SourceValidator};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Why the service stopped with an error (data problems never stop it).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("kafka client setup failed: {0}; check [kafka] brokers and librdkafka settings")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot start the metrics endpoint on {listen}: {source}; change [http] listen")]
    Http {
        listen: String,
        #[source]
        source: std::io::Error,
    },
}

/// How to run the service.
pub struct ServiceOptions {
    pub config: Config,
    pub cells: Option<PathBuf>,
    pub store: CaseStore,
    pub metrics: Metrics,
    /// Becomes true to ask for a clean stop (SIGTERM, end of demo).
    pub shutdown: watch::Receiver<bool>,
    /// Fixes "now" of the contract's timestamp bound; wall clock when `None`.
    pub now_ms: Option<i64>,
}

/// Figures of a finished run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServiceReport {
    pub records: u64,
    pub valid: u64,
    pub invalid: u64,
    pub late: u64,
    pub invalid_by_reason: BTreeMap<InvalidReason, u64>,
    pub case_snapshots: u64,
    pub flushes: u64,
    pub rebuilds: u64,
    pub rebuilt_records: u64,
}

/// Discards what detectors emit while state is being rebuilt: those cases came from
/// records whose offsets were committed, so the sinks already have them.
struct Discard;

impl CaseSink for Discard {
    fn emit(&mut self, _case: Case) {}
}

struct Worker {
    config: Config,
    cells: Option<PathBuf>,
    metrics: Metrics,
    bounds: TimeBounds,
    pipeline: Pipeline,
    validators: BTreeMap<(String, i32), SourceValidator>,
    feeds: BTreeMap<String, Feed>,
    /// Latest value of every reference key, re-applied after a rebuild.
    references: BTreeMap<(u8, String), Option<Vec<u8>>>,
    report: ServiceReport,
    /// Archive valid records (ClickHouse store with `sink.archive_records`).
    archive: bool,
    /// Records archived since the last flush (moved into the batch by the caller).
    archived: Vec<RecordRow>,
}

fn reference_tag(kind: Reference) -> u8 {
    match kind {
        Reference::Inventory => 0,
        Reference::Allowlist => 1,
    }
}

impl Worker {
    fn new_pipeline(
        config: &Config,
        cells: Option<&std::path::Path>,
    ) -> Result<Pipeline, ServiceError> {
        let setup = RunSetup::build(config, cells).map_err(ServiceError::Setup)?;
        Ok(Pipeline::from_config(setup.detectors, &config.pipeline))
    }

    /// Run one consumed record through validation and the detectors.
    fn process(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: &[u8],
        out: &mut dyn CaseSink,
    ) -> Option<DeadLetter> {
        let feed = *self.feeds.get(topic)?;
        let (bounds, lateness) = (self.bounds, self.config.pipeline.allowed_lateness_ms());
        let validator = self
            .validators
            .entry((topic.to_string(), partition))
            .or_insert_with(|| SourceValidator::new(feed, bounds, lateness).with_source(partition));
        let origin = Origin::Kafka {
            topic: topic.to_string(),
            partition,
            offset,
        };
        let limit = self.config.pipeline.max_record_bytes;
        if payload.len() > limit {
            let head = &payload[..crate::ingest::lines::TOO_LONG_HEAD_BYTES.min(payload.len())];
            let d = validator.too_large(head, payload.len() as u64, limit, origin);
            self.pipeline.on_dead_letter(&d);
            return Some(d);
        }
        let archive = self.archive;
        let mut kept = None;
        let dead = self.pipeline.process_observed(
            validator,
            payload,
            origin,
            out,
            &mut |event, origin| {
                if archive {
                    kept = Some(RecordRow::from_event(event, origin, payload));
                }
            },
        );
        if let Some(row) = kept {
            self.archived.push(row);
        }
        dead
    }

    fn apply_reference(&mut self, update: ReferenceUpdate) {
        self.pipeline
            .on_reference_update(update.kind, &update.key, update.value.as_deref());
        self.references
            .insert((reference_tag(update.kind), update.key), update.value);
    }

    /// Fresh detectors, then replay each assigned partition from
    /// `now − restore window` up to its committed offset, discarding emissions.
    fn rebuild(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        assigned: &[(String, i32)],
    ) -> Result<(), ServiceError> {
        let started = Instant::now();
        self.pipeline = Self::new_pipeline(&self.config, self.cells.as_deref())?;
        self.validators.clear();
        let refs: Vec<_> = self
            .references
            .iter()
            .map(|(k, v)| (k.0, k.1.clone(), v.clone()))
            .collect();
        for (tag, key, value) in refs {
            let kind = if tag == 0 {
                Reference::Inventory
            } else {
                Reference::Allowlist
            };
            self.pipeline
                .on_reference_update(kind, &key, value.as_deref());
        }
        let feed_parts: Vec<(String, i32)> = assigned
            .iter()
            .filter(|(t, _)| self.feeds.contains_key(t))
            .cloned()
            .collect();
        if feed_parts.is_empty() {
            return Ok(());
        }
        let timeout = Duration::from_secs(10);
        for (t, p) in &feed_parts {
            let feed = self.feeds[t];
            if let Ok((low, high)) = consumer.fetch_watermarks(t, *p, timeout) {
                if high > low {
                    self.pipeline.register_source(feed, *p);
                }
            }
        }
        let mut tpl = TopicPartitionList::new();
        for (t, p) in &feed_parts {
            tpl.add_partition(t, *p);
        }
        let committed = consumer.committed_offsets(tpl, timeout)?;
        let since =
            chrono::Utc::now().timestamp_millis() - self.config.pipeline.restore_window_ms();
        let mut ts_tpl = TopicPartitionList::new();
        for (t, p) in &feed_parts {
            ts_tpl.add_partition_offset(t, *p, Offset::Offset(since))?;
        }
        let starts = consumer.offsets_for_times(ts_tpl, timeout)?;
        let mut ranges = Vec::new();
        for e in committed.elements() {
            let Offset::Offset(end) = e.offset() else {
                continue;
            };
            let start = match starts
                .find_partition(e.topic(), e.partition())
                .map(|s| s.offset())
            {
                Some(Offset::Offset(s)) => s,
                _ => end,
            };
            if start < end {
                ranges.push((e.topic().to_string(), e.partition(), start, end));
            }
        }
        let mut rebuilt = 0u64;
        if !ranges.is_empty() {
            let reader = plain_consumer(&self.config.kafka)?;
            let mut assign = TopicPartitionList::new();
            for (t, p, start, _) in &ranges {
                assign.add_partition_offset(t, *p, Offset::Offset(*start))?;
            }
            reader.assign(&assign)?;
            rebuilt = self.read_ranges(&reader, &ranges)?;
        }
        // Rebuilt records were archived when first consumed.
        self.archived.clear();
        self.metrics.rebuilt_records.inc_by(rebuilt);
        self.report.rebuilds += 1;
        self.report.rebuilt_records += rebuilt;
        tracing::info!(
            partitions = feed_parts.len(),
            records = rebuilt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "detector state rebuilt"
        );
        Ok(())
    }

    fn read_ranges(
        &mut self,
        reader: &BaseConsumer,
        ranges: &[(String, i32, i64, i64)],
    ) -> Result<u64, ServiceError> {
        let mut open: BTreeMap<(String, i32), i64> = ranges
            .iter()
            .map(|(t, p, _, end)| ((t.clone(), *p), *end))
            .collect();
        let mut count = 0u64;
        let mut idle_polls = 0;
        while !open.is_empty() {
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
            let payload = msg.payload().unwrap_or(&[]).to_vec();
            let _ = self.process(&key.0, key.1, msg.offset(), &payload, &mut Discard);
            count += 1;
            if msg.offset() + 1 >= end {
                open.remove(&key);
            }
        }
        Ok(count)
    }

    fn count(&mut self, topic: &str, dead: Option<&DeadLetter>) {
        self.metrics
            .received
            .get_or_create(&TopicLabel {
                topic: topic.into(),
            })
            .inc();
        match dead {
            None => {
                self.metrics
                    .valid
                    .get_or_create(&TopicLabel {
                        topic: topic.into(),
                    })
                    .inc();
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

    fn update_gauges(&self) {
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
        for d in self.pipeline.detectors() {
            self.metrics
                .state_size
                .get_or_create(&DetectorLabel {
                    detector: d.name().into(),
                })
                .set(d.state_size() as i64);
        }
    }
}

/// Flush a batch, retrying with backoff. After `retry_max` failed attempts the
/// service reports not ready and pauses its partitions (back-pressure) while it keeps
/// retrying; nothing is dropped. Offsets are stored only after success.
async fn flush_batch(
    outputs: &Outputs,
    consumer: &StreamConsumer<WorkerContext>,
    batch: &mut Batch,
    worker: &mut Worker,
    shutdown: &mut watch::Receiver<bool>,
) {
    if batch.is_empty() {
        return;
    }
    let cfg = worker.config.sink.clone();
    let mut attempt = 0u32;
    let mut backoff = Duration::from_millis(cfg.retry_backoff_ms.max(1));
    let mut paused: Option<TopicPartitionList> = None;
    loop {
        match outputs.flush(batch).await {
            Ok(()) => break,
            Err(e) => {
                attempt += 1;
                outputs.count_retry(&e);
                log_flush_error(&e, attempt);
                if attempt >= cfg.retry_max && paused.is_none() {
                    worker.metrics.ready.store(false, Ordering::Relaxed);
                    if let Ok(assignment) = consumer.assignment() {
                        if consumer.pause(&assignment).is_ok() {
                            tracing::warn!(
                                partitions = assignment.count(),
                                "sinks unavailable: consumption paused until they return"
                            );
                            paused = Some(assignment);
                        }
                    }
                }
                // Keep polling while waiting so the group does not evict us; paused
                // partitions deliver nothing, anything already fetched is processed.
                let deadline = tokio::time::sleep(backoff);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        msg = consumer.recv() => {
                            if let Ok(m) = msg {
                                let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
                                let payload = m.payload().unwrap_or(&[]).to_vec();
                                drop(m);
                                consume_one(worker, batch, &topic, partition, offset, &payload);
                            }
                        }
                        _ = shutdown.changed() => {}
                    }
                }
                backoff = (backoff * 2).min(Duration::from_millis(cfg.retry_backoff_max_ms.max(1)));
            }
        }
    }
    if let Some(tpl) = paused {
        let _ = consumer.resume(&tpl);
        tracing::info!("sinks are back: consumption resumed");
    }
    worker.metrics.ready.store(true, Ordering::Relaxed);
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in &batch.offsets {
        let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
    }
    if tpl.count() > 0 {
        match consumer.store_offsets(&tpl) {
            Ok(()) => {
                worker.metrics.offsets_stored.inc_by(tpl.count() as u64);
            }
            // A partition revoked meanwhile: its new owner re-reads the tail (at-least-once).
            Err(e) => {
                tracing::debug!(error = %e, "offsets not stored (partition no longer assigned)")
            }
        }
    }
    worker
        .metrics
        .acknowledged
        .fetch_add(batch.records as u64, Ordering::Relaxed);
    worker.report.flushes += 1;
    worker.report.case_snapshots += batch.cases.len() as u64;
    *batch = Batch::default();
}

fn log_flush_error(e: &SinkError, attempt: u32) {
    tracing::warn!(error = %e, attempt, "flush failed, retrying");
}

fn consume_one(
    worker: &mut Worker,
    batch: &mut Batch,
    topic: &str,
    partition: i32,
    offset: i64,
    payload: &[u8],
) {
    batch.note_record(topic, partition, offset);
    worker.metrics.processed.fetch_add(1, Ordering::Relaxed);
    let dead = worker.process(topic, partition, offset, payload, batch);
    batch.archive.append(&mut worker.archived);
    worker.count(topic, dead.as_ref());
    let r = &mut worker.report;
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

/// Run the service until `shutdown` turns true.
pub async fn run(mut opts: ServiceOptions) -> Result<ServiceReport, ServiceError> {
    let config = opts.config.clone();
    let cells = opts.cells.clone().or_else(|| config.inventory.csv.clone());
    let metrics = opts.metrics.clone();
    if !config.http.listen.is_empty() {
        let mut rx = opts.shutdown.clone();
        super::metrics::serve(&config.http.listen, metrics.clone(), async move {
            let _ = rx.wait_for(|v| *v).await;
        })
        .await
        .map_err(|source| ServiceError::Http {
            listen: config.http.listen.clone(),
            source,
        })?;
    }
    let topics = &config.kafka.topics;
    let feeds: BTreeMap<String, Feed> = [
        (topics.sms_volume.clone(), Feed::SmsVolume),
        (topics.measurements.clone(), Feed::Measurements),
    ]
    .into_iter()
    .collect();
    let consumer = group_consumer(&config.kafka, metrics.clone())?;
    let changes = consumer.context().changes.clone();
    let topic_names: Vec<&str> = feeds.keys().map(String::as_str).collect();
    consumer.subscribe(&topic_names)?;
    let outputs = Outputs::new(
        opts.store.clone(),
        producer(&config.kafka)?,
        topics.clone(),
        config.sink.clone(),
        metrics.clone(),
    );
    let (ref_tx, mut ref_rx) = mpsc::channel::<ReferenceUpdate>(1024);
    let reference_reader = spawn_reference_reader(&config.kafka, ref_tx, opts.shutdown.clone())?;

    let mut worker = Worker {
        pipeline: Worker::new_pipeline(&config, cells.as_deref())?,
        config: config.clone(),
        cells,
        metrics: metrics.clone(),
        bounds: opts
            .now_ms
            .map(TimeBounds::at)
            .unwrap_or_else(TimeBounds::from_wall_clock),
        validators: BTreeMap::new(),
        feeds,
        references: BTreeMap::new(),
        report: ServiceReport::default(),
        archive: config.sink.archive_records && matches!(opts.store, CaseStore::ClickHouse(_)),
        archived: Vec::new(),
    };
    metrics.ready.store(true, Ordering::Relaxed);
    let mut batch = Batch::default();
    let flush_every = Duration::from_millis(config.sink.flush_interval_ms.max(10));
    let mut tick = tokio::time::interval(flush_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut assigned: Vec<(String, i32)> = Vec::new();
    tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, "cellwatch service started");
    loop {
        if *opts.shutdown.borrow() {
            break;
        }
        let pending: Vec<AssignmentChange> =
            std::mem::take(&mut *changes.lock().expect("rebalance lock"));
        if !pending.is_empty() {
            flush_batch(
                &outputs,
                &consumer,
                &mut batch,
                &mut worker,
                &mut opts.shutdown,
            )
            .await;
            for change in pending {
                match change {
                    AssignmentChange::Revoked(parts) => {
                        assigned.retain(|p| !parts.contains(p));
                        for (t, p) in parts {
                            if let Some(feed) = worker.feeds.get(&t).copied() {
                                worker.pipeline.remove_source(feed, p);
                            }
                        }
                    }
                    AssignmentChange::Assigned(parts) => {
                        for p in parts {
                            if !assigned.contains(&p) {
                                assigned.push(p);
                            }
                        }
                        worker.rebuild(&consumer, &assigned)?;
                    }
                }
            }
        }
        tokio::select! {
            _ = opts.shutdown.changed() => {}
            update = ref_rx.recv() => {
                if let Some(u) = update {
                    worker.apply_reference(u);
                }
            }
            _ = tick.tick() => {
                worker.update_gauges();
                if batch.started.is_some_and(|s| s.elapsed() >= flush_every) || !batch.dead.is_empty() || !batch.cases.is_empty() {
                    flush_batch(&outputs, &consumer, &mut batch, &mut worker, &mut opts.shutdown).await;
                }
            }
            msg = consumer.recv() => {
                match msg {
                    Ok(m) => {
                        let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
                        let payload = m.payload().unwrap_or(&[]).to_vec();
                        drop(m);
                        consume_one(&mut worker, &mut batch, &topic, partition, offset, &payload);
                        if batch.records >= worker.config.sink.batch_max_records {
                            flush_batch(&outputs, &consumer, &mut batch, &mut worker, &mut opts.shutdown).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "kafka consume error"),
                }
            }
        }
    }
    // Drain: flush what was consumed, store its offsets and commit synchronously.
    flush_batch(
        &outputs,
        &consumer,
        &mut batch,
        &mut worker,
        &mut opts.shutdown,
    )
    .await;
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit had nothing to commit");
    }
    consumer.unsubscribe();
    reference_reader.abort();
    tracing::info!(
        records = worker.report.records,
        flushes = worker.report.flushes,
        "cellwatch service stopped cleanly"
    );
    Ok(worker.report)
}
