//! The internal topics of `[kafka] topology = "staged"`: created when missing (with
//! `[kafka] internal_partitions`), checked when present, and the consumer-group
//! settings of stage detect. Kept apart because it is the only place the service
//! administers topics.

use super::consumer::base_config;
use super::error::ServiceError;
use crate::config::KafkaConfig;
use crate::model::Feed;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::BTreeMap;
use std::time::Duration;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// The internal topic of each feed and its partition count, creating the topics
/// that do not exist yet (broker's default replication).
pub(super) async fn ensure_internal_topics(
    kafka: &KafkaConfig,
) -> Result<BTreeMap<Feed, (String, i32)>, ServiceError> {
    let admin: AdminClient<DefaultClientContext> = base_config(kafka).create()?;
    let wanted = [
        (Feed::SmsVolume, kafka.topics.internal_sms.clone()),
        (
            Feed::Measurements,
            kafka.topics.internal_measurements.clone(),
        ),
    ];
    let new: Vec<NewTopic> = wanted
        .iter()
        .map(|(_, t)| NewTopic::new(t, kafka.internal_partitions, TopicReplication::Fixed(-1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions = kafka.internal_partitions, "internal topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(ServiceError::Setup(format!(
                    "cannot create the internal topic {topic}: {code}; create it with {} partition(s) (scripts/services.sh up does)",
                    kafka.internal_partitions
                )))
            }
        }
    }
    let mut out = BTreeMap::new();
    for (feed, topic) in wanted {
        let md = admin.inner().fetch_metadata(Some(&topic), ADMIN_TIMEOUT)?;
        let n = md.topics().first().map_or(0, |t| t.partitions().len()) as i32;
        if n != 1 {
            return Err(ServiceError::Setup(format!(
                "internal topic {topic} has {n} partitions; the detect stage needs exactly 1 (delete the topic and let the service create it)"
            )));
        }
        out.insert(feed, (topic, n));
    }
    Ok(out)
}

/// The Kafka settings of stage detect: its own consumer group (and static
/// membership name), so a rebalance of one stage does not disturb the other.
pub(super) fn detect_kafka(kafka: &KafkaConfig) -> KafkaConfig {
    let mut k = kafka.clone();
    k.group_id = format!("{}-detect", kafka.group_id);
    if !kafka.group_instance_id.is_empty() {
        k.group_instance_id = format!("{}-detect", kafka.group_instance_id);
    }
    k
}
