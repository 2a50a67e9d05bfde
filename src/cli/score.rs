//! `cellwatch score`: measure cases against a scenario's truth; one-line summary last.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct ScoreArgs {
    #[arg(long, value_name = "FILE")]
    truth: PathBuf,
    #[arg(long, value_name = "FILE")]
    cases: PathBuf,
    /// Print the full report as JSON before the one-line summary.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: ScoreArgs) -> Result<()> {
    let truth = cellwatch::simulate::truth::Truth::load(&args.truth)
        .with_context(|| format!("cannot load truth file {}", args.truth.display()))?;
    let cases = cellwatch::cases::read_jsonl(&args.cases)?;
    let report = cellwatch::score::score(&truth, &cases);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    println!("{}", report.one_line());
    Ok(())
}
