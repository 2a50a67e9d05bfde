//! The compacted topic `cw.allowlist.v1`: key = SIM pseudonym, value = the entry as
//! JSON, tombstone (null value) = removal. `allowlist add|remove --brokers` publish
//! here; the service's workers read it from the beginning and hand each record to the
//! detectors (`Allowlist::apply_update`).
//!
//! The clients use `[kafka]`'s brokers and `[kafka.librdkafka]` settings (SASL, TLS)
//! and check the connection first: a refused login, a failed TLS handshake or brokers
//! that do not answer within the timeout end the command with what to check
//! (`kafka_failure`), instead of librdkafka's endless retries.

use super::AllowlistAdminError;
use crate::config::KafkaConfig;
use crate::detect::spam::{AllowEntry, Allowlist};
use crate::kafka_failure::{check_brokers, connect, FailureWatch, WatchedContext};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// The contract's allowlist topic.
pub const TOPIC: &str = "cw.allowlist.v1";
/// Partitions when this tool has to create the topic (as the other contract topics).
const PARTITIONS: i32 = 4;

fn kafka_err(brokers: &str, what: &str, e: impl std::fmt::Display) -> AllowlistAdminError {
    AllowlistAdminError::Kafka {
        brokers: brokers.to_string(),
        message: format!("{what}: {e}"),
    }
}

fn client_config(kafka: &KafkaConfig, timeout: Duration) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &kafka.brokers);
    for (k, v) in &kafka.librdkafka {
        c.set(k, v);
    }
    c.set(
        "socket.timeout.ms",
        timeout.as_millis().max(1000).to_string(),
    )
    .set(
        "message.timeout.ms",
        timeout.as_millis().max(1000).to_string(),
    );
    c
}

/// Create the topic (compacted) if it does not exist yet.
pub(crate) async fn ensure_topic(
    kafka: &KafkaConfig,
    watch: &std::sync::Arc<FailureWatch>,
    topic: &str,
    timeout: Duration,
) -> Result<(), AllowlistAdminError> {
    let brokers = kafka.brokers.as_str();
    let admin: AdminClient<WatchedContext> = client_config(kafka, timeout)
        .create_with_context(WatchedContext {
            watch: watch.clone(),
        })
        .map_err(|e| kafka_err(brokers, "cannot create an admin client", e))?;
    let new = NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact");
    let opts = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin
        .create_topics([&new], &opts)
        .await
        .map_err(|e| kafka_err(brokers, "cannot create the allowlist topic", e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(kafka_err(
                    brokers,
                    &format!("cannot create topic {t}"),
                    code,
                ))
            }
        }
    }
    Ok(())
}

/// Publish changes (`Some(entry)` = add/replace, `None` = removal of the key's SIM) and
/// wait until the broker acknowledged every one.
pub async fn publish(
    kafka: &KafkaConfig,
    topic: &str,
    changes: &[(String, Option<AllowEntry>)],
    timeout: Duration,
) -> Result<(), AllowlistAdminError> {
    let brokers = kafka.brokers.as_str();
    let watch = FailureWatch::new(brokers);
    check_brokers(client_config(kafka, timeout), watch.clone(), timeout).await?;
    ensure_topic(kafka, &watch, topic, timeout).await?;
    let producer: FutureProducer<WatchedContext> = client_config(kafka, timeout)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create_with_context(WatchedContext {
            watch: watch.clone(),
        })
        .map_err(|e| kafka_err(brokers, "cannot create a producer", e))?;
    for (sim, entry) in changes {
        let payload = match entry {
            Some(e) => Some(
                serde_json::to_vec(e)
                    .map_err(|e| kafka_err(brokers, "cannot encode the entry", e))?,
            ),
            None => None,
        };
        let mut record: FutureRecord<'_, str, Vec<u8>> = FutureRecord::to(topic).key(sim.as_str());
        if let Some(p) = &payload {
            record = record.payload(p);
        }
        let sent = producer.send(record, timeout).await;
        if let Some(failure) = watch.fatal() {
            return Err(failure.into());
        }
        sent.map_err(|(e, _)| kafka_err(brokers, "the broker did not acknowledge the change", e))?;
    }
    tracing::info!(
        topic,
        changes = changes.len(),
        "allowlist changes published"
    );
    Ok(())
}

/// Read the whole topic (from the beginning to the current end) into an allowlist.
/// A topic that does not exist yet is an empty allowlist.
pub fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Allowlist, AllowlistAdminError> {
    let brokers = kafka.brokers.as_str();
    let watch = FailureWatch::new(brokers);
    let consumer: BaseConsumer<WatchedContext> = client_config(kafka, timeout)
        .set("group.id", "cellwatch-allowlist-admin")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create_with_context(WatchedContext {
            watch: watch.clone(),
        })
        .map_err(|e| kafka_err(brokers, "cannot create a consumer", e))?;
    connect(&consumer, &watch, timeout)?;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| kafka_err(brokers, "no metadata", e))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends: Vec<(i32, i64)> = Vec::new();
    for t in md.topics() {
        if t.error().is_some() {
            // unknown topic: nothing published yet
            continue;
        }
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), timeout)
                .map_err(|e| kafka_err(brokers, "cannot read the topic's offsets", e))?;
            if high > low {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(|e| kafka_err(brokers, "cannot assign partitions", e))?;
                ends.push((p.id(), high));
            }
        }
    }
    let mut allowlist = Allowlist::empty();
    if ends.is_empty() {
        return Ok(allowlist);
    }
    consumer
        .assign(&tpl)
        .map_err(|e| kafka_err(brokers, "cannot assign partitions", e))?;
    let deadline = Instant::now() + timeout;
    let mut done: Vec<bool> = vec![false; ends.len()];
    while done.iter().any(|d| !d) {
        if Instant::now() > deadline {
            return Err(kafka_err(
                brokers,
                "reading the allowlist topic",
                "timed out before its end",
            ));
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(_)) => continue,
            Err(e) => return Err(kafka_err(brokers, "reading the allowlist topic", e)),
        };
        let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            continue;
        };
        if let Err(e) = allowlist.apply_update(key, msg.payload()) {
            tracing::warn!(error = %e, offset = msg.offset(), "allowlist topic record skipped");
        }
        if let Some(i) = ends.iter().position(|(p, _)| *p == msg.partition()) {
            if msg.offset() + 1 >= ends[i].1 {
                done[i] = true;
            }
        }
    }
    Ok(allowlist)
}
