//! The configuration of every command, at the bottom of the crate: it imports nothing
//! else from cellwatch, and every layer above reads its settings from here.
//!
//! Every command loads it the same way, with [`Config::load`]: the defaults of each
//! section (documented key by key), then the TOML file when one is given, then the
//! `CELLWATCH_*` environment variables ([`env`]), then validation once, with errors
//! that name the full key. `cellwatch config example` prints every key with its doc
//! comment and default ([`example`]); `cellwatch config check FILE` prints the
//! effective configuration with secrets masked ([`mask`]). docs/configuration.md
//! explains it for operators.

mod check;
mod clickhouse;
mod confidence;
mod console;
pub(crate) mod env;
#[cfg(test)]
mod env_tests;
mod error;
pub mod example;
mod fakebts;
mod fakebts_check;
mod fakebts_regions;
mod fakebts_weights;
mod http;
mod inventory;
mod kafka;
pub mod mask;
mod pipeline;
mod schema;
mod sink;
mod spam;
#[cfg(test)]
mod tests;

pub use clickhouse::ClickHouseConfig;
pub(crate) use confidence::RuleConfidence;
pub use console::ConsoleConfig;
pub use env::{EnvOverride, Environment};
pub use error::{ConfigError, Problem};
pub use fakebts::FakeBtsConfig;
pub use http::HttpConfig;
pub use inventory::InventoryConfig;
pub use kafka::{KafkaConfig, TopicsConfig, Topology};
pub(crate) use pipeline::EventOrder;
pub use pipeline::PipelineConfig;
pub use sink::SinkConfig;
pub use spam::SpamConfig;

use check::Problems;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// cellwatch configuration. Every key is optional: a key left out keeps the default
/// shown here. CELLWATCH_* environment variables override the file
/// (docs/configuration.md); unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub pipeline: PipelineConfig,
    pub inventory: InventoryConfig,
    pub spam: SpamConfig,
    pub fakebts: FakeBtsConfig,
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub http: HttpConfig,
    pub sink: SinkConfig,
    pub console: ConsoleConfig,
}

/// A configuration as loaded, with the keys the environment set (never their values).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub overrides: Vec<EnvOverride>,
}

impl Config {
    /// The configuration of a command: defaults, then `file` when given, then the
    /// process's `CELLWATCH_*` variables, validated. Every command calls this.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env = Environment::from_process()?;
        Ok(Config::load_from(file, &env)?.config)
    }

    /// [`Config::load`] with the environment given (tests, `config check`).
    pub fn load_from(file: Option<&Path>, env: &Environment) -> Result<Loaded, ConfigError> {
        let text = match file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let origin = file.map_or_else(|| "(none)".to_string(), |p| p.display().to_string());
        Config::from_layers(&origin, text.as_deref(), env)
    }

    /// Defaults, then the TOML `text` (named `origin` in errors), then `env`, validated.
    pub fn from_layers(
        origin: &str,
        text: Option<&str>,
        env: &Environment,
    ) -> Result<Loaded, ConfigError> {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim().to_string(),
        };
        let (from_file, mut table) = match text {
            Some(text) => (
                toml::from_str::<Config>(text).map_err(parse_err)?,
                toml::from_str::<toml::Table>(text).map_err(parse_err)?,
            ),
            None => (Config::default(), toml::Table::new()),
        };
        let overrides = env::overrides(env)?;
        let config = if overrides.is_empty() {
            from_file
        } else {
            env::apply(&mut table, &overrides)?
        };
        let applied: Vec<EnvOverride> = overrides.iter().map(|o| o.applied()).collect();
        let mut problems = config.problems();
        if !problems.0.is_empty() {
            for problem in &mut problems.0 {
                problem.variable = applied
                    .iter()
                    .find(|o| o.key == problem.key)
                    .map(|o| o.variable.clone());
            }
            return Err(ConfigError::Invalid {
                problems: problems.0,
            });
        }
        for o in &applied {
            tracing::info!(variable = %o.variable, key = %o.key, "configuration key set from the environment");
        }
        Ok(Loaded {
            config,
            overrides: applied,
        })
    }

    /// Check every section; the error lists each key that cannot work.
    #[cfg(test)]
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.problems().into_result()
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        self.pipeline.check(&mut p);
        self.inventory.check(&mut p);
        self.spam.check(&mut p);
        self.fakebts.check(&mut p);
        self.kafka.check(&mut p);
        self.clickhouse.check(&mut p);
        self.http.check(&mut p);
        self.sink.check(&mut p);
        self.console.check(&mut p);
        if self.kafka.transmitter_partitions > 1 && self.fakebts.regions.one_region() {
            p.push(
                "kafka.transmitter_partitions",
                format!(
                    "{} needs the map cut into tiles (one region has one task): set [fakebts.regions] tile_km, e.g. 100, in every instance and in the replay's configuration",
                    self.kafka.transmitter_partitions
                ),
            );
        }
        p
    }
}
