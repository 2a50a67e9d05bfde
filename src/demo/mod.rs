//! `cellwatch demo`: the main job on a fresh machine. A simulator scenario is
//! streamed into librdkafka's in-process mock cluster, the very service code of
//! `cellwatch run` consumes it, and cases land in ClickHouse (when a server answers)
//! or in files; the demo ends with the cases and their scores against the truth.

pub mod feed;
pub mod render;

use crate::config::{ClickHouseConfig, Config};
use crate::model::Case;
use crate::score::ScoreReport;
use crate::service::metrics::Metrics;
use crate::service::outputs::{BatchStore, MemoryStore};
use crate::service::{self, ServiceOptions, ServiceReport};
use crate::simulate::{write_scenario, Scale, SimConfig};
use crate::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records produced but not yet consumed, at most. The mock cluster keeps a
/// bounded log per partition: staying far below it means nothing is dropped.
const MAX_IN_FLIGHT: u64 = 8_000;
const PARTITIONS: i32 = 4;

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
    pub scenario_dir: PathBuf,
    pub output_dir: PathBuf,
    pub produced: u64,
    pub processed: u64,
    pub event_time_span_hours: f64,
    pub wall_seconds: f64,
    pub records_per_sec: f64,
    pub speedup: f64,
    pub case_store: String,
    pub service: ServiceReport,
    pub cases: Vec<Case>,
    pub score: ScoreReport,
    pub files: Vec<PathBuf>,
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

