//! cellwatch: streaming detection of spam SIMs, SIM farms and fake base stations.
//!
//! Data flows ingest → validate (`model`) → event time (`window`) → detect → cases → sinks.
//! The offline `replay` and the Kafka service run the same pipeline code.

pub mod cases;
pub mod detect;
pub mod model;
