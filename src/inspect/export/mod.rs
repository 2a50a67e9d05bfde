//! Exports of case lists: CSV and JSON for spreadsheets and scripts, GeoJSON and KML
//! for QGIS and Google Earth (estimated position, uncertainty circle, track and the
//! observations behind each fake base station; SIM cases at their serving cells'
//! sites when the registered-cell inventory is given).

pub mod csv;
pub(crate) mod geojson;
pub(crate) mod json;
pub(crate) mod kml;

use super::cells::CellSites;
use super::error::InspectError;
use super::records::EvidenceRecord;
use super::table::cell_label;
use crate::model::{Case, CaseKind, CellKey};
use std::collections::{BTreeMap, HashMap};

/// Vertices of the uncertainty circle (plus the closing one).
pub(crate) const CIRCLE_SEGMENTS: usize = 64;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
    GeoJson,
    Kml,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Result<ExportFormat, InspectError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "geojson" => Ok(ExportFormat::GeoJson),
            "kml" => Ok(ExportFormat::Kml),
            other => Err(InspectError::Invalid {
                what: "--format",
                message: format!(
                    "{other:?} is not an export format; use csv, json, geojson or kml"
                ),
            }),
        }
    }

    /// The format a file name asks for, by extension.
    pub fn from_path(path: &std::path::Path) -> Option<ExportFormat> {
        ExportFormat::parse(path.extension()?.to_str()?).ok()
    }

    /// Whether the format carries geometry (and so wants observations).
    pub fn is_geographic(self) -> bool {
        matches!(self, ExportFormat::GeoJson | ExportFormat::Kml)
    }
}

/// A serving cell of a SIM case, placed at its registered site.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedCell {
    pub(crate) key: CellKey,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) range_m: f64,
    /// Records of the case served by this cell.
    pub(crate) records: u64,
}

/// The serving cells of a SIM case's records that the inventory can place.
pub fn located_serving_cells(
    case: &Case,
    records: &[EvidenceRecord],
    sites: Option<&CellSites>,
) -> Vec<LocatedCell> {
    let Some(sites) = sites else {
        return Vec::new();
    };
    if case.kind == CaseKind::FakeBts {
        return Vec::new();
    }
    let mut counts: HashMap<CellKey, u64> = HashMap::new();
    for r in records {
        if let Some(cell) = r.activity().and_then(|a| a.cell) {
            if let Some(k) = CellKey::parse(&cell) {
                *counts.entry(k).or_default() += 1;
            }
        }
    }
    let mut out: Vec<LocatedCell> = counts
        .into_iter()
        .filter_map(|(key, records)| {
            let s = sites.get(&key)?;
            Some(LocatedCell {
                key,
                lat: s.lat,
                lon: s.lon,
                range_m: s.range_m,
                records,
            })
        })
        .collect();
    out.sort_by(|a, b| b.records.cmp(&a.records).then(a.key.cmp(&b.key)));
    out
}

/// Everything an export needs besides the cases.
#[derive(Default)]
pub struct ExportContext<'a> {
    /// Records behind each case (observations for geographic formats).
    pub evidence: BTreeMap<String, Vec<EvidenceRecord>>,
    pub sites: Option<&'a CellSites>,
}

impl ExportContext<'_> {
    pub fn records(&self, case_id: &str) -> &[EvidenceRecord] {
        self.evidence.get(case_id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Write `cases` in `format`.
pub fn write_export(
    format: ExportFormat,
    cases: &[Case],
    ctx: &ExportContext<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Csv => csv::write_csv(cases, out),
        ExportFormat::Json => json::write_json(cases, out),
        ExportFormat::GeoJson => {
            let v = geojson::feature_collection(cases, ctx);
            serde_json::to_writer_pretty(&mut *out, &v)?;
            out.write_all(b"\n")
        }
        ExportFormat::Kml => out.write_all(kml::document(cases, ctx).as_bytes()),
    }
}

/// `MCC-MNC-LAC-CID/RAT` of the identity a fake base station claimed (its first
/// identity when none is marked), empty for other cases.
pub(crate) fn claimed_label(case: &Case) -> String {
    case.claimed_cell
        .as_ref()
        .or(case.identities.first())
        .map(cell_label)
        .unwrap_or_default()
}

/// Round a coordinate to 7 decimals (≈ 1 cm): smaller files, no false precision.
pub(crate) fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}
