//! Load the registered-cell inventory from an OpenCellID-ordered CSV file.
//!
//! # File format
//!
//! - Columns `radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,
//!   updated,averageSignal` in this order ([`STANDARD_COLUMNS`]), so an OpenCellID
//!   export loads as it is.
//! - **Header.** If the first field of the first line is `radio` (any case, a UTF-8 BOM
//!   is skipped) the line is a header: its first 14 names must be the standard ones in
//!   order, and any further columns are matched *by name*, in any order: `arfcn`, `pci`,
//!   `azimuth`, `eirp_dbm`; other extra names are ignored (listed in
//!   [`LoadReport::ignored_columns`] and logged). Without a header (OpenCellID's own
//!   downloads have none) the file must have exactly the 14 standard columns and the
//!   first line is data. Anything else is an [`InventoryError::Header`].
//! - Every row must have as many fields as the header (14 without one).
//! - Required numbers: `mcc, net, area, cell` (unsigned integers), `lon, lat, range`
//!   (decimal), `samples` (unsigned integer). Optional (may be empty): `unit`,
//!   `changeable`, `created`, `updated` (integers, Unix seconds for the times),
//!   `averageSignal` (decimal), and the extra columns. Optional numbers that are present
//!   must parse; `changeable`, `created` and `averageSignal` are checked but not kept.
//!
//! A row that breaks a rule (`cell.rs`: unknown or CDMA radio, lat/lon out of
//! range, negative range, identity above the technology's limits, …) is skipped and
//! reported with its line number in the [`LoadReport`]; the load never stops for a bad
//! row. Only a missing/unreadable file or an unusable header is an error. A later row
//! with the same `MCC-MNC-LAC-CID` replaces the earlier one (`duplicates_replaced`).
//!
//! Speed: one reused `csv::ByteRecord`, no allocation per valid row, integers and
//! plain decimals parsed from bytes directly, and two stages on two threads (parse |
//! insert) passing reused chunks of rows; see `benches/inventory_load.rs`.

use super::cell::{truncate, RawCell};
use super::csv_limit::{CsvLimits, RowLimit, RowLimitReader};
use super::{Inventory, InventoryError, RegisteredCell};
use csv::ByteRecord;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

/// The OpenCellID columns, in order.
pub(crate) const STANDARD_COLUMNS: [&str; 14] = [
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
];

/// The optional columns recognised by header name after the standard ones.
#[cfg(test)]
pub(crate) const EXTRA_COLUMNS: [&str; 4] = ["arfcn", "pci", "azimuth", "eirp_dbm"];

/// Bad rows whose line and reason are kept in [`LoadReport::rejected`]; all are counted.
pub(crate) const MAX_STORED_ROW_ERRORS: usize = 1000;

/// A skipped row: its line in the file (1-based) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Data rows read (the header not included).
    pub rows_read: u64,
    /// Rows accepted into the inventory (including those that replaced a duplicate).
    pub loaded: u64,
    /// The first `MAX_STORED_ROW_ERRORS` rejected rows.
    pub rejected: Vec<RowError>,
    /// All rejected rows, stored or not.
    pub rejected_total: u64,
    /// Accepted rows whose key was already in the inventory (the later row wins).
    pub duplicates_replaced: u64,
    /// Whether the file had a header line.
    pub(crate) header: bool,
    /// Extra header columns that are not recognised and were ignored.
    pub(crate) ignored_columns: Vec<String>,
}

impl LoadReport {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_STORED_ROW_ERRORS {
            self.rejected.push(RowError { line, reason });
        }
    }
}

/// One parsed data row and its line.
type ParsedRow = (Result<RegisteredCell, String>, u64);
/// Rows per chunk handed from the parsing thread to the inserting one (~130 KB).
const CHUNK_ROWS: usize = 1024;
/// Parsed chunks waiting to be inserted before the parser blocks.
const CHUNKS_IN_FLIGHT: usize = 4;

fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// Where each column is.
#[derive(Debug, Clone, Copy)]
struct Layout {
    columns: usize,
    arfcn: Option<usize>,
    pci: Option<usize>,
    azimuth: Option<usize>,
    eirp_dbm: Option<usize>,
}

