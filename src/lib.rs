//! cellwatch: streaming detection of spam SIMs, SIM farms and fake base stations.
//!
//! Data flows ingest → validate (`model`) → event time (`window`) → detect → cases → sinks.
//! The offline `replay` and the Kafka service run the same pipeline code.

pub mod alloc;
pub mod allowlist_admin;
pub mod bench;
pub mod cases;
pub mod config;
pub mod demo;
pub mod detect;
pub mod ingest;
pub mod inspect;
pub mod inventory;
pub mod model;
pub mod pipeline;
pub mod pseudonymize;
pub mod replay;
pub mod score;
pub mod service;
pub mod simulate;
pub mod sink;
pub mod validate;
pub mod window;
