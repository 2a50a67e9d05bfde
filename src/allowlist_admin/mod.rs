//! `cellwatch allowlist add|remove|list`: operator tooling for the allowlist of
//! legitimate bulk senders and M2M lines that the spam detector honours.
//!
//! One format: the file is the spam detector's own (`detect/spam/allowlist.rs`,
//! TOML `[[sim]]` blocks or plain text by extension) and is edited in place, keeping
//! comments and unrelated entries; the compacted topic `cw.allowlist.v1` carries the
//! same entries as JSON (key = SIM pseudonym, null = removal). One entry per SIM:
//! adding a SIM that is already there replaces its entry, as the topic would.

pub mod file;
pub(crate) mod topic;

pub use file::AllowlistFile;
pub(crate) use file::FileFormat;
pub use topic::{publish, read_topic, TOPIC};

use crate::detect::spam::{AllowEntry, AllowlistError};

/// Errors of the allowlist tooling; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistAdminError {
    #[error(transparent)]
    Load(#[from] AllowlistError),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("sim {sim} is not on the allowlist {path}; nothing changed (see `cellwatch allowlist list --file {path}`)")]
    NotListed { sim: String, path: String },
    #[error(
        "cannot write allowlist {path}: {source}; check that the folder exists and is writable"
    )]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read allowlist {path}: {source}; check the path given to --file")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("kafka at {brokers}: {message}; check that the brokers run and --brokers is right")]
    Kafka { brokers: String, message: String },
    #[error(transparent)]
    KafkaFailure(#[from] crate::kafka_failure::KafkaFailure),
}

/// Check an entry before it is written anywhere: the SIM must be a pseudonym (a clear
/// number is refused, docs/contract.md), the other fields must survive the file format.
pub(crate) fn validate_entry(
    entry: &AllowEntry,
    format: FileFormat,
) -> Result<(), AllowlistAdminError> {
    crate::model::check_pseudonym("sim", &entry.sim).map_err(|e| AllowlistAdminError::Invalid {
        field: "sim",
        message: format!("{e}; pseudonymize it first (`cellwatch pseudonymize`)"),
    })?;
    if let Some(op) = &entry.operator {
        if op.is_empty() || !op.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AllowlistAdminError::Invalid {
                field: "--operator",
                message: format!(
                    "{op:?} is not an operator code; give letters and digits, e.g. 45204"
                ),
            });
        }
    }
    if let Some(k) = &entry.kind {
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(AllowlistAdminError::Invalid {
                field: "--kind",
                message: format!("{k:?} must be one word (letters, digits, _ or -), e.g. bulk_sender, m2m, school"),
            });
        }
    }
    if let Some(l) = &entry.label {
        if l.trim().is_empty() || l.chars().any(char::is_control) || l.chars().count() > 200 {
            return Err(AllowlistAdminError::Invalid {
                field: "--label",
                message: "the label must be one line of printable text, at most 200 characters"
                    .into(),
            });
        }
        if format == FileFormat::Text && entry.kind.is_none() {
            return Err(AllowlistAdminError::Invalid {
                field: "--label",
                message: "a plain-text allowlist puts the label after the kind; give --kind too"
                    .into(),
            });
        }
    }
    Ok(())
}
