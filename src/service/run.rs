//! The service loop: consume the feed topics in a consumer group, run the shared
//! pipeline, flush batches to the sinks and store offsets only after the sinks
//! acknowledged (at-least-once, end to end). On every new assignment the detector
//! state is rebuilt from the partitions' recent history without re-emitting cases.
//!
//! This file wires the parts together and decides what happens next; the record
//! processing is in [`super::worker`], flushing in [`super::flush`], the state
//! rebuild in [`super::rebuild`].

use super::consumer::{
    group_consumer, producer, question_client, serve_questions, AssignmentChange, Questions,
    WorkerContext,
};
use super::error::ServiceError;
use super::flush::{FlushPolicy, Flusher};
use super::idle::Idleness;
use super::metrics::Metrics;
use super::outputs::{Batch, BatchStore, Outputs};
use super::reference::{spawn_reference_reader, ReferenceUpdate};
use super::report::ServiceReport;
use super::stage::Stage;
use super::stage_time::Step;
use super::worker::Worker;
use crate::config::{Config, KafkaConfig, Topology};
use crate::kafka_failure::{check_brokers, FailureWatch};
use crate::model::{Feed, TimeBounds};
use futures_util::{FutureExt, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, MessageStream, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

mod changes;
mod close;
mod finals;
mod staged;

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

/// How long the reference reader may take to notice the stop (one poll, or one
/// metadata request while its topics do not exist yet).
const READER_STOP: Duration = Duration::from_secs(6);

/// How often the watermark-delay and state-size gauges are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(1);

/// Run the service until `shutdown` turns true.
pub async fn run(opts: ServiceOptions) -> Result<ServiceReport, ServiceError> {
    let config = opts.config.clone();
    let metrics = opts.metrics.clone();
    serve_metrics(&config, &metrics, &opts.shutdown).await?;
    let failures = check_connections(&config, &opts.store).await?;
    let (ref_tx, mut ref_rx) = mpsc::channel::<ReferenceUpdate>(1024);
    let reference_reader = spawn_reference_reader(&config.kafka, ref_tx, opts.shutdown.clone())?;
    let outcome = match config.kafka.topology {
        Topology::Single => run_single(&opts, &failures, &mut ref_rx).await,
        Topology::Staged => staged::run_staged(&opts, &failures, &mut ref_rx).await,
    };
    // The reference reader ends when its receiver is gone (within one poll); wait
    // for it, so that no Kafka client outlives the service (the demo's in-process
    // cluster stops right after).
    drop(ref_rx);
    if tokio::time::timeout(READER_STOP, reference_reader)
        .await
        .is_err()
    {
        tracing::warn!("reference reader still busy at stop; left behind");
    }
    let report = outcome.inspect_err(|e| {
        tracing::error!(error = %e, "cellwatch service failed");
    })?;
    tracing::info!(
        records = report.records,
        flushes = report.flushes,
        "cellwatch service stopped cleanly"
    );
    Ok(report)
}

/// A group consumer, shared with the broker queries made off the loop thread.
type GroupConsumer = Arc<StreamConsumer<WorkerContext>>;

/// One consumer group's loop: its consumer, its rebalance notes, its worker.
struct Part {
    consumer: GroupConsumer,
    /// Its consumer group (for the logs of its close).
    group: String,
    changes: Arc<Mutex<Vec<AssignmentChange>>>,
    service: ServiceLoop,
    /// What its consumer is made of, to make it again when the group fenced it.
    kafka: KafkaConfig,
    failures: Arc<FailureWatch>,
    /// When the group fenced its consumer, within the last [`FENCE_WINDOW`].
    fences: VecDeque<Instant>,
}

/// Why [`Part::remake`] makes a group consumer again.
#[derive(Debug, Clone, Copy)]
enum Remake {
    /// The group fenced this static member.
    Fenced,
    /// The consumer stayed outside its group while the brokers answered.
    Stalled,
}

/// A part re-creates its fenced consumer at most this many times within
/// [`FENCE_WINDOW`]; one more fence stops the service with the cause.
const FENCE_RETRIES: usize = 3;

/// See [`FENCE_RETRIES`].
const FENCE_WINDOW: Duration = Duration::from_secs(600);

/// A loop over `feeds` (topic → feed) in the consumer group of `kafka`, doing the
/// work of `stage`.
fn part(
    opts: &ServiceOptions,
    kafka: &KafkaConfig,
    failures: &Arc<FailureWatch>,
    feeds: BTreeMap<String, Feed>,
    stage: Stage,
) -> Result<Part, ServiceError> {
    let config = &opts.config;
    let consumer = subscribed(kafka, &opts.metrics, failures, &feeds)?;
    let changes = consumer.context().changes.clone();
    let outputs = Outputs::new(
        opts.store.clone(),
        producer(kafka, failures.clone())?,
        config.kafka.topics.clone(),
        config.sink.clone(),
        opts.metrics.clone(),
    );
    let archive = config.sink.archive_records
        && matches!(opts.store, BatchStore::ClickHouse(_))
        && matches!(stage, Stage::Whole | Stage::Ingest(_));
    let worker = Worker::new(
        config.clone(),
        opts.cells.clone().or_else(|| config.inventory.csv.clone()),
        opts.metrics.clone(),
        opts.now_ms
            .map(TimeBounds::at)
            .unwrap_or_else(TimeBounds::from_wall_clock),
        feeds,
        opts.shutdown.clone(),
        stage,
    )?
    .with_archive(archive);
    Ok(Part {
        consumer,
        group: kafka.group_id.clone(),
        changes,
        service: ServiceLoop::new(
            worker,
            Flusher::new(outputs, config.sink.max_flushes_in_flight),
            config,
            question_client(kafka, &kafka.group_id, failures.clone())?,
        ),
        kafka: kafka.clone(),
        failures: failures.clone(),
        fences: VecDeque::new(),
    })
}

/// A group consumer of `kafka` subscribed to the topics of `feeds`.
fn subscribed(
    kafka: &KafkaConfig,
    metrics: &Metrics,
    failures: &Arc<FailureWatch>,
    feeds: &BTreeMap<String, Feed>,
) -> Result<GroupConsumer, ServiceError> {
    let consumer = Arc::new(group_consumer(kafka, metrics.clone(), failures.clone())?);
    let names: Vec<&str> = feeds.keys().map(String::as_str).collect();
    consumer.subscribe(&names)?;
    Ok(consumer)
}

impl Part {
    /// Consume until `shutdown` turns true, as [`ServiceLoop::consume`]; when the
    /// group fences this static member, or the consumer is stuck outside its group
    /// (`[kafka] group_stall_secs`), re-create its consumer and go on
    /// ([`Part::remake`]), at most [`FENCE_RETRIES`] times within [`FENCE_WINDOW`].
    async fn consume(
        &mut self,
        references: &mut mpsc::Receiver<ReferenceUpdate>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), ServiceError> {
        loop {
            let failures = self.failures.clone();
            let consumed = self
                .service
                .consume(
                    &self.consumer,
                    &self.changes,
                    references,
                    shutdown,
                    &failures,
                )
                .await;
            match consumed {
                Err(ServiceError::Fenced { detail, .. }) => {
                    self.remake(detail, Remake::Fenced).await?
                }
                Err(ServiceError::GroupStalled { detail, .. }) => {
                    self.remake(detail, Remake::Stalled).await?
                }
                other => return other,
            }
        }
    }

    /// The group fenced this static member (librdkafka's fatal error, which ends
    /// its consumer), or the consumer was stuck outside its group: what was
    /// consumed is flushed (a fenced consumer can no longer store offsets: the
    /// tail is read again), the assignment and the state are forgotten, the
    /// consumer closed and made again with the same `group.instance.id`; its next
    /// assignment rebuilds the state as at a start (the normal path). Too many
    /// remakes within [`FENCE_WINDOW`]: the error.
    async fn remake(&mut self, detail: String, why: Remake) -> Result<(), ServiceError> {
        let now = Instant::now();
        while self
            .fences
            .front()
            .is_some_and(|t| now.duration_since(*t) > FENCE_WINDOW)
        {
            self.fences.pop_front();
        }
        self.fences.push_back(now);
        if self.fences.len() > FENCE_RETRIES {
            // Logged at once: the error line comes after the other stages stopped.
            let times = self.fences.len();
            let (group, instance) = (&self.group, &self.kafka.group_instance_id);
            match why {
                Remake::Fenced => tracing::warn!(
                    group = %group,
                    group_instance_id = %instance,
                    times,
                    "the group fenced this static member once more than the service re-creates its consumer for: stopping"
                ),
                Remake::Stalled => tracing::warn!(
                    group = %group,
                    group_instance_id = %instance,
                    times,
                    "the consumer was stuck outside its group once more than the service re-creates it for: stopping"
                ),
            }
            let (group, times) = (self.group.clone(), self.fences.len());
            let window_secs = FENCE_WINDOW.as_secs();
            return Err(match why {
                Remake::Fenced => ServiceError::Fenced {
                    group,
                    instance: self.kafka.group_instance_id.clone(),
                    detail,
                    times,
                    window_secs,
                },
                Remake::Stalled => ServiceError::GroupStalled {
                    group,
                    detail,
                    times,
                    window_secs,
                },
            });
        }
        match why {
            Remake::Fenced => tracing::warn!(
                group = %self.group,
                group_instance_id = %self.kafka.group_instance_id,
                reason = %detail,
                attempt = self.fences.len(),
                of = FENCE_RETRIES,
                "the group fenced this static member (librdkafka's fatal error, as after a broker outage longer than the session timeout): re-creating the group consumer with the same group.instance.id; the state is rebuilt at its assignment"
            ),
            Remake::Stalled => tracing::warn!(
                group = %self.group,
                group_instance_id = %self.kafka.group_instance_id,
                reason = %detail,
                attempt = self.fences.len(),
                of = FENCE_RETRIES,
                "group consumer stuck outside its group while the brokers answer: re-creating it with the same group.instance.id; the state is rebuilt at its assignment"
            ),
        }
        self.service.forget_assignment(&self.consumer).await?;
        self.service.worker.report.consumers_recreated += 1;
        let feeds = self.service.worker.feeds.clone();
        let metrics = self.service.worker.metrics.clone();
        let fresh = subscribed(&self.kafka, &metrics, &self.failures, &feeds)?;
        let old = std::mem::replace(&mut self.consumer, fresh);
        self.changes = self.consumer.context().changes.clone();
        close::close_consumer(old, &self.group, false).await;
        Ok(())
    }
}

/// The feed topics and their feeds.
fn feed_topics(config: &Config) -> BTreeMap<String, Feed> {
    let topics = &config.kafka.topics;
    [
        (topics.sms_volume.clone(), Feed::SmsVolume),
        (topics.measurements.clone(), Feed::Measurements),
    ]
    .into_iter()
    .collect()
}

/// `topology = "single"`: one loop validates and detects on the feed partitions.
async fn run_single(
    opts: &ServiceOptions,
    failures: &Arc<FailureWatch>,
    references: &mut mpsc::Receiver<ReferenceUpdate>,
) -> Result<ServiceReport, ServiceError> {
    let config = &opts.config;
    let mut p = part(
        opts,
        &config.kafka,
        failures,
        feed_topics(config),
        Stage::Whole,
    )?;
    opts.metrics.ready.store(true, Ordering::Relaxed);
    tracing::info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, "cellwatch service started");
    let mut shutdown = opts.shutdown.clone();
    let consumed = p.consume(references, &mut shutdown).await;
    let outcome = match consumed {
        Ok(()) => p.service.stop(&p.consumer).await,
        Err(e) => Err(e),
    };
    close::close_consumer(p.consumer, &p.group, outcome.is_ok()).await;
    outcome
}