const STANDARD_LAYOUT: Layout = Layout {
    columns: STANDARD_COLUMNS.len(),
    arfcn: None,
    pci: None,
    azimuth: None,
    eirp_dbm: None,
};

impl Inventory {
    /// Load a CSV file into a new inventory, with the default row limits.
    pub fn load_csv(path: impl AsRef<Path>) -> Result<(Inventory, LoadReport), InventoryError> {
        Inventory::load_csv_with(path, &crate::config::InventoryConfig::default())
    }

    /// Load a CSV file into a new inventory with the row limits of `config`
    /// (`max_row_bytes`, `max_field_bytes`).
    pub fn load_csv_with(
        path: impl AsRef<Path>,
        config: &crate::config::InventoryConfig,
    ) -> Result<(Inventory, LoadReport), InventoryError> {
        let mut inventory = Inventory::new();
        let report = inventory.extend_from_csv_file(path, CsvLimits::of(config))?;
        Ok((inventory, report))
    }

    /// Load a CSV file on top of this inventory (later rows replace existing keys).
    pub(crate) fn extend_from_csv_file(
        &mut self,
        path: impl AsRef<Path>,
        limits: CsvLimits,
    ) -> Result<LoadReport, InventoryError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| InventoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // ~60 bytes per OpenCellID row: reserve once instead of rehashing while growing.
        if let Ok(meta) = file.metadata() {
            let estimate = (meta.len() / 60).min(50_000_000) as usize;
            self.reserve(estimate.saturating_sub(self.len()));
        }
        self.extend_from_csv_reader(file, path, limits)
    }

    /// Load CSV from any reader; `path` only names the source in errors and logs.
    pub(crate) fn extend_from_csv_reader<R: Read + Send>(
        &mut self,
        reader: R,
        path: &Path,
        limits: CsvLimits,
    ) -> Result<LoadReport, InventoryError> {
        let mut buffered = BufReader::with_capacity(1 << 16, reader);
        skip_bom(&mut buffered).map_err(|e| InventoryError::Read {
            path: path.to_path_buf(),
            line: 1,
            source: csv::Error::from(e),
        })?;
        let limit = RowLimit::new(limits);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(RowLimitReader::new(buffered, limit.clone()));
        let mut report = LoadReport::default();
        let mut record = ByteRecord::new();
        let first = self.first_line(&mut rdr, &mut record, &mut report, path, &limit)?;
        let Some(layout) = first else {
            tracing::warn!(path = %path.display(), "cell inventory file is empty");
            return Ok(report);
        };
        self.load_rows(rdr, record, layout, &limit, &mut report)
            .map_err(|(source, line)| InventoryError::Read {
                path: path.to_path_buf(),
                line,
                source,
            })?;
        tracing::info!(
            path = %path.display(),
            rows_read = report.rows_read,
            loaded = report.loaded,
            rejected = report.rejected_total,
            duplicates_replaced = report.duplicates_replaced,
            cells = self.len(),
            "cell inventory loaded"
        );
        Ok(report)
    }

    /// The first line: a header (its layout), or the first data row of a headerless
    /// file (loaded; the standard layout). `None` for an empty file.
    fn first_line<R: Read>(
        &mut self,
        rdr: &mut csv::Reader<R>,
        record: &mut ByteRecord,
        report: &mut LoadReport,
        path: &Path,
        limit: &RowLimit,
    ) -> Result<Option<Layout>, InventoryError> {
        let read = rdr.read_byte_record(record);
        let too_long = match read {
            Ok(true) => limit.record_done(record, rdr.position().byte()),
            _ => None,
        };
        let layout = match read {
            Err(source) => {
                return Err(InventoryError::Read {
                    path: path.to_path_buf(),
                    line: record.position().map_or(0, |p| p.line() + 1),
                    source,
                })
            }
            Ok(false) => return Ok(None),
            Ok(true) if too_long.is_some() && is_header(record) => {
                return Err(InventoryError::Header {
                    path: path.to_path_buf(),
                    message: too_long.unwrap_or_default(),
                })
            }
            Ok(true) if too_long.is_some() => {
                self.take_row(Err(too_long.unwrap_or_default()), line_of(record), report);
                STANDARD_LAYOUT
            }
            Ok(true) if is_header(record) => {
                report.header = true;
                header_layout(record, report).map_err(|message| InventoryError::Header {
                    path: path.to_path_buf(),
                    message,
                })?
            }
            Ok(true) if record.len() == STANDARD_COLUMNS.len() => {
                self.take_row(parse_row(record, &STANDARD_LAYOUT), line_of(record), report);
                STANDARD_LAYOUT
            }
            Ok(true) => {
                return Err(InventoryError::Header {
                    path: path.to_path_buf(),
                    message: format!(
                        "the first line has {} columns and does not start with `radio`",
                        record.len()
                    ),
                })
            }
        };
        Ok(Some(layout))
    }

    /// The data rows after the first line, in two stages on two threads: this one
    /// inserts into the map (bound by cache misses), a scoped one reads and parses
    /// (bound by CSV scanning). Chunks of rows travel between them and come back to be
    /// reused, so the steady state allocates nothing per row. A read error gives the
    /// CSV error and its line.
    fn load_rows<R: Read + Send>(
        &mut self,
        mut rdr: csv::Reader<R>,
        mut record: ByteRecord,
        layout: Layout,
        limit: &RowLimit,
        report: &mut LoadReport,
    ) -> Result<(), (csv::Error, u64)> {
        std::thread::scope(|scope| {
            let (full_tx, full_rx) = mpsc::sync_channel::<Vec<ParsedRow>>(CHUNKS_IN_FLIGHT);
            let (empty_tx, empty_rx) = mpsc::channel::<Vec<ParsedRow>>();
            let parser = scope.spawn(move || -> Result<(), (csv::Error, u64)> {
                let mut chunk = Vec::with_capacity(CHUNK_ROWS);
                loop {
                    match rdr.read_byte_record(&mut record) {
                        Ok(true) => {
                            let row = match limit.record_done(&record, rdr.position().byte()) {
                                Some(reason) => Err(reason),
                                None => parse_row(&record, &layout),
                            };
                            chunk.push((row, line_of(&record)));
                        }
                        Ok(false) => break,
                        Err(e) => return Err((e, line_of(&record) + 1)),
                    }
                    if chunk.len() == CHUNK_ROWS {
                        if full_tx.send(chunk).is_err() {
                            return Ok(()); // the inserting side is gone
                        }
                        chunk = empty_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_ROWS));
                    }
                }
                if !chunk.is_empty() {
                    let _ = full_tx.send(chunk);
                }
                Ok(())
            });
            for mut chunk in full_rx {
                for (row, line) in chunk.drain(..) {
                    self.take_row(row, line, report);
                }
                let _ = empty_tx.send(chunk);
            }
            parser
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    #[inline]
    fn take_row(
        &mut self,
        row: Result<RegisteredCell, String>,
        line: u64,
        report: &mut LoadReport,
    ) {
        report.rows_read += 1;
        match row {
            Ok(cell) => {
                report.loaded += 1;
                if self.insert(cell).is_some() {
                    report.duplicates_replaced += 1;
                }
            }
            Err(reason) => report.reject(line, reason),
        }
    }

    /// Write the inventory as CSV with a header (standard columns, then `arfcn, pci,
    /// azimuth, eirp_dbm`), ordered by key; [`Inventory::load_csv`] reads it back to an
    /// equal inventory. `created` and `averageSignal` are not kept, so they are empty.
    #[cfg(test)]
    pub(crate) fn write_csv<W: std::io::Write>(&self, writer: W) -> Result<(), InventoryError> {
        let mut w = csv::Writer::from_writer(writer);
        let header: Vec<&str> = STANDARD_COLUMNS
            .iter()
            .chain(EXTRA_COLUMNS.iter())
            .copied()
            .collect();
        w.write_record(&header).map_err(InventoryError::Write)?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        for c in self.iter_sorted() {
            let row = [
                c.radio.as_str().to_string(),
                c.key.mcc.to_string(),
                c.key.mnc.to_string(),
                c.key.lac.to_string(),
                c.key.cid.to_string(),
                opt(c.unit.map(|u| u.to_string())),
                c.lon.to_string(),
                c.lat.to_string(),
                c.range_m.to_string(),
                c.samples.to_string(),
                "1".to_string(),
                String::new(),
                opt(c.updated_ms.map(|ms| ms.div_euclid(1000).to_string())),
                String::new(),
                opt(c.arfcn.map(|a| a.to_string())),
                opt(c.pci.map(|p| p.to_string())),
                // via f64: the exact f32 value, so reading it back gives the same f32
                opt(c.azimuth_deg.map(|a| f64::from(a).to_string())),
                opt(c.eirp_dbm.map(|e| f64::from(e).to_string())),
            ];
            w.write_record(&row).map_err(InventoryError::Write)?;
        }
        w.flush().map_err(|e| InventoryError::Write(e.into()))?;
        Ok(())
    }
}

