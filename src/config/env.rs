//! Environment overrides, for containers and secrets: a value in the environment
//! wins over the file.
//!
//! Every key has a variable: `CELLWATCH_` + its path joined by `_`, in capitals
//! (`spam.rate_1h` → `CELLWATCH_SPAM_RATE_1H`), parsed by the key's type (lists are
//! comma-separated). Entries of a free-form table are set with the table's name and
//! the entry's, `.` written `_` (`CELLWATCH_KAFKA_LIBRDKAFKA_SASL_PASSWORD` →
//! `kafka.librdkafka."sasl.password"`). The names of earlier releases ([`ALIASES`])
//! still work. An empty variable counts as unset. A `CELLWATCH_` variable that names
//! no key is an error, like an unknown key in the file: a typo in a secret's name
//! would otherwise run without the secret. Values are never logged.

use super::error::ConfigError;
use super::schema::{self, Kind};
use super::Config;
use std::collections::BTreeMap;

/// Every variable this module reads starts with this.
pub(crate) const PREFIX: &str = "CELLWATCH_";

/// Names kept from earlier releases, each for one key (path segments).
pub(crate) const ALIASES: &[(&str, &[&str])] = &[
    (
        "CELLWATCH_KAFKA_SECURITY_PROTOCOL",
        &["kafka", "librdkafka", "security.protocol"],
    ),
    (
        "CELLWATCH_KAFKA_SASL_MECHANISMS",
        &["kafka", "librdkafka", "sasl.mechanisms"],
    ),
    (
        "CELLWATCH_KAFKA_SASL_USERNAME",
        &["kafka", "librdkafka", "sasl.username"],
    ),
    (
        "CELLWATCH_KAFKA_SASL_PASSWORD",
        &["kafka", "librdkafka", "sasl.password"],
    ),
    (
        "CELLWATCH_KAFKA_SSL_CA_LOCATION",
        &["kafka", "librdkafka", "ssl.ca.location"],
    ),
    ("CELLWATCH_CELLS", &["inventory", "csv"]),
];

/// The `CELLWATCH_*` variables of a process, read once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The variables of this process whose name starts with `PREFIX`.
    pub fn from_process() -> Result<Environment, ConfigError> {
        let mut vars = BTreeMap::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with(PREFIX)) else {
                continue;
            };
            let value = value.into_string().map_err(|_| ConfigError::NotUnicode {
                variable: name.to_string(),
            })?;
            vars.insert(name.to_string(), value);
        }
        Ok(Environment { vars })
    }

    /// Given variables (tests, tools, the fuzz entry); names without [`PREFIX`] are
    /// left out.
    pub(crate) fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        Environment { vars }
    }
}

/// A key the environment set: the variable's name and the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    pub variable: String,
    /// Dotted key path, e.g. `kafka.librdkafka.sasl.password`.
    pub key: String,
}

/// One variable, parsed for its key.
#[derive(Debug, Clone)]
pub(crate) struct Override {
    variable: String,
    path: Vec<String>,
    value: toml::Value,
}

impl Override {
    pub(crate) fn applied(&self) -> EnvOverride {
        EnvOverride {
            variable: self.variable.clone(),
            key: self.path.join("."),
        }
    }
}

/// The variable of a key: `CELLWATCH_` + the path joined by `_`, in capitals.
pub(crate) fn variable_name(path: &[String]) -> String {
    format!("{PREFIX}{}", path.join("_").to_uppercase())
}

/// What a variable name sets.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) path: Vec<String>,
    pub(crate) kind: Kind,
}

/// Every variable the configuration reads. Names are unique (a unit test proves it).
pub(crate) struct Catalogue {
    /// The variable of each single key (general rule and aliases).
    pub(crate) names: Vec<(String, Target)>,
    /// Name prefixes of the free-form tables, with the table's path.
    pub(crate) tables: Vec<(String, Vec<String>)>,
}

