//! Flushing: batches go to the sinks in the background, up to
//! `sink.max_flushes_in_flight` at a time (their archive inserts overlap, every
//! other step in batch order), retried until they succeed; only then, and in batch
//! order, are their offsets stored. Kept apart from
//! the consumer loop because this is where at-least-once delivery and back-pressure
//! are decided.

use super::consumer::WorkerContext;
use super::error::ServiceError;
use super::metrics::Metrics;
use super::outputs::{Batch, Outputs, SinkError};
use super::stage_time::Step;
use super::worker::Worker;
use crate::config::SinkConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// (nothing is dropped). After `retry_max` failed attempts the service reports not
/// ready; the main loop then pauses its partitions (back-pressure) until the flush
/// is through. Returns the batch, whose offsets may then be stored; or, when
/// retrying cannot help (ClickHouse refuses cellwatch's login), the error that stops
/// the service, the batch's offsets not stored (it is read again after a restart).
/// `previous` is the earlier batch's flush (true once through); `through` tells the
/// next one.
fn spawn_flush(
    outputs: Arc<Outputs>,
    mut batch: Batch,
    cfg: SinkConfig,
    metrics: Metrics,
    mut previous: Option<watch::Receiver<bool>>,
    through: watch::Sender<bool>,
) -> JoinHandle<Result<Batch, ServiceError>> {
    let flush_started = Instant::now();
    tokio::spawn(async move {
        let mut attempt = 0u32;
        let mut backoff = Duration::from_millis(cfg.retry_backoff_ms.max(1));
        loop {
            let started = Instant::now();
            match outputs.flush(&mut batch, &mut previous).await {
                Ok(()) => {
                    let _ = through.send(true);
                    metrics
                        .stages
                        .add(Step::FlushInFlight, flush_started.elapsed());
                    tracing::debug!(
                        records = batch.records,
                        archived = batch.archive.rows(),
                        cases = batch.cases.len(),
                        dead = batch.dead.len(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "batch flushed"
                    );
                    return Ok(batch);
                }
                Err(SinkError::ClickHouse(e)) if e.is_fatal() => {
                    return Err(ServiceError::ClickHouse(e));
                }
                Err(SinkError::Abandoned) => {
                    return Err(ServiceError::Flush(
                        "an earlier batch's flush failed".into(),
                    ));
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

/// The sinks' side of the loop: up to `sink.max_flushes_in_flight` batches are being
/// flushed while the next one fills, so consuming and processing wait for ClickHouse
/// only when that many are in flight and the next batch is full too. Batches are
/// completed, and their offsets stored, in order.
pub(super) struct Flusher {
    outputs: Arc<Outputs>,
    /// Flushes in flight, oldest first.
    inflight: VecDeque<JoinHandle<Result<Batch, ServiceError>>>,
    max_in_flight: usize,
    /// Turns true when the newest flush is through (the next one's ordered steps
    /// wait for it).
    newest: Option<watch::Receiver<bool>>,
    /// Partitions paused while the sinks are unavailable.
    paused: Option<TopicPartitionList>,
    /// Flushed batches kept for reuse (their buffers keep their capacity).
    spare: Vec<Batch>,
}

impl Flusher {
    pub(super) fn new(outputs: Outputs, max_in_flight: usize) -> Self {
        Flusher {
            outputs: Arc::new(outputs),
            inflight: VecDeque::new(),
            max_in_flight: max_in_flight.max(1),
            newest: None,
            paused: None,
            spare: Vec::new(),
        }
    }

    /// No room for another flush: `sink.max_flushes_in_flight` are in flight.
    pub(super) fn busy(&self) -> bool {
        self.inflight.len() >= self.max_in_flight
    }

    /// At least one flush is in flight.
    pub(super) fn in_flight(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Start flushing `batch` in the background; `batch` becomes an empty one.
    pub(super) fn start(&mut self, batch: &mut Batch, worker: &Worker) {
        debug_assert!(!self.busy(), "at most max_flushes_in_flight");
        let next = self.spare.pop().unwrap_or_default();
        let mut full = std::mem::replace(batch, next);
        worker.checkpoint(&mut full);
        // The archive's last chunk is shared with the insert too, not copied.
        full.archive.seal();
        let (through, newest) = watch::channel(false);
        let previous = self.newest.replace(newest);
        self.inflight.push_back(spawn_flush(
            self.outputs.clone(),
            full,
            worker.config.sink.clone(),
            worker.metrics.clone(),
            previous,
            through,
        ));
    }

    /// The oldest in-flight flush's outcome, for [`Flusher::complete`]; call only
    /// while [`Flusher::in_flight`].
    pub(super) async fn finished(
        &mut self,
    ) -> Result<Result<Batch, ServiceError>, tokio::task::JoinError> {
        self.inflight
            .front_mut()
            .expect("a flush is in flight (guarded by in_flight())")
            .await
    }

    /// Wait for every in-flight flush, oldest first, and complete them.
    async fn wait(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
    ) -> Result<(), ServiceError> {
        while let Some(h) = self.inflight.front_mut() {
            let done = h.await;
            self.complete(done, consumer, worker)?;
        }
        Ok(())
    }

    /// The oldest in-flight flush finished: resume consumption if it was paused,
    /// store the batch's offsets, count it acknowledged.
    pub(super) fn complete(
        &mut self,
        done: Result<Result<Batch, ServiceError>, tokio::task::JoinError>,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
    ) -> Result<(), ServiceError> {
        self.inflight.pop_front();
        // A failed flush task (a panic) must stop the service: storing the offsets of
        // a later batch would commit past records that never reached the sinks.
        let mut batch = done.map_err(|e| ServiceError::Flush(e.to_string()))??;
        if let Some(tpl) = self.paused.take() {
            let _ = consumer.resume(&tpl);
            tracing::info!("sinks are back: consumption resumed");
        }
        worker.metrics.ready.store(true, Ordering::Relaxed);
        let mut tpl = TopicPartitionList::new();
        let context = consumer.context();
        for (key, next) in &batch.offsets {
            // Consumed under an earlier assignment of the partition: not stored, even
            // if the partition is this consumer's again by now (its next owner reads
            // the tail again; see `WorkerContext::revoked_since`).
            if context.revoked_since(key, batch.generation) {
                tracing::debug!(topic = %key.0, partition = key.1, "offset of a revoked partition not stored");
                continue;
            }
            let mut stored = tpl.add_partition(&key.0, key.1);
            let _ = stored.set_offset(Offset::Offset(*next));
            if let Some(max_event_ms) = batch.checkpoints.get(key) {
                stored.set_metadata(super::checkpoint::encode(*max_event_ms));
            }
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
        worker.note_flushed(&batch.offsets);
        worker.metrics.acknowledged.note(&batch.offsets);
        worker.report.flushes += 1;
        worker.report.case_snapshots += batch.cases.len() as u64;
        batch.reset();
        if self.spare.len() < self.max_in_flight {
            self.spare.push(batch);
        }
        Ok(())
    }

    /// While a flush keeps failing, pause the assigned partitions (once): only
    /// records already fetched still arrive, and polling goes on so the group does
    /// not evict this member.
    pub(super) fn pause_if_unavailable(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &Worker,
    ) {
        if self.inflight.is_empty()
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

    /// Wait for the in-flight flushes, then flush `batch` and wait for it too: after
    /// this everything consumed is acknowledged (rebalance, shutdown).
    pub(super) async fn drain(
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

/// When a batch is flushed (besides being full).
#[derive(Debug, Clone, Copy)]
pub(super) struct FlushPolicy {
    /// Flush a batch this old.
    every: Duration,
    /// Flush a batch holding case snapshots this old, unless the consumer is
    /// draining a backlog ([`Batch::behind`]).
    cases_after: Duration,
    /// Flush whatever is pending once nothing was consumed for this long.
    idle_after: Duration,
}

impl FlushPolicy {
    pub(super) fn from_config(sink: &SinkConfig) -> Self {
        let every = Duration::from_millis(sink.flush_interval_ms.max(10));
        FlushPolicy {
            every,
            cases_after: Duration::from_millis(sink.case_flush_ms).min(every),
            idle_after: (every / 10).clamp(Duration::from_millis(5), Duration::from_millis(100)),
        }
    }

    /// How often the service loop checks whether a flush is due.
    pub(super) fn check_every(&self) -> Duration {
        self.idle_after
    }

    /// Whether `batch` should be flushed now; `last_record` is when the last record
    /// was consumed. Case snapshots make a batch due early only while the consumer
    /// keeps up: while it drains a backlog, the cases wait for the backlog anyway,
    /// and flushing every `case_flush_ms` would make the archive inserts small
    /// (more parts, more merging, more CPU for ClickHouse per row).
    pub(super) fn due(&self, batch: &Batch, last_record: Instant) -> bool {
        let Some(started) = batch.started else {
            // Nothing consumed, but case snapshots or dead letters may be pending.
            return !batch.is_empty();
        };
        let age = started.elapsed();
        age >= self.every
            || (!batch.cases.is_empty() && !batch.behind && age >= self.cases_after)
            || last_record.elapsed() >= self.idle_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::CaseSink;

    /// A batch that started `age` ago, one record consumed just now, one case.
    fn batch_with_a_case(age: Duration, behind: bool) -> Batch {
        let mut batch = Batch::default();
        batch.note_record("t", 0, 1);
        batch.started = Some(Instant::now() - age);
        batch.behind = behind;
        batch.emit(
            serde_json::from_value(serde_json::json!({
                "case_id": "spam-1", "kind": "spam_sim", "opened_at": 1,
                "first_seen": 1, "last_seen": 1, "score": 1.0,
                "reasons": [], "evidence_count": 1,
            }))
            .expect("a valid case"),
        );
        batch
    }

    #[test]
    fn cases_flush_early_only_while_the_consumer_keeps_up() {
        let policy = FlushPolicy::from_config(&SinkConfig::default());
        let now = Instant::now();
        // Keeping up: a 300 ms old batch with a case is due (case_flush_ms 200).
        assert!(policy.due(&batch_with_a_case(Duration::from_millis(300), false), now));
        // Draining a backlog: it waits for the interval (1 s) or a full batch.
        assert!(!policy.due(&batch_with_a_case(Duration::from_millis(300), true), now));
        assert!(policy.due(&batch_with_a_case(Duration::from_millis(1_100), true), now));
        // Without cases, neither is due before the interval.
        let mut quiet = batch_with_a_case(Duration::from_millis(300), false);
        quiet.cases.clear();
        assert!(!policy.due(&quiet, now));
        // A reset batch keeps up again.
        let mut reused = batch_with_a_case(Duration::from_millis(300), true);
        reused.reset();
        assert!(!reused.behind);
    }
}
