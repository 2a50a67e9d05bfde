//! CSV export: one row per case, flat columns a spreadsheet opens as it is. Lists
//! (SIMs, identities, reasons) are `;`-separated inside one cell.

use crate::inspect::table::{cell_label, fmt_num};
use crate::inspect::time::format_ms;
use crate::model::Case;

/// Column names, in order.
pub const COLUMNS: &[&str] = &[
    "case_id",
    "kind",
    "status",
    "score",
    "opened_at",
    "first_seen",
    "last_seen",
    "opened_at_ms",
    "first_seen_ms",
    "last_seen_ms",
    "operator",
    "sim_count",
    "sims",
    "claimed_cell",
    "identities",
    "lat",
    "lon",
    "radius_m",
    "track_points",
    "reasons",
    "evidence_count",
];

pub(crate) fn write_csv(cases: &[Case], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for c in cases {
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        w.write_record([
            c.case_id.clone(),
            c.kind.as_str().to_string(),
            c.status.as_str().to_string(),
            format!("{:.4}", c.score),
            format_ms(c.opened_at),
            format_ms(c.first_seen),
            format_ms(c.last_seen),
            c.opened_at.to_string(),
            c.first_seen.to_string(),
            c.last_seen.to_string(),
            c.operator.clone().unwrap_or_default(),
            c.sims.len().to_string(),
            c.sims.join(";"),
            c.claimed_cell.as_ref().map(cell_label).unwrap_or_default(),
            c.identities
                .iter()
                .map(cell_label)
                .collect::<Vec<_>>()
                .join(";"),
            opt(c.location.map(|l| l.lat)),
            opt(c.location.map(|l| l.lon)),
            opt(c.location.map(|l| l.radius_m)),
            c.track.len().to_string(),
            c.reasons
                .iter()
                .map(|r| format!("{}={}/{}", r.code, fmt_num(r.value), fmt_num(r.threshold)))
                .collect::<Vec<_>>()
                .join(";"),
            c.evidence_count.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
