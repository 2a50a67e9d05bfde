//! Kafka → detectors → ClickHouse on the real local broker and server: fresh topics
//! (4 partitions each) and a fresh database per run, the scenario produced into the
//! feed topics, and the service (`service::run`, the code of `cellwatch run`) in
//! this process.
//!
//! - [`backlog`]: everything produced first, then the service started; throughput =
//!   records / time from its first consumed record until every record is
//!   acknowledged (stored in ClickHouse, offsets stored).
//! - [`paced`]: the service running, the scenario produced at a fixed rate; consumer
//!   lag (produced − acknowledged) sampled every 100 ms, and the wall time from the
//!   production of each case's crossing record to the case being visible in
//!   ClickHouse (`SELECT … FROM cases FINAL`, polled every 100 ms).

use super::machine::{cpu_seconds_of, Load};
use super::scenario::Scenario;
use crate::config::{ClickHouseConfig, Config, EventOrder};
use crate::demo::feed::{self, FeedLine};
use crate::model::{parse_record, Case, CaseKind, Event, Feed, TimeBounds};
use crate::service::metrics::Metrics;
use crate::service::outputs::BatchStore;
use crate::service::{self, ServiceOptions};
use crate::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the real services are.
#[derive(Debug, Clone)]
pub struct Services {
    pub brokers: String,
    pub clickhouse_url: String,
}

/// Command-line markers of the server processes whose CPU time is reported.
const CLICKHOUSE_PROCESS: &str = "clickhouse-server";
const KAFKA_PROCESS: &str = "kafka.Kafka";

/// Partitions of every topic a run creates (as `scripts/services.sh`).
const PARTITIONS: i32 = 4;

/// Topics, group and database of one run, created fresh and removed afterwards.
struct RunEnv {
    services: Services,
    config: Config,
    ch: ClickHouse,
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

impl RunEnv {
    async fn create(services: &Services, base: &Config) -> Result<RunEnv, String> {
        let mut config = base.clone();
        config.kafka.brokers = services.brokers.clone();
        config.kafka.group_id = unique("cw-bench-group");
        let t = &mut config.kafka.topics;
        t.sms_volume = unique("cw-bench-sms");
        t.measurements = unique("cw-bench-meas");
        t.cases = unique("cw-bench-cases");
        t.dead_letter = unique("cw-bench-dlq");
        t.inventory = unique("cw-bench-inv");
        t.allowlist = unique("cw-bench-allow");
        config.http.listen = "127.0.0.1:0".into();
        config.clickhouse = ClickHouseConfig {
            url: services.clickhouse_url.clone(),
            database: unique("cw_bench"),
            ..base.clickhouse.clone()
        };
        let admin = admin(&services.brokers)?;
        let topics: Vec<NewTopic> = [
            &t.sms_volume,
            &t.measurements,
            &t.cases,
            &t.dead_letter,
            &t.inventory,
            &t.allowlist,
        ]
        .iter()
        .map(|n| NewTopic::new(n, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
        for r in admin
            .create_topics(&topics, &AdminOptions::new())
            .await
            .map_err(|e| format!("cannot create topics: {e}"))?
        {
            r.map_err(|(t, e)| format!("cannot create topic {t}: {e}"))?;
        }
        let ch = ClickHouse::new(config.clickhouse.clone());
        migrate(&ch)
            .await
            .map_err(|e| format!("cannot migrate the bench database: {e}"))?;
        Ok(RunEnv {
            services: services.clone(),
            config,
            ch,
        })
    }

    /// Delete the run's topics and database.
    async fn remove(self) {
        let t = &self.config.kafka.topics;
        if let Ok(admin) = admin(&self.services.brokers) {
            let names = [
                t.sms_volume.as_str(),
                t.measurements.as_str(),
                t.cases.as_str(),
                t.dead_letter.as_str(),
                t.inventory.as_str(),
                t.allowlist.as_str(),
            ];
            if let Err(e) = admin.delete_topics(&names, &AdminOptions::new()).await {
                tracing::warn!(error = %e, "bench topics not deleted");
            }
        }
        let drop_db = format!(
            "DROP DATABASE IF EXISTS {}",
            self.config.clickhouse.database
        );
        if let Err(e) = self.ch.server_client().query(&drop_db).execute().await {
            tracing::warn!(error = %e, "bench database not dropped");
        }
    }

    fn topics(&self) -> [String; 2] {
        [
            self.config.kafka.topics.sms_volume.clone(),
            self.config.kafka.topics.measurements.clone(),
        ]
    }
}

fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| format!("cannot reach kafka at {brokers}: {e}"))
}

/// The scenario's two feeds merged in event-time order and keyed as the contract
/// recommends (the demo's producer side).
pub fn load_lines(scenario: &Scenario) -> Result<Vec<FeedLine>, String> {
    let sms = feed::read_lines(&scenario.sms(), 0).map_err(|e| e.to_string())?;
    let meas = feed::read_lines(&scenario.measurements(), 1).map_err(|e| e.to_string())?;
    Ok(feed::merge(sms, meas))
}

/// Producer figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Produced {
    pub records: u64,
    pub seconds: f64,
    pub records_per_sec: f64,
}

