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
//!
//! The high watermarks are asked of the brokers off the loop thread (a loaded broker
//! may take seconds to answer, and the loop must go on consuming meanwhile). A query
//! takes a snapshot of each silent partition (its position and when it last
//! delivered); its answer is applied on the loop, in the order queries were made (one
//! at a time), and only to partitions that delivered nothing since the snapshot and
//! under the same assignment: a partition's position was then its position when the
//! brokers told its high watermark, so "caught up" means the same as if the loop had
//! waited for the answer.

use super::caught_up::{off_loop, time_left, Position, ANSWER_WITHIN};
use super::consumer::Questions;
use super::outputs::Batch;
use super::stage::Stage;
use super::worker::Worker;
use crate::kafka_failure::WatchedContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often silent partitions are checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// After the brokers did not answer, the next check waits this much longer.
const BROKER_BACKOFF: Duration = Duration::from_secs(2);

/// One assigned partition: when it last delivered a record (or was assigned), and
/// the next offset to consume once it has delivered one.
struct Activity {
    topic: String,
    partition: i32,
    at: Instant,
    next: Option<i64>,
}

/// A silent partition as it was when its high watermark was asked for, and whether
/// it was consumed to its end (`None`: the brokers did not tell).
struct Answer {
    topic: String,
    partition: i32,
    at: Instant,
    caught_up: Option<bool>,
}

/// The answers to one query, for the assignment `generation`.
pub(super) struct Answers {
    generation: u64,
    answers: Vec<Answer>,
}

/// The activity of every assigned partition.
pub(super) struct Idleness {
    timeout: Duration,
    parts: Vec<Activity>,
    checked_at: Instant,
    /// Counts assignments (and rebuilds): answers to an older one are dropped.
    generation: u64,
    /// The query in flight, at most one.
    query: Option<JoinHandle<Answers>>,
}

impl Idleness {
    pub(super) fn new(timeout: Duration) -> Self {
        Idleness {
            timeout,
            parts: Vec::new(),
            checked_at: Instant::now(),
            generation: 0,
            query: None,
        }
    }

