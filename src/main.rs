//! The `cellwatch` command line: thin wrappers over the library, errors via anyhow.

mod cli;

use clap::{Parser, Subcommand};
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
    /// The streaming service: Kafka feeds in, cases to ClickHouse and cw.cases.v1.
    Run(cli::run::RunArgs),
    /// The main job on a fresh machine: a scenario streamed through an in-process
    /// Kafka into the same service code, with cases, map and scores at the end.
    Demo(cli::demo::DemoArgs),
    /// Create the ClickHouse database and tables (idempotent).
    Migrate(cli::migrate::MigrateArgs),
    /// Replay JSON Lines files through the detectors (docs/contract.md, "Replay").
    Replay(cli::replay::ReplayArgs),
    /// Generate a synthetic scenario with ground truth (the base of tests and demo).
    Simulate(cli::simulate::SimulateArgs),
    /// Score cases against a scenario's truth.json.
    Score(cli::score::ScoreArgs),
    /// Inspect cases: list, show, export (CSV/JSON/GeoJSON/KML, evidence packages), set-status.
    Cases(cli::cases::CasesArgs),
    /// The analyst console: a web page with a live map of cases, the case queue and
    /// case pages, with logins and roles; `console user add|remove|list` manages users.
    Console(cli::console::ConsoleArgs),
    /// Manage the allowlist of legitimate bulk senders and M2M lines (file and topic).
    Allowlist(cli::allowlist::AllowlistArgs),
    /// Turn MSISDN/IMSI/IMEI columns of a CSV or JSON Lines file into contract pseudonyms.
    Pseudonymize(cli::pseudonymize::PseudonymizeArgs),
    /// Make the internal topics whose partition count differs from the
    /// configuration's again, with every instance stopped (docs/streaming.md,
    /// "Changing the partition count").
    Repartition(cli::repartition::RepartitionArgs),
    /// Check a configuration file (effective values, secrets masked), or print the
    /// documented example of every key.
    Config(cli::config::ConfigArgs),
    /// Measure throughput, memory and latency against the performance targets and
    /// write them to BENCHMARKS.md.
    Bench(cli::bench::BenchArgs),
}

fn main() -> ExitCode {
    cellwatch::alloc::tune();
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let result = match cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Demo(a) => cli::demo::run(a),
        Command::Migrate(a) => cli::migrate::run(a),
        Command::Replay(a) => cli::replay::run(a),
        Command::Simulate(a) => cli::simulate::run(a),
        Command::Score(a) => cli::score::run(a),
        Command::Cases(a) => cli::cases::run(a),
        Command::Console(a) => cli::console::run(a),
        Command::Allowlist(a) => cli::allowlist::run(a),
        Command::Pseudonymize(a) => cli::pseudonymize::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Config(a) => cli::config::run(a),
        Command::Repartition(a) => cli::repartition::run(a),
    };
    match result {
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
