//! Reference-data topics (cell inventory, allowlist): compacted, read by every
//! worker from the beginning outside the consumer group, and handed to the
//! detectors as updates.

use super::consumer::plain_consumer;
use crate::config::KafkaConfig;
use crate::detect::Reference;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// One key of a reference topic: a new value, or `None` for a removal (tombstone).
#[derive(Debug, Clone)]
pub struct ReferenceUpdate {
    pub kind: Reference,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Start a thread that reads the reference topics and sends their updates.
pub(crate) fn spawn_reference_reader(
    kafka: &KafkaConfig,
    tx: mpsc::Sender<ReferenceUpdate>,
    shutdown: watch::Receiver<bool>,
) -> rdkafka::error::KafkaResult<tokio::task::JoinHandle<()>> {
    let mut reader = ReferenceReader::new(kafka)?;
    Ok(tokio::task::spawn_blocking(move || {
        // Ends with the service: on shutdown, or when the service is gone (its
        // receiver dropped, e.g. after an error) so that the runtime can stop.
        while !*shutdown.borrow() && !tx.is_closed() {
            let Some(update) = reader.poll(Duration::from_millis(200)) else {
                continue;
            };
            if tx.blocking_send(update).is_err() {
                break;
            }
        }
    }))
}

/// Reads the reference topics (`[kafka.topics] inventory` and `allowlist`) from the
/// beginning, outside the consumer group: what every worker does, one update at a time.
pub struct ReferenceReader {
    consumer: BaseConsumer,
    topics: [(String, Reference); 2],
    assigned: bool,
    last_try: Instant,
}

impl ReferenceReader {
    pub fn new(kafka: &KafkaConfig) -> rdkafka::error::KafkaResult<ReferenceReader> {
        Ok(ReferenceReader {
            consumer: plain_consumer(kafka)?,
            topics: [
                (kafka.topics.inventory.clone(), Reference::Inventory),
                (kafka.topics.allowlist.clone(), Reference::Allowlist),
            ],
            assigned: false,
            last_try: Instant::now() - Duration::from_secs(60),
        })
    }

    /// The next update, waiting at most `timeout`; `None` when there is none yet (or
    /// the record was skipped). Until the topics' partitions are assigned, each call
    /// tries to assign them, at most every 10 s (a topic may not exist yet).
    pub fn poll(&mut self, timeout: Duration) -> Option<ReferenceUpdate> {
        if !self.assigned && self.last_try.elapsed() >= Duration::from_secs(10) {
            self.last_try = Instant::now();
            self.assigned = assign_from_beginning(&self.consumer, &self.topics);
        }
        let msg = self.consumer.poll(timeout)?.ok()?;
        update_of(&msg, &self.topics)
    }
}

/// Assign every partition of the reference topics that exist, from the beginning;
/// false while none exists yet.
fn assign_from_beginning(consumer: &BaseConsumer, topics: &[(String, Reference)]) -> bool {
    let mut tpl = TopicPartitionList::new();
    for (topic, _) in topics {
        if let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            for t in md.topics() {
                if t.error().is_some() {
                    continue;
                }
                for p in t.partitions() {
                    let _ = tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning);
                }
            }
        }
    }
    if tpl.count() > 0 && consumer.assign(&tpl).is_ok() {
        tracing::info!(partitions = tpl.count(), "reading reference topics");
        return true;
    }
    false
}

/// The update a reference record carries; `None` for another topic or a record
/// without a UTF-8 key (skipped with a warning).
fn update_of(msg: &BorrowedMessage<'_>, topics: &[(String, Reference)]) -> Option<ReferenceUpdate> {
    let kind = topics
        .iter()
        .find(|(t, _)| t == msg.topic())
        .map(|(_, k)| *k)?;
    let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        tracing::warn!(
            topic = msg.topic(),
            offset = msg.offset(),
            "reference record without a UTF-8 key skipped"
        );
        return None;
    };
    let value = msg.payload().filter(|p| !p.is_empty()).map(<[u8]>::to_vec);
    Some(ReferenceUpdate {
        kind,
        key: key.to_string(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader ends once the service is gone (its receiver dropped), even with
    /// no shutdown signal and no reference topic: a failed service must not leave a
    /// blocking loop that keeps the runtime, and the process, alive.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reader_ends_when_the_service_is_gone() {
        let kafka = KafkaConfig {
            brokers: "127.0.0.1:9".into(),
            ..KafkaConfig::default()
        };
        let (tx, rx) = mpsc::channel(1);
        let (_stop, shutdown) = watch::channel(false);
        let reader = spawn_reference_reader(&kafka, tx, shutdown).unwrap();
        drop(rx);
        tokio::time::timeout(Duration::from_secs(20), reader)
            .await
            .expect("reader still running after its receiver was dropped")
            .unwrap();
    }
}
