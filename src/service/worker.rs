//! The service loop: consume the feed topics in a consumer group, run the shared
//! pipeline, flush batches to the sinks and store offsets only after the sinks
//! acknowledged (at-least-once, end to end). On every new assignment the detector
//! state is rebuilt from the partitions' recent history without re-emitting cases.

use super::consumer::{group_consumer, plain_consumer, producer, AssignmentChange, WorkerContext};
use super::metrics::{DetectorLabel, FeedLabel, Metrics, TopicLabel, TopicReasonLabel};
use super::outputs::{Batch, BatchStore, Outputs, SinkError};
use super::reference::{spawn_reference_reader, ReferenceUpdate};
use crate::config::{Config, SinkConfig};
use crate::detect::setup::RunSetup;
use crate::detect::{CaseSink, Reference};
use crate::ingest::OriginRef;
use crate::model::{Case, Event, Feed, InvalidReason, TimeBounds, ValidationError};
use crate::pipeline::Pipeline;
use crate::sink::clickhouse::RecordArchive;
use crate::validate::{parse_bytes, DeadLetter, SourceValidator};
use futures_util::{FutureExt, StreamExt};
use prometheus_client::metrics::counter::Counter;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why the service stopped with an error (data problems never stop it).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("kafka client setup failed: {0}; check [kafka] brokers and librdkafka settings")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Setup(String),
    #[error("flush task failed: {0}; offsets after its batch were not stored")]
    Flush(String),
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
    pub store: BatchStore,
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
    /// One validator per source, keyed by feed and partition (found without
    /// allocating a key per record).
    validators: BTreeMap<(Feed, i32), SourceValidator>,
    feeds: BTreeMap<String, Feed>,
    /// `received` / `valid` counters of each feed topic, resolved once.
    counters: BTreeMap<String, (Counter, Counter)>,
    /// Latest value of every reference key, re-applied after a rebuild.
    references: BTreeMap<(u8, String), Option<Vec<u8>>>,
    report: ServiceReport,
    /// Archive valid records (ClickHouse store with `sink.archive_records`).
    archive: bool,
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

    /// Run one consumed record through validation and the detectors; a valid
    /// record is appended to `archive` when given (not while rebuilding state).
    fn process(
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
    /// another thread, see [`parse_burst`]); `None` parses here.
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
        let (bounds, lateness) = (self.bounds, self.config.pipeline.allowed_lateness_ms());
        let validator = self
            .validators
            .entry((feed, partition))
            .or_insert_with(|| SourceValidator::new(feed, bounds, lateness).with_source(partition));
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
        let parsed = parsed.unwrap_or_else(|| parse_bytes(feed, &bounds, payload));
        let checked = validator.admit(parsed, payload, origin);
        match archive.filter(|_| self.archive) {
            Some(archive) => self
                .pipeline
                .on_checked(validator, checked, out, &mut |event| {
                    archive.push(event, origin, payload)
                }),
            None => self
                .pipeline
                .on_checked(validator, checked, out, &mut |_| {}),
        }
    }

    /// The feed of a topic, if it is a feed topic.
    fn feed_of(&self, topic: &str) -> Option<Feed> {
        self.feeds.get(topic).copied()
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
            // Rebuilt records were archived when first consumed.
            let payload = msg.payload().unwrap_or(&[]);
            let _ = self.process(&key.0, key.1, msg.offset(), payload, &mut Discard, None);
            count += 1;
            if msg.offset() + 1 >= end {
                open.remove(&key);
            }
        }
        Ok(count)
    }

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

