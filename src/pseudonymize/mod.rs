//! `cellwatch pseudonymize`: turns the MSISDN / IMSI / IMEI columns of an operator's
//! CSV or JSON Lines file into the contract's pseudonyms (lower-case hex of
//! HMAC-SHA256 with the operator's key, docs/contract.md), streaming, so operators can
//! build conforming feeds without ever sending a real number.
//!
//! The key is read from a file and never printed, logged or echoed in an error; values
//! that do not look like the identifier they should be are refused by line and
//! column, without showing the value (it is personal data).

mod columns;
mod key;
mod stream;

pub use columns::ColumnSpec;
pub use key::{KeyError, Pseudonymizer};
pub use stream::{pseudonymize_csv, pseudonymize_jsonl, InputFormat, StreamReport};

/// Errors of a pseudonymization run; none of them contains the key or a clear value.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymizeError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("invalid --columns: {0}")]
    Columns(String),
    #[error("line {line}, column {column}: {message}; fix the input (nothing was written)")]
    Value {
        line: u64,
        column: String,
        message: String,
    },
    #[error("line {line}: {message}; fix the input (nothing was written)")]
    Record { line: u64, message: String },
    #[error("the input has none of the columns {wanted}; name them with --columns (its columns are: {found})")]
    NoColumns { wanted: String, found: String },
    #[error(
        "the input has no column {missing} asked for with --columns (its columns are: {found})"
    )]
    MissingColumn { missing: String, found: String },
    #[error("cannot read the input: {0}; check the path given to --input")]
    Read(#[source] std::io::Error),
    #[error("cannot write the output: {0}; check the path given to --output and free space")]
    Write(#[source] std::io::Error),
}
