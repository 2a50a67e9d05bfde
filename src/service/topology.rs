//! The internal topics of `[kafka] topology = "staged"`: created when missing (with
//! `[kafka] sms_partitions`, `measurement_partitions` and `transmitter_partitions`), checked when
//! present, and the consumer-group settings of stage detect and of a split
//! detector's stage B, and the warning that `single` with several instances
//! gives other cases than one instance. Kept apart because it is the only place the
//! service administers topics.

use super::caught_up::{off_loop, time_left, ANSWER_WITHIN};
use super::consumer::{base_config, WorkerContext};
use super::error::ServiceError;
use super::worker::Worker;
use crate::config::KafkaConfig;
use crate::model::Feed;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Stage detect's assignor unless `[kafka.librdkafka]` names one.
pub(crate) const DETECT_ASSIGNOR: &str = "cooperative-sticky";

/// The internal topics of `topology = "staged"`.
pub(super) struct InternalTopics {
    /// Per feed: the internal topic and its partition count.
    pub(super) by_feed: BTreeMap<Feed, (String, i32)>,
    /// Per feed whose detector is split (its internal topic has several
    /// partitions): the one-partition topic from its stage A to its stage B.
    pub(super) stage_b: BTreeMap<Feed, String>,
}

/// What the configuration says of one feed's internal topics: the topic stage
/// ingest writes (and its partition count, with the setting that gives it), and the
/// stage-B topic its split detector uses when that count is above 1.
pub(super) struct FeedTopics<'a> {
    pub(super) feed: Feed,
    pub(super) internal: &'a str,
    pub(super) partitions: i32,
    setting: &'static str,
    pub(super) stage_b: &'a str,
    /// The stage-B topic's partitions (`[kafka] transmitter_partitions` for the
    /// fake-BTS detector's, 1 for the spam detector's).
    pub(super) stage_b_partitions: i32,
    /// The feed topic upstream (re-read into a topic made again).
    pub(super) source: &'a str,
}

pub(super) fn feed_topics(kafka: &KafkaConfig) -> [FeedTopics<'_>; 2] {
    let t = &kafka.topics;
    [
        FeedTopics {
            feed: Feed::SmsVolume,
            internal: &t.internal_sms,
            partitions: kafka.sms_partitions,
            setting: "[kafka] sms_partitions",
            stage_b: &t.internal_cross_sim,
            stage_b_partitions: 1,
            source: &t.sms_volume,
        },
        FeedTopics {
            feed: Feed::Measurements,
            internal: &t.internal_measurements,
            partitions: kafka.measurement_partitions,
            setting: "[kafka] measurement_partitions",
            stage_b: &t.internal_transmitters,
            stage_b_partitions: kafka.transmitter_partitions,
            source: &t.measurements,
        },
    ]
}