fn skip_bom<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<()> {
    let buf = reader.fill_buf()?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(())
}

fn is_header(record: &ByteRecord) -> bool {
    record
        .get(0)
        .is_some_and(|f| trim(f).eq_ignore_ascii_case(b"radio"))
}

fn header_layout(record: &ByteRecord, report: &mut LoadReport) -> Result<Layout, String> {
    let names: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(trim(f)).into_owned())
        .collect();
    if names.len() < STANDARD_COLUMNS.len() {
        return Err(format!(
            "the header has {} columns, the {} standard ones are required",
            names.len(),
            STANDARD_COLUMNS.len()
        ));
    }
    for (i, (got, want)) in names.iter().zip(STANDARD_COLUMNS).enumerate() {
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!(
                "column {} is `{}`, expected `{want}`",
                i + 1,
                truncate(got)
            ));
        }
    }
    let mut layout = Layout {
        columns: names.len(),
        ..STANDARD_LAYOUT
    };
    for (i, name) in names.iter().enumerate().skip(STANDARD_COLUMNS.len()) {
        let slot = match name.to_ascii_lowercase().as_str() {
            "arfcn" => &mut layout.arfcn,
            "pci" => &mut layout.pci,
            "azimuth" => &mut layout.azimuth,
            "eirp_dbm" => &mut layout.eirp_dbm,
            _ => {
                tracing::warn!(column = %name, "cell inventory: unknown extra column ignored");
                report.ignored_columns.push(name.clone());
                continue;
            }
        };
        if slot.is_some() {
            return Err(format!("column `{name}` appears twice"));
        }
        *slot = Some(i);
    }
    Ok(layout)
}

