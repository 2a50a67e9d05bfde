//! JSON export: the cases as an array of contract objects (docs/contract.md, "Cases"), status current.

use crate::model::Case;

pub(crate) fn write_json(cases: &[Case], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, cases)?;
    out.write_all(b"\n")
}
