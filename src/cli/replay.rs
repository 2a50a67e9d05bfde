//! `cellwatch replay`: the detectors on JSON Lines files (docs/contract.md, "Replay").

use anyhow::Result;
use cellwatch::config::Config;
use cellwatch::replay::{self, InputPath, ReplayOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct ReplayArgs {
    /// SMS-volume records (JSON Lines; `-` = standard input).
    #[arg(long, value_name = "FILE")]
    sms_volume: Option<String>,
    /// Cell-measurement reports (JSON Lines; `-` = standard input).
    #[arg(long, value_name = "FILE")]
    measurements: Option<String>,
    /// Registered-cell inventory (OpenCellID CSV order).
    #[arg(long, value_name = "FILE")]
    cells: Option<PathBuf>,
    /// Output folder for cases.jsonl, dead_letter.jsonl and summary.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Configuration file (TOML); `CELLWATCH_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: ReplayArgs) -> Result<()> {
    let opts = ReplayOptions {
        sms_volume: args.sms_volume.as_deref().map(InputPath::parse),
        measurements: args.measurements.as_deref().map(InputPath::parse),
        cells: args.cells,
        out: args.out,
        config: Config::load(args.config.as_deref())?,
        now_ms: None,
    };
    let summary = replay::run(&opts)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