/// Run the demo end to end.
pub async fn run(opts: DemoOptions) -> Result<DemoReport, DemoError> {
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
    let truth = crate::simulate::truth::Truth::load(scenario.join("truth.json")).map_err(|e| {
        DemoError::Scenario {
            path: scenario.display().to_string(),
            message: e.to_string(),
        }
    })?;

    let mock = MockCluster::new(1)?;
    let brokers = mock.bootstrap_servers();
    let config = demo_config(&opts.config, &brokers, &opts.clickhouse_database);
    let t = &config.kafka.topics;
    for topic in [
        &t.sms_volume,
        &t.measurements,
        &t.cases,
        &t.dead_letter,
        &t.inventory,
        &t.allowlist,
    ] {
        mock.create_topic(topic, PARTITIONS, 1)?;
    }

    let (store, store_name) = match &opts.clickhouse_url {
        Some(url) => {
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
        None => (
            BatchStore::Memory(MemoryStore::default()),
            "files".to_string(),
        ),
    };
    let metrics = Metrics::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let service_task = tokio::spawn(service::run(ServiceOptions {
        config: config.clone(),
        cells: Some(scenario.join("cells.csv")),
        store: store.clone(),
        metrics: metrics.clone(),
        shutdown: stop_rx,
        now_ms: None,
    }));

    let lines = feed::merge(
        feed::read_lines(&scenario.join("sms_volume.jsonl"), 0).map_err(|source| {
            DemoError::Output {
                path: scenario.display().to_string(),
                source,
            }
        })?,
        feed::read_lines(&scenario.join("measurements.jsonl"), 1).map_err(|source| {
            DemoError::Output {
                path: scenario.display().to_string(),
                source,
            }
        })?,
    );
    let total = lines.len() as u64;
    let span_ms = match (lines.iter().find(|l| l.event_ms > 0), lines.last()) {
        (Some(a), Some(b)) => (b.event_ms - a.event_ms).max(0),
        _ => 0,
    };
    let started = Instant::now();
    let topics = [
        config.kafka.topics.sms_volume.clone(),
        config.kafka.topics.measurements.clone(),
    ];
    let processed = metrics.processed.clone();
    let progress = opts.progress;
    let speed = opts.speed;
    let producer_brokers = brokers.clone();
    let produced =
        tokio::task::spawn_blocking(move || -> Result<u64, rdkafka::error::KafkaError> {
            produce_paced(
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
        let _ = stop_tx.send(true);
        return Err(DemoError::Incomplete {
            produced,
            processed: metrics.processed.load(Ordering::Relaxed),
            secs: started.elapsed().as_secs(),
        });
    }

    // Every produced record must have been processed and acknowledged by the sinks.
    let deadline = Instant::now() + Duration::from_secs(300);
    while metrics.acknowledged.load(Ordering::Relaxed) < produced {
        if Instant::now() > deadline {
            let _ = stop_tx.send(true);
            return Err(DemoError::Incomplete {
                produced,
                processed: metrics.processed.load(Ordering::Relaxed),
                secs: 300,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let service_report = service_task.await.expect("service task")?;
    let processed = metrics.processed.load(Ordering::Relaxed);

    let cases = match &store {
        BatchStore::ClickHouse(ch) => ch.fetch_cases().await?,
        BatchStore::Memory(m) => {
            let book = std::mem::take(&mut *m.book.lock().expect("case book"));
            book.into_sorted()
        }
    };
    let score = crate::score::score(&truth, &cases);
    let files = write_outputs(&output, &cases, &score)?;
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

fn produce_paced(
    brokers: &str,
    topics: &[String; 2],
    lines: Vec<feed::FeedLine>,
    processed: &Arc<std::sync::atomic::AtomicU64>,
    progress: bool,
    speed: f64,
) -> Result<u64, rdkafka::error::KafkaError> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()?;
    let total = lines.len() as u64;
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} streaming {bar:40} {pos}/{len} records, {per_sec}, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let first_ms = lines
        .iter()
        .map(|l| l.event_ms)
        .find(|t| *t > 0)
        .unwrap_or(0);
    let started = Instant::now();
    let mut produced = 0u64;
    for line in lines {
        while produced.saturating_sub(processed.load(Ordering::Relaxed)) >= MAX_IN_FLIGHT {
            producer.poll(Duration::from_millis(2));
        }
        if speed > 0.0 {
            let due =
                Duration::from_secs_f64((line.event_ms - first_ms).max(0) as f64 / 1000.0 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(&topics[line.feed]).payload(line.bytes.as_slice());
        if let Some(k) = &line.key {
            record = record.key(k.as_str());
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e),
            }
        }
        produced += 1;
        if let Some(b) = &bar {
            if produced % 1000 == 0 {
                b.set_position(processed.load(Ordering::Relaxed).min(produced));
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    if let Some(b) = bar {
        b.set_position(total);
        b.finish_with_message("all records produced");
    }
    Ok(produced)
}

/// Write the demo's files with the inspector's exporters: cases.jsonl, cases.csv,
/// rogue_transmitters.geojson and .kml (fake-BTS cases: position, uncertainty
/// circle, track) and score.json.
fn write_outputs(
    dir: &std::path::Path,
    cases: &[Case],
    score: &ScoreReport,
) -> Result<Vec<PathBuf>, DemoError> {
    use crate::inspect::export::{write_export, ExportContext, ExportFormat};
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, DemoError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|source| DemoError::Output {
            path: p.display().to_string(),
            source,
        })?;
        Ok(p)
    };
    let render = |format: ExportFormat, cases: &[Case]| -> Vec<u8> {
        let mut buf = Vec::new();
        // Writing into memory cannot fail.
        let _ = write_export(format, cases, &ExportContext::default(), &mut buf);
        buf
    };
    let mut jsonl = Vec::new();
    // Writing into memory cannot fail.
    let _ = crate::cases::write_jsonl(&mut jsonl, cases);
    let transmitters: Vec<Case> = cases
        .iter()
        .filter(|c| c.kind == crate::model::CaseKind::FakeBts)
        .cloned()
        .collect();
    Ok(vec![
        write("cases.jsonl", &jsonl)?,
        write("cases.csv", &render(ExportFormat::Csv, cases))?,
        write(
            "rogue_transmitters.geojson",
            &render(ExportFormat::GeoJson, &transmitters),
        )?,
        write(
            "rogue_transmitters.kml",
            &render(ExportFormat::Kml, &transmitters),
        )?,
        write(
            "score.json",
            serde_json::to_string_pretty(score)
                .unwrap_or_default()
                .as_bytes(),
        )?,
    ])
}
