//! `cellwatch repartition`: make the internal topics whose partition count differs
//! from the configuration's again (docs/streaming.md, "Changing the partition count").

use anyhow::{Context, Result};
use cellwatch::config::Config;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub(crate) struct RepartitionArgs {
    /// Configuration file (TOML) of the instances, with the new
    /// `[kafka] sms_partitions` / `measurement_partitions` / `transmitter_partitions`;
    /// `CELLWATCH_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How long to wait for the stopped instances to leave the consumer groups (a
    /// static member stays until the session timeout, 30 s by default).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    wait_secs: u64,
}

pub(crate) fn run(args: RepartitionArgs) -> Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(cellwatch::service::repartition(
        &config,
        Duration::from_secs(args.wait_secs),
    ))?;
    for line in report {
        println!("{line}");
    }
    Ok(())
}
