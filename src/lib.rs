//! cellwatch: streaming detection of spam SIMs, SIM farms and fake base stations.
//!
//! Data flows ingest → validate (`model`) → event time (`window`) → detect → cases → sinks.
//! The offline `replay` and the Kafka service run the same pipeline code.
//!
//! # Layout
//!
//! Three layers, each listed bottom up. A module imports only modules listed before
//! it, so imports point down and [`config`] is at the bottom.
//!
//! - core, the detection: [`config`], [`model`] (the feed contract as types),
//!   [`ingest`], [`window`] (event time), [`validate`], [`inventory`] (registered
//!   cells), [`detect`] (spam and fake-BTS detectors), [`pipeline`], [`cases`],
//!   [`sink`] (ClickHouse).
//! - runtime, the process around the core: [`alloc`], [`kafka_failure`], and the two drivers of the same
//!   pipeline, [`replay`] (JSON Lines files) and [`service`] (Kafka, `cellwatch run`).
//! - tools, the other commands: [`simulate`], [`score`], [`pseudonymize`],
//!   [`allowlist_admin`], [`inspect`] (queries, lifecycle, exports, evidence
//!   packages), [`console`] (the analyst console over the inspector's store),
//!   [`demo`] (a scenario through the service on an in-process Kafka,
//!   then scored), [`bench`](mod@bench), [`fuzz`] (the fuzz targets' entry points).
//!
//! `pub` items are the API: what the package's other crates use (the `cellwatch`
//! binary in `src/main.rs` and `src/cli/`, the integration tests, the benches, the
//! example, the fuzz target) and the types in its signatures, each nameable from a
//! `pub` module. Everything else is `pub(crate)`.
//!
//! The documents are in `docs/`: `README.md` (the index), `contract.md` (feeds, cases,
//! the replay command), `detection.md` (rules and scores), `streaming.md` (event time,
//! delivery), `clickhouse.md` (tables), `configuration.md` (loading, keys) and
//! `console.md` (the analyst console and its API).

// Core, bottom up. (A comment between declarations keeps rustfmt from sorting them.)
// Settings of every command; imports nothing else from cellwatch.
pub mod config;
// The feed contract as types.
pub mod model;
// Sources of raw records.
pub mod ingest;
// Watermarks and sliding windows.
pub mod window;
// Raw bytes → typed event, or a dead letter.
pub mod validate;
// Registered cells.
pub mod inventory;
// The detectors.
pub mod detect;
// Events to detectors in event-time order, shared by replay and service.
pub mod pipeline;
// One final case per id.
pub mod cases;
// ClickHouse.
pub mod sink;

// Runtime.
// The process's memory allocator.
pub mod alloc;
// Kafka failures that retrying cannot cure (login, TLS), shared by service and tools.
pub mod kafka_failure;
// `cellwatch replay`.
pub mod replay;
// Lib tests' shared scenario and pipeline helpers.
#[cfg(test)]
mod test_support;
// `cellwatch run`.
pub mod service;

// Tools.
// `cellwatch simulate`.
pub mod simulate;
// `cellwatch score`.
pub mod score;
// `cellwatch pseudonymize`.
pub mod pseudonymize;
// `cellwatch allowlist`.
pub mod allowlist_admin;
// `cellwatch cases`.
pub mod inspect;
// `cellwatch console`.
pub mod console;
// `cellwatch demo`.
pub mod demo;
// `cellwatch bench`.
pub mod bench;
// Entry points of the fuzz targets and of their corpus replay test.
pub mod fuzz;
