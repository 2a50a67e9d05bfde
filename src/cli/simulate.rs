//! `cellwatch simulate`: write a synthetic scenario with its ground truth; knobs from
//! named variants, scenario files and `--set` overrides (docs/simulator.md).

use anyhow::{Context, Result};
use cellwatch::simulate::knobs::variants;
use cellwatch::simulate::KnobsBuilder;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct SimulateArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// small | medium | large
    #[arg(long, default_value = "small")]
    scale: String,
    #[arg(long, value_name = "DIR", required_unless_present_any = ["list_variants", "print_knobs"])]
    out: Option<PathBuf>,
    /// A named variant (`scenarios/NAME.toml`); repeat to lay several over each other.
    #[arg(long, value_name = "NAME")]
    variant: Vec<String>,
    /// A scenario file of knobs (TOML), laid over the variants; repeatable.
    #[arg(long, value_name = "FILE")]
    scenario: Vec<PathBuf>,
    /// One knob, `key.path=value` (e.g. `attackers.imsi_catchers=1`), applied last;
    /// repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// List the named variants and exit.
    #[arg(long)]
    list_variants: bool,
    /// Print the effective knobs as TOML and exit.
    #[arg(long)]
    print_knobs: bool,
}

pub(crate) fn run(args: SimulateArgs) -> Result<()> {
    if args.list_variants {
        for v in variants::VARIANTS {
            println!("{:<20} {}", v.name, v.description());
        }
        return Ok(());
    }
    let scale: cellwatch::simulate::Scale = args
        .scale
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("invalid --scale; use small, medium or large")?;
    let mut builder = KnobsBuilder::new();
    for v in &args.variant {
        builder
            .variant(v)
            .context("invalid --variant; `cellwatch simulate --list-variants` lists them")?;
    }
    for f in &args.scenario {
        builder.file(f).context("invalid --scenario file")?;
    }
    for s in &args.set {
        builder.set(s).context("invalid --set")?;
    }
    let knobs = builder
        .build()
        .context("invalid scenario knobs; docs/simulator.md lists every knob and its range")?;
    if args.print_knobs {
        print!("{}", knobs.to_toml());
        return Ok(());
    }
    let out = args.out.context("--out DIR is required")?;
    let cfg = cellwatch::simulate::SimConfig {
        seed: args.seed,
        scale,
    };
    let summary = cellwatch::simulate::write_scenario_with(&cfg, &knobs, &out)
        .with_context(|| format!("cannot write the scenario to {}", out.display()))?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
