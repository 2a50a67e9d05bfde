//! `cellwatch config check|example`: validate a configuration and print what every
//! command would run with (secrets masked), or print the documented example file.

use anyhow::Result;
use cellwatch::config::{example, mask, Config, Environment};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(clap::Subcommand)]
enum ConfigCommand {
    /// Load FILE and the CELLWATCH_* environment as every command does, validate
    /// them, and print the effective configuration as TOML with secrets masked.
    Check {
        /// Configuration file (TOML); without it, the defaults and the environment.
        file: Option<PathBuf>,
    },
    /// Print the example configuration: every key with its doc comment and default
    /// (the committed cellwatch.example.toml).
    Example,
}

pub(crate) fn run(args: ConfigArgs) -> Result<()> {
    match args.command {
        ConfigCommand::Check { file } => check(file),
        ConfigCommand::Example => {
            print!("{}", example::example_toml());
            Ok(())
        }
    }
}

fn check(file: Option<PathBuf>) -> Result<()> {
    let env = Environment::from_process()?;
    let loaded = Config::load_from(file.as_deref(), &env)?;
    let source = file.map_or_else(
        || "the defaults".to_string(),
        |f| format!("the defaults, then {}", f.display()),
    );
    println!("# valid; effective configuration: {source}, then the environment; secrets masked");
    for o in &loaded.overrides {
        println!("# {} sets {}", o.variable, o.key);
    }
    print!("{}", mask::masked_toml(&loaded.config));
    Ok(())
}