/// Flush one batch in the background, retrying with backoff until it succeeds
/// (nothing is dropped). After `retry_max` failed attempts the service reports not
/// ready; the main loop then pauses its partitions (back-pressure) until the flush
/// is through. Returns the batch, whose offsets may then be stored.
fn spawn_flush(
    outputs: Arc<Outputs>,
    mut batch: Batch,
    cfg: SinkConfig,
    metrics: Metrics,
) -> JoinHandle<Batch> {
    tokio::spawn(async move {
        let mut attempt = 0u32;
        let mut backoff = Duration::from_millis(cfg.retry_backoff_ms.max(1));
        loop {
            let started = Instant::now();
            match outputs.flush(&mut batch).await {
                Ok(()) => {
                    tracing::debug!(
                        records = batch.records,
                        archived = batch.archive.rows(),
                        cases = batch.cases.len(),
                        dead = batch.dead.len(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "batch flushed"
                    );
                    return batch;
                }
                Err(e) => {
                    attempt += 1;
                    outputs.count_retry(&e);
                    log_flush_error(&e, attempt);
                    if attempt >= cfg.retry_max {
                        metrics.ready.store(false, Ordering::Relaxed);
                    }
                    tokio::time::sleep(backoff).await;
                    backoff =
                        (backoff * 2).min(Duration::from_millis(cfg.retry_backoff_max_ms.max(1)));
                }
            }
        }
    })
}

/// The sinks' side of the loop: at most one batch is being flushed while the next
/// one fills, so consuming and processing wait for ClickHouse only when the next
/// batch is full too. Batches are flushed, and their offsets stored, in order.
struct Flusher {
    outputs: Arc<Outputs>,
    inflight: Option<JoinHandle<Batch>>,
    /// Partitions paused while the sinks are unavailable.
    paused: Option<TopicPartitionList>,
    /// A flushed batch kept for reuse (its buffers keep their capacity).
    spare: Option<Batch>,
}

impl Flusher {
    fn new(outputs: Outputs) -> Self {
        Flusher {
            outputs: Arc::new(outputs),
            inflight: None,
            paused: None,
            spare: None,
        }
    }

    fn busy(&self) -> bool {
        self.inflight.is_some()
    }

    /// Start flushing `batch` in the background; `batch` becomes an empty one.
    fn start(&mut self, batch: &mut Batch, worker: &Worker) {
        debug_assert!(self.inflight.is_none(), "one flush at a time");
        let next = self.spare.take().unwrap_or_default();
        let full = std::mem::replace(batch, next);
        self.inflight = Some(spawn_flush(
            self.outputs.clone(),
            full,
            worker.config.sink.clone(),
            worker.metrics.clone(),
        ));
    }

    /// Wait for the in-flight flush, if any, and complete it.
    async fn wait(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
    ) -> Result<(), ServiceError> {
        match self.inflight.as_mut() {
            Some(h) => {
                let done = h.await;
                self.complete(done, consumer, worker)
            }
            None => Ok(()),
        }
    }

    /// The in-flight flush finished: resume consumption if it was paused, store the
    /// batch's offsets, count it acknowledged.
    fn complete(
        &mut self,
        done: Result<Batch, tokio::task::JoinError>,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
    ) -> Result<(), ServiceError> {
        self.inflight = None;
        // A failed flush task (a panic) must stop the service: storing the offsets of
        // a later batch would commit past records that never reached the sinks.
        let mut batch = done.map_err(|e| ServiceError::Flush(e.to_string()))?;
        if let Some(tpl) = self.paused.take() {
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
        batch.reset();
        self.spare = Some(batch);
        Ok(())
    }

    /// While a flush keeps failing, pause the assigned partitions (once): only
    /// records already fetched still arrive, and polling goes on so the group does
    /// not evict this member.
    fn pause_if_unavailable(&mut self, consumer: &StreamConsumer<WorkerContext>, worker: &Worker) {
        if self.inflight.is_none()
            || self.paused.is_some()
            || worker.metrics.ready.load(Ordering::Relaxed)
        {
            return;
        }
        if let Ok(assignment) = consumer.assignment() {
            if consumer.pause(&assignment).is_ok() {
                tracing::warn!(
                    partitions = assignment.count(),
                    "sinks unavailable: consumption paused until they return"
                );
                self.paused = Some(assignment);
            }
        }
    }

    /// Wait for the in-flight flush, then flush `batch` and wait for it too: after
    /// this everything consumed is acknowledged (rebalance, shutdown).
    async fn drain(
        &mut self,
        batch: &mut Batch,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
    ) -> Result<(), ServiceError> {
        self.wait(consumer, worker).await?;
        if !batch.is_empty() {
            self.start(batch, worker);
            self.wait(consumer, worker).await?;
        }
        Ok(())
    }
}

fn log_flush_error(e: &SinkError, attempt: u32) {
    tracing::warn!(error = %e, attempt, "flush failed, retrying");
}

/// Parse the records of a burst (the stateless half of validation), on two threads
/// when the burst is large enough to pay for a thread: the calling one and a scoped
/// helper. `None` for records [`Worker::process_parsed`] handles itself (not a feed
/// topic, too large).
fn parse_burst(
    worker: &Worker,
    msgs: &[BorrowedMessage<'_>],
) -> Vec<Option<Result<Event, ValidationError>>> {
    let limit = worker.config.pipeline.max_record_bytes;
    let bounds = worker.bounds;
    let jobs: Vec<Option<(Feed, &[u8])>> = msgs
        .iter()
        .map(|m| {
            let payload = m.payload().unwrap_or(&[]);
            let feed = worker.feed_of(m.topic())?;
            (payload.len() <= limit).then_some((feed, payload))
        })
        .collect();
    let parse = |jobs: &[Option<(Feed, &[u8])>]| -> Vec<Option<Result<Event, ValidationError>>> {
        jobs.iter()
            .map(|j| j.map(|(feed, payload)| parse_bytes(feed, &bounds, payload)))
            .collect()
    };
    if jobs.len() < worker.config.sink.parallel_parse_min.max(2) {
        return parse(&jobs);
    }
    let (first, second) = jobs.split_at(jobs.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| parse(second));
        let mut out = parse(first);
        match helper.join() {
            Ok(rest) => out.extend(rest),
            // A panic while parsing: parse that half here (it panics again, as the
            // sequential code would).
            Err(_) => out.extend(parse(second)),
        }
        out
    })
}

fn consume_one(
    worker: &mut Worker,
    batch: &mut Batch,
    m: &BorrowedMessage<'_>,
    parsed: Option<Result<Event, ValidationError>>,
) {
    let (topic, partition, offset) = (m.topic(), m.partition(), m.offset());
    let payload = m.payload().unwrap_or(&[]);
    batch.note_record(topic, partition, offset);
    // The batch is both the case sink and the archive's owner: take the archive out
    // for the call (moving three words, no allocation).
    let mut archive = std::mem::take(&mut batch.archive);
    let dead = worker.process_parsed(
        topic,
        partition,
        offset,
        payload,
        parsed,
        batch,
        Some(&mut archive),
    );
    batch.archive = archive;
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

/// When a batch is flushed (besides being full).
#[derive(Debug, Clone, Copy)]
struct FlushPolicy {
    /// Flush a batch this old.
    every: Duration,
    /// Flush a batch holding case snapshots this old.
    cases_after: Duration,
    /// Flush whatever is pending once nothing was consumed for this long.
    idle_after: Duration,
}

impl FlushPolicy {
    fn from_config(sink: &SinkConfig) -> Self {
        let every = Duration::from_millis(sink.flush_interval_ms.max(10));
        FlushPolicy {
            every,
            cases_after: Duration::from_millis(sink.case_flush_ms).min(every),
            idle_after: (every / 10).clamp(Duration::from_millis(5), Duration::from_millis(100)),
        }
    }

    /// How often the service loop checks whether a flush is due.
    fn check_every(&self) -> Duration {
        self.idle_after
    }

    /// Whether `batch` should be flushed now; `last_record` is when the last record
    /// was consumed.
    fn due(&self, batch: &Batch, last_record: Instant) -> bool {
        let Some(started) = batch.started else {
            // Nothing consumed, but case snapshots or dead letters may be pending.
            return !batch.is_empty();
        };
        let age = started.elapsed();
        age >= self.every
            || (!batch.cases.is_empty() && age >= self.cases_after)
            || last_record.elapsed() >= self.idle_after
    }
}

/// How often the watermark-delay and state-size gauges are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(1);

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
        counters: BTreeMap::new(),
        references: BTreeMap::new(),
        report: ServiceReport::default(),
        archive: config.sink.archive_records && matches!(opts.store, BatchStore::ClickHouse(_)),
    };
    metrics.ready.store(true, Ordering::Relaxed);
    let mut flusher = Flusher::new(outputs);
    let mut batch = Batch::default();
    let batch_max = config.sink.batch_max_records.max(1);
    let burst = config.sink.consume_burst.max(1);
    let policy = FlushPolicy::from_config(&config.sink);
    let mut last_record = Instant::now();
    let mut tick = tokio::time::interval(policy.check_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gauges_at = Instant::now();
    let mut assigned: Vec<(String, i32)> = Vec::new();
    // One message stream for the whole run (a stream per `recv` registers a waker
    // slot under a lock each time).
    let mut messages = consumer.stream();
    tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, "cellwatch service started");
    loop {
        if *opts.shutdown.borrow() {
            break;
        }
        let pending: Vec<AssignmentChange> =
            std::mem::take(&mut *changes.lock().expect("rebalance lock"));
        if !pending.is_empty() {
            flusher.drain(&mut batch, &consumer, &mut worker).await?;
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
        flusher.pause_if_unavailable(&consumer, &worker);
        // A full batch waits for the in-flight flush (back-pressure), unless the sinks
        // are down: then the partitions are paused and polling goes on, so that the
        // group does not evict this member.
        let can_consume =
            batch.records < batch_max || !flusher.busy() || !metrics.ready.load(Ordering::Relaxed);
        tokio::select! {
            _ = opts.shutdown.changed() => {}
            update = ref_rx.recv() => {
                if let Some(u) = update {
                    worker.apply_reference(u);
                }
            }
            done = async { flusher.inflight.as_mut().expect("guarded by busy()").await }, if flusher.busy() => {
                flusher.complete(done, &consumer, &mut worker)?;
                if batch.records >= batch_max || policy.due(&batch, last_record) {
                    flusher.start(&mut batch, &worker);
                }
            }
            _ = tick.tick() => {
                if gauges_at.elapsed() >= GAUGES_EVERY {
                    gauges_at = Instant::now();
                    worker.update_gauges();
                }
                if !flusher.busy() && policy.due(&batch, last_record) {
                    flusher.start(&mut batch, &worker);
                }
            }
            msg = messages.next(), if can_consume => {
                match msg {
                    Some(Ok(m)) => {
                        // Take what is already queued without a round through the
                        // event loop, up to the burst or a full batch.
                        let room = burst.min(batch_max.saturating_sub(batch.records)).max(1);
                        let mut msgs = Vec::with_capacity(room.min(64));
                        msgs.push(m);
                        while msgs.len() < room {
                            match messages.next().now_or_never() {
                                Some(Some(Ok(m))) => msgs.push(m),
                                Some(Some(Err(e))) => {
                                    tracing::warn!(error = %e, "kafka consume error");
                                    break;
                                }
                                Some(None) | None => break,
                            }
                        }
                        let parsed = parse_burst(&worker, &msgs);
                        for (m, p) in msgs.iter().zip(parsed) {
                            consume_one(&mut worker, &mut batch, m, p);
                        }
                        metrics.processed.fetch_add(msgs.len() as u64, Ordering::Relaxed);
                        drop(msgs);
                        last_record = Instant::now();
                        if batch.records >= batch_max && !flusher.busy() {
                            flusher.start(&mut batch, &worker);
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "kafka consume error"),
                    None => break,
                }
            }
        }
    }
    drop(messages);
    // Drain: flush what was consumed, store its offsets and commit synchronously.
    flusher.drain(&mut batch, &consumer, &mut worker).await?;
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