/// Before anything is consumed: the brokers answer and accept cellwatch's login
/// (within `kafka.connect_timeout_secs`; a refused login or TLS handshake at once),
/// and ClickHouse, when it is the store, accepts cellwatch's user. Returns the watch
/// that the service's Kafka clients report to from then on.
async fn check_connections(
    config: &Config,
    store: &BatchStore,
) -> Result<Arc<FailureWatch>, ServiceError> {
    let failures = FailureWatch::new(&config.kafka.brokers);
    let mut probe = super::consumer::base_config(&config.kafka);
    probe.set(
        "group.id",
        format!("{}-connect-check", config.kafka.group_id),
    );
    let timeout = Duration::from_secs(config.kafka.connect_timeout_secs.max(1));
    check_brokers(probe, failures.clone(), timeout).await?;
    if let BatchStore::ClickHouse(ch) = store {
        match ch.version().await {
            Err(e) if e.is_fatal() => return Err(e.into()),
            // Not reachable yet: flushes wait for it (back-pressure), as later on.
            Err(e) => {
                tracing::warn!(error = %e, "clickhouse not answering at start; batches wait for it")
            }
            Ok(_) => {}
        }
    }
    Ok(failures)
}

/// Start the metrics endpoint (`[http] listen`, none when empty); it stops with
/// the service.
async fn serve_metrics(
    config: &Config,
    metrics: &Metrics,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    if config.http.listen.is_empty() {
        return Ok(());
    }
    let mut rx = shutdown.clone();
    let limits = super::http_limits::HttpLimits::of(&config.http);
    super::metrics::serve(&config.http.listen, limits, metrics.clone(), async move {
        let _ = rx.wait_for(|v| *v).await;
    })
    .await
    .map_err(|source| ServiceError::Http {
        listen: config.http.listen.clone(),
        source,
    })?;
    Ok(())
}