/// The internal topics, creating those that do not exist yet (broker's default
/// replication) with their configured partition counts, and checking the counts of
/// those that do.
pub(super) async fn ensure_internal_topics(
    kafka: &KafkaConfig,
    restore_window_secs: u64,
) -> Result<InternalTopics, ServiceError> {
    let mut wanted: Vec<(String, i32)> = Vec::new();
    let mut by_feed = BTreeMap::new();
    let mut stage_b = BTreeMap::new();
    for f in feed_topics(kafka) {
        wanted.push((f.internal.to_string(), f.partitions));
        by_feed.insert(f.feed, (f.internal.to_string(), f.partitions));
        if f.partitions > 1 {
            wanted.push((f.stage_b.to_string(), f.stage_b_partitions));
            stage_b.insert(f.feed, f.stage_b.to_string());
        }
    }
    let admin: AdminClient<DefaultClientContext> = base_config(kafka).create()?;
    // Asked first with a consumer-type client (it never has topics auto-created):
    // only the missing topics are created (a cluster may not take admin requests).
    let probe: BaseConsumer = base_config(kafka).create()?;
    let partitions = |topic: &str| -> Result<i32, ServiceError> {
        let md = probe.fetch_metadata(Some(topic), ADMIN_TIMEOUT)?;
        Ok(md.topics().first().map_or(0, |t| t.partitions().len()) as i32)
    };
    // Why a topic with another count is refused, and the procedure: which of the
    // feed's stage-B topic and group exist decides its steps.
    let refuse = |topic: &str, n: i32, want: i32| -> Result<ServiceError, ServiceError> {
        let f = feed_topics(kafka);
        let f = f.iter().find(|f| f.internal == topic || f.stage_b == topic);
        let stage_b = match f {
            Some(f) => {
                let group = format!("{}-{}", kafka.group_id, stage_b_suffix(f.feed));
                let group_exists = probe
                    .fetch_group_list(Some(&group), ADMIN_TIMEOUT)
                    .is_ok_and(|l| l.groups().iter().any(|g| !matches!(g.state(), "Dead" | "")));
                (
                    f.stage_b == topic || partitions(f.stage_b)? > 0,
                    group_exists,
                )
            }
            None => (false, false),
        };
        Ok(ServiceError::Setup(wrong_count(
            kafka,
            restore_window_secs,
            topic,
            (n, want),
            stage_b,
        )))
    };
    // Counts checked before anything is created: a refused start leaves the topics
    // as they were (it made the stage-B topic before, for a procedure that then
    // named a group that did not exist).
    let mut missing = Vec::new();
    for (topic, want) in &wanted {
        match partitions(topic)? {
            0 => missing.push((topic.clone(), *want)),
            n if n != *want => return Err(refuse(topic, n, *want)?),
            _ => {}
        }
    }
    let not_created = create(&admin, &missing).await;
    for (topic, want) in &wanted {
        let mut n = partitions(topic)?;
        // A topic just created may not be in the brokers' metadata yet (seen under
        // load): wait for it rather than call it a topic without partitions.
        let since = Instant::now();
        while n == 0 && missing.iter().any(|(t, _)| t == topic) && since.elapsed() < ADMIN_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(200)).await;
            n = partitions(topic)?;
        }
        if let (0, Some(why)) = (n, not_created.get(topic)) {
            return Err(ServiceError::Setup(format!(
                "cannot create the internal topic {topic}: {why}; create it with {want} partition(s) (scripts/services.sh up does)"
            )));
        }
        if n != *want {
            return Err(refuse(topic, n, *want)?);
        }
    }
    Ok(InternalTopics { by_feed, stage_b })
}

/// Why an internal topic with `n` partitions where the configuration says `want` is
/// refused, and how to fix it. Adding partitions would move keys (claimed cells,
/// SIMs) to other partitions while their history stays in the old ones, so a stage-A
/// task would rebuild an identity from part of its reports and the cases would
/// silently differ from the replay's: the topic is made again instead, and stage
/// ingest re-reads the restore window of its feed into it (archive rows, dead
/// letters and cases are idempotent, so nothing is doubled).
fn wrong_count(
    kafka: &KafkaConfig,
    restore_secs: u64,
    topic: &str,
    (n, want): (i32, i32),
    (stage_b_exists, stage_b_group_exists): (bool, bool),
) -> String {
    let topics = feed_topics(kafka);
    let f = topics
        .iter()
        .find(|f| f.internal == topic || f.stage_b == topic)
        .unwrap_or(&topics[0]);
    let setting = match (f.internal == topic, f.feed) {
        (true, _) => f.setting,
        (false, Feed::Measurements) => "[kafka] transmitter_partitions",
        (false, Feed::SmsVolume) => "1 for a stage-B topic",
    };
    let feed = f.source;
    let internal: Vec<&str> = if stage_b_exists {
        vec![f.internal, f.stage_b]
    } else {
        vec![f.internal]
    };
    let group = &kafka.group_id;
    let brokers = &kafka.brokers;
    let tool =
        |args: String| format!("`kafka-consumer-groups.sh --bootstrap-server {brokers} {args}`");
    let mut groups = vec![group.clone(), format!("{group}-detect")];
    if stage_b_group_exists {
        groups.push(format!("{group}-{}", stage_b_suffix(f.feed)));
    }
    let describe: Vec<String> = groups.iter().map(|g| format!("--group {g}")).collect();
    // Offsets first: the brokers drop a deleted topic's offsets from the groups, and
    // then the command would find no such topic. The brokers refuse to delete or
    // reset the offsets of a group with members, and a stopped instance's static
    // member stays in its groups until the session timeout.
    let mut steps = vec![
        "stop every instance".to_string(),
        format!(
            "wait until {} says each group has no active members (a stopped instance stays a member until the session timeout, 30 s)",
            tool(format!("--describe --members {}", describe.join(" ")))
        ),
        tool(format!("--delete-offsets --group {group}-detect --topic {}", f.internal)),
    ];
    if stage_b_group_exists {
        steps.push(tool(format!(
            "--delete --group {group}-{}",
            stage_b_suffix(f.feed)
        )));
    }
    for i in &internal {
        steps.push(format!(
            "`kafka-topics.sh --bootstrap-server {brokers} --delete --topic {i}`"
        ));
    }
    steps.push(format!(
        "reset stage ingest's offsets of the feed topic to the restore window (stage ingest re-reads it into the new topic): {}",
        tool(format!("--reset-offsets --group {group} --topic {feed} --by-duration PT{restore_secs}S --execute"))
    ));
    steps.push(
        "start the instances: the service creates the topics with the configured count".into(),
    );
    let numbered: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(k, s)| format!("{}. {s}", k + 1))
        .collect();
    format!(
        "internal topic {topic} has {n} partitions; the configuration says {want} ({setting}). Partitions are not added in place: keys would move away from their history and the cases would differ. To change the count: stop every instance, then run `cellwatch repartition` with this configuration (it waits for the stopped instances to leave the groups and does the steps below, checking each). By hand, with the broker's tools: {}. kafka-consumer-groups.sh exits 0 even when it prints `Error:`, so read its output; add `--command-config <file>` when the brokers need authentication; `scripts/services.sh kafka-tool` runs both tools from this project's Kafka install.",
        numbered.join("; ")
    )
}

