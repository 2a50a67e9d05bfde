//! Kafka → detectors → ClickHouse on the real local broker and server: fresh
//! topics (4 partitions each) and a fresh database per run (`kafka/env.rs`), the
//! scenario produced into the feed topics (`kafka/produce.rs`), and the service
//! (`service::run`, the code of `cellwatch run`) in this process.
//!
//! - `backlog()` (`kafka/backlog.rs`): everything produced first, then the
//!   service started; throughput = records / time from its first consumed record
//!   until every record is acknowledged (stored in ClickHouse, offsets stored).
//! - `scaling()` (`kafka/scaling.rs`): the staged topology with 1 and 2 instances
//!   on the same backlog, timed by the groups' committed offsets.
//! - `paced` (this file): the service running, the scenario produced at a fixed
//!   rate; consumer lag (produced − acknowledged) sampled every 100 ms, and the
//!   wall time from the production of each case's crossing record to the case
//!   being visible in ClickHouse (`SELECT … FROM cases FINAL`, polled every 100 ms).

mod backlog;
mod env;
mod produce;
mod scaling;
mod stages;

pub(crate) use backlog::{backlog, BacklogRun};
pub(crate) use produce::{load_lines, Produced};
pub(crate) use scaling::{scaling, ScalingRun};

use super::machine::Load;
use super::scenario::Scenario;
use crate::config::{Config, EventOrder};
use crate::demo::feed::FeedLine;
use crate::model::{parse_record, Case, CaseKind, Event, Feed, TimeBounds};
use crate::score::stats::nearest_rank;
use env::{bench_now_ms, start_service, RunEnv, Running};
use produce::{produce, Pacing};
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

