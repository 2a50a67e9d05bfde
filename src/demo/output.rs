//! The demo's results: the cases read back from where the service stored them,
//! and the files written with the inspector's exporters.

use super::DemoError;
use crate::model::Case;
use crate::score::ScoreReport;
use crate::service::outputs::BatchStore;
use std::path::{Path, PathBuf};

/// Every case the service stored, in a deterministic order.
pub(super) async fn collect_cases(store: &BatchStore) -> Result<Vec<Case>, DemoError> {
    Ok(match store {
        BatchStore::ClickHouse(ch) => ch.fetch_cases().await?,
        BatchStore::Memory(m) => {
            let book = std::mem::take(&mut *m.book.lock().expect("case book"));
            book.into_sorted()
        }
    })
}

/// Write the demo's files with the inspector's exporters: cases.jsonl, cases.csv,
/// rogue_transmitters.geojson and .kml (fake-BTS cases: position, uncertainty
/// circle, track) and score.json.
pub(super) fn write_outputs(
    dir: &Path,
    cases: &[Case],
    score: &ScoreReport,
) -> Result<Vec<PathBuf>, DemoError> {
    use crate::inspect::export::{write_export, ExportContext, ExportFormat};
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, DemoError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|source| DemoError::Output {
            path: p.display().to_string(),
            source,
        })?;
        Ok(p)
    };
    let render = |format: ExportFormat, cases: &[Case]| -> Vec<u8> {
        let mut buf = Vec::new();
        // Writing into memory cannot fail.
        let _ = write_export(format, cases, &ExportContext::default(), &mut buf);
        buf
    };
    let mut jsonl = Vec::new();
    // Writing into memory cannot fail.
    let _ = crate::cases::write_jsonl(&mut jsonl, cases);
    let transmitters: Vec<Case> = cases
        .iter()
        .filter(|c| c.kind == crate::model::CaseKind::FakeBts)
        .cloned()
        .collect();
    Ok(vec![
        write("cases.jsonl", &jsonl)?,
        write("cases.csv", &render(ExportFormat::Csv, cases))?,
        write(
            "rogue_transmitters.geojson",
            &render(ExportFormat::GeoJson, &transmitters),
        )?,
        write(
            "rogue_transmitters.kml",
            &render(ExportFormat::Kml, &transmitters),
        )?,
        write(
            "score.json",
            serde_json::to_string_pretty(score)
                .unwrap_or_default()
                .as_bytes(),
        )?,
    ])
}
