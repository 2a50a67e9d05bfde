//! Run configuration: one TOML file, every field optional with a documented default.

use serde::Deserialize;
use std::path::Path;

/// Errors loading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}; check the path given to --config")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
}

/// The whole configuration of `replay`, `run` and `demo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub pipeline: PipelineConfig,
    pub inventory: InventoryConfig,
    pub spam: crate::detect::spam::SpamConfig,
    pub fakebts: crate::detect::fakebts::FakeBtsConfig,
    pub kafka: crate::service::config::KafkaConfig,
    pub clickhouse: crate::sink::clickhouse::ClickHouseConfig,
    pub http: crate::service::config::HttpConfig,
    pub sink: crate::service::config::SinkConfig,
}

/// `[inventory]`: reference data files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Registered-cell CSV (OpenCellID order) loaded at start; the inventory topic
    /// updates it afterwards. `--cells` on the command line wins.
    pub csv: Option<std::path::PathBuf>,
    /// Allowlist file of legitimate bulk senders and M2M lines (spam detector).
    pub allowlist: Option<std::path::PathBuf>,
}

/// Validation and event-time settings shared by every source.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// How far behind the highest event time seen a record may be before it is
    /// dead-lettered as `late`. Default 600 s: operators report in 1–15 min intervals
    /// and probes upload in batches.
    pub allowed_lateness_secs: u64,
    /// Largest accepted record in bytes; longer lines are dead-lettered as `too_large`
    /// without being buffered whole. Default 1 MiB (a real record is < 4 KiB).
    pub max_record_bytes: usize,
    /// Event-time progress between two watermark notifications to detectors
    /// (window closing, eviction). Default 10 s.
    pub watermark_step_secs: u64,
    /// How much history a worker re-reads to rebuild detector state when it is
    /// assigned partitions: the longest detector window plus the allowed lateness.
    /// Default 87 000 s (24 h + 10 min).
    pub restore_window_secs: u64,
    /// `event_time` (default): detectors get events in canonical event-time order,
    /// held until the watermark passes them — the same input gives the same cases,
    /// replayed or streamed, at the price of holding events up to the allowed
    /// lateness. `arrival`: lowest latency; cross-key detectors (farms, identity
    /// linking) may then differ with partition interleaving.
    pub ordering: crate::pipeline::EventOrder,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            allowed_lateness_secs: 600,
            max_record_bytes: 1 << 20,
            watermark_step_secs: 10,
            restore_window_secs: 87_000,
            ordering: crate::pipeline::EventOrder::EventTime,
        }
    }
}

impl PipelineConfig {
    pub fn allowed_lateness_ms(&self) -> i64 {
        (self.allowed_lateness_secs as i64).saturating_mul(1000)
    }

    pub fn restore_window_ms(&self) -> i64 {
        (self.restore_window_secs as i64).saturating_mul(1000)
    }

    pub fn watermark_step_ms(&self) -> i64 {
        (self.watermark_step_secs as i64).saturating_mul(1000)
    }
}

impl Config {
    /// Load a TOML file; unknown keys are refused so a typo never silently falls
    /// back to a default.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string().trim().to_string(),
        })
    }

    /// Load the file when given (defaults otherwise), then apply the
    /// `CELLWATCH_*` environment overrides.
    pub fn load_with_env(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        crate::service::env::apply(&mut config, |k| std::env::var(k).ok());
        Ok(config)
    }
}
