//! `cellwatch pseudonymize`: MSISDN / IMSI / IMEI columns of a CSV or JSON Lines file
//! turned into the contract's HMAC-SHA256 pseudonyms, streaming. The key comes from a
//! file and is never printed.

use anyhow::{bail, Context, Result};
use cellwatch::pseudonymize::{
    pseudonymize_csv, pseudonymize_jsonl, ColumnSpec, InputFormat, Pseudonymizer,
};
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct PseudonymizeArgs {
    /// File holding the operator's secret HMAC key (its bytes, trailing newlines ignored).
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// Input file (`-` = standard input).
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    input: String,
    /// Output file (`-` = standard output); a file is written whole or not at all.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    output: String,
    /// csv or jsonl; by default from the input (or output) file extension.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Columns to pseudonymize, NAME or NAME=NEW_NAME, e.g. msisdn=sim,imei=device.
    /// Default: whichever of msisdn, imsi, imei the input has.
    #[arg(long, value_name = "LIST")]
    columns: Option<String>,
    /// Hex characters kept of the 64 of HMAC-SHA256 (even, 16..=64).
    #[arg(long, value_name = "N", default_value_t = 64)]
    length: usize,
}

pub(crate) fn run(args: PseudonymizeArgs) -> Result<()> {
    let format = match &args.format {
        Some(f) => InputFormat::parse(f)
            .with_context(|| format!("{f:?} is not a format; use csv or jsonl"))?,
        None => [&args.input, &args.output]
            .iter()
            .filter(|p| p.as_str() != "-")
            .find_map(|p| InputFormat::from_path(std::path::Path::new(p)))
            .context("cannot tell the format from the file names; give --format csv or jsonl")?,
    };
    let (columns, explicit) = match &args.columns {
        Some(c) => (ColumnSpec::parse_list(c)?, true),
        None => (ColumnSpec::defaults(), false),
    };
    let p = Pseudonymizer::from_key_file(&args.key_file, args.length)?;
    if args.input != "-" && args.input == args.output {
        bail!("--output is the same file as --input; write to a new file");
    }
    let input: Box<dyn Read> = if args.input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&args.input).with_context(|| {
            format!(
                "cannot open {}; check the path given to --input",
                args.input
            )
        })?)
    };
    let input = BufReader::with_capacity(256 * 1024, input);
    let mut report = None;
    let run = |out: &mut dyn Write| -> Result<()> {
        let r = match format {
            InputFormat::Csv => pseudonymize_csv(input, out, &p, &columns, explicit)?,
            InputFormat::Jsonl => pseudonymize_jsonl(input, out, &p, &columns)?,
        };
        report = Some(r);
        Ok(())
    };
    if args.output == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        run(&mut out)?;
        out.flush()?;
    } else {
        let path = PathBuf::from(&args.output);
        let mut failure = None;
        super::cases::write_atomically(&path, |w| {
            run(w).map_err(|e| {
                let io = std::io::Error::other(format!("{e:#}"));
                failure = Some(e);
                io
            })
        })
        .map_err(|e| failure.take().unwrap_or(e))?;
    }
    if let Some(r) = report {
        let per: Vec<String> = r
            .pseudonymized
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        eprintln!(
            "pseudonymized {} record(s): {}; {} empty value(s) left as they were",
            r.records,
            if per.is_empty() {
                "no values".into()
            } else {
                per.join(", ")
            },
            r.left_empty
        );
    }
    Ok(())
}
