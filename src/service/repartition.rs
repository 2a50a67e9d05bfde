//! `cellwatch repartition`: make an internal topic again with the partition count
//! the configuration says (`[kafka] sms_partitions`, `measurement_partitions`,
//! `transmitter_partitions`), the procedure `cellwatch run` prints when it refuses
//! a topic with another count, done through the brokers' admin and group APIs:
//!
//! 1. wait until every consumer group of the service (stage ingest, stage detect,
//!    the feed's stage B) has no member: a stopped instance's static member stays
//!    in its groups until the session timeout, and the brokers refuse to delete or
//!    reset the offsets of a group with members;
//! 2. delete the feed's stage-B group and its internal topics (the topic stage
//!    ingest writes and, when it exists, the stage-B topic), and wait until the
//!    brokers no longer list them;
//! 3. create them with the configured counts, and commit stage detect's offsets of
//!    the new topic at its start;
//! 4. set stage ingest's offsets of the feed topic to the start of the restore
//!    window (offsets for `now − restore_window_secs`), without a lateness
//!    checkpoint: its next owner re-reads the window into the new topic (archive
//!    rows, dead letters and cases are idempotent, so nothing is doubled).
//!
//! Refuses (changing nothing) while a group still has members after the wait.

use super::consumer::base_config;
use super::error::ServiceError;
use super::topology::{create, feed_topics, stage_b_suffix};
use crate::config::Config;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(15);

/// What `repartition` did, one line per step (printed by the command).
pub type RepartitionReport = Vec<String>;

