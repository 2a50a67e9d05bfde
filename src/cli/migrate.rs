//! `cellwatch migrate`: create the ClickHouse database and tables.

use anyhow::{Context, Result};
use cellwatch::config::Config;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct MigrateArgs {
    /// Configuration file (TOML); `CELLWATCH_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// ClickHouse HTTP URL (overrides the config).
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
    /// Database name (overrides the config).
    #[arg(long)]
    database: Option<String>,
}

pub(crate) fn run(args: MigrateArgs) -> Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(u) = args.clickhouse_url {
        config.clickhouse.url = u;
    }
    if let Some(d) = args.database {
        config.clickhouse.database = d;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(migrate(&ClickHouse::new(config.clickhouse)))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