/// Produce `lines`; at `rate` records/s when given (else as fast as possible).
/// `sent[i]` gets the milliseconds since `t0` at which line `i` was handed over.
#[allow(clippy::too_many_arguments)]
fn produce(
    brokers: &str,
    topics: &[String; 2],
    lines: &[FeedLine],
    rate: Option<f64>,
    linger_ms: u32,
    t0: Instant,
    sent: Option<&[AtomicU64]>,
    counter: &AtomicU64,
) -> Result<Produced, String> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "500000")
        .create()
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    let started = Instant::now();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rate) = rate {
            // pace: line i is due at i / rate seconds
            let due = Duration::from_secs_f64(i as f64 / rate);
            let elapsed = started.elapsed();
            if due > elapsed {
                let wait = due - elapsed;
                if wait > Duration::from_millis(1) {
                    producer.poll(Duration::ZERO);
                    std::thread::sleep(wait);
                }
            }
        }
        let mut rec = BaseRecord::to(&topics[l.feed]).payload(l.bytes.as_slice());
        if let Some(k) = &l.key {
            rec = rec.key(k.as_str());
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
        if let Some(sent) = sent {
            sent[i].store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        counter.fetch_add(1, Ordering::Relaxed);
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("producer flush failed: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Produced {
        records: lines.len() as u64,
        seconds,
        records_per_sec: lines.len() as f64 / seconds.max(1e-9),
    })
}

/// Fixes "now" for the contract's timestamp bound: the scenarios are in Nov 2026.
fn bench_now_ms() -> i64 {
    chrono::Utc::now()
        .timestamp_millis()
        .max(crate::simulate::BASE_START_MS + 40 * 86_400_000)
}

struct Running {
    metrics: Metrics,
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<Result<service::ServiceReport, service::ServiceError>>,
}

fn start_service(env: &RunEnv, scenario: &Scenario) -> Running {
    let metrics = Metrics::new();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(service::run(ServiceOptions {
        config: env.config.clone(),
        cells: Some(scenario.cells()),
        store: BatchStore::ClickHouse(Box::new(env.ch.clone())),
        metrics: metrics.clone(),
        shutdown: rx,
        now_ms: Some(bench_now_ms()),
    }));
    Running {
        metrics,
        stop,
        handle,
    }
}

impl Running {
    async fn stop(self) -> Result<service::ServiceReport, String> {
        let _ = self.stop.send(true);
        self.handle
            .await
            .map_err(|e| format!("service task failed: {e}"))?
            .map_err(|e| format!("service failed: {e}"))
    }
}