/// One data row → a validated cell, or the reason it is refused.
fn parse_row(record: &ByteRecord, layout: &Layout) -> Result<RegisteredCell, String> {
    if record.len() != layout.columns {
        return Err(format!(
            "expected {} columns, found {}",
            layout.columns,
            record.len()
        ));
    }
    let field = |i: usize| record.get(i).unwrap_or(b"");
    let radio =
        std::str::from_utf8(trim(field(0))).map_err(|_| "radio is not valid UTF-8".to_string())?;
    // checked for well-formedness, not kept
    opt_i64(field(10), "changeable")?;
    opt_i64(field(11), "created")?;
    opt_f64(field(13), "averageSignal")?;
    let extra_u64 = |i: Option<usize>, name| i.map_or(Ok(None), |i| opt_u64(field(i), name));
    let extra_f64 = |i: Option<usize>, name| i.map_or(Ok(None), |i| opt_f64(field(i), name));
    let raw = RawCell {
        radio,
        mcc: req_u64(field(1), "mcc")?,
        net: req_u64(field(2), "net")?,
        area: req_u64(field(3), "area")?,
        cell: req_u64(field(4), "cell")?,
        unit: opt_i64(field(5), "unit")?,
        lon: req_f64(field(6), "lon")?,
        lat: req_f64(field(7), "lat")?,
        range: req_f64(field(8), "range")?,
        samples: req_u64(field(9), "samples")?,
        updated_s: opt_i64(field(12), "updated")?,
        arfcn: extra_u64(layout.arfcn, "arfcn")?,
        pci: extra_u64(layout.pci, "pci")?,
        azimuth: extra_f64(layout.azimuth, "azimuth")?,
        eirp_dbm: extra_f64(layout.eirp_dbm, "eirp_dbm")?,
    };
    raw.validate()
}