/// The state of the loop: the worker, the batch filling up, the flush in flight.
struct ServiceLoop {
    worker: Worker,
    flusher: Flusher,
    batch: Batch,
    batch_max: usize,
    /// Records taken from the consumer in one go, at most.
    burst: usize,
    policy: FlushPolicy,
    /// When the last record was consumed.
    last_record: Instant,
    gauges_at: Instant,
    assigned: Vec<(String, i32)>,
    idleness: Idleness,
    /// Stage detect: a question client of stage ingest's group, whose committed
    /// offsets tell what ingest has done (see [`caught_up`](super::caught_up)).
    upstream: Option<Questions>,
    /// Asks the brokers this loop's questions (high watermarks) without waiting
    /// behind its consumer's fetches (see [`question_client`]).
    questions: Questions,
    /// `topology = "single"`: whether the warning about a partial assignment was given.
    warned_partial: Arc<AtomicBool>,
}

impl ServiceLoop {
    fn new(worker: Worker, flusher: Flusher, config: &Config, questions: Questions) -> Self {
        ServiceLoop {
            worker,
            flusher,
            batch: Batch::default(),
            batch_max: config.sink.batch_max_records.max(1),
            burst: config.sink.consume_burst.max(1),
            policy: FlushPolicy::from_config(&config.sink),
            last_record: Instant::now(),
            gauges_at: Instant::now(),
            assigned: Vec::new(),
            idleness: Idleness::new(config.pipeline.idle_timeout()),
            upstream: None,
            questions,
            warned_partial: Arc::default(),
        }
    }

