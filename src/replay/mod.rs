//! `cellwatch replay` (docs/contract.md, "Replay"): the pipeline on JSON Lines
//! files, with event time taken from the records. Writes `cases.jsonl`,
//! `dead_letter.jsonl`, `inventory_findings.jsonl` and `summary.json` into the
//! output folder.

mod parse_stage;
mod summary;

pub(crate) use summary::InputSummary;
pub use summary::ReplaySummary;

use crate::cases::CaseBook;
use crate::config::Config;
use crate::detect::setup::RunSetup;
use crate::ingest::OriginRef;
use crate::model::{Feed, TimeBounds};
use crate::pipeline::{Lane, Pipeline};
use crate::validate::{DeadLetter, SourceValidator};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// An input given on the command line: a file, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    pub fn parse(s: &str) -> InputPath {
        if s == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(PathBuf::from(s))
        }
    }

    fn display(&self) -> String {
        match self {
            InputPath::Stdin => "-".to_string(),
            InputPath::File(p) => p.display().to_string(),
        }
    }
}

/// What to replay and where to write.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub sms_volume: Option<InputPath>,
    pub measurements: Option<InputPath>,
    pub cells: Option<PathBuf>,
    pub out: PathBuf,
    pub config: Config,
    /// Fixes "now" for the contract's `now + 1 day` timestamp bound; the wall clock
    /// when `None`. Tests set it so results never depend on the day they run.
    pub now_ms: Option<i64>,
}

/// Why a replay could not run. Data problems are never errors: they are dead letters.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("nothing to replay: give --sms-volume and/or --measurements")]
    NoInput,
    #[error("both inputs read standard input; at most one of --sms-volume and --measurements may be `-`")]
    StdinTwice,
    #[error("cannot open input {path}: {source}; check that the file exists and is readable")]
    OpenInput {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot read input {path} at line {line}: {source}")]
    ReadInput {
        path: String,
        line: u64,
        #[source]
        source: io::Error,
    },
    #[error("cannot write output {path}: {source}; check that the output folder is writable")]
    Output {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

/// Replay the inputs through the pipeline and write the outputs.
pub fn run(opts: &ReplayOptions) -> Result<ReplaySummary, ReplayError> {
    let started = Instant::now();
    // Open every input before writing anything, so a typo leaves no half output.
    let inputs = open_inputs(opts)?;
    let mut setup =
        RunSetup::build(&opts.config, opts.cells.as_deref()).map_err(ReplayError::Setup)?;
    std::fs::create_dir_all(&opts.out).map_err(|source| ReplayError::Output {
        path: opts.out.display().to_string(),
        source,
    })?;
    let dead_path = opts.out.join("dead_letter.jsonl");
    let mut dead_out = create(&dead_path)?;

    let bounds = match opts.now_ms {
        Some(now) => TimeBounds::at(now),
        None => TimeBounds::from_wall_clock(),
    };
    let pipeline =
        Pipeline::from_config(std::mem::take(&mut setup.detectors), &opts.config.pipeline);
    let feeds: Vec<Feed> = inputs.iter().map(|(feed, _, _)| *feed).collect();
    let (pipeline, book, input_summaries) = match pipeline.split_by_feed(&feeds) {
        Ok(lanes) => replay_lanes(lanes, inputs, opts, bounds, &mut dead_out, &dead_path)?,
        Err(pipeline) => replay_in_turn(pipeline, inputs, opts, bounds, &mut dead_out, &dead_path)?,
    };
    dead_out
        .flush()
        .map_err(|source| output_err(&dead_path, source))?;

    let cases = book.into_sorted();
    let cases_path = opts.out.join("cases.jsonl");
    let mut w = create(&cases_path)?;
    crate::cases::write_jsonl(&mut w, &cases)
        .and_then(|()| w.flush())
        .map_err(|e| output_err(&cases_path, e))?;

    let findings_path = opts.out.join("inventory_findings.jsonl");
    write_findings(&pipeline, &findings_path).map_err(|e| output_err(&findings_path, e))?;

    let summary = ReplaySummary::new(
        &pipeline,
        &cases,
        input_summaries,
        setup.inventory_report.clone(),
        started.elapsed(),
    );
    write_summary(&opts.out.join("summary.json"), &summary)?;
    tracing::info!(
        records = summary.records_read,
        valid = summary.valid,
        invalid = summary.invalid,
        late = summary.late,
        cases = cases.len(),
        records_per_sec = summary.records_per_sec as u64,
        "replay finished"
    );
    Ok(summary)
}

/// Write the detectors' low-severity findings (inventory discrepancies), one JSON
/// object a line.
fn write_findings(pipeline: &Pipeline, path: &Path) -> io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for d in pipeline.detectors() {
        for f in d.findings() {
            serde_json::to_writer(&mut w, &f)?;
            w.write_all(b"\n")?;
        }
    }
    w.flush()
}

/// Check the inputs of `opts` and open them, in feed order.
fn open_inputs(opts: &ReplayOptions) -> Result<Vec<Input>, ReplayError> {
    if opts.sms_volume.is_none() && opts.measurements.is_none() {
        return Err(ReplayError::NoInput);
    }
    if opts.sms_volume == Some(InputPath::Stdin) && opts.measurements == Some(InputPath::Stdin) {
        return Err(ReplayError::StdinTwice);
    }
    let mut inputs = Vec::new();
    for (feed, path) in [
        (Feed::SmsVolume, &opts.sms_volume),
        (Feed::Measurements, &opts.measurements),
    ] {
        if let Some(p) = path {
            inputs.push((feed, p.clone(), open_input(p)?));
        }
    }
    Ok(inputs)
}

/// An input unbuffered: the parse stage reads large blocks straight into its chunks.
fn open_input(p: &InputPath) -> Result<Box<dyn Read + Send>, ReplayError> {
    match p {
        InputPath::Stdin => Ok(Box::new(io::stdin())),
        InputPath::File(path) => {
            let meta = std::fs::metadata(path).map_err(|source| ReplayError::OpenInput {
                path: path.display().to_string(),
                source,
            })?;
            if meta.is_dir() {
                return Err(ReplayError::OpenInput {
                    path: path.display().to_string(),
                    source: io::Error::other("is a directory, expected a JSON Lines file"),
                });
            }
            let f = File::open(path).map_err(|source| ReplayError::OpenInput {
                path: path.display().to_string(),
                source,
            })?;
            Ok(Box::new(f))
        }
    }
}

fn create(path: &Path) -> Result<BufWriter<File>, ReplayError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 16, f))
        .map_err(|source| output_err(path, source))
}

