//! Scaling: the staged topology with N instances of the service (in this process,
//! one consumer-group member each, as N `cellwatch run` processes would be) on a
//! backlog produced first. Two times per run, both read from the brokers rather
//! than from any instance, so that rebalances and re-read tails cannot fool them:
//! stage ingest done (its group committed every feed partition to its end) and
//! detection done (stage detect's group committed the internal topics to their
//! end after that). Offsets are committed about once a second, so both times
//! include up to a second of commit delay. With one instance, a second phase
//! times stage detect alone on the full internal topics: the rate of the one
//! detect task when ingest runs on other machines.

use super::env::{bench_now_ms, RunEnv};
use super::produce::{produce, Pacing, Produced};
use super::Services;
use crate::bench::machine::{cpu_seconds_of, Load};
use crate::bench::scenario::Scenario;
use crate::config::{Config, Topology};
use crate::demo::feed::FeedLine;
use crate::service::metrics::Metrics;
use crate::service::outputs::BatchStore;
use crate::service::{self, ServiceOptions};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::Serialize;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// How long one broker query may take.
const QUERY: Duration = Duration::from_secs(10);

/// One staged run with `instances` service instances.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScalingRun {
    pub(crate) scale: String,
    pub(crate) instances: usize,
    pub(crate) records: u64,
    pub(crate) produced: Produced,
    /// From the instances' start until stage ingest committed every feed partition.
    pub(crate) ingest_seconds: f64,
    /// From the instances' start until stage detect committed its internal topics.
    pub(crate) detect_seconds: f64,
    /// Records / `detect_seconds`: the whole path, detection included.
    pub(crate) records_per_sec: f64,
    /// One instance only: stage detect alone on the full internal topics (what
    /// one detect task does when ingest runs elsewhere): seconds, and this
    /// process's CPU seconds meanwhile.
    pub(crate) detect_alone_seconds: Option<f64>,
    pub(crate) detect_alone_cpu_seconds: Option<f64>,
    pub(crate) cpu_seconds: f64,
    pub(crate) clickhouse_cpu_seconds: f64,
    pub(crate) kafka_cpu_seconds: f64,
    pub(crate) case_rows: u64,
    pub(crate) load_before: Load,
    pub(crate) load_after: Load,
}

/// Produce the scenario into fresh topics, start `instances` staged instances and
/// time stage ingest and detection until done.
pub(crate) async fn scaling(
    services: &Services,
    base: &Config,
    scenario: &Scenario,
    lines: &[FeedLine],
    instances: usize,
) -> Result<ScalingRun, String> {
    let env = RunEnv::create_with(services, base, Topology::Staged).await?;
    let result = scaling_in(&env, scenario, lines, instances.max(1)).await;
    env.remove().await;
    result
}

async fn scaling_in(
    env: &RunEnv,
    scenario: &Scenario,
    lines: &[FeedLine],
    instances: usize,
) -> Result<ScalingRun, String> {
    let records = lines.len() as u64;
    let counter = AtomicU64::new(0);
    let pacing = Pacing {
        rate: None,
        linger_ms: 20,
        t0: Instant::now(),
        sent: None,
        counter: &counter,
    };
    let produced = tokio::task::block_in_place(|| {
        produce(&env.services.brokers, &env.topics(), lines, &pacing)
    })?;
    let load_before = Load::now();
    let cpu = (
        crate::bench::replay::cpu_seconds(),
        cpu_seconds_of("clickhouse-server"),
        cpu_seconds_of("kafka.Kafka"),
    );
    let started = Instant::now();
    let running = start_instances(env, scenario, instances, &env.config);
    let deadline = started + Duration::from_secs(180 + records / 2_000);
    let times = wait_until_done(&env.config, deadline).await;
    let (own, ch, kafka) = (
        crate::bench::replay::cpu_seconds() - cpu.0,
        cpu_seconds_of("clickhouse-server") - cpu.1,
        cpu_seconds_of("kafka.Kafka") - cpu.2,
    );
    let load_after = Load::now();
    stop_instances(running).await?;
    let (ingest, detect) = times?;
    let case_rows = env
        .ch
        .db_client()
        .query("SELECT count() FROM cases FINAL")
        .fetch_one::<u64>()
        .await
        .unwrap_or(0);
    let (detect_alone_seconds, detect_alone_cpu_seconds) = if instances == 1 {
        let (secs, cpu) = detect_alone(env, scenario, records).await?;
        (Some(secs), Some(cpu))
    } else {
        (None, None)
    };
    Ok(ScalingRun {
        scale: scenario.scale.to_string(),
        instances,
        records,
        produced,
        ingest_seconds: ingest.duration_since(started).as_secs_f64(),
        detect_seconds: detect.duration_since(started).as_secs_f64(),
        records_per_sec: records as f64 / detect.duration_since(started).as_secs_f64(),
        detect_alone_seconds,
        detect_alone_cpu_seconds,
        cpu_seconds: own,
        clickhouse_cpu_seconds: ch,
        kafka_cpu_seconds: kafka,
        case_rows,
        load_before,
        load_after,
    })
}

