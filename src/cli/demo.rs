//! `cellwatch demo`: a scenario through the in-process Kafka and the real service code.

use anyhow::{Context, Result};
use cellwatch::config::Config;
use cellwatch::demo::{self, DemoOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// small | medium | large
    #[arg(long, default_value = "small")]
    scale: String,
    /// Folder for the scenario and the outputs.
    #[arg(long, value_name = "DIR", default_value = "cellwatch-demo")]
    out: PathBuf,
    /// Also write cases to this ClickHouse (HTTP URL) when it answers.
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
    #[arg(long, default_value = "cellwatch_demo")]
    clickhouse_database: String,
    /// Event-time seconds streamed per wall second (0 = as fast as the service goes).
    #[arg(long, default_value_t = 0.0)]
    speed: f64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Configuration file (TOML) for the detectors and the pipeline; `CELLWATCH_*`
    /// environment variables override it. Kafka, HTTP and batching are the demo's own.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: DemoArgs) -> Result<()> {
    let scale = args
        .scale
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("invalid --scale; use small, medium or large")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(demo::run(DemoOptions {
        seed: args.seed,
        scale,
        out: args.out,
        clickhouse_url: args.clickhouse_url,
        clickhouse_database: args.clickhouse_database,
        speed: args.speed,
        progress: !args.quiet,
        config: Config::load(args.config.as_deref())?,
    }))?;
    println!("{}", demo::render::summary(&report));
    Ok(())
}