fn output_err(path: &Path, source: io::Error) -> ReplayError {
    ReplayError::Output {
        path: path.display().to_string(),
        source,
    }
}

fn write_summary(path: &Path, summary: &ReplaySummary) -> Result<(), ReplayError> {
    let mut w = create(path)?;
    serde_json::to_writer_pretty(&mut w, summary).map_err(|e| output_err(path, e.into()))?;
    w.write_all(b"\n").map_err(|e| output_err(path, e))?;
    w.flush().map_err(|e| output_err(path, e))
}

/// An opened input: its feed, its name and its reader.
type Input = (Feed, InputPath, Box<dyn Read + Send>);

/// The inputs one after the other through the whole pipeline (when it cannot be
/// split into feed lanes).
fn replay_in_turn(
    mut pipeline: Pipeline,
    inputs: Vec<Input>,
    opts: &ReplayOptions,
    bounds: TimeBounds,
    dead_out: &mut BufWriter<File>,
    dead_path: &Path,
) -> Result<(Pipeline, CaseBook, Vec<InputSummary>), ReplayError> {
    let mut book = CaseBook::new();
    let mut input_summaries = Vec::new();
    for (feed, path, reader) in inputs {
        let s = replay_source(
            feed,
            &path,
            reader,
            &opts.config,
            bounds,
            &mut pipeline,
            &mut book,
            dead_out,
        )
        .map_err(|e| e.into_replay_error(dead_path))?;
        input_summaries.push(s);
    }
    pipeline.finish(&mut book);
    Ok((pipeline, book, input_summaries))
}

