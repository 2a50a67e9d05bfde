//! Kafka clients of the service: the group consumer with a context that records
//! rebalances and consumer lag, a producer for the output topics, and plain
//! (group-less) readers for state restore and reference topics.

use super::group_stall::{GroupReport, GroupStall};
use super::metrics::{Metrics, PartitionLabel};
use crate::config::KafkaConfig;
use crate::kafka_failure::{FailureWatch, WatchedContext};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::producer::FutureProducer;
use rdkafka::statistics::Statistics;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a rebalance told us; the worker acts on it between two records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AssignmentChange {
    Assigned(Vec<(String, i32)>),
    Revoked(Vec<(String, i32)>),
}

/// Consumer context: records rebalances for the worker, exports consumer lag,
/// reports client errors to the service's [`FailureWatch`] (a refused login or TLS
/// handshake stops the service).
pub(crate) struct WorkerContext {
    pub(crate) changes: Arc<Mutex<Vec<AssignmentChange>>>,
    /// Between a revocation (or the subscription) and the next assignment: a close
    /// now could block (see `run/close.rs`).
    awaiting_assignment: AtomicBool,
    /// The consumer group, for the logs (the staged topology runs two).
    group: String,
    metrics: Metrics,
    failures: Arc<FailureWatch>,
    /// Revocations so far, and the last one that took each partition
    /// ([`WorkerContext::revoked_since`]).
    revocations: Mutex<Revocations>,
    /// librdkafka's reason, once it fenced this static group member (a fatal
    /// error of this consumer only: the loop re-creates it, see
    /// [`WorkerContext::fenced`]).
    fenced: tokio::sync::watch::Sender<Option<String>>,
    /// How long the group has been out of order with a broker up, from librdkafka's
    /// statistics ([`GroupStall`]).
    stall: Mutex<GroupStall>,
    /// The reason, once the consumer has been stuck outside its group for
    /// `[kafka] group_stall_secs`: the loop re-creates it (see
    /// [`WorkerContext::stalled`]).
    stalled: tokio::sync::watch::Sender<Option<String>>,
}

/// How many revocations this consumer has served, and for each partition the
/// number of the last one that took it.
#[derive(Default)]
struct Revocations {
    count: u64,
    last: BTreeMap<(String, i32), u64>,
}