/// Percentiles of a sample (nearest rank); zeros when empty.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) n: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Percentiles {
    pub(crate) fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| nearest_rank(&v, q).unwrap_or_default();
        Percentiles {
            n: v.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// A paced run: lag at a produce rate and case latency.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PacedRun {
    pub(crate) scale: String,
    pub(crate) ordering: EventOrder,
    pub(crate) rate: f64,
    pub(crate) records: u64,
    pub(crate) produced: Produced,
    /// produced − acknowledged, records, sampled every 100 ms while producing.
    pub(crate) lag_records: Percentiles,
    /// Time from the end of production until every record was acknowledged.
    pub(crate) drain_seconds: f64,
    /// Wall time from producing a case's crossing record to the case being
    /// visible in ClickHouse, seconds.
    pub(crate) case_latency: Percentiles,
    pub(crate) case_latency_by_kind: BTreeMap<String, Percentiles>,
    pub(crate) cases_seen: usize,
    /// Cases whose crossing record was found by key and event time (the others were
    /// matched to the first record produced at or after `opened_at`).
    pub(crate) cases_matched_by_key: usize,
    /// Event-time span of the scenario over the production time: how much faster
    /// than real time the records came.
    pub(crate) acceleration: f64,
    pub(crate) load_before: Load,
    pub(crate) load_after: Load,
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
pub(crate) async fn paced(
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

/// The producer thread of a paced run.
struct PacedProducer {
    /// Per line: when it was handed over, milliseconds since the run's `t0`.
    sent: Arc<Vec<AtomicU64>>,
    /// Lines handed over so far.
    counter: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<Result<Produced, String>>>,
}

impl PacedProducer {
    fn start(env: &RunEnv, lines: &Arc<Vec<FeedLine>>, rate: f64, t0: Instant) -> PacedProducer {
        let sent: Arc<Vec<AtomicU64>> =
            Arc::new((0..lines.len()).map(|_| AtomicU64::new(0)).collect());
        let counter = Arc::new(AtomicU64::new(0));
        let handle = {
            let (brokers, topics) = (env.services.brokers.clone(), env.topics());
            let (sent, counter, lines) = (sent.clone(), counter.clone(), lines.clone());
            std::thread::spawn(move || {
                let pacing = Pacing {
                    rate: Some(rate),
                    linger_ms: 5,
                    t0,
                    sent: Some(&sent),
                    counter: &counter,
                };
                produce(&brokers, &topics, &lines, &pacing)
            })
        };
        PacedProducer {
            sent,
            counter,
            handle: Some(handle),
        }
    }

    /// The producer's figures if it finished since the last call.
    fn finished(&mut self) -> Result<Option<Produced>, String> {
        if !self.handle.as_ref().is_some_and(|h| h.is_finished()) {
            return Ok(None);
        }
        let produced = self
            .handle
            .take()
            .expect("checked")
            .join()
            .map_err(|_| "producer thread panicked".to_string())??;
        Ok(Some(produced))
    }

    /// Wait for a producer still running (the run gave up on it).
    fn join(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What was observed while the paced run went on.
struct PacedWatch {
    /// Every case seen in ClickHouse, with when it was first seen.
    seen: HashMap<String, (Instant, Case)>,
    lag: Vec<f64>,
    /// When production finished, and its figures.
    produced: Option<(Instant, Produced)>,
    /// When every record was acknowledged after production finished.
    drained_at: Option<Instant>,
}

/// Sample the lag and poll the cases every 100 ms until the service drained the
/// production (and a few flushes more), or the deadline.
async fn watch(
    env: &RunEnv,
    running: &Running,
    producer: &mut PacedProducer,
    total: u64,
    deadline: Instant,
) -> Result<PacedWatch, String> {
    let mut w = PacedWatch {
        seen: HashMap::new(),
        lag: Vec::new(),
        produced: None,
        drained_at: None,
    };
    let mut last_poll = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let acked = running.metrics.acknowledged.total();
        if w.produced.is_none() {
            let produced = producer.counter.load(Ordering::Relaxed);
            w.lag.push(produced.saturating_sub(acked) as f64);
        }
        if let Some(p) = producer.finished()? {
            w.produced = Some((Instant::now(), p));
        }
        if last_poll.elapsed() >= Duration::from_millis(100) {
            last_poll = Instant::now();
            if let Ok(cases) = env.ch.fetch_cases().await {
                let now = Instant::now();
                for c in cases {
                    w.seen.entry(c.case_id.clone()).or_insert((now, c));
                }
            }
        }
        if w.drained_at.is_none() && w.produced.is_some() && acked >= total {
            w.drained_at = Some(Instant::now());
        }
        // after draining, wait a few flushes for the last cases to become visible
        if w.drained_at
            .is_some_and(|d| d.elapsed() >= Duration::from_secs(3))
        {
            return Ok(w);
        }
        if Instant::now() > deadline {
            return Ok(w);
        }
    }
}

/// Case latencies: from the production of each case's crossing record to the case
/// being seen, seconds.
struct Latencies {
    all: Vec<f64>,
    by_kind: BTreeMap<String, Vec<f64>>,
    /// Cases whose crossing record was found by key.
    matched_by_key: usize,
}

fn case_latencies(
    index: &LineIndex,
    seen: &HashMap<String, (Instant, Case)>,
    sent: &[AtomicU64],
    t0: Instant,
) -> Latencies {
    let mut l = Latencies {
        all: Vec::new(),
        by_kind: BTreeMap::new(),
        matched_by_key: 0,
    };
    for (first_seen, case) in seen.values() {
        let Some((i, by_key)) = index.crossing(case) else {
            continue;
        };
        l.matched_by_key += usize::from(by_key);
        let sent_ms = sent[i].load(Ordering::Relaxed);
        let seen_ms = first_seen.duration_since(t0).as_millis() as u64;
        let secs = seen_ms.saturating_sub(sent_ms) as f64 / 1000.0;
        l.all.push(secs);
        l.by_kind
            .entry(case.kind.as_str().to_string())
            .or_default()
            .push(secs);
    }
    l
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
    let mut producer = PacedProducer::start(env, lines, rate, t0);
    let deadline = Instant::now() + Duration::from_secs(120 + (total as f64 / rate) as u64 * 3);
    let watched = watch(env, &running, &mut producer, total, deadline).await?;
    let load_after = Load::now();
    let _ = running.stop().await?;
    producer.join();
    let (produced_at, produced) = watched
        .produced
        .ok_or("production did not finish in time")?;
    let drained_at = watched
        .drained_at
        .ok_or_else(|| format!("the service did not drain in time at {rate} records/s"))?;
    let latencies = case_latencies(&index, &watched.seen, &producer.sent, t0);
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
        lag_records: Percentiles::of(&watched.lag),
        drain_seconds: drained_at
            .saturating_duration_since(produced_at)
            .as_secs_f64(),
        case_latency: Percentiles::of(&latencies.all),
        case_latency_by_kind: latencies
            .by_kind
            .into_iter()
            .map(|(k, v)| (k, Percentiles::of(&v)))
            .collect(),
        cases_seen: watched.seen.len(),
        cases_matched_by_key: latencies.matched_by_key,
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