/// Create `missing` (topic, partitions); what could not be created, with why.
pub(super) async fn create(
    admin: &AdminClient<DefaultClientContext>,
    missing: &[(String, i32)],
) -> BTreeMap<String, String> {
    let mut not_created: BTreeMap<String, String> = BTreeMap::new();
    if missing.is_empty() {
        return not_created;
    }
    let new: Vec<NewTopic> = missing
        .iter()
        .map(|(t, n)| NewTopic::new(t, *n, TopicReplication::Fixed(-1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    // A topic that cannot be created may exist all the same (created by an operator,
    // or a cluster that does not take admin requests): the metadata decides.
    match admin.create_topics(&new, &opts).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(topic) => tracing::info!(%topic, "internal topic created"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((topic, code)) => {
                        not_created.insert(topic, code.to_string());
                    }
                }
            }
        }
        Err(e) => {
            for (topic, _) in missing {
                not_created.insert(topic.clone(), e.to_string());
            }
        }
    }
    not_created
}

/// The Kafka settings of stage detect: its own consumer group (and static
/// membership name), so a rebalance of one stage does not disturb the other, and the
/// cooperative sticky assignor: with two or more members the SMS and the
/// measurement internal partitions (one each) go to different instances (the spam
/// and the fake-BTS detectors are independent and then run on two machines; the
/// range assignor, librdkafka's first default, would give both to one member), and a
/// rebalance moves only what it must, so a task that stays keeps its state instead
/// of being rebuilt (see `run/changes.rs`). A `partition.assignment.strategy` in
/// `[kafka.librdkafka]` wins.
pub(super) fn detect_kafka(kafka: &KafkaConfig) -> KafkaConfig {
    let mut k = kafka.clone();
    k.librdkafka
        .entry("partition.assignment.strategy".into())
        .or_insert_with(|| DETECT_ASSIGNOR.into());
    k.group_id = format!("{}-detect", kafka.group_id);
    if !kafka.group_instance_id.is_empty() {
        k.group_instance_id = format!("{}-detect", kafka.group_instance_id);
    }
    k
}

/// What the consumer group (and static membership name) of a split detector's
/// stage B ends with.
pub(super) fn stage_b_suffix(feed: Feed) -> &'static str {
    match feed {
        Feed::Measurements => "transmitters",
        Feed::SmsVolume => "cross-sim",
    }
}

/// The Kafka settings of a split detector's stage B (the fake-BTS detector's with
/// `measurement_partitions` above 1): a consumer group of its own,
/// `<group_id>-transmitters` (with one partition one member owns it and the others
/// stand by; with `transmitter_partitions` above 1 the group's assignor spreads the
/// partitions, and a rebalance rebuilds every partition a member then owns), with its
/// own static membership name.
pub(super) fn stage_b_kafka(kafka: &KafkaConfig, feed: Feed) -> KafkaConfig {
    let suffix = stage_b_suffix(feed);
    let mut k = kafka.clone();
    k.group_id = format!("{}-{suffix}", kafka.group_id);
    if !kafka.group_instance_id.is_empty() {
        k.group_instance_id = format!("{}-{suffix}", kafka.group_instance_id);
    }
    k
}

