//! `cellwatch bench`: the end-to-end benchmark harness (see `cellwatch::bench`), and
//! the hidden child commands it runs in separate processes to measure memory.

use anyhow::{bail, Context, Result};
use cellwatch::bench::{self, kafka::Services, BenchOptions};
use cellwatch::config::Config;
use cellwatch::simulate::Scale;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    child: Option<ChildCommand>,
    /// Scenario sizes of the replay measurements, comma-separated
    /// (small ≈ 1.2·10^5 records, medium ≈ 1.5·10^6, large ≈ 7.3·10^6).
    #[arg(long, default_value = "small,medium", value_delimiter = ',')]
    scales: Vec<String>,
    /// Add the large scenario (≈ 7.3 M records, 2.4 GB on disk, ~40 s to generate).
    #[arg(long)]
    large: bool,
    /// Scenario seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Work folder for scenarios and outputs.
    #[arg(long, default_value = "/tmp/cellwatch-bench")]
    work: PathBuf,
    /// Keep generated scenarios for the next run.
    #[arg(long)]
    keep_scenarios: bool,
    /// Distinct SIMs of the state-per-SIM measurement (10000000 for the target's 10 M).
    #[arg(long, default_value_t = 1_000_000)]
    sims: u64,
    /// Kafka bootstrap servers (else $CW_KAFKA_BROKERS); with --clickhouse-url
    /// enables the Kafka measurements.
    #[arg(long)]
    kafka_brokers: Option<String>,
    /// ClickHouse HTTP URL (else $CW_CLICKHOUSE_URL).
    #[arg(long)]
    clickhouse_url: Option<String>,
    /// Skip the Kafka and ClickHouse measurements.
    #[arg(long)]
    no_kafka: bool,
    /// Scenario of the Kafka measurements.
    #[arg(long, default_value = "medium")]
    kafka_scale: String,
    /// Produce rate of the consumer-lag and case-latency runs, records/s.
    #[arg(long, default_value_t = 50_000.0)]
    rate: f64,
    /// Which measurements to take: a comma-separated subset of
    /// replay,state,backlog,paced,scaling (scaling: the staged topology with 1 and 2
    /// instances; not in the default set).
    #[arg(long, default_value = "replay,state,backlog,paced")]
    only: String,
    /// Markdown file whose generated section gets the results.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Also write every figure as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Configuration file (TOML); `CELLWATCH_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Measurements the harness runs in a child process (memory is per process).
#[derive(clap::Subcommand)]
#[allow(clippy::enum_variant_names)]
enum ChildCommand {
    /// Replay a scenario and print throughput and peak RSS as JSON.
    #[command(hide = true)]
    ChildReplay {
        #[arg(long)]
        sms_volume: PathBuf,
        #[arg(long)]
        measurements: PathBuf,
        #[arg(long)]
        cells: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Track N synthetic SIMs in the spam detector and print bytes per SIM as JSON.
    #[command(hide = true)]
    ChildStateSims {
        #[arg(long)]
        sims: u64,
        #[arg(long, default_value_t = 3)]
        records_per_sim: u64,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Feed a scenario's measurements to the fake-BTS detector, print bytes per identity.
    #[command(hide = true)]
    ChildStateIdentities {
        #[arg(long)]
        measurements: PathBuf,
        #[arg(long)]
        cells: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub(crate) fn run(args: BenchArgs) -> Result<()> {
    if let Some(child) = args.child {
        return run_child(child);
    }
    let mut scales = Vec::new();
    for s in &args.scales {
        let scale: Scale = s
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("invalid --scales; use small, medium, large")?;
        if !scales.contains(&scale) {
            scales.push(scale);
        }
    }
    if args.large && !scales.contains(&Scale::Large) {
        scales.push(Scale::Large);
    }
    let kafka_scale: Scale = args
        .kafka_scale
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("invalid --kafka-scale")?;
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let brokers = args.kafka_brokers.or_else(|| from_env("CW_KAFKA_BROKERS"));
    let clickhouse_url = args
        .clickhouse_url
        .or_else(|| from_env("CW_CLICKHOUSE_URL"));
    let parts: bench::Parts = args.only.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let wants_kafka = !args.no_kafka && parts.kafka();
    let services = match (wants_kafka, brokers, clickhouse_url) {
        (false, _, _) => None,
        (true, Some(brokers), Some(clickhouse_url)) => Some(Services {
            brokers,
            clickhouse_url,
        }),
        _ => bail!(
            "the Kafka measurements need --kafka-brokers and --clickhouse-url (or \
             CW_KAFKA_BROKERS / CW_CLICKHOUSE_URL, as `scripts/services.sh up` prints); \
             use --no-kafka to skip them"
        ),
    };
    if args.rate.is_nan() || args.rate <= 0.0 {
        bail!("--rate must be > 0 records/s");
    }
    let opts = BenchOptions {
        exe: std::env::current_exe().context("cannot locate the cellwatch executable")?,
        work: args.work,
        scales,
        seed: args.seed,
        config: Config::load(args.config.as_deref())?,
        config_file: args.config.clone(),
        sims: args.sims,
        services,
        kafka_scale,
        rate: args.rate,
        keep_scenarios: args.keep_scenarios,
        parts,
    };
    if opts.services.is_some() {
        // As `cellwatch run` (the service runs in this process; the replay and
        // memory measurements in child processes keep handing memory back at once).
        cellwatch::alloc::hold_freed_memory(opts.config.sink.free_memory_hold_ms);
    }
    let report = bench::run(&opts);
    let section = bench::report::markdown(&report);
    println!("{section}");
    bench::report::write_into(&args.out, &section)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(json) = &args.json {
        std::fs::write(json, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    if !report.errors.is_empty() {
        bail!(
            "{} measurement(s) could not be taken: {}",
            report.errors.len(),
            report.errors.join("; ")
        );
    }
    Ok(())
}

fn run_child(child: ChildCommand) -> Result<()> {
    let json = match child {
        ChildCommand::ChildReplay {
            sms_volume,
            measurements,
            cells,
            out,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            let r = bench::replay::child(sms_volume, measurements, cells, out, config)
                .map_err(|e| anyhow::anyhow!(e))?;
            serde_json::to_string(&r)?
        }
        ChildCommand::ChildStateSims {
            sims,
            records_per_sim,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            let r = bench::state::child_sims(sims, records_per_sim, &config)
                .map_err(|e| anyhow::anyhow!(e))?;
            serde_json::to_string(&r)?
        }
        ChildCommand::ChildStateIdentities {
            measurements,
            cells,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            let r = bench::state::child_identities(&measurements, &cells, &config)
                .map_err(|e| anyhow::anyhow!(e))?;
            serde_json::to_string(&r)?
        }
    };
    println!("{json}");
    Ok(())
}
