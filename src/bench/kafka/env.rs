//! The environment of one Kafka measurement: fresh topics (4 partitions each), a
//! fresh consumer group and a fresh ClickHouse database, removed afterwards; and
//! the service (`service::run`, the code of `cellwatch run`) started in this
//! process on them.

use super::Services;
use crate::bench::machine::cpu_seconds_of;
use crate::bench::scenario::Scenario;
use crate::config::{ClickHouseConfig, Config};
use crate::service::metrics::Metrics;
use crate::service::outputs::BatchStore;
use crate::service::{self, ServiceOptions};
use crate::sink::clickhouse::{migrate, ClickHouse};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

/// Partitions of every topic a run creates (as `scripts/services.sh`).
const PARTITIONS: i32 = 4;

/// Topics, group and database of one run, created fresh and removed afterwards.
pub(super) struct RunEnv {
    pub(crate) services: Services,
    pub(crate) config: Config,
    pub(crate) ch: ClickHouse,
}

/// A name no earlier run used: `prefix`, the process id and the time.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

impl RunEnv {
    /// A run of the `single` topology: the per-instance figure (in the staged one
    /// the service's counters follow stage ingest, so "acknowledged" would not
    /// include detection; the scaling runs time the staged topology by its
    /// groups' committed offsets instead).
    pub(crate) async fn create(services: &Services, base: &Config) -> Result<RunEnv, String> {
        Self::create_with(services, base, crate::config::Topology::Single).await
    }

    pub(crate) async fn create_with(
        services: &Services,
        base: &Config,
        topology: crate::config::Topology,
    ) -> Result<RunEnv, String> {
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
        t.internal_sms = unique("cw-bench-isms");
        t.internal_measurements = unique("cw-bench-imeas");
        t.internal_transmitters = unique("cw-bench-itx");
        t.internal_cross_sim = unique("cw-bench-ixs");
        config.kafka.topology = topology;
        config.http.listen = "127.0.0.1:0".into();
        config.clickhouse = ClickHouseConfig {
            url: services.clickhouse_url.clone(),
            database: unique("cw_bench"),
            ..base.clickhouse.clone()
        };
        let admin = admin(&services.brokers)?;
        let topics: Vec<NewTopic> = t
            .contract()
            .into_iter()
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
    pub(crate) async fn remove(self) {
        let t = &self.config.kafka.topics;
        if let Ok(admin) = admin(&self.services.brokers) {
            let names = [
                t.sms_volume.as_str(),
                t.measurements.as_str(),
                t.cases.as_str(),
                t.dead_letter.as_str(),
                t.inventory.as_str(),
                t.allowlist.as_str(),
                t.internal_sms.as_str(),
                t.internal_measurements.as_str(),
                t.internal_transmitters.as_str(),
                t.internal_cross_sim.as_str(),
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

    /// The two feed topics (SMS volume, measurements).
    pub(crate) fn topics(&self) -> [String; 2] {
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

/// Fixes "now" for the contract's timestamp bound: the scenarios are in Nov 2026.
pub(super) fn bench_now_ms() -> i64 {
    chrono::Utc::now()
        .timestamp_millis()
        .max(crate::simulate::BASE_START_MS + 40 * 86_400_000)
}

/// The service running on a run's environment.
pub(super) struct Running {
    pub(crate) metrics: Metrics,
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<Result<service::ServiceReport, service::ServiceError>>,
}

pub(super) fn start_service(env: &RunEnv, scenario: &Scenario) -> Running {
    start_service_with(env, scenario, env.config.clone())
}

/// [`start_service`] with `config` instead of the run's own.
pub(super) fn start_service_with(env: &RunEnv, scenario: &Scenario, config: Config) -> Running {
    let metrics = Metrics::new();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(service::run(ServiceOptions {
        config,
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
    pub(crate) async fn stop(self) -> Result<service::ServiceReport, String> {
        let _ = self.stop.send(true);
        self.handle
            .await
            .map_err(|e| format!("service task failed: {e}"))?
            .map_err(|e| format!("service failed: {e}"))
    }
}

/// Command-line markers of the server processes whose CPU time is reported.
const CLICKHOUSE_PROCESS: &str = "clickhouse-server";
const KAFKA_PROCESS: &str = "kafka.Kafka";

/// CPU seconds used since the meter started: by this process, the ClickHouse
/// server and the Kafka broker.
pub(super) struct CpuMeter {
    own: f64,
    clickhouse: f64,
    kafka: f64,
}

impl CpuMeter {
    pub(super) fn start() -> CpuMeter {
        CpuMeter {
            own: crate::bench::replay::cpu_seconds(),
            clickhouse: cpu_seconds_of(CLICKHOUSE_PROCESS),
            kafka: cpu_seconds_of(KAFKA_PROCESS),
        }
    }

    /// `(own, clickhouse, kafka)` CPU seconds since the start.
    pub(super) fn used(&self) -> (f64, f64, f64) {
        (
            crate::bench::replay::cpu_seconds() - self.own,
            cpu_seconds_of(CLICKHOUSE_PROCESS) - self.clickhouse,
            cpu_seconds_of(KAFKA_PROCESS) - self.kafka,
        )
    }
}
