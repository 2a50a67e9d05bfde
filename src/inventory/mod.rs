//! The registered-cell inventory (docs/contract.md, "Registered-cell inventory"): the
//! licensed base stations, keyed by their broadcast identity `MCC-MNC-LAC-CID`.
//!
//! Loaded from an OpenCellID-ordered CSV (`csv_loader.rs`) and kept current from the
//! compacted topic `cw.cell-inventory.v1` (`topic.rs`). Both paths validate a row with
//! the same rules (`cell.rs`), so a cell is accepted or refused for the same reason
//! whichever way it arrives.
//!
//! The key is `MCC-MNC-LAC-CID` without the radio technology, as in the contract: two
//! rows with the same numbers under different radios are one key, the later row wins
//! (counted in [`LoadReport::duplicates_replaced`]).

mod cell;
pub(crate) mod csv_limit;
pub(crate) mod csv_loader;
mod error;
pub(crate) mod topic;

#[cfg(test)]
mod csv_limit_tests;
#[cfg(test)]
mod tests;

pub(crate) use cell::RegisteredCell;
pub use csv_loader::{LoadReport, RowError};
pub use error::InventoryError;
pub(crate) use topic::InventoryChange;

use crate::model::CellKey;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// All registered cells, by broadcast identity.
///
/// Stored as a dense `Vec` of cells plus a `HashMap<CellKey, u32>` index into it: a
/// million-cell load touches a 24-byte-per-slot table at random instead of a 128-byte
/// one (the load is bound by those cache misses), and iteration is a linear scan in
/// insertion order. Removal swaps the last cell into the hole.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    index: HashMap<CellKey, u32>,
    cells: Vec<RegisteredCell>,
}

impl Inventory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `additional` more cells without reallocating.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional);
        self.cells.reserve(additional);
    }

    #[inline]
    pub(crate) fn get(&self, key: &CellKey) -> Option<&RegisteredCell> {
        self.index.get(key).map(|&i| &self.cells[i as usize])
    }

    /// Insert or replace a cell (under `cell.key`); returns the cell it replaced.
    pub(crate) fn insert(&mut self, cell: RegisteredCell) -> Option<RegisteredCell> {
        match self.index.entry(cell.key) {
            Entry::Occupied(slot) => Some(std::mem::replace(
                &mut self.cells[*slot.get() as usize],
                cell,
            )),
            Entry::Vacant(slot) => {
                // u32 indices: 4 billion cells is far beyond any national inventory
                slot.insert(self.cells.len() as u32);
                self.cells.push(cell);
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &CellKey) -> Option<RegisteredCell> {
        let i = self.index.remove(key)? as usize;
        let removed = self.cells.swap_remove(i);
        if let Some(moved) = self.cells.get(i) {
            self.index.insert(moved.key, i as u32);
        }
        Some(removed)
    }

    pub fn contains(&self, key: &CellKey) -> bool {
        self.index.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells in no particular order (fast; insertion order unless cells were removed).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RegisteredCell> {
        self.cells.iter()
    }

    /// The cells ordered by key (MCC, MNC, LAC, CID): deterministic output.
    pub(crate) fn iter_sorted(&self) -> impl Iterator<Item = &RegisteredCell> {
        let mut cells: Vec<&RegisteredCell> = self.cells.iter().collect();
        cells.sort_unstable_by_key(|c| c.key);
        cells.into_iter()
    }
}

/// Equal when both hold the same cells under the same keys, whatever the order.
impl PartialEq for Inventory {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.cells.iter().all(|c| other.get(&c.key) == Some(c))
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