#[inline]
fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Decimal digits → u64, without going through `str` (the hot path of a load).
#[inline]
fn parse_u64(b: &[u8]) -> Option<u64> {
    let b = trim(b);
    let b = b.strip_prefix(b"+").unwrap_or(b);
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

#[inline]
fn parse_i64(b: &[u8]) -> Option<i64> {
    let b = trim(b);
    match b.strip_prefix(b"-") {
        Some(digits) => {
            let v = parse_u64(digits)?;
            if v == 1 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(v).ok().map(|v| -v)
            }
        }
        None => parse_u64(b).and_then(|v| i64::try_from(v).ok()),
    }
}

#[inline]
fn parse_f64(b: &[u8]) -> Option<f64> {
    let b = trim(b);
    if let Some(v) = parse_simple_decimal(b) {
        return Some(v);
    }
    let s = std::str::from_utf8(b).ok()?;
    // refuse the words Rust accepts ("inf", "NaN"): only finite decimals are numbers here
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Exact powers of ten representable in an f64.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Clinger's fast path for the common `[-]ddd[.ddd]` with at most 15 digits: the digits
/// as an integer (< 2^53, exact) divided by an exact power of ten is correctly rounded,
/// so the result is the same as `str::parse`. Anything else returns `None` and takes
/// the general parser.
#[inline]
fn parse_simple_decimal(b: &[u8]) -> Option<f64> {
    let (negative, b) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    for &c in b {
        if c == b'.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(d);
        digits += 1;
        if seen_dot {
            frac_digits += 1;
        }
        if digits > 15 {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if negative { -v } else { v })
}

fn bad_number(b: &[u8], name: &str, kind: &str) -> String {
    let shown = String::from_utf8_lossy(trim(b));
    if shown.is_empty() {
        format!("column `{name}` is empty, {kind} required")
    } else {
        format!("column `{name}`: `{}` is not {kind}", truncate(&shown))
    }
}

#[inline]
fn req_u64(b: &[u8], name: &str) -> Result<u64, String> {
    parse_u64(b).ok_or_else(|| bad_number(b, name, "an unsigned integer"))
}

#[inline]
fn req_f64(b: &[u8], name: &str) -> Result<f64, String> {
    parse_f64(b).ok_or_else(|| bad_number(b, name, "a finite decimal number"))
}

#[inline]
fn opt_u64(b: &[u8], name: &str) -> Result<Option<u64>, String> {
    if trim(b).is_empty() {
        return Ok(None);
    }
    req_u64(b, name).map(Some)
}

#[inline]
fn opt_i64(b: &[u8], name: &str) -> Result<Option<i64>, String> {
    if trim(b).is_empty() {
        return Ok(None);
    }
    parse_i64(b)
        .map(Some)
        .ok_or_else(|| bad_number(b, name, "an integer"))
}

#[inline]
fn opt_f64(b: &[u8], name: &str) -> Result<Option<f64>, String> {
    if trim(b).is_empty() {
        return Ok(None);
    }
    req_f64(b, name).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_from_bytes() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b" 42 "), Some(42));
        assert_eq!(parse_u64(b"+7"), Some(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1.0"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_f64(b"-0.5"), Some(-0.5));
        assert_eq!(parse_f64(b"NaN"), None);
        assert_eq!(parse_f64(b"inf"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"."), None);
        assert_eq!(parse_f64(b"1.2.3"), None);
        assert_eq!(parse_f64(b"-"), None);
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"-0"), Some(-0.0));
    }

    proptest::proptest! {
        /// The fast path gives bit-identical results to the standard parser.
        #[test]
        fn fast_decimals_equal_std_parse(int in 0u64..10_000_000_000, frac in 0u64..10_000_000_000, width in 0usize..12, neg in proptest::bool::ANY) {
            let s = format!("{}{int}.{frac:0width$}", if neg { "-" } else { "" });
            let want: f64 = s.parse().unwrap();
            proptest::prop_assert_eq!(parse_f64(s.as_bytes()).map(f64::to_bits), Some(want.to_bits()), "{}", s);
        }

        #[test]
        fn any_finite_f64_display_round_trips(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            proptest::prop_assert_eq!(parse_f64(v.to_string().as_bytes()).map(f64::to_bits), Some(v.to_bits()));
        }
    }
}
