//! The kept fuzz corpus (`fuzz/corpus/<target>/`, minimised by `scripts/fuzz.sh`)
//! replayed on the stable toolchain through the same entry points the fuzz targets
//! call (`cellwatch::fuzz`): every input that once reached new code, and every input
//! that once crashed a target (kept there as a regression), must pass.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

fn replay(target: &str, entry: fn(&[u8])) {
    let files = corpus(target);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let name = f.display().to_string();
        std::panic::catch_unwind(|| entry(&data))
            .unwrap_or_else(|_| panic!("{target}: {name} fails"));
    }
    eprintln!("[fuzz corpus] {target}: {} inputs replayed", files.len());
}

#[test]
fn parse_record_corpus() {
    replay("parse_record", cellwatch::fuzz::record);
}

#[test]
fn inventory_csv_corpus() {
    replay("inventory_csv", cellwatch::fuzz::inventory_csv);
}

#[test]
fn config_toml_corpus() {
    replay("config_toml", cellwatch::fuzz::config);
}

#[test]
fn http_request_corpus() {
    replay("http_request", cellwatch::fuzz::http_request);
}

#[test]
fn console_request_corpus() {
    replay("console_request", cellwatch::fuzz::console_request);
}
