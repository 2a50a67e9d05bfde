//! Evidence package of one case (`cases export --case ID --evidence DIR`): the case
//! with its audit trail, its reasons, the records behind it (pseudonymous), GeoJSON
//! and KML, a self-contained HTML report with an offline map, and a SHA-256 manifest
//! of every file so that any later change shows.
//!
//! The package is written into a temporary sibling folder and renamed into place, so
//! a failure leaves nothing half-written and an existing package is never touched.

pub(crate) mod html;
pub(crate) mod manifest;
pub(crate) mod svg;

pub(crate) use manifest::sha256_file;
pub use manifest::{verify, Verification, MANIFEST_FILE};

use super::cells::CellSites;
use super::error::InspectError;
use super::export::{self, located_serving_cells, ExportContext, ExportFormat, LocatedCell};
use super::lifecycle::StatusChange;
use super::reasons::describe;
use super::records::{EvidenceRecord, Observation};
use super::table::fmt_num;
use super::time::format_ms;
use crate::model::{Case, CellKey};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Registered cells drawn on the map at most.
pub(crate) const MAX_NEARBY_CELLS: usize = 400;

/// What goes into a package.
pub struct PackageInput<'a> {
    pub case: &'a Case,
    pub history: &'a [StatusChange],
    pub records: &'a [EvidenceRecord],
    pub sites: Option<&'a CellSites>,
    /// Where the inventory came from, for the report.
    pub sites_source: Option<String>,
    /// Where the case came from (`replay folder …`, `clickhouse …`).
    pub source: String,
    /// Wall-clock time of the export.
    pub generated_at_ms: i64,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    pub dir: PathBuf,
    pub case_id: String,
    pub records: usize,
    pub observations: usize,
    pub nearby_cells: usize,
    /// Every file with its SHA-256, as in the manifest.
    pub files: Vec<(String, String)>,
}

#[derive(Serialize)]
struct CaseFile<'a> {
    case: &'a Case,
    status: &'static str,
    history: &'a [StatusChange],
    generated_at: String,
    source: &'a str,
    generator: String,
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), InspectError> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).map_err(|e| InspectError::write(&p, e))
}

fn io_to_write(dir: &Path, e: std::io::Error) -> InspectError {
    InspectError::write(dir, e)
}

