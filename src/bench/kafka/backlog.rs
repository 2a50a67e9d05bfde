//! Backlog throughput: the whole scenario produced into fresh topics first, then
//! the service started; throughput = records / time from its first consumed record
//! until every record is acknowledged (stored in ClickHouse, offsets stored).

use super::env::{start_service, CpuMeter, RunEnv};
use super::produce::{produce_backlog, Produced};
use super::stages::{breakdown, StageTime};
use super::{Percentiles, Services};
use crate::bench::machine::Load;
use crate::bench::scenario::Scenario;
use crate::config::Config;
use crate::demo::feed::FeedLine;
use crate::service::metrics::Metrics;
use crate::service::stage_time::Step;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Backlog throughput of Kafka → detectors → ClickHouse.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BacklogRun {
    pub(crate) scale: String,
    pub(crate) records: u64,
    pub(crate) produced: Produced,
    /// From the service's start to its first consumed record (group join).
    pub(crate) startup_seconds: f64,
    /// From the first consumed record until every record was acknowledged.
    pub(crate) seconds: f64,
    pub(crate) records_per_sec: f64,
    /// Acknowledged records per second, sampled every second after the first record.
    pub(crate) per_second: Percentiles,
    pub(crate) archived_rows: u64,
    pub(crate) case_rows: u64,
    pub(crate) flushes: u64,
    pub(crate) cpu_seconds: f64,
    /// CPU seconds of the ClickHouse server and the Kafka broker during the drain.
    pub(crate) clickhouse_cpu_seconds: f64,
    pub(crate) kafka_cpu_seconds: f64,
    pub(crate) load_before: Load,
    pub(crate) load_after: Load,
    pub(crate) archive_records: bool,
    /// Where the drain's time went, stage by stage (the service's stage clock).
    pub(crate) stages: Vec<StageTime>,
}

/// Produce the whole scenario into fresh topics, then measure how fast the service
/// drains it into ClickHouse.
pub(crate) async fn backlog(
    services: &Services,
    base: &Config,
    scenario: &Scenario,
    lines: &[FeedLine],
) -> Result<BacklogRun, String> {
    let env = RunEnv::create(services, base).await?;
    let result = backlog_in(&env, scenario, lines).await;
    env.remove().await;
    result
}

/// How the service drained the backlog.
struct Drain {
    /// When it consumed its first record.
    first: Option<Instant>,
    /// Acknowledged records per second, every second after the first record.
    samples: Vec<f64>,
    /// Acknowledged records when the drain ended.
    acknowledged: u64,
    /// The stage clock at the first record, when the last record had been
    /// consumed, and at the end.
    stages_at_first: Vec<(Step, f64)>,
    stages_at_last: Option<Vec<(Step, f64)>>,
    stages_at_end: Vec<(Step, f64)>,
}

/// Watch the service's counters (every 50 ms) until `total` records are
/// acknowledged or `deadline` passes.
async fn drain(metrics: &Metrics, total: u64, deadline: Instant) -> Drain {
    let mut d = Drain {
        first: None,
        samples: Vec::new(),
        acknowledged: 0,
        stages_at_first: metrics.stages.snapshot(),
        stages_at_last: None,
        stages_at_end: Vec::new(),
    };
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let processed = metrics.processed.load(Ordering::Relaxed);
        let acked = metrics.acknowledged.total();
        d.acknowledged = acked;
        if d.first.is_none() && processed > 0 {
            d.first = Some(Instant::now());
            d.stages_at_first = metrics.stages.snapshot();
            last = (Instant::now(), acked);
        }
        if d.stages_at_last.is_none() && processed >= total {
            d.stages_at_last = Some(metrics.stages.snapshot());
        }
        if d.first.is_some() && last.0.elapsed() >= Duration::from_secs(1) {
            d.samples
                .push((acked - last.1) as f64 / last.0.elapsed().as_secs_f64());
            last = (Instant::now(), acked);
        }
        if acked >= total || Instant::now() > deadline {
            d.stages_at_end = metrics.stages.snapshot();
            return d;
        }
    }
}

async fn backlog_in(
    env: &RunEnv,
    scenario: &Scenario,
    lines: &[FeedLine],
) -> Result<BacklogRun, String> {
    let total = lines.len() as u64;
    let produced = produce_backlog(&env.services.brokers, &env.topics(), lines)?;
    tracing::info!(
        records = total,
        rate = produced.records_per_sec as u64,
        "backlog produced"
    );
    let load_before = Load::now();
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let running = start_service(env, scenario);
    let deadline = Instant::now() + Duration::from_secs(120 + total / 2_000);
    let drained = drain(&running.metrics, total, deadline).await;
    if drained.acknowledged < total {
        let _ = running.stop().await;
        return Err(format!(
            "backlog not drained in time: {} of {total} acknowledged",
            drained.acknowledged
        ));
    }
    let done = Instant::now();
    let (cpu_seconds, clickhouse_cpu_seconds, kafka_cpu_seconds) = cpu.used();
    let load_after = Load::now();
    let report = running.stop().await?;
    let first = drained.first.unwrap_or(started);
    let seconds = done.duration_since(first).as_secs_f64();
    let count = |table: &str| {
        let q = format!("SELECT count() FROM {table}");
        let client = env.ch.db_client();
        async move { client.query(&q).fetch_one::<u64>().await.unwrap_or(0) }
    };
    Ok(BacklogRun {
        scale: scenario.scale.to_string(),
        records: total,
        produced,
        startup_seconds: first.duration_since(started).as_secs_f64(),
        seconds,
        records_per_sec: total as f64 / seconds.max(1e-9),
        per_second: Percentiles::of(&drained.samples),
        archived_rows: count("records").await,
        case_rows: count("cases").await,
        flushes: report.flushes,
        cpu_seconds,
        clickhouse_cpu_seconds,
        kafka_cpu_seconds,
        load_before,
        load_after,
        archive_records: env.config.sink.archive_records,
        stages: breakdown(
            &drained.stages_at_first,
            &drained.stages_at_end,
            drained.stages_at_last.as_deref(),
            seconds,
            total,
        ),
    })
}