/// One input per feed, each on its own thread with its feed's lane of the
/// pipeline; the lanes, their cases and dead letters are joined in input order, so
/// the outputs equal those of the sequential replay.
fn replay_lanes(
    lanes: Vec<Lane>,
    inputs: Vec<Input>,
    opts: &ReplayOptions,
    bounds: TimeBounds,
    dead_out: &mut BufWriter<File>,
    dead_path: &Path,
) -> Result<(Pipeline, CaseBook, Vec<InputSummary>), ReplayError> {
    type LaneResult = Result<(Lane, CaseBook, Vec<u8>, Option<InputSummary>), SourceError>;
    let mut inputs: Vec<Option<Input>> = inputs.into_iter().map(Some).collect();
    let results: Vec<LaneResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = lanes
            .into_iter()
            .map(|mut lane| {
                let input = inputs
                    .iter_mut()
                    .find(|i| i.as_ref().is_some_and(|(f, _, _)| *f == lane.feed))
                    .and_then(Option::take);
                let config = &opts.config;
                scope.spawn(move || -> LaneResult {
                    let mut book = CaseBook::new();
                    let mut dead = Vec::new();
                    let summary = match input {
                        Some((feed, path, reader)) => Some(replay_source(
                            feed,
                            &path,
                            reader,
                            config,
                            bounds,
                            &mut lane.pipeline,
                            &mut book,
                            &mut dead,
                        )?),
                        None => None,
                    };
                    lane.pipeline.finish(&mut book);
                    Ok((lane, book, dead, summary))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut lanes = Vec::new();
    let mut book = CaseBook::new();
    let mut summaries = Vec::new();
    for r in results {
        let (lane, lane_book, dead, summary) = r.map_err(|e| e.into_replay_error(dead_path))?;
        dead_out
            .write_all(&dead)
            .map_err(|e| output_err(dead_path, e))?;
        lanes.push(lane);
        book.absorb(lane_book);
        summaries.extend(summary);
    }
    Ok((Pipeline::join(lanes), book, summaries))
}

/// Why reading one input stopped.
enum SourceError {
    Read {
        path: String,
        line: u64,
        source: io::Error,
    },
    DeadLetters(io::Error),
}

impl SourceError {
    fn into_replay_error(self, dead_path: &Path) -> ReplayError {
        match self {
            SourceError::Read { path, line, source } => {
                ReplayError::ReadInput { path, line, source }
            }
            SourceError::DeadLetters(e) => output_err(dead_path, e),
        }
    }
}

/// Replay one input: its lines are read and parsed on a thread of their own
/// ([`parse_stage`]), then admitted against the source's watermark and run through
/// the pipeline here, in file order.
#[allow(clippy::too_many_arguments)]
fn replay_source(
    feed: Feed,
    path: &InputPath,
    reader: Box<dyn Read + Send>,
    config: &Config,
    bounds: TimeBounds,
    pipeline: &mut Pipeline,
    book: &mut CaseBook,
    dead_out: &mut dyn Write,
) -> Result<InputSummary, SourceError> {
    let name = path.display();
    let limit = config.pipeline.max_record_bytes;
    let depth = config.pipeline.max_json_depth;
    let mut validator = SourceValidator::new(feed, bounds, config.pipeline.allowed_lateness_ms())
        .with_max_json_depth(depth);
    let mut summary = InputSummary::new(feed, name.clone());
    let (producer, consumer) = parse_stage::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || parse_stage::run(feed, bounds, reader, limit, depth, producer));
        // Owned here: dropping it on an early return stops the parse thread (which
        // the scope then joins).
        let consumer = consumer;
        while let Some(message) = consumer.recv() {
            let mut chunk = match message {
                parse_stage::Message::Chunk(c) => c,
                parse_stage::Message::ReadError { line, error } => {
                    return Err(SourceError::Read {
                        path: name.clone(),
                        line,
                        source: error,
                    })
                }
            };
            let parse_stage::Chunk { bytes, lines } = &mut chunk;
            for line in lines.drain(..) {
                summary.lines += 1;
                let origin = OriginRef::File {
                    file: &name,
                    line: summary.lines,
                };
                let raw = &bytes.data()[line.range];
                let dead = match line.parsed {
                    // admitted by reference: the event moves once, to the hold queue
                    Ok(event) => match validator.admit_valid(&event, raw, origin) {
                        None => {
                            pipeline.on_admitted_event(&validator, event, book);
                            None
                        }
                        Some(d) => Some(d),
                    },
                    Err(err) => Some(validator.refuse(err, raw, line.raw_len, origin)),
                };
                if let Some(d) = dead {
                    pipeline.on_dead_letter(&d);
                    write_dead_letter(dead_out, &d).map_err(SourceError::DeadLetters)?;
                }
            }
            consumer.recycle(chunk);
        }
        Ok(summary)
    })
}

fn write_dead_letter(w: &mut dyn Write, d: &DeadLetter) -> io::Result<()> {
    serde_json::to_writer(&mut *w, d)?;
    w.write_all(b"\n")
}
