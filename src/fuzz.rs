//! Entry points of the fuzz targets (`fuzz/fuzz_targets/`), in the library so that the
//! targets and the corpus replay test (`tests/fuzz_corpus.rs`, stable toolchain) run
//! exactly the same code. Each takes any bytes; a panic is a bug. Each also checks
//! what must hold for every input it accepts (a dead letter serialises, a load report
//! adds up, a masked configuration is still a configuration).

use crate::config::mask::masked_toml;
use crate::config::{Config, Environment};
use crate::ingest::Origin;
use crate::inventory::csv_limit::CsvLimits;
use crate::inventory::Inventory;
use crate::model::{Feed, TimeBounds};
use crate::validate::{Checked, SourceValidator};
use std::path::Path;

/// One raw record through the validation stage of both feeds: a typed event or a
/// dead letter that serialises, never a panic.
pub fn record(data: &[u8]) {
    let bounds = TimeBounds::at(1_800_000_000_000);
    for feed in [Feed::SmsVolume, Feed::Measurements] {
        let mut v = SourceValidator::new(feed, bounds, 600_000);
        let origin = Origin::File {
            file: "fuzz".into(),
            line: 1,
        };
        if let Checked::Invalid(dead) = v.check(data, origin) {
            serde_json::to_string(&dead).expect("dead letters serialise");
        }
    }
}

/// Any bytes as a cell-inventory CSV file: loaded or refused with an error, and every
/// row read is either loaded or rejected.
pub fn inventory_csv(data: &[u8]) {
    let mut inventory = Inventory::new();
    let limits = CsvLimits::default();
    if let Ok(report) = inventory.extend_from_csv_reader(data, Path::new("fuzz.csv"), limits) {
        assert_eq!(
            report.loaded + report.rejected_total,
            report.rows_read,
            "every row is loaded or rejected"
        );
        assert!(inventory.len() as u64 <= report.loaded);
    }
}

/// Any bytes as a configuration: the TOML file before the first NUL byte, then
/// `NAME=VALUE` lines of `CELLWATCH_*` variables. Loaded or refused with an error;
/// an accepted configuration, masked, is still a configuration.
pub fn config(data: &[u8]) {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let pairs = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    let env = Environment::from_pairs(pairs);
    if let Ok(loaded) = Config::from_layers("fuzz.toml", Some(text), &env) {
        let masked = masked_toml(&loaded.config);
        toml::from_str::<Config>(&masked).expect("a masked configuration parses");
    }
}
