//! `[inventory]`: the reference data files loaded at start.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Reference data files (docs/contract.md, "Registered-cell inventory").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
}
