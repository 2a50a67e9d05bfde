//! `cellwatch migrate`: create the ClickHouse database and tables.

use anyhow::{Context, Result};
use cellwatch::config::Config;
use cellwatch::sink::clickhouse::{ddl, migrate, ClickHouse};
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
    /// Print the statements for a server of --server-version instead of running
    /// them (no connection is made): to review them, or to run them by hand.
    #[arg(long, requires = "server_version")]
    print_ddl: bool,
    /// The ClickHouse version to write the statements for, e.g. 26.1 or 18.16.
    #[arg(long, value_name = "VERSION", requires = "print_ddl")]
    server_version: Option<String>,
}

pub(crate) fn run(args: MigrateArgs) -> Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(u) = args.clickhouse_url {
        config.clickhouse.url = u;
    }
    if let Some(d) = args.database {
        config.clickhouse.database = d;
    }
    if let Some(version) = args.server_version.filter(|_| args.print_ddl) {
        let statements = ddl(&version, &config.clickhouse.database).with_context(|| {
            format!("--server-version {version:?}: give a version such as 26.1")
        })?;
        for (what, sql) in statements {
            println!("-- {what}\n{sql};\n");
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(migrate(&ClickHouse::new(config.clickhouse)))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