/// `topology = "single"`: when this instance was assigned only some of the feed
/// topics' partitions (another instance joined the group), warn once that the cases
/// will differ from one instance's. The brokers are asked off the loop thread.
pub(super) fn warn_if_partial(
    consumer: &Arc<StreamConsumer<WorkerContext>>,
    worker: &Worker,
    assigned: &[(String, i32)],
    warned: &Arc<AtomicBool>,
) {
    if warned.load(Ordering::Relaxed) {
        return;
    }
    let topics: Vec<String> = worker.feeds.keys().cloned().collect();
    let mine: BTreeSet<(String, i32)> = assigned
        .iter()
        .filter(|(t, _)| worker.feeds.contains_key(t))
        .cloned()
        .collect();
    let (consumer, warned) = (consumer.clone(), warned.clone());
    tokio::spawn(async move {
        let all = off_loop(move || {
            let deadline = Instant::now() + ANSWER_WITHIN;
            let mut all = BTreeSet::new();
            for topic in topics {
                let md = consumer
                    .fetch_metadata(Some(&topic), time_left(deadline)?)
                    .map_err(|e| e.to_string())?;
                let n = md.topics().first().map_or(0, |t| t.partitions().len());
                all.extend((0..n as i32).map(|p| (topic.clone(), p)));
            }
            Ok(all)
        })
        .await;
        if let Ok(all) = all {
            if mine.len() < all.len()
                && mine.is_subset(&all)
                && !warned.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    assigned = mine.len(),
                    partitions = all.len(),
                    "topology = \"single\" and this instance owns only some of the feed partitions (another instance joined the group): its cases will differ from one instance's; set [kafka] topology = \"staged\" in every instance"
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands of the procedure, in order (every `…` naming a broker tool).
    fn commands(message: &str) -> Vec<&str> {
        message
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.starts_with("kafka-") && c.contains("--bootstrap-server"))
            .collect()
    }

    fn kafka() -> KafkaConfig {
        KafkaConfig {
            brokers: "broker-1:9092".into(),
            group_id: "cw".into(),
            measurement_partitions: 3,
            ..KafkaConfig::default()
        }
    }

    /// From 1 partition to 3 the stage-B topic and group do not exist: the procedure
    /// does not name them (the tools fail on a group that does not exist), waits for
    /// the groups to empty before touching their offsets, fills in the brokers and
    /// names `cellwatch repartition`.
    #[test]
    fn the_procedure_names_only_what_exists_and_waits_for_the_groups() {
        let k = kafka();
        let imeas = k.topics.internal_measurements.clone();
        let m = wrong_count(&k, 87_000, &imeas, (1, 3), (false, false));
        assert!(m.contains("cellwatch repartition"), "{m}");
        let c = commands(&m);
        assert_eq!(c.len(), 4, "{c:?}");
        assert!(
            c[0].contains("--describe --members --group cw --group cw-detect"),
            "{c:?}"
        );
        assert!(m.contains(&format!("wait until `{}`", c[0])), "{m}");
        assert!(c[1].contains(&format!(
            "--delete-offsets --group cw-detect --topic {imeas}"
        )));
        assert!(c[2].starts_with("kafka-topics.sh --bootstrap-server broker-1:9092 --delete"));
        assert!(c[3].ends_with("--by-duration PT87000S --execute"), "{c:?}");
        assert!(!m.contains("transmitters"), "{m}");
        assert!(!m.contains("<brokers>"), "{m}");

        // 3 to 1: the stage-B topic and group exist and go too.
        let m = wrong_count(&k, 87_000, &imeas, (3, 1), (true, true));
        let c = commands(&m);
        assert_eq!(c.len(), 6, "{c:?}");
        assert!(c[0].ends_with("--group cw-transmitters"), "{c:?}");
        assert!(c[2].ends_with("--delete --group cw-transmitters"), "{c:?}");
        assert!(c[4].ends_with(&format!(
            "--delete --topic {}",
            k.topics.internal_transmitters
        )));
    }
}
