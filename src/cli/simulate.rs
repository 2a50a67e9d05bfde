//! `cellwatch simulate`: write a synthetic scenario with its ground truth.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct SimulateArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// small | medium | large
    #[arg(long, default_value = "small")]
    scale: String,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn run(args: SimulateArgs) -> Result<()> {
    let scale: cellwatch::simulate::Scale = args
        .scale
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("invalid --scale; use small, medium or large")?;
    let cfg = cellwatch::simulate::SimConfig {
        seed: args.seed,
        scale,
    };
    let summary = cellwatch::simulate::write_scenario(&cfg, &args.out)
        .with_context(|| format!("cannot write the scenario to {}", args.out.display()))?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
