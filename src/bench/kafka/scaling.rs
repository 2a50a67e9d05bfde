//! Scaling: the staged topology with N instances of the service (in this process,
//! one consumer-group member each, as N `cellwatch run` processes would be) on a
//! backlog produced first. Two times per run, both read from the brokers rather
//! than from any instance, so that rebalances and re-read tails cannot fool them:
//! stage ingest done (its group committed every feed partition to its end) and
//! detection done (stage detect's group committed the internal topics to their
//! end after that, and with `measurement_partitions` or `sms_partitions` above 1
//! that detector's stage B its stage-B topic). Offsets are committed about once a second, so both times
//! include up to a second of commit delay. With one instance, a second phase
//! times stage detect alone on the full internal topics: the rate of the one
//! detect task when ingest runs on other machines.

use super::env::{start_service_with, CpuMeter, RunEnv, Running};
use super::produce::{produce_backlog, Produced};
use super::Services;
use crate::bench::machine::Load;
use crate::bench::scenario::Scenario;
use crate::config::{Config, Topology};
use crate::demo::feed::FeedLine;
use crate::service::caught_up::{committed_backlog, ANSWER_WITHIN};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::ClientConfig;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let produced = produce_backlog(&env.services.brokers, &env.topics(), lines)?;
    let load_before = Load::now();
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let running = start_instances(env, scenario, instances, &env.config);
    let deadline = started + Duration::from_secs(180 + records / 2_000);
    let times = wait_until_done(&env.config, deadline).await;
    let (own, ch, kafka) = cpu.used();
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
    let stage_bs = stage_b_groups(&env.config);
    let mut groups = vec![detect_group.as_str()];
    groups.extend(stage_bs.iter().map(|(g, _)| g.as_str()));
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &env.config.kafka.brokers)
        .create()
        .map_err(|e| format!("cannot reach kafka: {e}"))?;
    for r in admin
        .delete_groups(&groups, &AdminOptions::new())
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

/// Start `n` instances on `config` (one consumer-group member each; dynamic
/// membership, so that a stopped instance leaves its groups at once).
fn start_instances(env: &RunEnv, scenario: &Scenario, n: usize, config: &Config) -> Vec<Running> {
    let mut config = config.clone();
    config.kafka.group_instance_id.clear();
    (0..n)
        .map(|_| start_service_with(env, scenario, config.clone()))
        .collect()
}

async fn stop_instances(running: Vec<Running>) -> Result<(), String> {
    for r in running {
        r.stop().await?;
    }
    Ok(())
}

/// Poll the brokers (every 200 ms) until stage ingest's group has committed the
/// feed topics to their end, then stage detect's group the internal topics; the
/// two instants. A question the brokers do not answer in time counts as not done.
async fn wait_until_done(config: &Config, deadline: Instant) -> Result<(Instant, Instant), String> {
    let t = &config.kafka.topics;
    let ingest = (
        progress_reader(config, &config.kafka.group_id)?,
        vec![t.sms_volume.clone(), t.measurements.clone()],
    );
    let detect = (
        progress_reader(config, &format!("{}-detect", config.kafka.group_id))?,
        vec![t.internal_sms.clone(), t.internal_measurements.clone()],
    );
    // With a detector split (`measurement_partitions` or `sms_partitions` above 1),
    // detection is done once its stage B has committed its stage-B topic too.
    let mut bs = Vec::new();
    for (group, topic) in stage_b_groups(config) {
        bs.push((progress_reader(config, &group)?, vec![topic]));
    }
    let mut ingest_done = None;
    let mut detect_done = false;
    let mut bs_done = 0;
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
        let (reader, topics) = match (&ingest_done, detect_done, bs.get(bs_done)) {
            (None, _, _) => &ingest,
            (Some(_), false, _) => &detect,
            (Some(_), true, Some(b)) => b,
            (Some(_), true, None) => &detect,
        };
        let (reader, topics) = (reader.clone(), topics.clone());
        let at_end = tokio::task::spawn_blocking(move || {
            committed_backlog(&*reader, &topics, Instant::now() + ANSWER_WITHIN)
                .is_ok_and(|b| b.is_empty())
        })
        .await
        .map_err(|e| e.to_string())?;
        match (at_end, ingest_done) {
            (true, None) => ingest_done = Some(Instant::now()),
            (true, Some(ingest)) if (detect_done || bs.is_empty()) && bs_done + 1 >= bs.len() => {
                return Ok((ingest, Instant::now()))
            }
            (true, Some(_)) if !detect_done => detect_done = true,
            (true, Some(_)) => bs_done += 1,
            (false, _) => {}
        }
    }
}

/// The consumer group and topic of each split detector's stage B.
fn stage_b_groups(config: &Config) -> Vec<(String, String)> {
    let (k, t) = (&config.kafka, &config.kafka.topics);
    let mut out = Vec::new();
    if k.sms_partitions > 1 {
        out.push((
            format!("{}-cross-sim", k.group_id),
            t.internal_cross_sim.clone(),
        ));
    }
    if k.measurement_partitions > 1 {
        out.push((
            format!("{}-transmitters", k.group_id),
            t.internal_transmitters.clone(),
        ));
    }
    out
}

/// A client that reads `group`'s committed offsets without joining it.
fn progress_reader(config: &Config, group: &str) -> Result<Arc<BaseConsumer>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.kafka.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map(Arc::new)
        .map_err(|e| format!("cannot create the progress reader: {e}"))
}
