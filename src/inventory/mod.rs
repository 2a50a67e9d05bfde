//! The registered-cell inventory (contract §3): the licensed base stations, keyed by
//! their broadcast identity `MCC-MNC-LAC-CID`.
//!
//! Loaded from an OpenCellID-ordered CSV ([`csv_loader`]) and kept current from the
//! compacted topic `cw.cell-inventory.v1` ([`topic`]). Both paths validate a row with
//! the same rules ([`cell`]), so a cell is accepted or refused for the same reason
//! whichever way it arrives.
//!
//! The key is `MCC-MNC-LAC-CID` without the radio technology, as in the contract: two
//! rows with the same numbers under different radios are one key, the later row wins
//! (counted in [`LoadReport::duplicates_replaced`]).

mod cell;
pub mod csv_loader;
mod error;
pub mod topic;

#[cfg(test)]
mod tests;

pub use cell::RegisteredCell;
pub use csv_loader::{LoadReport, RowError, MAX_STORED_ROW_ERRORS, STANDARD_COLUMNS};
pub use error::InventoryError;
pub use topic::{InventoryChange, TOPIC};

use crate::model::CellKey;
use std::collections::HashMap;

/// All registered cells, by broadcast identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    cells: HashMap<CellKey, RegisteredCell>,
}

impl Inventory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Inventory {
            cells: HashMap::with_capacity(capacity),
        }
    }

    #[inline]
    pub fn get(&self, key: &CellKey) -> Option<&RegisteredCell> {
        self.cells.get(key)
    }

    /// Insert or replace a cell (under `cell.key`); returns the cell it replaced.
    pub fn insert(&mut self, cell: RegisteredCell) -> Option<RegisteredCell> {
        self.cells.insert(cell.key, cell)
    }

    pub fn remove(&mut self, key: &CellKey) -> Option<RegisteredCell> {
        self.cells.remove(key)
    }

    pub fn contains(&self, key: &CellKey) -> bool {
        self.cells.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells in no particular order (fast).
    pub fn iter(&self) -> impl Iterator<Item = &RegisteredCell> {
        self.cells.values()
    }

    /// The cells ordered by key (MCC, MNC, LAC, CID): deterministic output.
    pub fn iter_sorted(&self) -> impl Iterator<Item = &RegisteredCell> {
        let mut cells: Vec<&RegisteredCell> = self.cells.values().collect();
        cells.sort_unstable_by_key(|c| c.key);
        cells.into_iter()
    }
}

impl FromIterator<RegisteredCell> for Inventory {
    fn from_iter<I: IntoIterator<Item = RegisteredCell>>(iter: I) -> Self {
        let mut inv = Inventory::new();
        for cell in iter {
            inv.insert(cell);
        }
        inv
    }
}

impl Extend<RegisteredCell> for Inventory {
    fn extend<I: IntoIterator<Item = RegisteredCell>>(&mut self, iter: I) {
        for cell in iter {
            self.insert(cell);
        }
    }
}
