//! The inspector and analyst surface: case queries over ClickHouse or a
//! replay output folder, the case lifecycle with its append-only audit trail,
//! exports for spreadsheets and GIS (CSV, JSON, GeoJSON, KML) and per-case evidence
//! packages with a self-contained HTML report and a SHA-256 manifest.
//!
//! Everything here reads cases; only `lifecycle.rs` changes (appends) anything, and
//! [`evidence`] writes new folders. The CLI (`cellwatch cases …`) is a thin layer.

pub mod cells;
pub(crate) mod error;
pub mod evidence;
pub mod export;
pub mod filter;
pub mod geo;
pub(crate) mod lifecycle;
pub(crate) mod reasons;
pub(crate) mod records;
pub(crate) mod sims;
pub mod store;
pub mod table;
pub mod time;

pub use error::InspectError;
pub use filter::{BoundingBox, CaseFilter};
pub use lifecycle::{StatusChange, TransitionError};
pub use records::{EvidenceRecord, Observation};
pub use store::{set_status, CaseStore, ClickHouseStore, FolderStore};
