//! Inventory discrepancies: legitimate-looking cells that the inventory lacks, and
//! registered cells heard where their row says they cannot be. They are not fake base
//! stations — a low-severity list analysts use to correct the inventory
//! (`OUT/inventory_findings.jsonl` in replay).

use crate::model::{Location, Rat, Reason};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Heard by several reporters, behaves like a real cell (ciphers, announces
    /// neighbours, stable footprint) but is not in the inventory.
    MissingCell,
    /// Registered, behaves like a real cell, but is heard around a position far from
    /// its listed coordinates.
    MisplacedCell,
}

/// Listed coordinates of a registered cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ListedPosition {
    pub lat: f64,
    pub lon: f64,
}

/// One suggested correction of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryFinding {
    pub kind: FindingKind,
    /// Always `"low"`: an inventory defect, not an incident.
    pub severity: &'static str,
    /// `MCC-MNC-LAC-CID`.
    pub cell: String,
    pub rat: Rat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arfcn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<ListedPosition>,
    /// Where the reports place the cell.
    pub estimated: Location,
    /// Distance between listed and estimated position, metres (misplaced cells).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_m: Option<f64>,
    pub reporters: usize,
    pub reports: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Diagonal of the reporters' bounding box, metres.
    pub spread_m: f64,
    pub reasons: Vec<Reason>,
}

impl InventoryFinding {
    /// Sort key giving a deterministic order.
    pub fn order_key(&self) -> (FindingKind, &str) {
        (self.kind, self.cell.as_str())
    }
}