    /// A new assignment (or a rebuild): every partition starts active now.
    pub(super) fn reset(&mut self, assigned: &[(String, i32)]) {
        let now = Instant::now();
        self.generation += 1;
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

    /// Partitions added to the assignment (a cooperative rebalance), or kept ones
    /// whose state was rebuilt (stage A's measurements task starting over): they
    /// start active now, consumed from where the rebuild ended; the others keep their
    /// activity and positions. A kept partition is replaced, not listed twice: its
    /// second entry was never updated by [`Idleness::seen`], so its position stayed
    /// at the rebuild's end and a stop found tens of thousands of records "still
    /// waiting" that had long been consumed (stage A's final snapshots never came).
    pub(super) fn add(&mut self, parts: &[(String, i32)]) {
        let now = Instant::now();
        self.generation += 1;
        self.parts.retain(|a| {
            !parts
                .iter()
                .any(|(t, p)| *p == a.partition && *t == a.topic)
        });
        self.parts
            .extend(parts.iter().map(|(topic, partition)| Activity {
                topic: topic.clone(),
                partition: *partition,
                at: now,
                next: None,
            }));
    }

    /// Only `assigned` stays (a cooperative rebalance revoked the others).
    pub(super) fn keep(&mut self, assigned: &[(String, i32)]) {
        self.generation += 1;
        self.parts.retain(|a| {
            assigned
                .iter()
                .any(|(t, p)| *p == a.partition && *t == a.topic)
        });
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

    /// The next offset to consume of every assigned partition of a feed (or internal)
    /// topic: the last consumed + 1, else where consumption started (its committed
    /// offset), else unknown (from its low watermark).
    pub(super) fn positions(&self, worker: &Worker) -> Vec<Position> {
        self.parts
            .iter()
            .filter(|a| worker.feed_of(&a.topic).is_some())
            .map(|a| (a.topic.clone(), a.partition, position(a, worker)))
            .collect()
    }

    /// Whether a query is in flight (its answer is awaited with [`Idleness::answers`]).
    pub(super) fn querying(&self) -> bool {
        self.query.is_some()
    }

    /// The answers of the query in flight; call only while [`Idleness::querying`].
    pub(super) async fn answers(&mut self) -> Option<Answers> {
        let query = self.query.as_mut()?;
        let done = query.await;
        self.query = None;
        done.ok()
    }

    /// Wait for the query in flight, if any (at a stop: no Kafka client outlives the
    /// service); its answers are dropped.
    pub(super) async fn settle(&mut self) {
        let _ = self.answers().await;
    }

    /// Ask the brokers, off the loop (with `consumer`, a
    /// [`super::consumer::question_client`]), whether the partitions silent for the
    /// timeout are consumed to their end (when due, and none is asked already).
    pub(super) fn check(&mut self, consumer: &Questions, worker: &Worker) {
        // Stages detect and transmitters hear of idleness from markers upstream.
        if !worker.live
            || matches!(worker.stage, Stage::Detect(_) | Stage::Cross(_))
            || self.query.is_some()
            || self.checked_at.elapsed() < CHECK_EVERY
        {
            return;
        }
        self.checked_at = Instant::now();
        let silent: Vec<(Position, Instant)> = self
            .parts
            .iter()
            .filter(|a| a.at.elapsed() >= self.timeout)
            .filter(|a| {
                worker
                    .feed_of(&a.topic)
                    .is_some_and(|feed| !worker.pipeline.is_idle(feed, a.partition))
            })
            .map(|a| ((a.topic.clone(), a.partition, position(a, worker)), a.at))
            .collect();
        if silent.is_empty() {
            return;
        }
        let (consumer, generation) = (consumer.clone(), self.generation);
        self.query = Some(tokio::spawn(async move {
            let answers = off_loop(move || Ok(ask(&consumer, silent)))
                .await
                .unwrap_or_default();
            Answers {
                generation,
                answers,
            }
        }));
    }

    /// Apply a query's answers: declare idle the partitions found consumed to their
    /// end that delivered nothing since; when all are, emit the final snapshots into
    /// `out` (once: the worker is then no longer live, and its next record rebuilds
    /// the state first).
    pub(super) fn apply(&mut self, answers: Option<Answers>, worker: &mut Worker, out: &mut Batch) {
        let Some(Answers {
            generation,
            answers,
        }) = answers
        else {
            return;
        };
        if generation != self.generation || !worker.live {
            return;
        }
        for answer in answers {
            let Some(a) = self.parts.iter().find(|a| {
                a.partition == answer.partition && a.topic == answer.topic && a.at == answer.at
            }) else {
                continue;
            };
            let Some(feed) = worker.feed_of(&a.topic) else {
                continue;
            };
            match answer.caught_up {
                Some(true) if !worker.pipeline.is_idle(feed, a.partition) => {
                    tracing::debug!(topic = %a.topic, partition = a.partition, "partition idle");
                    worker.pipeline.set_idle(feed, a.partition, true, out);
                    let next = position(a, worker).unwrap_or(0);
                    worker.mark_idle(feed, a.partition, next, out);
                }
                Some(_) => {}
                // The brokers do not answer (a silent partition may be an outage):
                // nothing is declared idle, and the next check waits a little.
                None => self.checked_at = Instant::now() + BROKER_BACKOFF,
            }
        }
        if worker.pipeline.all_idle() && matches!(worker.stage, Stage::Whole) {
            worker.finish(out, "every partition idle");
        }
    }
}

/// The next offset to consume of a partition, as far as this worker knows.
fn position(a: &Activity, worker: &Worker) -> Option<i64> {
    a.next
        .or_else(|| worker.starts.get(&(a.topic.clone(), a.partition)).copied())
}

/// Whether each silent partition was consumed to its high watermark; after the first
/// that the brokers do not tell, the others are not asked.
fn ask(consumer: &BaseConsumer<WatchedContext>, silent: Vec<(Position, Instant)>) -> Vec<Answer> {
    let deadline = Instant::now() + ANSWER_WITHIN;
    let mut answers = Vec::with_capacity(silent.len());
    for ((topic, partition, next), at) in silent {
        let caught_up = time_left(deadline)
            .ok()
            .and_then(|left| consumer.fetch_watermarks(&topic, partition, left).ok())
            .map(|(low, high)| high <= low || next.unwrap_or(low) >= high);
        let unknown = caught_up.is_none();
        answers.push(Answer {
            topic,
            partition,
            at,
            caught_up,
        });
        if unknown {
            break;
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuilt_kept_partition_is_listed_once_and_follows_consumption() {
        let mut idle = Idleness::new(Duration::from_secs(30));
        let (a, b) = (("meas".to_string(), 0), ("meas".to_string(), 2));
        idle.reset(&[a.clone(), b.clone()]);
        idle.seen("meas", 2, 10, Instant::now());
        // Partition 0 moves away, 2 stays and its feed's state is rebuilt.
        idle.keep(std::slice::from_ref(&b));
        idle.add(std::slice::from_ref(&b));
        assert_eq!(idle.parts.len(), 1);
        assert_eq!(idle.parts[0].next, None, "from where the rebuild ended");
        idle.seen("meas", 2, 500, Instant::now());
        assert_eq!(idle.parts[0].next, Some(501));
    }
}