    /// Consume until `shutdown` turns true (or the consumer's stream ends), acting
    /// on rebalances, reference updates, finished flushes and the clock.
    async fn consume(
        &mut self,
        consumer: &GroupConsumer,
        changes: &Mutex<Vec<AssignmentChange>>,
        references: &mut mpsc::Receiver<ReferenceUpdate>,
        shutdown: &mut watch::Receiver<bool>,
        failures: &FailureWatch,
    ) -> Result<(), ServiceError> {
        let mut tick = tokio::time::interval(self.policy.check_every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One message stream for the whole run (a stream per `recv` registers a waker
        // slot under a lock each time).
        let mut messages = consumer.stream();
        let mut fenced = consumer.context().fenced();
        let mut stalled = consumer.context().stalled();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pending: Vec<AssignmentChange> =
                std::mem::take(&mut *changes.lock().expect("rebalance lock"));
            if !pending.is_empty() {
                self.apply_changes(pending, consumer).await?;
            }
            self.flusher.pause_if_unavailable(consumer, &self.worker);
            let can_consume = self.can_consume();
            let turn = Instant::now();
            tokio::select! {
                _ = shutdown.changed() => {}
                failure = failures.wait() => return Err(failure.into()),
                reason = async { fenced.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()) } => {
                    let detail = reason.unwrap_or_default();
                    return Err(ServiceError::Fenced {
                        group: String::new(),
                        instance: String::new(),
                        detail,
                        times: 1,
                        window_secs: FENCE_WINDOW.as_secs(),
                    });
                }
                reason = async { stalled.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()) } => {
                    return Err(ServiceError::GroupStalled {
                        group: String::new(),
                        detail: reason.unwrap_or_default(),
                        times: 1,
                        window_secs: FENCE_WINDOW.as_secs(),
                    });
                }
                update = references.recv() => {
                    if let Some(u) = update {
                        self.worker.apply_reference(u);
                    }
                }
                done = self.flusher.finished(), if self.flusher.in_flight() => {
                    let woke = self.waited(turn, can_consume);
                    self.flusher.complete(done, consumer, &mut self.worker)?;
                    if self.batch.records >= self.batch_max || self.flush_due() {
                        self.flusher.start(&mut self.batch, &self.worker);
                    }
                    self.worker.metrics.stages.lap(Step::OffsetStore, woke);
                }
                _ = tick.tick() => {
                    let woke = self.waited(turn, can_consume);
                    self.on_tick();
                    self.worker.metrics.stages.lap(Step::LoopOther, woke);
                }
                answers = self.idleness.answers(), if self.idleness.querying() => {
                    let woke = self.waited(turn, can_consume);
                    self.idleness.apply(answers, &mut self.worker, &mut self.batch);
                    self.worker.metrics.stages.lap(Step::LoopOther, woke);
                }
                msg = messages.next(), if can_consume => {
                    self.waited(turn, can_consume);
                    match msg {
                        Some(Ok(m)) => {
                            // A rebalance served by this very poll: act on it before
                            // the record (its partition was paused if newly assigned).
                            let pending: Vec<AssignmentChange> =
                                std::mem::take(&mut *changes.lock().expect("rebalance lock"));
                            if !pending.is_empty() {
                                self.apply_changes(pending, consumer).await?;
                            }
                            if !self.assigned.iter().any(|(t, p)| *p == m.partition() && t == m.topic()) {
                                continue;
                            }
                            if !self.worker.live {
                                self.revive(consumer, &m).await?;
                            }
                            let generation = consumer.context().generation();
                            self.consume_burst(m, &mut messages, changes, generation);
                        }
                        // A refused login or TLS handshake wakes `failures.wait()`.
                        Some(Err(e)) => failures.record(&e, ""),
                        None => break,
                    }
                }
            }
        }
        Ok(())
    }

    /// Rebuild the state of every assigned partition (up to `ends`, else the committed
    /// offsets), then resume them (paused when assigned). Not resumed when a shutdown
    /// interrupted the rebuild: the loop is about to stop.
    fn rebuild_and_resume(
        &mut self,
        consumer: &GroupConsumer,
        ends: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), ServiceError> {
        self.worker.rebuild(consumer, &self.assigned, ends)?;
        self.send_rebuilt_forwards();
        self.idleness.reset(&self.assigned);
        self.resume_if_live(consumer, &self.assigned)
    }

    /// Stage detect with stage-A tasks: what they forwarded while their state was
    /// rebuilt goes to stage B again. Not all of it was sent before: the previous
    /// owner's watermark was held back by partitions this task may not own (or by
    /// partitions it no longer owns), so the rebuild releases, and forwards, reports
    /// or records the previous owner still held (seen: a worker that kept 2 of its 3
    /// SMS partitions lost the forwards between its old and its new watermark, and
    /// 47 of 71 cases differed from the replay). Stage B skips what it has applied
    /// and applies two copies of a held forward once.
    fn send_rebuilt_forwards(&mut self) {
        if self.worker.live {
            let mut forwarded = self.worker.take_forwarded();
            self.batch.envelopes.append(&mut forwarded);
        }
    }

    /// Resume `parts` (paused when assigned) once the state is rebuilt: not when a
    /// shutdown interrupted the rebuild.
    fn resume_if_live(
        &self,
        consumer: &GroupConsumer,
        parts: &[(String, i32)],
    ) -> Result<(), ServiceError> {
        if self.worker.live {
            let mut tpl = TopicPartitionList::new();
            for (t, p) in parts {
                tpl.add_partition(t, *p);
            }
            consumer.resume(&tpl)?;
        }
        Ok(())
    }

    /// A record arrived after the final snapshots spent the state (the input was
    /// quiescent): flush everything, then rebuild the state up to this record, as a
    /// restart would, before it is processed.
    async fn revive(
        &mut self,
        consumer: &GroupConsumer,
        first: &BorrowedMessage<'_>,
    ) -> Result<(), ServiceError> {
        self.flusher
            .drain(&mut self.batch, consumer, &mut self.worker)
            .await?;
        let mut ends = BTreeMap::new();
        for e in consumer.position()?.elements() {
            if let Offset::Offset(o) = e.offset() {
                ends.insert((e.topic().to_string(), e.partition()), o);
            }
        }
        ends.insert(
            (first.topic().to_string(), first.partition()),
            first.offset(),
        );
        tracing::info!("records after quiescence: rebuilding the state first");
        self.rebuild_and_resume(consumer, &ends)
    }

    /// A full batch waits for the in-flight flush (back-pressure), unless the sinks
    /// are down: then the partitions are paused and polling goes on, so that the
    /// group does not evict this member.
    fn can_consume(&self) -> bool {
        self.batch.records < self.batch_max
            || !self.flusher.busy()
            || !self.worker.metrics.ready.load(Ordering::Relaxed)
    }

    /// Account the wait of one turn of the loop that began at `turn`: for records,
    /// or for the flush in flight when the batch was full. Returns now.
    fn waited(&self, turn: Instant, could_consume: bool) -> Instant {
        let step = if could_consume {
            Step::FetchWait
        } else {
            Step::BackpressureWait
        };
        self.worker.metrics.stages.lap(step, turn)
    }

    fn flush_due(&self) -> bool {
        self.policy.due(&self.batch, self.last_record)
    }

    /// Refresh the gauges when due, look for idle partitions, and start a flush the
    /// policy asks for.
    fn on_tick(&mut self) {
        serve_questions(&self.questions);
        if let Some(upstream) = &self.upstream {
            serve_questions(upstream);
        }
        self.idleness.check(&self.questions, &self.worker);
        if self.gauges_at.elapsed() >= GAUGES_EVERY {
            self.gauges_at = Instant::now();
            self.worker.update_gauges();
        }
        if !self.flusher.busy() && self.flush_due() {
            self.flusher.start(&mut self.batch, &self.worker);
        }
    }

    /// Take `first` and what is already queued behind it without a round through
    /// the event loop, up to the burst or a full batch; `generation` is the
    /// consumer's ([`WorkerContext::generation`]) when `first` was delivered.
    fn consume_burst<'c>(
        &mut self,
        first: BorrowedMessage<'c>,
        messages: &mut MessageStream<'c, WorkerContext>,
        changes: &Mutex<Vec<AssignmentChange>>,
        generation: u64,
    ) {
        if self.batch.records == 0 {
            // The assignment these records belong to (see `Flusher::complete`).
            self.batch.generation = generation;
        }
        let mark = self.worker.burst_mark();
        let room = self
            .burst
            .min(self.batch_max.saturating_sub(self.batch.records))
            .max(1);
        let mut msgs = Vec::with_capacity(room.min(64));
        msgs.push(first);
        // A rebalance ends the burst: its changes apply before the next record.
        while msgs.len() < room && changes.lock().expect("rebalance lock").is_empty() {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => msgs.push(m),
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, "kafka consume error");
                    break;
                }
                Some(None) | None => break,
            }
        }
        let polled = Instant::now();
        let topics = super::burst::topics_of(&msgs);
        for (m, topic) in msgs.iter().zip(&topics) {
            self.idleness.seen(topic, m.partition(), m.offset(), polled);
        }
        self.worker
            .take_burst(&mut self.batch, &msgs, &topics, mark, polled);
        drop(topics);
        self.worker
            .metrics
            .processed
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        drop(msgs);
        self.last_record = Instant::now();
        if self.batch.records >= self.batch_max && !self.flusher.busy() {
            self.flusher.start(&mut self.batch, &self.worker);
        }
    }

    /// The group fenced this loop's consumer: flush what was consumed (the sinks
    /// take it; its offsets cannot be stored by a fenced consumer, so the tail is
    /// read again), then forget the assignment and the state, with no final
    /// snapshots (the assignment was lost): the next assignment rebuilds all of it,
    /// as at a start.
    async fn forget_assignment(&mut self, consumer: &GroupConsumer) -> Result<(), ServiceError> {
        self.flusher
            .drain(&mut self.batch, consumer, &mut self.worker)
            .await?;
        self.assigned.clear();
        self.worker.flushed.clear();
        self.worker.live = false;
        self.idleness.reset(&self.assigned);
        Ok(())
    }

    /// Drain: emit the final snapshots, flush what was consumed, store its offsets and
    /// commit synchronously.
    async fn stop(mut self, consumer: &GroupConsumer) -> Result<ServiceReport, ServiceError> {
        self.idleness.settle().await;
        self.finish_if_caught_up(consumer, "shutdown", true, None)
            .await;
        self.flusher
            .drain(&mut self.batch, consumer, &mut self.worker)
            .await?;
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %e, "final commit had nothing to commit");
        }
        Ok(self.worker.report)
    }
}
