//! `cellwatch demo`: the main job on a fresh machine. A simulator scenario is
//! streamed into librdkafka's in-process mock cluster, the very service code of
//! `cellwatch run` consumes it, and cases land in ClickHouse (when a server answers)
//! or in files; the demo ends with the cases and their scores against the truth.

pub mod feed;
mod output;
pub mod render;

#[cfg(test)]
mod fence_tests;
#[cfg(test)]
mod mock_run;
#[cfg(test)]
mod stall_tests;

use crate::config::{ClickHouseConfig, Config};
use crate::model::Case;
use crate::score::ScoreReport;
use crate::service::metrics::Metrics;
use crate::service::outputs::{BatchStore, MemoryStore};
use crate::service::{self, ServiceError, ServiceOptions, ServiceReport};
use crate::simulate::truth::Truth;
use crate::simulate::{write_scenario, Scale, SimConfig};
use crate::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::mocking::MockCluster;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Partitions of every topic of the mock cluster.
const PARTITIONS: i32 = 4;
/// How long the service may take to acknowledge the last record produced.
const ACK_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub scale: Scale,
    pub out: PathBuf,
    /// Write cases to this ClickHouse (migrated first) when it answers.
    pub clickhouse_url: Option<String>,
    pub clickhouse_database: String,
    /// Event-time seconds per wall second; 0 streams as fast as the service takes it.
    pub speed: f64,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    /// The configuration, loaded like every command's ([`Config::load`]); the demo
    /// replaces its Kafka, HTTP, ClickHouse database and batching settings with the
    /// in-process cluster's.
    pub config: Config,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the scenario into {path}: {message}")]
    Scenario { path: String, message: String },
    #[error("the in-process kafka failed: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    #[error("only {processed} of {produced} records were processed within {secs} s; the demo stops rather than report partial results")]
    Incomplete {
        produced: u64,
        processed: u64,
        secs: u64,
    },
    #[error("cannot write demo output {path}: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    ClickHouse(#[from] crate::sink::clickhouse::ClickHouseError),
}

/// What the demo did and found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoReport {
    pub(crate) scenario_dir: PathBuf,
    pub(crate) output_dir: PathBuf,
    pub(crate) produced: u64,
    pub(crate) processed: u64,
    pub(crate) event_time_span_hours: f64,
    pub(crate) wall_seconds: f64,
    pub(crate) records_per_sec: f64,
    pub(crate) speedup: f64,
    pub(crate) case_store: String,
    pub(crate) service: ServiceReport,
    pub(crate) cases: Vec<Case>,
    pub(crate) score: ScoreReport,
    pub(crate) files: Vec<PathBuf>,
}

fn demo_config(base: &Config, brokers: &str, db: &str) -> Config {
    let mut config = base.clone();
    config.kafka.brokers = brokers.to_string();
    config.kafka.group_id = "cellwatch-demo".into();
    config.http.listen = "127.0.0.1:0".into();
    config.clickhouse.database = db.to_string();
    // The mock cluster answers fast: small batches keep the demo's pacing smooth.
    config.sink.batch_max_records = 5_000;
    config.sink.flush_interval_ms = 200;
    config
}

/// Run the demo end to end: write the scenario, start the mock cluster and the
/// service, stream the scenario, then read the cases back, score and write them.
pub async fn run(opts: DemoOptions) -> Result<DemoReport, DemoError> {
    let (scenario, output, truth) = prepare_scenario(&opts)?;
    let (mock, config) = mock_cluster(&opts)?;
    let brokers = mock.bootstrap_servers();
    let (store, store_name) = batch_store(&opts).await;
    let metrics = Metrics::new();
    let (stop_tx, service_task) = start_service(&config, &scenario, &store, &metrics);
    let streamed = stream_scenario(&scenario, &config, &brokers, &metrics, &opts, &stop_tx).await?;
    let _ = stop_tx.send(true);
    let service_report = service_task.await.expect("service task")?;
    let processed = metrics.processed.load(Ordering::Relaxed);

    let cases = output::collect_cases(&store).await?;
    let score = crate::score::score(&truth, &cases);
    let files = output::write_outputs(&output, &cases, &score)?;
    let (produced, wall, span_ms) = (streamed.produced, streamed.wall_seconds, streamed.span_ms);
    Ok(DemoReport {
        scenario_dir: scenario,
        output_dir: output,
        produced,
        processed,
        event_time_span_hours: span_ms as f64 / 3_600_000.0,
        wall_seconds: wall,
        records_per_sec: if wall > 0.0 {
            produced as f64 / wall
        } else {
            0.0
        },
        speedup: if wall > 0.0 {
            span_ms as f64 / 1000.0 / wall
        } else {
            0.0
        },
        case_store: store_name,
        service: service_report,
        cases,
        score,
        files,
    })
}

/// The in-process cluster with the contract's topics, and the demo's configuration
/// pointing at it.
fn mock_cluster(
    opts: &DemoOptions,
) -> Result<
    (
        MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        Config,
    ),
    DemoError,
> {
    mock_cluster_of(opts, 1)
}

/// [`mock_cluster`] with `brokers` brokers, every partition led by broker 1 (a test
/// takes the others down without losing a partition).
fn mock_cluster_of(
    opts: &DemoOptions,
    brokers: i32,
) -> Result<
    (
        MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        Config,
    ),
    DemoError,
