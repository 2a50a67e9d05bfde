//! Errors of the inspector surface; each message says what is wrong and what to do.

use super::lifecycle::TransitionError;
use crate::cases::CasesFileError;
use crate::sink::clickhouse::ClickHouseError;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no case with id {id:?} in {store}; list the case ids with `cellwatch cases list`")]
    UnknownCase { id: String, store: String },
    #[error("invalid {flag}: {message}")]
    Filter { flag: &'static str, message: String },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    #[error("cannot read {path}: {source}; {hint}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("cannot write {path}: {source}; check that the folder exists and is writable")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path} is not a replay output folder: {message}; give the folder written by `cellwatch replay --out DIR`")]
    NotAFolder { path: String, message: String },
    #[error(transparent)]
    CasesFile(#[from] CasesFileError),
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("clickhouse at {url} did not answer ({detail}); check that the server runs and --clickhouse-url (or [clickhouse] url) is right, or read a replay folder with --from DIR")]
    Unreachable { url: String, detail: String },
    #[error("clickhouse at {url} did not answer within {secs} s; check that the server runs and --clickhouse-url is right, or read a replay folder with --from DIR")]
    Timeout { url: String, secs: u64 },
    #[error("clickhouse database {database:?} lacks cellwatch's tables ({detail}); run `cellwatch migrate` against it first")]
    NotMigrated { database: String, detail: String },
    #[error("evidence folder {path} already exists and is not empty; choose a new folder so an existing package is never overwritten")]
    EvidenceExists { path: String },
}

/// The innermost cause of an error, e.g. `Connection refused (os error 111)`.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl InspectError {
    pub(crate) fn read(path: &std::path::Path, source: std::io::Error, hint: &'static str) -> Self {
        InspectError::Read {
            path: path.display().to_string(),
            source,
            hint,
        }
    }

    pub(crate) fn write(path: &std::path::Path, source: std::io::Error) -> Self {
        InspectError::Write {
            path: path.display().to_string(),
            source,
        }
    }
}
