//! Why a configuration could not be loaded: each error names the file, the
//! environment variable or the full key, and says what to do.

use std::fmt;

/// Errors loading or validating the configuration.
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
    #[error("environment variable {variable} names no configuration key; unset it, or use CELLWATCH_ + the key path in capitals joined by _ (docs/configuration.md)")]
    UnknownVariable { variable: String },
    #[error("environment variable {variable} is not valid UTF-8; set it to text")]
    NotUnicode { variable: String },
    #[error("environment variables {first} and {second} both set {key}; keep one of them")]
    Conflict {
        first: String,
        second: String,
        key: String,
    },
    #[error("environment variable {variable} (key {key}) {message}")]
    Variable {
        variable: String,
        key: String,
        message: String,
    },
    #[error("invalid configuration: {}", list(problems))]
    Invalid { problems: Vec<Problem> },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One key whose value cannot work.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Full key path, e.g. `spam.open_score`.
    pub(crate) key: String,
    /// What is wrong and what to do, e.g. `must be within 0..=1, got 1.5`.
    pub(crate) message: String,
    /// The environment variable that set the key, when one did.
    pub(crate) variable: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.message)?;
        if let Some(v) = &self.variable {
            write!(f, " (set by {v})")?;
        }
        Ok(())
    }
}
