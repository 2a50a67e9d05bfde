//! Apply updates from the compacted topic `cw.cell-inventory.v1`.
//!
//! Key: `MCC-MNC-LAC-CID` (decimal). Value: a JSON object with the CSV column names
//! (`radio, mcc, net, area, cell, unit, lon, lat, range, samples, changeable, created,
//! updated, averageSignal, arfcn, pci, azimuth, eirp_dbm`); `radio, mcc, net, area,
//! cell, lon, lat, range` are required, the others may be absent or null (`samples`
//! defaults to 0). Unknown fields are ignored (the contract may grow). A missing value
//! (Kafka tombstone), an empty value or the JSON literal `null` removes the cell. The
//! row rules are the CSV loader's, and the key must equal the body's `mcc-net-area-cell`.

use super::cell::RawCell;
use super::{Inventory, InventoryError};
use crate::model::{CellKey, KeyText};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InventoryChange {
    /// A new cell.
    Inserted,
    /// An existing cell's record was replaced.
    Replaced,
    /// A cell was removed.
    Removed,
    /// A removal for a cell that is not in the inventory (nothing changed).
    NotPresent,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    radio: Cow<'a, str>,
    mcc: u64,
    net: u64,
    area: u64,
    cell: u64,
    unit: Option<i64>,
    lon: f64,
    lat: f64,
    range: f64,
    samples: Option<u64>,
    #[allow(dead_code)]
    changeable: Option<IgnoredAny>,
    #[allow(dead_code)]
    created: Option<i64>,
    updated: Option<i64>,
    #[serde(rename = "averageSignal")]
    #[allow(dead_code)]
    average_signal: Option<f64>,
    arfcn: Option<u64>,
    pci: Option<u64>,
    azimuth: Option<f64>,
    eirp_dbm: Option<f64>,
}

impl Inventory {
    /// Apply one record of the topic `cw.cell-inventory.v1`: `value` `None`, empty or `null` removes `key`,
    /// an object inserts or replaces it. A refused update leaves the inventory as it was.
    pub(crate) fn apply_update(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<InventoryChange, InventoryError> {
        let cell_key = CellKey::parse(key.trim()).ok_or_else(|| InventoryError::BadKey {
            key: super::cell::truncate(key).to_string(),
        })?;
        let body = match value.map(<[u8]>::trim_ascii) {
            None | Some(b"" | b"null") => {
                return Ok(match self.remove(&cell_key) {
                    Some(_) => InventoryChange::Removed,
                    None => InventoryChange::NotPresent,
                })
            }
            Some(body) => body,
        };
        let bad = |reason: String| InventoryError::BadUpdate {
            key: cell_key.to_string(),
            reason,
        };
        let parsed: Body = serde_json::from_slice(body).map_err(|e| bad(json_reason(&e)))?;
        let raw = RawCell {
            radio: &parsed.radio,
            mcc: parsed.mcc,
            net: parsed.net,
            area: parsed.area,
            cell: parsed.cell,
            unit: parsed.unit,
            lon: parsed.lon,
            lat: parsed.lat,
            range: parsed.range,
            samples: parsed.samples.unwrap_or(0),
            updated_s: parsed.updated,
            arfcn: parsed.arfcn,
            pci: parsed.pci,
            azimuth: parsed.azimuth,
            eirp_dbm: parsed.eirp_dbm,
        };
        // The identity first, so a mismatch is reported as such even if the body's
        // numbers would also break a range rule.
        let body_key = KeyText([raw.mcc, raw.net, raw.area, raw.cell]).to_string();
        if body_key != cell_key.to_string() {
            return Err(InventoryError::KeyMismatch {
                key: cell_key.to_string(),
                body: body_key,
            });
        }
        let cell = raw.validate().map_err(bad)?;
        Ok(match self.insert(cell) {
            Some(_) => InventoryChange::Replaced,
            None => InventoryChange::Inserted,
        })
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}