/// Stage detect alone, on internal topics already full: its group's offsets
/// deleted, one instance started again (stage ingest has nothing left to do; no
/// restore window, so nothing is re-read); seconds until it committed them to
/// their end, and this process's CPU seconds meanwhile.
async fn detect_alone(
    env: &RunEnv,
    scenario: &Scenario,
    records: u64,
) -> Result<(f64, f64), String> {
    let detect_group = format!("{}-detect", env.config.kafka.group_id);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &env.config.kafka.brokers)
        .create()
        .map_err(|e| format!("cannot reach kafka: {e}"))?;
    for r in admin
        .delete_groups(&[detect_group.as_str()], &AdminOptions::new())
        .await
        .map_err(|e| format!("cannot delete group {detect_group}: {e}"))?
    {
        r.map_err(|(g, e)| format!("cannot delete group {g}: {e}"))?;
    }
    let mut config = env.config.clone();
    config.pipeline.restore_window_secs = 0;
    let started = Instant::now();
    let cpu = crate::bench::replay::cpu_seconds();
    let running = start_instances(env, scenario, 1, &config);
    let deadline = started + Duration::from_secs(180 + records / 2_000);
    let times = wait_until_done(&config, deadline).await;
    let cpu = crate::bench::replay::cpu_seconds() - cpu;
    stop_instances(running).await?;
    let (_, detect) = times?;
    Ok((detect.duration_since(started).as_secs_f64(), cpu))
}

/// Instances of the service running in this process, and what stops them.
type Instances = (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<Result<service::ServiceReport, service::ServiceError>>>,
);

/// Start `n` instances on `config` (one consumer-group member each; dynamic
/// membership, so that a stopped instance leaves its groups at once).
fn start_instances(env: &RunEnv, scenario: &Scenario, n: usize, config: &Config) -> Instances {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handles = (0..n)
        .map(|_| {
            let mut config = config.clone();
            config.kafka.group_instance_id.clear();
            tokio::spawn(service::run(ServiceOptions {
                config,
                cells: Some(scenario.cells()),
                store: BatchStore::ClickHouse(Box::new(env.ch.clone())),
                metrics: Metrics::new(),
                shutdown: rx.clone(),
                now_ms: Some(bench_now_ms()),
            }))
        })
        .collect();
    (stop, handles)
}

async fn stop_instances((stop, handles): Instances) -> Result<(), String> {
    let _ = stop.send(true);
    for h in handles {
        match h.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("an instance failed: {e}")),
            Err(e) => return Err(format!("an instance's task failed: {e}")),
        }
    }
    Ok(())
}

/// Poll the brokers (every 200 ms) until stage ingest's group has committed the
/// feed topics to their end, then stage detect's group the internal topics; the
/// two instants.
async fn wait_until_done(config: &Config, deadline: Instant) -> Result<(Instant, Instant), String> {
    let t = &config.kafka.topics;
    let feeds = [t.sms_volume.clone(), t.measurements.clone()];
    let internal = [t.internal_sms.clone(), t.internal_measurements.clone()];
    let detect_group = format!("{}-detect", config.kafka.group_id);
    let mut ingest_done = None;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if Instant::now() > deadline {
            return Err(format!(
                "not done in time (stage ingest {})",
                if ingest_done.is_some() {
                    "done"
                } else {
                    "not done"
                }
            ));
        }
        let (group, topics) = match ingest_done {
            None => (config.kafka.group_id.clone(), feeds.clone()),
            Some(_) => (detect_group.clone(), internal.clone()),
        };
        let brokers = config.kafka.brokers.clone();
        let at_end =
            tokio::task::spawn_blocking(move || committed_to_end(&brokers, &group, &topics))
                .await
                .map_err(|e| e.to_string())??;
        match (at_end, ingest_done) {
            (true, None) => ingest_done = Some(Instant::now()),
            (true, Some(ingest)) => return Ok((ingest, Instant::now())),
            (false, _) => {}
        }
    }
}

/// Whether `group` has committed every partition of `topics` at its high
/// watermark (topics not created yet count as not done).
fn committed_to_end(brokers: &str, group: &str, topics: &[String]) -> Result<bool, String> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create the progress reader: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for topic in topics {
        let Ok(meta) = reader.fetch_metadata(Some(topic), QUERY) else {
            return Ok(false);
        };
        let Some(m) = meta.topics().first().filter(|m| !m.partitions().is_empty()) else {
            return Ok(false);
        };
        for p in m.partitions() {
            let Ok((_, high)) = reader.fetch_watermarks(topic, p.id(), QUERY) else {
                return Ok(false);
            };
            tpl.add_partition(topic, p.id());
            ends.push((topic.clone(), p.id(), high));
        }
    }
    let Ok(committed) = reader.committed_offsets(tpl, QUERY) else {
        return Ok(false);
    };
    Ok(ends.iter().all(|(topic, partition, high)| {
        *high == 0
            || committed
                .find_partition(topic, *partition)
                .is_some_and(|e| matches!(e.offset(), Offset::Offset(o) if o >= *high))
    }))
}