/// Percentiles of a sample (nearest rank); zeros when empty.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            n: v.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Backlog throughput of Kafka → detectors → ClickHouse.
#[derive(Debug, Clone, Serialize)]
pub struct BacklogRun {
    pub scale: String,
    pub records: u64,
    pub produced: Produced,
    /// From the service's start to its first consumed record (group join).
    pub startup_seconds: f64,
    /// From the first consumed record until every record was acknowledged.
    pub seconds: f64,
    pub records_per_sec: f64,
    /// Acknowledged records per second, sampled every second after the first record.
    pub per_second: Percentiles,
    pub archived_rows: u64,
    pub case_rows: u64,
    pub flushes: u64,
    pub cpu_seconds: f64,
    /// CPU seconds of the ClickHouse server and the Kafka broker during the drain.
    pub clickhouse_cpu_seconds: f64,
    pub kafka_cpu_seconds: f64,
    pub load_before: Load,
    pub load_after: Load,
    pub archive_records: bool,
}

/// Produce the whole scenario into fresh topics, then measure how fast the service
/// drains it into ClickHouse.
pub async fn backlog(
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

async fn backlog_in(
    env: &RunEnv,
    scenario: &Scenario,
    lines: &[FeedLine],
) -> Result<BacklogRun, String> {
    let total = lines.len() as u64;
    let counter = AtomicU64::new(0);
    let produced = tokio::task::block_in_place(|| {
        produce(
            &env.services.brokers,
            &env.topics(),
            lines,
            None,
            20,
            Instant::now(),
            None,
            &counter,
        )
    })?;
    tracing::info!(
        records = total,
        rate = produced.records_per_sec as u64,
        "backlog produced"
    );
    let load_before = Load::now();
    let cpu_before = super::replay::cpu_seconds();
    let ch_before = cpu_seconds_of(CLICKHOUSE_PROCESS);
    let kafka_before = cpu_seconds_of(KAFKA_PROCESS);
    let started = Instant::now();
    let running = start_service(env, scenario);
    let mut first: Option<Instant> = None;
    let mut samples = Vec::new();
    let mut last = (Instant::now(), 0u64);
    let deadline = Instant::now() + Duration::from_secs(120 + total / 2_000);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let processed = running.metrics.processed.load(Ordering::Relaxed);
        let acked = running.metrics.acknowledged.load(Ordering::Relaxed);
        if first.is_none() && processed > 0 {
            first = Some(Instant::now());
            last = (Instant::now(), acked);
        }
        if first.is_some() && last.0.elapsed() >= Duration::from_secs(1) {
            samples.push((acked - last.1) as f64 / last.0.elapsed().as_secs_f64());
            last = (Instant::now(), acked);
        }
        if acked >= total {
            break;
        }
        if Instant::now() > deadline {
            let _ = running.stop().await;
            return Err(format!(
                "backlog not drained in time: {acked} of {total} acknowledged"
            ));
        }
    }
    let done = Instant::now();
    let cpu_seconds = super::replay::cpu_seconds() - cpu_before;
    let clickhouse_cpu_seconds = cpu_seconds_of(CLICKHOUSE_PROCESS) - ch_before;
    let kafka_cpu_seconds = cpu_seconds_of(KAFKA_PROCESS) - kafka_before;
    let load_after = Load::now();
    let report = running.stop().await?;
    let first = first.unwrap_or(started);
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
        per_second: Percentiles::of(&samples),
        archived_rows: count("records").await,
        case_rows: count("cases").await,
        flushes: report.flushes,
        cpu_seconds,
        clickhouse_cpu_seconds,
        kafka_cpu_seconds,
        load_before,
        load_after,
        archive_records: env.config.sink.archive_records,
    })
}

