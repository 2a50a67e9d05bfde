//! Inventory errors that stop a load or refuse a topic update. Bad CSV rows are not
//! errors: they are reported in [`super::LoadReport`] and skipped.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot open cell inventory {}: {source}; check the path given for the cell inventory (--cells)", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read cell inventory {} near line {line}: {source}; check that the file is complete and readable", path.display())]
    Read {
        path: PathBuf,
        line: u64,
        #[source]
        source: csv::Error,
    },

    #[error("cell inventory {} has an unusable header: {message}; the first line must be the OpenCellID header `radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal` (optionally followed by arfcn,pci,azimuth,eirp_dbm), or the file must have no header and exactly those 14 columns", path.display())]
    Header { path: PathBuf, message: String },

    #[error("cannot write cell inventory: {0}; check the output path and free space")]
    Write(#[source] csv::Error),

    #[error("inventory topic key `{key}` is not MCC-MNC-LAC-CID; the producer must key each record by the cell's identity")]
    BadKey { key: String },

    #[error("inventory update for {key} is invalid: {reason}; fix the record at its producer (null value removes a cell)")]
    BadUpdate { key: String, reason: String },

    #[error("inventory update key {key} does not match the body's identity {body}; the producer must key each record by the MCC-MNC-LAC-CID in its body")]
    KeyMismatch { key: String, body: String },
}
