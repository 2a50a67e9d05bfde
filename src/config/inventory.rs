//! `[inventory]`: the reference data files loaded at start, and the size limits of a
//! cell-inventory CSV row.

use super::check::{at_least, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Reference data files (docs/contract.md, "Registered-cell inventory").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Registered-cell CSV (OpenCellID column order, plus arfcn, pci, azimuth,
    /// eirp_dbm) loaded at start; the inventory topic updates it afterwards.
    /// `--cells` on the command line wins.
    #[schemars(example = &"/data/cells.csv")]
    pub csv: Option<PathBuf>,
    /// Allowlist file of legitimate bulk senders and M2M lines (spam detector).
    #[schemars(example = &"/etc/cellwatch/allowlist.toml")]
    pub allowlist: Option<PathBuf>,
    /// Longest accepted inventory CSV row in bytes. A longer row is rejected (counted
    /// and reported with its line) and the rest of its line skipped without being
    /// buffered, so a corrupt file (an unclosed quote, a line of megabytes) cannot
    /// fill memory. An OpenCellID row is about 100 bytes.
    pub max_row_bytes: usize,
    /// Longest accepted field of an inventory CSV row in bytes; a row with a longer
    /// field is rejected.
    pub max_field_bytes: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            csv: None,
            allowlist: None,
            max_row_bytes: 8 * 1024,
            max_field_bytes: 1024,
        }
    }
}

impl InventoryConfig {
    /// Record what cannot work (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        at_least(p, "inventory.max_row_bytes", self.max_row_bytes as u64, 256);
        at_least(
            p,
            "inventory.max_field_bytes",
            self.max_field_bytes as u64,
            32,
        );
        if self.max_field_bytes > self.max_row_bytes {
            p.push(
                "inventory.max_field_bytes",
                format!(
                    "must not be more than inventory.max_row_bytes ({}), got {}",
                    self.max_row_bytes, self.max_field_bytes
                ),
            );
        }
    }
}