/// A paced run: lag at a produce rate and case latency.
#[derive(Debug, Clone, Serialize)]
pub struct PacedRun {
    pub scale: String,
    pub ordering: EventOrder,
    pub rate: f64,
    pub records: u64,
    pub produced: Produced,
    /// produced − acknowledged, records, sampled every 100 ms while producing.
    pub lag_records: Percentiles,
    /// Time from the end of production until every record was acknowledged.
    pub drain_seconds: f64,
    /// Wall time from producing a case's crossing record to the case being
    /// visible in ClickHouse, seconds.
    pub case_latency: Percentiles,
    pub case_latency_by_kind: BTreeMap<String, Percentiles>,
    pub cases_seen: usize,
    /// Cases whose crossing record was found by key and event time (the others were
    /// matched to the first record produced at or after `opened_at`).
    pub cases_matched_by_key: usize,
    /// Event-time span of the scenario over the production time: how much faster
    /// than real time the records came.
    pub acceleration: f64,
    pub load_before: Load,
    pub load_after: Load,
}

/// Per produced line: event time and a hash of its entity (SIM or cell identity).
struct LineIndex {
    by_key: HashMap<(u64, i64), u32>,
    /// Highest event time up to each line (produce order), for the fallback match.
    running_max: Vec<i64>,
}