/// The [`Catalogue`] of the configuration's keys.
pub(crate) fn catalogue() -> Catalogue {
    let mut names = Vec::new();
    let mut tables = Vec::new();
    for key in schema::keys() {
        match key.kind {
            Kind::Table => {}
            Kind::Map => tables.push((format!("{}_", variable_name(&key.path)), key.path)),
            kind => names.push((
                variable_name(&key.path),
                Target {
                    path: key.path,
                    kind,
                },
            )),
        }
    }
    for (name, path) in ALIASES {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        names.push((
            name.to_string(),
            Target {
                path,
                kind: Kind::Text,
            },
        ));
    }
    Catalogue { names, tables }
}

/// Parse every non-empty variable of `env` for its key.
pub(crate) fn overrides(env: &Environment) -> Result<Vec<Override>, ConfigError> {
    let Catalogue { names, tables } = catalogue();
    let mut out: Vec<Override> = Vec::new();
    for (variable, text) in &env.vars {
        if text.is_empty() {
            continue;
        }
        let target = names
            .iter()
            .find(|(name, _)| name == variable)
            .map(|(_, t)| t.clone())
            .or_else(|| map_entry(variable, &tables))
            .ok_or_else(|| ConfigError::UnknownVariable {
                variable: variable.clone(),
            })?;
        let value = parse(&target.kind, text).map_err(|message| ConfigError::Variable {
            variable: variable.clone(),
            key: target.path.join("."),
            message,
        })?;
        if let Some(other) = out.iter().find(|o| o.path == target.path) {
            return Err(ConfigError::Conflict {
                first: other.variable.clone(),
                second: variable.clone(),
                key: target.path.join("."),
            });
        }
        out.push(Override {
            variable: variable.clone(),
            path: target.path,
            value,
        });
    }
    Ok(out)
}

/// `CELLWATCH_KAFKA_LIBRDKAFKA_SASL_PASSWORD` → `kafka.librdkafka."sasl.password"`.
fn map_entry(variable: &str, prefixes: &[(String, Vec<String>)]) -> Option<Target> {
    prefixes.iter().find_map(|(prefix, path)| {
        let entry = variable.strip_prefix(prefix.as_str())?;
        if entry.is_empty() {
            return None;
        }
        let mut path = path.clone();
        path.push(entry.to_lowercase().replace('_', "."));
        Some(Target {
            path,
            kind: Kind::Text,
        })
    })
}

/// The text of a variable as a value of the key's kind; the message says what is
/// expected. Only non-text kinds can fail, so a secret is never echoed.
fn parse(kind: &Kind, text: &str) -> Result<toml::Value, String> {
    let trimmed = text.trim();
    match kind {
        Kind::Integer => trimmed
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("must be a whole number, got {trimmed:?}")),
        Kind::Number => trimmed
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(toml::Value::Float)
            .ok_or_else(|| format!("must be a finite number, got {trimmed:?}")),
        Kind::Boolean => match trimmed {
            "true" => Ok(toml::Value::Boolean(true)),
            "false" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("must be true or false, got {trimmed:?}")),
        },
        Kind::Choice(words) if !words.iter().any(|w| w == trimmed) => Err(format!(
            "must be one of {}, got {trimmed:?}",
            words.join(", ")
        )),
        Kind::Choice(_) => Ok(toml::Value::String(trimmed.to_string())),
        Kind::TextList => Ok(toml::Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        )),
        Kind::Text | Kind::Table | Kind::Map => Ok(toml::Value::String(text.to_string())),
    }
}

/// Put the overrides into the file's table and read the configuration from it; a
/// value its key's type refuses (a negative count, a number too large) is an error
/// naming the variable.
pub(crate) fn apply(
    table: &mut toml::Table,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    for o in overrides {
        insert(table, &o.path, o.value.clone());
    }
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let key = e.path().to_string();
        let message = e.inner().to_string();
        match overrides.iter().find(|o| o.path.join(".") == key) {
            Some(o) => ConfigError::Variable {
                variable: o.variable.clone(),
                key,
                message: format!("is refused: {message}"),
            },
            None => ConfigError::Parse {
                path: "(file and environment)".to_string(),
                message: format!("{key}: {message}"),
            },
        }
    })
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("a key path is never empty");
    let mut at = table;
    for name in parents {
        let entry = at
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        at = entry.as_table_mut().expect("made a table above");
    }
    at.insert(last.clone(), value);
}