impl WorkerContext {
    pub(crate) fn new(
        group: &str,
        metrics: Metrics,
        failures: Arc<FailureWatch>,
        stall_limit: Duration,
    ) -> Self {
        WorkerContext {
            changes: Arc::default(),
            awaiting_assignment: AtomicBool::new(true),
            group: group.to_string(),
            metrics,
            failures,
            revocations: Mutex::default(),
            fenced: tokio::sync::watch::Sender::new(None),
            stall: Mutex::new(GroupStall::new(stall_limit)),
            stalled: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Turns to a reason when the consumer has been out of a working group for
    /// `[kafka] group_stall_secs` while a broker connection was up (librdkafka's
    /// statistics say so every 5 s): the loop makes the consumer again.
    pub(crate) fn stalled(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.stalled.subscribe()
    }

    /// Note the group part of a statistics report.
    fn note_group(&self, statistics: &Statistics) {
        let Some(report) = GroupReport::from_statistics(statistics) else {
            return;
        };
        let told = self
            .stall
            .lock()
            .expect("stall lock")
            .note(&report, Instant::now());
        if let Some(reason) = told {
            tracing::warn!(group = %self.group, reason = %reason, "group consumer stuck outside its group");
            self.stalled.send_replace(Some(reason));
        }
    }

    /// Turns to librdkafka's reason when the group fenced this static member
    /// (`group.instance.id`): "Static consumer fenced by other consumer with same
    /// group.instance.id", a fatal error that ends this client (librdkafka issue
    /// 3437: after a session timeout, e.g. a broker away for longer than it, the
    /// member rejoins under a new member id and a request still carrying the old
    /// one is refused). Not reported to the service's failure watch, which would
    /// stop every stage: the loop of this consumer re-creates it instead.
    pub(crate) fn fenced(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.fenced.subscribe()
    }

    /// Note that the group fenced this member (the first reason is kept).
    fn note_fenced(&self, reason: &str) {
        self.fenced.send_if_modified(|f| {
            if f.is_some() {
                return false;
            }
            tracing::debug!(group = %self.group, reason, "static group member fenced");
            *f = Some(reason.to_string());
            true
        });
    }

    /// The number of revocations served so far: a batch notes it at its first
    /// record ([`super::outputs::Batch::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.revocations.lock().expect("revocations lock").count
    }

    /// Whether `partition` was revoked after the consumer's generation was
    /// `generation`: records consumed then belong to an earlier assignment of it,
    /// and their offsets must not be stored, even when the partition is assigned to
    /// this consumer again by now. Stored, they would be committed past the offset
    /// from which the new assignment started fetching (librdkafka asked the group
    /// for it in the poll that served the assignment), and the state restored from
    /// the group at the rebuild would not be the state at that offset.
    pub(crate) fn revoked_since(&self, partition: &(String, i32), generation: u64) -> bool {
        self.revocations
            .lock()
            .expect("revocations lock")
            .last
            .get(partition)
            .is_some_and(|at| *at > generation)
    }

    /// Whether the group owes this consumer an assignment: subscribed or revoked,
    /// and not assigned since.
    pub(crate) fn awaiting_assignment(&self) -> bool {
        self.awaiting_assignment.load(Ordering::Acquire)
    }
}

/// For the logs: `topic/partition` of each, comma-separated.
fn listed(parts: &[(String, i32)]) -> String {
    let named: Vec<String> = parts.iter().map(|(t, p)| format!("{t}/{p}")).collect();
    named.join(",")
}

fn partitions(tpl: &rdkafka::TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

/// Whether librdkafka's error or log line says the group fenced a static member.
pub(crate) fn says_fenced(text: &str) -> bool {
    text.contains("Static consumer fenced")
}

impl ClientContext for WorkerContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let fenced = error.rdkafka_error_code()
            == Some(rdkafka::types::RDKafkaErrorCode::FencedInstanceId)
            || says_fenced(reason)
            || says_fenced(&error.to_string());
        if fenced {
            self.note_fenced(reason);
        } else {
            self.failures.record(&error, reason);
        }
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        if fac == "FATAL" && says_fenced(log_message) {
            self.note_fenced(log_message);
        } else {
            self.failures.note_log(level, fac, log_message);
        }
    }

    fn stats(&self, statistics: Statistics) {
        self.note_group(&statistics);
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .get_or_create(&PartitionLabel {
                        topic: topic.clone(),
                        partition: *partition,
                    })
                    .set(p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = partitions(tpl);
            tracing::info!(group = %self.group, partitions = parts.len(), which = %listed(&parts), "partitions revoked");
            {
                let mut revocations = self.revocations.lock().expect("revocations lock");
                revocations.count += 1;
                let count = revocations.count;
                for p in &parts {
                    revocations.last.insert(p.clone(), count);
                }
            }
            self.awaiting_assignment.store(true, Ordering::Release);
            self.changes
                .lock()
                .expect("rebalance lock")
                .push(AssignmentChange::Revoked(parts));
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts = partitions(tpl);
                // Paused here, inside the poll that delivers the assignment: no record
                // of these partitions reaches the detectors before the worker has
                // rebuilt their state and resumed them.
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!(error = %e, "cannot pause newly assigned partitions");
                }
                tracing::info!(group = %self.group, partitions = parts.len(), which = %listed(&parts), "partitions assigned");
                self.awaiting_assignment.store(false, Ordering::Release);
                self.changes
                    .lock()
                    .expect("rebalance lock")
                    .push(AssignmentChange::Assigned(parts));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// Common client settings: brokers plus the pass-through librdkafka settings.
pub(crate) fn base_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers);
    for (k, v) in &kafka.librdkafka {
        c.set(k, v);
    }
    c
}

/// The fetch settings of every consumer that reads records (the group consumers,
/// the readers of state restore and reference topics); `[kafka.librdkafka]` keeps
/// the last word on each.
fn fetch_settings(c: &mut ClientConfig, kafka: &KafkaConfig) {
    const BACKOFF: &str = "fetch.queue.backoff.ms";
    if !kafka.librdkafka.contains_key(BACKOFF) {
        c.set(BACKOFF, kafka.fetch_queue_backoff_ms.to_string());
    }
}

