//! Source idleness (as Flink's): an assigned partition that this worker has consumed
//! to its end and that brought nothing new for `[pipeline] idle_timeout_secs` stops
//! holding its feed's watermark back; when every partition of every feed is idle the
//! input is quiescent and the worker emits its final snapshots, as a replay does at
//! the end of its files. Kept apart from the loop because it is the one place where
//! the wall clock decides something about event time.
//!
//! Why the result stays deterministic: a partition is declared idle only when it is
//! caught up (position = high watermark), so no record of it is waiting; its next
//! record, if any, is produced later than the timeout after the previous one. As long
//! as a live feed's partitions never pause for longer than the timeout, idleness
//! happens only when the input has ended, and then releases exactly what the
//! replay's end releases.

use super::consumer::WorkerContext;
use super::outputs::Batch;
use super::stage::Stage;
use super::worker::Worker;
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::time::{Duration, Instant};

/// How often silent partitions are checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long the broker may take to tell a partition's high watermark (the loop
/// waits meanwhile, so this stays short).
const WATERMARKS_TIMEOUT: Duration = Duration::from_millis(500);
/// After the broker did not answer, the next check waits this much longer.
const BROKER_BACKOFF: Duration = Duration::from_secs(9);

/// One assigned partition: when it last delivered a record (or was assigned), and
/// the next offset to consume once it has delivered one.
struct Activity {
    topic: String,
    partition: i32,
    at: Instant,
    next: Option<i64>,
}

/// The activity of every assigned partition.
pub(super) struct Idleness {
    timeout: Duration,
    parts: Vec<Activity>,
    checked_at: Instant,
}

impl Idleness {
    pub(super) fn new(timeout: Duration) -> Self {
        Idleness {
            timeout,
            parts: Vec::new(),
            checked_at: Instant::now(),
        }
    }

    /// A new assignment (or a rebuild): every partition starts active now.
    pub(super) fn reset(&mut self, assigned: &[(String, i32)]) {
        let now = Instant::now();
        self.parts = assigned
            .iter()
            .map(|(topic, partition)| Activity {
                topic: topic.clone(),
                partition: *partition,
                at: now,
                next: None,
            })
            .collect();
    }

    /// The record at `offset` of (topic, partition) was consumed `now`.
    pub(super) fn seen(&mut self, topic: &str, partition: i32, offset: i64, now: Instant) {
        if let Some(a) = self
            .parts
            .iter_mut()
            .find(|a| a.partition == partition && a.topic == topic)
        {
            a.at = now;
            a.next = Some(offset + 1);
        }
    }

    /// Whether every feed partition has been consumed to its end: the final
    /// snapshots are then those of everything there is (see `Worker::finish`).
    pub(super) fn all_caught_up(
        &self,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &Worker,
    ) -> bool {
        self.parts
            .iter()
            .filter(|a| worker.feed_of(&a.topic).is_some())
            .all(|a| caught_up(consumer, a, worker) == Some(true))
    }

    /// Declare idle the partitions that are silent and consumed to their end; when
    /// all are, emit the final snapshots into `out` (once: the worker is then no
    /// longer live, and its next record rebuilds the state first).
    pub(super) fn check(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
        worker: &mut Worker,
        out: &mut Batch,
    ) {
        // Stage detect hears of idleness from stage ingest's markers.
        if !worker.live
            || matches!(worker.stage, Stage::Detect(_))
            || self.checked_at.elapsed() < CHECK_EVERY
        {
            return;
        }
        self.checked_at = Instant::now();
        for a in &self.parts {
            let Some(feed) = worker.feed_of(&a.topic) else {
                continue;
            };
            if a.at.elapsed() < self.timeout || worker.pipeline.is_idle(feed, a.partition) {
                continue;
            }
            match caught_up(consumer, a, worker) {
                Some(true) => {
                    tracing::debug!(topic = %a.topic, partition = a.partition, "partition idle");
                    worker.pipeline.set_idle(feed, a.partition, true, out);
                    let next = a
                        .next
                        .or_else(|| worker.starts.get(&(a.topic.clone(), a.partition)).copied())
                        .unwrap_or(0);
                    worker.mark_idle(feed, a.partition, next, out);
                }
                Some(false) => {}
                // The broker does not answer (a silent partition may be an outage):
                // nothing is declared idle, and the loop is not held up again soon.
                None => {
                    self.checked_at = Instant::now() + BROKER_BACKOFF;
                    return;
                }
            }
        }
        if worker.pipeline.all_idle() && matches!(worker.stage, Stage::Whole) {
            worker.finish(out, "every partition idle");
        }
    }
}

/// Whether the worker has consumed a partition to its high watermark; `None` when
/// the broker did not tell.
fn caught_up(
    consumer: &StreamConsumer<WorkerContext>,
    a: &Activity,
    worker: &Worker,
) -> Option<bool> {
    let (low, high) = consumer
        .fetch_watermarks(&a.topic, a.partition, WATERMARKS_TIMEOUT)
        .ok()?;
    let position = a
        .next
        .or_else(|| worker.starts.get(&(a.topic.clone(), a.partition)).copied())
        .unwrap_or(low);
    Some(high <= low || position >= high)
}
