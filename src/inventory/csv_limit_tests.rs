//! Tests of the inventory CSV row and field limits: an over-long row or field is
//! rejected with its line, the load goes on with the next line, and a line of
//! megabytes (or an unclosed quote) is skipped without being buffered whole.

use super::csv_limit::CsvLimits;
use super::*;
use std::io::Read;
use std::path::Path;

const HEADER: &str =
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal";
const GOOD: &str = "GSM,452,4,10231,5678,,105.85,21.03,1200,15,1,1459692396,1700000000,0";
const GOOD2: &str = "LTE,452,1,200,26625281,117,105.80,21.00,500.5,3,1,1459692396,,-95";

const LIMITS: CsvLimits = CsvLimits {
    row_bytes: 512,
    field_bytes: 64,
};

fn load_with(reader: impl Read + Send, limits: CsvLimits) -> (Inventory, LoadReport) {
    let mut inv = Inventory::new();
    let report = inv
        .extend_from_csv_reader(reader, Path::new("limits.csv"), limits)
        .expect("the load goes on past bad rows");
    (inv, report)
}

#[test]
fn a_long_row_is_rejected_and_the_next_one_loads() {
    let long = format!("{GOOD},{}", "9".repeat(2_000));
    let text = format!("{HEADER}\n{GOOD}\n{long}\n{GOOD2}\n");
    let (inv, report) = load_with(text.as_bytes(), LIMITS);
    assert_eq!((report.rows_read, report.loaded), (3, 2));
    assert_eq!(inv.len(), 2);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 3);
    assert!(
        report.rejected[0]
            .reason
            .contains("longer than inventory.max_row_bytes (512 bytes)"),
        "{:?}",
        report.rejected[0]
    );
}

#[test]
fn a_long_field_is_rejected() {
    let text = format!(
        "{HEADER}\n{GOOD}\nGSM,452,4,10231,5679,,105.85,21.03,1200,15,1,{},,0\n",
        "1".repeat(100)
    );
    let (inv, report) = load_with(text.as_bytes(), LIMITS);
    assert_eq!((report.loaded, report.rejected_total, inv.len()), (1, 1, 1));
    assert_eq!(report.rejected[0].line, 3);
    assert_eq!(
        report.rejected[0].reason,
        "field 12 is 100 bytes, more than inventory.max_field_bytes (64)"
    );
}

/// `left` bytes of `x`: one line longer than any limit, made without holding it.
struct Endless {
    left: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b'x');
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_line_of_megabytes_and_an_unclosed_quote_are_skipped_not_buffered() {
    // 64 MiB in one line after a good row, then good rows: the loader would need
    // 64 MiB for the record if it buffered it; with the limit it keeps < 1 MiB.
    let head = format!("{HEADER}\n{GOOD}\n");
    let tail = format!("\n{GOOD2}\n");
    let reader = head
        .as_bytes()
        .chain(Endless { left: 64 << 20 })
        .chain(tail.as_bytes());
    let (inv, report) = load_with(reader, CsvLimits::default());
    assert_eq!((report.rows_read, report.loaded, inv.len()), (3, 2, 2));
    assert!(report.rejected[0]
        .reason
        .contains("the rest of its line was skipped"));

    // An unclosed quote swallows the rest of the file into one field: refused, not
    // kept in memory, and the rows before it are loaded.
    let text = format!(
        "{HEADER}\n{GOOD}\nGSM,452,4,1,2,,105.85,21.03,1200,15,1,\"{}",
        "y\n".repeat(200_000)
    );
    let (inv, report) = load_with(text.as_bytes(), LIMITS);
    assert_eq!(inv.len(), 1);
    assert!(report.rejected_total >= 1);
    assert_eq!(report.loaded + report.rejected_total, report.rows_read);
}

#[test]
fn a_header_longer_than_the_limit_is_an_error() {
    let text = format!("{HEADER},{}\n{GOOD}\n", "extra".repeat(200));
    let mut inv = Inventory::new();
    let err = inv
        .extend_from_csv_reader(text.as_bytes(), Path::new("limits.csv"), LIMITS)
        .unwrap_err();
    assert!(err.to_string().contains("inventory.max_row_bytes"), "{err}");
}

#[test]
fn the_limits_come_from_the_configuration() {
    let mut config = crate::config::InventoryConfig::default();
    assert_eq!(
        CsvLimits::of(&config),
        CsvLimits {
            row_bytes: 8192,
            field_bytes: 1024
        }
    );
    config.max_row_bytes = 300;
    config.max_field_bytes = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.csv");
    std::fs::write(
        &path,
        format!(
            "{HEADER}\n{GOOD}\nGSM,452,4,10231,5679,,105.85,21.03,1200,15,1,{},,0\n",
            "1".repeat(41)
        ),
    )
    .unwrap();
    let (inv, report) = Inventory::load_csv_with(&path, &config).unwrap();
    assert_eq!((inv.len(), report.rejected_total), (1, 1));
}