/// Write the package of one case into `dir` (which must not exist or be empty).
pub fn write_package(dir: &Path, input: &PackageInput<'_>) -> Result<PackageReport, InspectError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| InspectError::read(dir, e, "check the folder"))?
            .next()
            .is_none();
        if !dir.is_dir() || !empty {
            return Err(InspectError::EvidenceExists {
                path: dir.display().to_string(),
            });
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(InspectError::write(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "parent folder does not exist"),
        ));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "evidence".into());
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    std::fs::create_dir(&tmp).map_err(|e| InspectError::write(&tmp, e))?;
    let result = fill_package(&tmp, input).and_then(|mut report| {
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|e| InspectError::write(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| InspectError::write(dir, e))?;
        report.dir = dir.to_path_buf();
        Ok(report)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn fill_package(dir: &Path, input: &PackageInput<'_>) -> Result<PackageReport, InspectError> {
    let case = input.case;
    let mut data_files: Vec<String> = Vec::new();
    write_case_file(dir, input, &mut data_files)?;
    write_reasons(dir, case, &mut data_files)?;
    write_records(dir, input.records, &mut data_files)?;
    write_gis_files(dir, input, &mut data_files)?;
    let hashes = hash_files(dir, &data_files)?;

    let observations: Vec<Observation> = input
        .records
        .iter()
        .filter_map(|r| r.observation())
        .collect();
    let serving = located_serving_cells(case, input.records, input.sites);
    let map = map_input(input, &observations, &serving);
    let nearby_cells = map.cells.len();
    let page = html::render(&html::ReportInput {
        case,
        history: input.history,
        records: input.records,
        map,
        serving: &serving,
        generated_at_ms: input.generated_at_ms,
        source: &input.source,
        files: &hashes,
        inventory: input.sites_source.clone(),
    });
    write_file(dir, "report.html", page.as_bytes())?;
    data_files.push("report.html".into());

    let files = manifest::write_manifest(dir, &data_files)?;
    Ok(PackageReport {
        dir: dir.to_path_buf(),
        case_id: case.case_id.clone(),
        records: input.records.len(),
        observations: observations.len(),
        nearby_cells,
        files,
    })
}

/// `case.json`: the case, its current status and audit trail, and where it came from.
fn write_case_file(
    dir: &Path,
    input: &PackageInput<'_>,
    data_files: &mut Vec<String>,
) -> Result<(), InspectError> {
    let case_file = CaseFile {
        case: input.case,
        status: input.case.status.as_str(),
        history: input.history,
        generated_at: format_ms(input.generated_at_ms),
        source: &input.source,
        generator: format!("cellwatch {}", env!("CARGO_PKG_VERSION")),
    };
    let json = serde_json::to_vec_pretty(&case_file).map_err(|e| io_to_write(dir, e.into()))?;
    write_file(dir, "case.json", &json)?;
    data_files.push("case.json".into());
    Ok(())
}

/// `reasons.csv`: each rule that fired, what it measured and what it means.
fn write_reasons(
    dir: &Path,
    case: &Case,
    data_files: &mut Vec<String>,
) -> Result<(), InspectError> {
    let mut reasons = csv::Writer::from_writer(Vec::new());
    let row = |w: &mut csv::Writer<Vec<u8>>, r: [&str; 4]| {
        w.write_record(r).map_err(|e| io_to_write(dir, e.into()))
    };
    row(&mut reasons, ["code", "value", "threshold", "meaning"])?;
    for r in &case.reasons {
        row(
            &mut reasons,
            [
                &r.code,
                &fmt_num(r.value),
                &fmt_num(r.threshold),
                describe(&r.code).unwrap_or(""),
            ],
        )?;
    }
    let bytes = reasons
        .into_inner()
        .map_err(|e| io_to_write(dir, e.into_error()))?;
    write_file(dir, "reasons.csv", &bytes)?;
    data_files.push("reasons.csv".into());
    Ok(())
}

/// `records.jsonl`: the records behind the case, one JSON object a line.
fn write_records(
    dir: &Path,
    records: &[EvidenceRecord],
    data_files: &mut Vec<String>,
) -> Result<(), InspectError> {
    let mut lines = Vec::new();
    for r in records {
        serde_json::to_writer(&mut lines, r).map_err(|e| io_to_write(dir, e.into()))?;
        lines.push(b'\n');
    }
    write_file(dir, "records.jsonl", &lines)?;
    data_files.push("records.jsonl".into());
    Ok(())
}

/// `case.geojson` and `case.kml`, as `cases export` writes them for this one case.
fn write_gis_files(
    dir: &Path,
    input: &PackageInput<'_>,
    data_files: &mut Vec<String>,
) -> Result<(), InspectError> {
    let case = input.case;
    let mut evidence = BTreeMap::new();
    evidence.insert(case.case_id.clone(), input.records.to_vec());
    let ctx = ExportContext {
        evidence,
        sites: input.sites,
    };
    for (fmt, file) in [
        (ExportFormat::GeoJson, "case.geojson"),
        (ExportFormat::Kml, "case.kml"),
    ] {
        let mut buf = Vec::new();
        export::write_export(fmt, std::slice::from_ref(case), &ctx, &mut buf)
            .map_err(|e| io_to_write(dir, e))?;
        write_file(dir, file, &buf)?;
        data_files.push(file.into());
    }
    Ok(())
}

/// The SHA-256 of each data file, for the report's file table.
fn hash_files(dir: &Path, files: &[String]) -> Result<Vec<(String, String)>, InspectError> {
    let mut hashes = Vec::new();
    for f in files {
        let p = dir.join(f);
        hashes.push((
            f.clone(),
            sha256_file(&p).map_err(|e| InspectError::read(&p, e, "check the folder"))?,
        ));
    }
    Ok(hashes)
}

/// What the report's map shows: the case's geometry, its observations or serving
/// cells, and the registered cells around them.
fn map_input<'a>(
    input: &PackageInput<'a>,
    observations: &'a [Observation],
    serving: &'a [LocatedCell],
) -> svg::MapInput<'a> {
    let case = input.case;
    let claimed: Vec<CellKey> = case
        .claimed_cell
        .iter()
        .chain(&case.identities)
        .map(|c| c.key())
        .collect();
    let mut map = svg::MapInput {
        position: case.location,
        track: &case.track,
        observations,
        cells: Vec::new(),
        serving,
        claimed,
    };
    if let (Some(sites), Some((lat, lon, radius))) = (input.sites, map.focus()) {
        map.cells = sites.nearby(lat, lon, radius, MAX_NEARBY_CELLS);
    }
    map
}
