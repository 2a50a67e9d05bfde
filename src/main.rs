//! The `cellwatch` command line: thin wrappers over the library, errors via anyhow.

use anyhow::{Context, Result};
use cellwatch::config::Config;
use cellwatch::replay::{self, InputPath, ReplayOptions};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cellwatch",
    version,
    about = "Streaming detection of spam SIMs, SIM farms and fake base stations"
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay JSON Lines files through the detectors (FEEDS.md §5).
    Replay {
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
        /// Configuration file (TOML); defaults apply when omitted.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Generate a synthetic scenario with ground truth (the base of tests and demo).
    Simulate {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// small | medium | large
        #[arg(long, default_value = "small")]
        scale: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Score cases against a scenario's truth.json.
    Score {
        #[arg(long, value_name = "FILE")]
        truth: PathBuf,
        #[arg(long, value_name = "FILE")]
        cases: PathBuf,
        /// Print the full report as JSON before the one-line summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Replay {
            sms_volume,
            measurements,
            cells,
            out,
            config,
        } => {
            let opts = ReplayOptions {
                sms_volume: sms_volume.as_deref().map(InputPath::parse),
                measurements: measurements.as_deref().map(InputPath::parse),
                cells,
                out,
                config: load_config(config.as_ref())?,
                now_ms: None,
            };
            let summary = replay::run(&opts)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Command::Simulate { seed, scale, out } => {
            let scale: cellwatch::simulate::Scale = scale
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("invalid --scale; use small, medium or large")?;
            let cfg = cellwatch::simulate::SimConfig { seed, scale };
            let summary = cellwatch::simulate::write_scenario(&cfg, &out)
                .with_context(|| format!("cannot write the scenario to {}", out.display()))?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Command::Score { truth, cases, json } => {
            let truth = cellwatch::simulate::truth::Truth::load(&truth)
                .with_context(|| format!("cannot load truth file {}", truth.display()))?;
            let cases = cellwatch::cases::read_jsonl(&cases)?;
            let report = cellwatch::score::score(&truth, &cases);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            println!("{}", report.one_line());
            Ok(())
        }
    }
}