fn key_hash(s: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl LineIndex {
    fn build(lines: &[FeedLine]) -> LineIndex {
        let bounds = TimeBounds::at(bench_now_ms());
        let mut by_key = HashMap::with_capacity(lines.len());
        let mut running_max = Vec::with_capacity(lines.len());
        let mut max = i64::MIN;
        for (i, l) in lines.iter().enumerate() {
            let feed = if l.feed == 0 {
                Feed::SmsVolume
            } else {
                Feed::Measurements
            };
            if let Ok(event) = parse_record(feed, &l.bytes, &bounds) {
                let t = event.event_time_ms();
                let key = match &event {
                    Event::Sms(r) => key_hash(&r.sim),
                    Event::Measurement(m) => key_hash(&m.cell.to_string()),
                };
                by_key.entry((key, t)).or_insert(i as u32);
                max = max.max(t);
            }
            running_max.push(max);
        }
        LineIndex {
            by_key,
            running_max,
        }
    }

    /// The produced line that made `case` cross its threshold, and whether it was
    /// found by key.
    fn crossing(&self, case: &Case) -> Option<(usize, bool)> {
        let t = case.opened_at;
        let keys: Vec<String> = match case.kind {
            CaseKind::FakeBts => case
                .identities
                .iter()
                .chain(case.claimed_cell.iter())
                .map(|c| c.key().to_string())
                .collect(),
            _ => case.sims.clone(),
        };
        let by_key = keys
            .iter()
            .filter_map(|k| self.by_key.get(&(key_hash(k), t)))
            .min();
        if let Some(i) = by_key {
            return Some((*i as usize, true));
        }
        let i = self.running_max.partition_point(|&m| m < t);
        (i < self.running_max.len()).then_some((i, false))
    }
}

/// Produce the scenario at `rate` records/s into a running service and measure lag
/// and case latency.
pub async fn paced(
    services: &Services,
    base: &Config,
    scenario: &Scenario,
    lines: &Arc<Vec<FeedLine>>,
    rate: f64,
    ordering: EventOrder,
) -> Result<PacedRun, String> {
    let mut config = base.clone();
    config.pipeline.ordering = ordering;
    let env = RunEnv::create(services, &config).await?;
    let result = paced_in(&env, scenario, lines, rate, ordering).await;
    env.remove().await;
    result
}

async fn paced_in(
    env: &RunEnv,
    scenario: &Scenario,
    lines: &Arc<Vec<FeedLine>>,
    rate: f64,
    ordering: EventOrder,
) -> Result<PacedRun, String> {
    let total = lines.len() as u64;
    let index = tokio::task::block_in_place(|| LineIndex::build(lines));
    let running = start_service(env, scenario);
    // let the consumer join its group (the broker delays the first rebalance ~3 s)
    tokio::time::sleep(Duration::from_secs(6)).await;
    let load_before = Load::now();
    let t0 = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..lines.len()).map(|_| AtomicU64::new(0)).collect());
    let counter = Arc::new(AtomicU64::new(0));
    let produced_handle = {
        let (brokers, topics) = (env.services.brokers.clone(), env.topics());
        let (sent, counter, lines) = (sent.clone(), counter.clone(), lines.clone());
        std::thread::spawn(move || {
            produce(
                &brokers,
                &topics,
                &lines,
                Some(rate),
                5,
                t0,
                Some(&sent),
                &counter,
            )
        })
    };
    let mut seen: HashMap<String, (Instant, Case)> = HashMap::new();
    let mut lag = Vec::new();
    let mut produced_done: Option<(Instant, Produced)> = None;
    let mut handle = Some(produced_handle);
    let mut last_poll = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120 + (total as f64 / rate) as u64 * 3);
    let mut drained_at: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let acked = running.metrics.acknowledged.load(Ordering::Relaxed);
        if produced_done.is_none() {
            lag.push(counter.load(Ordering::Relaxed).saturating_sub(acked) as f64);
        }
        if handle.as_ref().is_some_and(|h| h.is_finished()) {
            let p = handle
                .take()
                .expect("checked")
                .join()
                .map_err(|_| "producer thread panicked".to_string())??;
            produced_done = Some((Instant::now(), p));
        }
        if last_poll.elapsed() >= Duration::from_millis(100) {
            last_poll = Instant::now();
            if let Ok(cases) = env.ch.fetch_cases().await {
                let now = Instant::now();
                for c in cases {
                    seen.entry(c.case_id.clone()).or_insert((now, c));
                }
            }
        }
        if drained_at.is_none() && produced_done.is_some() && acked >= total {
            drained_at = Some(Instant::now());
        }
        // after draining, wait a few flushes for the last cases to become visible
        if drained_at.is_some_and(|d| d.elapsed() >= Duration::from_secs(3)) {
            break;
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let load_after = Load::now();
    let _ = running.stop().await?;
    if let Some(h) = handle.take() {
        let _ = h.join();
    }
    let (produced_at, produced) = produced_done.ok_or("production did not finish in time")?;
    let drained_at = drained_at
        .ok_or_else(|| format!("the service did not drain in time at {rate} records/s"))?;
    let mut latencies = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut matched = 0;
    for (first_seen, case) in seen.values() {
        let Some((i, by_key)) = index.crossing(case) else {
            continue;
        };
        matched += usize::from(by_key);
        let sent_ms = sent[i].load(Ordering::Relaxed);
        let seen_ms = first_seen.duration_since(t0).as_millis() as u64;
        let secs = seen_ms.saturating_sub(sent_ms) as f64 / 1000.0;
        latencies.push(secs);
        by_kind
            .entry(case.kind.as_str().to_string())
            .or_default()
            .push(secs);
    }
    let span_ms = index.running_max.last().copied().unwrap_or(0)
        - index
            .running_max
            .iter()
            .find(|&&m| m > i64::MIN)
            .copied()
            .unwrap_or(0);
    Ok(PacedRun {
        scale: scenario.scale.to_string(),
        ordering,
        rate,
        records: total,
        acceleration: span_ms as f64 / 1000.0 / produced.seconds.max(1e-9),
        produced,
        lag_records: Percentiles::of(&lag),
        drain_seconds: drained_at
            .saturating_duration_since(produced_at)
            .as_secs_f64(),
        case_latency: Percentiles::of(&latencies),
        case_latency_by_kind: by_kind
            .into_iter()
            .map(|(k, v)| (k, Percentiles::of(&v)))
            .collect(),
        cases_seen: seen.len(),
        cases_matched_by_key: matched,
        load_before,
        load_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!((p.n, p.p50, p.p99, p.max), (100, 50.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).n, 0);
    }
}