/// Make every internal topic whose partition count differs from the
/// configuration's again (see the module's documentation); waits at most `wait`
/// for the service's consumer groups to lose their members.
pub async fn repartition(
    config: &Config,
    wait: Duration,
) -> Result<RepartitionReport, ServiceError> {
    let kafka = &config.kafka;
    let probe: BaseConsumer = base_config(kafka).create()?;
    let partitions = |topic: &str| -> Result<i32, ServiceError> {
        let md = probe.fetch_metadata(Some(topic), TIMEOUT)?;
        Ok(md.topics().first().map_or(0, |t| t.partitions().len()) as i32)
    };
    let mut report = Vec::new();
    // Per feed to make again: (internal topic, its count), (stage-B topic, count,
    // whether it exists), the stage-B group, the feed topic.
    let mut remake = Vec::new();
    for f in feed_topics(kafka) {
        let n = partitions(f.internal)?;
        let split = f.partitions > 1;
        let b = partitions(f.stage_b)?;
        let wrong = (n > 0 && n != f.partitions) || (split && b > 0 && b != f.stage_b_partitions);
        if !wrong {
            report.push(match n {
                0 => format!("{}: no topic yet (`cellwatch run` creates it)", f.internal),
                n => format!("{}: {n} partition(s) as configured", f.internal),
            });
            continue;
        }
        remake.push((f, n, b));
    }
    if remake.is_empty() {
        return Ok(report);
    }

    // 1. No member in any of the service's groups.
    let mut groups = vec![kafka.group_id.clone(), format!("{}-detect", kafka.group_id)];
    for (f, _, _) in &remake {
        groups.push(format!("{}-{}", kafka.group_id, stage_b_suffix(f.feed)));
    }
    let since = Instant::now();
    loop {
        let mut busy = Vec::new();
        for g in &groups {
            let list = probe.fetch_group_list(Some(g), TIMEOUT)?;
            for info in list.groups() {
                if !info.members().is_empty() {
                    let who: Vec<String> = info
                        .members()
                        .iter()
                        .map(|m| format!("{}@{}", m.client_id(), m.client_host()))
                        .collect();
                    busy.push(format!("{} ({}: {})", g, info.state(), who.join(", ")));
                }
            }
        }
        if busy.is_empty() {
            break;
        }
        if since.elapsed() >= wait {
            return Err(ServiceError::Setup(format!(
                "consumer groups still have members after {} s: {}; stop every cellwatch instance of this configuration first (a stopped instance's static member leaves its groups only after the session timeout, 30 s by default) and run this again, or give --wait-secs more",
                wait.as_secs(),
                busy.join("; ")
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report.push(format!(
        "no member in {} (waited {:.1} s)",
        groups.join(", "),
        since.elapsed().as_secs_f64()
    ));

    let admin: AdminClient<DefaultClientContext> = base_config(kafka).create()?;
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    for (f, n, b) in &remake {
        // 2. The stage-B group and the topics.
        let group_b = format!("{}-{}", kafka.group_id, stage_b_suffix(f.feed));
        for r in admin.delete_groups(&[group_b.as_str()], &opts).await? {
            match r {
                Ok(g) => report.push(format!("deleted the consumer group {g}")),
                Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((g, code)) => {
                    return Err(ServiceError::Setup(format!(
                        "cannot delete the consumer group {g}: {code}"
                    )))
                }
            }
        }
        let mut doomed = vec![f.internal];
        if *b > 0 {
            doomed.push(f.stage_b);
        }
        for r in admin.delete_topics(&doomed, &opts).await? {
            match r {
                Ok(t) => report.push(format!("deleted the topic {t}")),
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((t, code)) => {
                    return Err(ServiceError::Setup(format!(
                        "cannot delete the topic {t}: {code}"
                    )))
                }
            }
        }
        let since = Instant::now();
        while doomed
            .iter()
            .try_fold(0, |acc, t| Ok::<_, ServiceError>(acc + partitions(t)?))?
            > 0
        {
            if since.elapsed() > Duration::from_secs(60) {
                return Err(ServiceError::Setup(format!(
                    "the brokers still list {} a minute after its deletion",
                    doomed.join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // 3. The topics again, with the configured counts; stage detect's offsets
        // at their start.
        let mut wanted = vec![(f.internal.to_string(), f.partitions)];
        if f.partitions > 1 {
            wanted.push((f.stage_b.to_string(), f.stage_b_partitions));
        }
        // A topic just deleted can be refused for a moment ("marked for deletion").
        let since = Instant::now();
        loop {
            let failed = create(&admin, &wanted).await;
            if failed.is_empty() {
                break;
            }
            if since.elapsed() > Duration::from_secs(60) {
                return Err(ServiceError::Setup(format!("cannot create {failed:?}")));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (t, want) in &wanted {
            let since = Instant::now();
            while partitions(t)? != *want {
                if since.elapsed() > Duration::from_secs(60) {
                    return Err(ServiceError::Setup(format!(
                        "the brokers do not list {t} with {want} partitions a minute after its creation"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            report.push(format!("created the topic {t} with {want} partition(s)"));
        }
        let mut tpl = TopicPartitionList::new();
        for p in 0..f.partitions {
            tpl.add_partition_offset(f.internal, p, Offset::Offset(0))?;
        }
        commit(kafka, &format!("{}-detect", kafka.group_id), &tpl)?;
        report.push(format!(
            "committed {}-detect's offsets of {} at 0 (was {n} partition(s))",
            kafka.group_id, f.internal
        ));

        // 4. Stage ingest's offsets of the feed topic: the start of the restore window.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let window_start = now_ms - config.pipeline.restore_window_ms();
        let source_partitions = partitions(f.source)?;
        let mut times = TopicPartitionList::new();
        for p in 0..source_partitions {
            times.add_partition_offset(f.source, p, Offset::Offset(window_start))?;
        }
        let found = probe.offsets_for_times(times, TIMEOUT)?;
        let mut reset = TopicPartitionList::new();
        for e in found.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => o,
                // Nothing at or after the time: the partition's end.
                _ => probe.fetch_watermarks(f.source, e.partition(), TIMEOUT)?.1,
            };
            reset.add_partition_offset(f.source, e.partition(), Offset::Offset(offset))?;
        }
        commit(kafka, &kafka.group_id, &reset)?;
        let offsets: Vec<String> = reset
            .elements()
            .iter()
            .map(|e| format!("{}:{:?}", e.partition(), e.offset()))
            .collect();
        report.push(format!(
            "set {}'s offsets of {} to the restore window's start ({} s ago): {}",
            kafka.group_id,
            f.source,
            config.pipeline.restore_window_secs,
            offsets.join(" ")
        ));
    }
    report.push("start the instances".into());
    Ok(report)
}

/// Commit `offsets` for `group` from outside it (the group has no member).
fn commit(
    kafka: &crate::config::KafkaConfig,
    group: &str,
    offsets: &TopicPartitionList,
) -> Result<(), ServiceError> {
    let c: BaseConsumer = base_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    c.commit(offsets, CommitMode::Sync)?;
    Ok(())
}