/// The group consumer: offsets are stored by the worker only after the sinks
/// acknowledged, and committed automatically from the store (and on revoke).
pub(crate) fn group_consumer(
    kafka: &KafkaConfig,
    metrics: Metrics,
    failures: Arc<FailureWatch>,
) -> KafkaResult<StreamConsumer<WorkerContext>> {
    let mut c = base_config(kafka);
    fetch_settings(&mut c, kafka);
    c.set("group.id", &kafka.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "5000");
    // 30 s unless `[kafka.librdkafka]` names it (a test shortens it to provoke a
    // fence).
    if !kafka.librdkafka.contains_key("session.timeout.ms") {
        c.set("session.timeout.ms", "30000");
    }
    if !kafka.group_instance_id.is_empty() {
        c.set("group.instance.id", &kafka.group_instance_id);
    }
    c.create_with_context(WorkerContext::new(
        &kafka.group_id,
        metrics,
        failures,
        Duration::from_secs(kafka.group_stall_secs),
    ))
}

/// A client for questions to the brokers beside a group consumer: high watermarks,
/// and the committed offsets of the consumer group `group` (which it never joins).
/// Asked of the group consumer itself, each request waited behind that consumer's
/// fetch of the same broker, which the broker holds up to `fetch.wait.max.ms`
/// (500 ms) when the partition is at its end: 500 ms per high watermark measured at
/// a stop, 4.1 – 5.8 s for the 8 feed partitions, over the 5 s the answer may take.
/// This client fetches nothing, so its requests are answered at once. Its client
/// errors go to the service's [`FailureWatch`] as the other clients' do, served by
/// [`serve_questions`] on every tick of the loop (unserved, the errors and logs of a
/// broker outage queued up and came out all at once when the client was dropped).
pub(crate) fn question_client(
    kafka: &KafkaConfig,
    group: &str,
    failures: Arc<FailureWatch>,
) -> KafkaResult<Questions> {
    let mut c = base_config(kafka);
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    Ok(Arc::new(
        c.create_with_context(WatchedContext { watch: failures })?,
    ))
}

/// A [`question_client`].
pub(crate) type Questions = Arc<BaseConsumer<WatchedContext>>;

/// Serve the events (errors, logs) a question client has queued, without waiting.
pub(crate) fn serve_questions(questions: &Questions) {
    while let Some(event) = questions.poll(std::time::Duration::ZERO) {
        if let Err(e) = event {
            tracing::debug!(error = %e, "question client event");
        }
    }
}

/// A consumer outside any group, for reading partitions by assignment.
pub(crate) fn plain_consumer(kafka: &KafkaConfig) -> KafkaResult<BaseConsumer> {
    let mut c = base_config(kafka);
    fetch_settings(&mut c, kafka);
    c.set("group.id", format!("{}-reader", kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest");
    c.create()
}

/// The producer of cases and dead letters: idempotent, all replicas acknowledge;
/// its client errors go to the service's [`FailureWatch`].
pub(crate) fn producer(
    kafka: &KafkaConfig,
    failures: Arc<FailureWatch>,
) -> KafkaResult<FutureProducer<WatchedContext>> {
    let mut c = base_config(kafka);
    // a consumer-only property (stage detect's assignor) would make librdkafka warn
    // at every start that the producer ignores it
    c.remove("partition.assignment.strategy");
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("compression.type", "lz4");
    c.create_with_context(WatchedContext { watch: failures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_backoff_is_cellwatchs_unless_librdkafka_entries_name_it() {
        let mut kafka = KafkaConfig::default();
        let mut c = base_config(&kafka);
        fetch_settings(&mut c, &kafka);
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("20"));
        kafka.fetch_queue_backoff_ms = 5;
        kafka
            .librdkafka
            .insert("fetch.queue.backoff.ms".into(), "250".into());
        let mut c = base_config(&kafka);
        fetch_settings(&mut c, &kafka);
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("250"));
    }
}