> {
    let mock = MockCluster::new(brokers)?;
    let config = demo_config(
        &opts.config,
        &mock.bootstrap_servers(),
        &opts.clickhouse_database,
    );
    let t = &config.kafka.topics;
    let mut led = Vec::new();
    for topic in t.contract() {
        mock.create_topic(topic, PARTITIONS, 1)?;
        led.extend((0..PARTITIONS).map(|p| (topic, p)));
    }
    // The staged topology's internal topics (one partition each): the mock cluster
    // takes no admin requests, so the service finds them created.
    for topic in [&t.internal_sms, &t.internal_measurements] {
        mock.create_topic(topic, 1, 1)?;
        led.push((topic, 0));
    }
    if brokers > 1 {
        for (topic, partition) in led {
            mock.partition_leader(topic, partition, Some(1))?;
        }
    }
    Ok((mock, config))
}

/// Create the output folders and write the simulator's scenario; returns the
/// scenario folder, the output folder and the scenario's truth.
fn prepare_scenario(opts: &DemoOptions) -> Result<(PathBuf, PathBuf, Truth), DemoError> {
    let scenario = opts.out.join("scenario");
    let output = opts.out.join("output");
    for dir in [&scenario, &output] {
        std::fs::create_dir_all(dir).map_err(|source| DemoError::Output {
            path: dir.display().to_string(),
            source,
        })?;
    }
    write_scenario(
        &SimConfig {
            seed: opts.seed,
            scale: opts.scale,
        },
        &scenario,
    )
    .map_err(|e| DemoError::Scenario {
        path: scenario.display().to_string(),
        message: e.to_string(),
    })?;
    let truth = Truth::load(scenario.join("truth.json")).map_err(|e| DemoError::Scenario {
        path: scenario.display().to_string(),
        message: e.to_string(),
    })?;
    Ok((scenario, output, truth))
}

/// Where the service stores batches: the given ClickHouse (migrated first) when it
/// answers, memory otherwise; with a name for the report.
async fn batch_store(opts: &DemoOptions) -> (BatchStore, String) {
    let Some(url) = &opts.clickhouse_url else {
        return (
            BatchStore::Memory(MemoryStore::default()),
            "files".to_string(),
        );
    };
    let ch = ClickHouse::new(ClickHouseConfig {
        url: url.clone(),
        database: opts.clickhouse_database.clone(),
        ..Default::default()
    });
    match migrate(&ch).await {
        Ok(_) => (
            BatchStore::ClickHouse(Box::new(ch)),
            format!("clickhouse {url} database {}", opts.clickhouse_database),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "clickhouse does not answer: cases go to files only");
            (
                BatchStore::Memory(MemoryStore::default()),
                "files (clickhouse did not answer)".to_string(),
            )
        }
    }
}

/// Start the service of `cellwatch run` on the mock cluster; it stops when `true`
/// is sent on the returned sender.
fn start_service(
    config: &Config,
    scenario: &Path,
    store: &BatchStore,
    metrics: &Metrics,
) -> (
    watch::Sender<bool>,
    JoinHandle<Result<ServiceReport, ServiceError>>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let service_task = tokio::spawn(service::run(ServiceOptions {
        config: config.clone(),
        cells: Some(scenario.join("cells.csv")),
        store: store.clone(),
        metrics: metrics.clone(),
        shutdown: stop_rx,
        now_ms: None,
    }));
    (stop_tx, service_task)
}

/// What streaming the scenario took.
struct Streamed {
    produced: u64,
    /// Event time from the first to the last record.
    span_ms: i64,
    /// From the first record produced to the last one acknowledged.
    wall_seconds: f64,
}

/// Produce the scenario's two feeds into the mock cluster, paced to the service,
/// and wait until the service has acknowledged every record. On a shortfall the
/// service is told to stop (`stop`) and the demo ends with
/// [`DemoError::Incomplete`].
async fn stream_scenario(
    scenario: &Path,
    config: &Config,
    brokers: &str,
    metrics: &Metrics,
    opts: &DemoOptions,
    stop: &watch::Sender<bool>,
) -> Result<Streamed, DemoError> {
    let read = |file: &str, feed: usize| {
        feed::read_lines(&scenario.join(file), feed).map_err(|source| DemoError::Output {
            path: scenario.display().to_string(),
            source,
        })
    };
    let lines = feed::merge(read("sms_volume.jsonl", 0)?, read("measurements.jsonl", 1)?);
    let total = lines.len() as u64;
    // The span of the valid records' event times (refused lines may carry any time).
    let valid = || lines.iter().filter(|l| l.valid).map(|l| l.event_ms);
    let span_ms = match (valid().min(), valid().max()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let started = Instant::now();
    let topics = [
        config.kafka.topics.sms_volume.clone(),
        config.kafka.topics.measurements.clone(),
    ];
    let processed = metrics.processed.clone();
    let (progress, speed) = (opts.progress, opts.speed);
    let producer_brokers = brokers.to_string();
    let produced = tokio::task::spawn_blocking(move || {
        feed::produce_paced(
            &producer_brokers,
            &topics,
            lines,
            &processed,
            progress,
            speed,
        )
    })
    .await
    .expect("producer thread")?;
    if produced != total {
        let _ = stop.send(true);
        return Err(DemoError::Incomplete {
            produced,
            processed: metrics.processed.load(Ordering::Relaxed),
            secs: started.elapsed().as_secs(),
        });
    }
    // Every produced record must have been processed and acknowledged by the sinks.
    let deadline = Instant::now() + ACK_TIMEOUT;
    while metrics.acknowledged.total() < produced {
        if Instant::now() > deadline {
            let _ = stop.send(true);
            return Err(DemoError::Incomplete {
                produced,
                processed: metrics.processed.load(Ordering::Relaxed),
                secs: ACK_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Streamed {
        produced,
        span_ms,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}
