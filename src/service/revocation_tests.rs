//! A batch consumed under an earlier assignment of a partition stores no offset,
//! even once the partition is this consumer's again (librdkafka's mock cluster, in
//! process).
//!
//! The race it pins down (issue 12, `tests/service_split.rs`'s SIGTERM test, once
//! in four runs: the replay's cases, but extra `late` dead letters): an eager
//! rebalance of stage ingest revokes a partition and gives it back to the same
//! instance; the poll that serves the new assignment also has librdkafka ask the
//! group for the committed offset, where fetching will start (say 393). A batch
//! consumed before the revocation finishes its flush afterwards; storing its
//! offset (say 900, with the lateness checkpoint of offset 900) succeeded, since
//! the partition was assigned again, and the auto-commit sent it. The rebuild then
//! read the group's offset, 900, and resumed the partition's lateness watermark
//! from the checkpoint of 900, while the consumer delivered 393 onwards: refused as
//! late against a watermark 21 minutes ahead of them.

use super::consumer::{group_consumer, producer, AssignmentChange, WorkerContext};
use super::flush::Flusher;
use super::metrics::Metrics;
use super::outputs::{Batch, BatchStore, MemoryStore, Outputs};
use super::stage::{IngestState, Stage};
use super::worker::Worker;
use crate::config::{Config, KafkaConfig};
use crate::kafka_failure::FailureWatch;
use crate::model::{Feed, TimeBounds};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;

const TOPIC: &str = "feed";

/// Poll `consumer` until its rebalances have produced `n` changes in all.
async fn serve_until(consumer: &StreamConsumer<WorkerContext>, n: usize) -> Vec<AssignmentChange> {
    for _ in 0..600 {
        let _ = tokio::time::timeout(Duration::from_millis(50), consumer.recv()).await;
        let changes = consumer.context().changes.lock().unwrap().clone();
        if changes.len() >= n {
            return changes;
        }
    }
    let changes = consumer.context().changes.lock().unwrap().clone();
    panic!("{n} rebalance changes expected within 30 s: {changes:?}");
}

/// The group's committed offset and metadata of the partition.
fn committed(consumer: &StreamConsumer<WorkerContext>) -> (Offset, String) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(TOPIC, 0);
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    let e = &got.elements_for_topic(TOPIC)[0];
    (e.offset(), e.metadata().to_string())
}

/// Flush `batch` as the service does, commit synchronously, and say what the group
/// now holds.
fn flush_and_commit(
    flusher: &mut Flusher,
    consumer: &StreamConsumer<WorkerContext>,
    worker: &mut Worker,
    batch: Batch,
) -> (Offset, String) {
    flusher
        .complete(Ok(Ok(batch)), consumer, worker)
        .expect("complete");
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");
    committed(consumer)
}

/// A flushed batch of stage ingest over offsets up to `next` (exclusive), with
/// its checkpoint, consumed at `generation`.
fn batch(next: i64, max_event_ms: i64, generation: u64) -> Batch {
    let mut b = Batch::default();
    b.note_record(TOPIC, 0, next - 1);
    b.checkpoints.insert((TOPIC.to_string(), 0), max_event_ms);
    b.generation = generation;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_an_earlier_assignment_stores_no_offset() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic(TOPIC, 1, 1).expect("topic");
    let kafka = KafkaConfig {
        brokers: mock.bootstrap_servers(),
        group_id: "revocation-test".into(),
        ..KafkaConfig::default()
    };
    let failures = FailureWatch::new(&kafka.brokers);
    let consumer = group_consumer(&kafka, Metrics::default(), failures.clone()).expect("consumer");
    let config = Config::default();
    let outputs = Outputs::new(
        BatchStore::Memory(MemoryStore::default()),
        producer(&kafka, failures.clone()).expect("producer"),
        config.kafka.topics.clone(),
        config.sink.clone(),
        Metrics::default(),
    );
    let mut flusher = Flusher::new(outputs, 2);
    let (_, stop) = tokio::sync::watch::channel(false);
    let stage = Stage::Ingest(IngestState {
        internal: BTreeMap::new(),
        pending: Vec::new(),
        step_ms: config.pipeline.watermark_step_ms(),
        marked: BTreeMap::new(),
    });
    let mut worker = Worker::new(
        config.clone(),
        None,
        Metrics::default(),
        TimeBounds::at(0),
        BTreeMap::from([(TOPIC.to_string(), Feed::SmsVolume)]),
        stop,
        stage,
    )
    .expect("worker");

    let records = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .create::<FutureProducer>()
        .expect("producer");
    for n in 0..1_000 {
        let payload = format!("record {n}");
        records
            .send(
                FutureRecord::<(), _>::to(TOPIC)
                    .partition(0)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .expect("produced");
    }
    consumer.subscribe(&[TOPIC]).expect("subscribe");
    let first = serve_until(&consumer, 1).await;
    assert!(
        matches!(first[0], AssignmentChange::Assigned(_)),
        "{first:?}"
    );
    // Consumed and flushed under the first assignment: stored and committed.
    let g1 = consumer.context().generation();
    assert_eq!(
        flush_and_commit(&mut flusher, &consumer, &mut worker, batch(393, 1_000, g1)),
        (Offset::Offset(393), "cellwatch.v1 max_event_ms=1000".into())
    );

    // A batch consumed before an (eager) revocation, whose flush finishes after
    // the group gave the partition back to this consumer.
    let late_batch = batch(900, 1_860_000, g1);
    consumer.unsubscribe();
    consumer.subscribe(&[TOPIC]).expect("subscribe again");
    let changes = serve_until(&consumer, 3).await;
    assert!(
        matches!(
            &changes[1..],
            [AssignmentChange::Revoked(_), AssignmentChange::Assigned(_)]
        ),
        "{changes:?}"
    );
    flusher
        .complete(Ok(Ok(late_batch)), &consumer, &mut worker)
        .expect("complete");
    let _ = consumer.commit_consumer_state(CommitMode::Sync);
    // What the rebuild restores (the group's offset and checkpoint) must be where
    // the new assignment fetches from (its partitions were paused when it was
    // served; resumed here as after the rebuild): 393, with the checkpoint of 393.
    let restored = committed(&consumer);
    let mut all = TopicPartitionList::new();
    all.add_partition(TOPIC, 0);
    consumer.resume(&all).expect("resume");
    let first = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
        .await
        .expect("a record within 20 s")
        .expect("a record")
        .offset();
    assert_eq!(
        Offset::Offset(first),
        restored.0,
        "the consumer starts at {first}, the rebuild restores {restored:?}"
    );
    assert_eq!(
        restored,
        (Offset::Offset(393), "cellwatch.v1 max_event_ms=1000".into())
    );

    // A batch of the new assignment is stored as usual.
    let g2 = consumer.context().generation();
    assert!(g2 > g1);
    assert_eq!(
        flush_and_commit(&mut flusher, &consumer, &mut worker, batch(450, 2_000, g2)),
        (Offset::Offset(450), "cellwatch.v1 max_event_ms=2000".into())
    );
}
