//! The robustness matrix's machinery: run one cell (variant × seed: simulate, replay,
//! score), check it against the issue-11 targets, and print the per-variant table.
//!
//! Use: `mod matrix;` in a file of `tests/` (tests/robustness_matrix.rs).

use cellwatch::config::Config;
use cellwatch::model::Case;
use cellwatch::replay::{self, InputPath, ReplayOptions};
use cellwatch::score::{score, ScoreReport};
use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario_with, Knobs, Scale, SimConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The detection targets, asserted on every cell (docs/simulator.md, "The
/// robustness matrix"). The p90 delay and the per-transmitter time to detect are the
/// matrix's own reading of "p90 as well as median": the issue gives no p90 figure.
pub mod target {
    pub const SPAM_PRECISION: f64 = 0.98;
    /// Overall, and for each kind of positive (blatant, ramping, farm members) alone.
    pub const SPAM_RECALL: f64 = 0.97;
    pub const FARM_MEMBER_RECALL: f64 = 0.95;
    /// Both delay bounds hold the spam delay from the feed's first record of each
    /// SIM's sending (truth `first_carried_ms`: the detector's own latency), not from
    /// the behaviour's start (docs/simulator.md says why).
    pub const MEDIAN_DELAY_MIN: f64 = 10.0;
    pub const P90_DELAY_MIN: f64 = 30.0;
    pub const CASES_PER_TRANSMITTER: f64 = 1.5;
    pub const STATIC_ERROR_M: f64 = 150.0;
    pub const TRACK_ERROR_M: f64 = 300.0;
    /// Median over a cell's transmitters, IMSI catchers aside. Both time-to-detect
    /// bounds hold the time from the transmitter's first report in the feed (the
    /// detector's own latency; docs/simulator.md says why), not from on-air.
    pub const MEDIAN_TIME_TO_DETECT_MIN: f64 = 3.0;
    /// Every transmitter, IMSI catchers included (the matrix's p90 reading).
    pub const TIME_TO_DETECT_MIN: f64 = 20.0;
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    pub variant: String,
    pub seed: u64,
    /// Asserted (otherwise held out: reported only).
    pub asserted: bool,
}

impl Cell {
    pub fn new(variant: &str, seed: u64, asserted: bool) -> Cell {
        Cell {
            variant: variant.to_string(),
            seed,
            asserted,
        }
    }
}

/// The cells to run.
pub struct Plan {
    pub cells: Vec<Cell>,
}

/// What one cell gave.
pub struct CellResult {
    pub cell: Cell,
    pub score: ScoreReport,
    /// Every target missed, one phrase each.
    pub failures: Vec<String>,
    pub wall_ms: u128,
}

/// Simulate, replay and score one cell.
fn run_cell(cell: &Cell) -> CellResult {
    let started = Instant::now();
    let knobs = Knobs::variant(&cell.variant).expect("a known variant");
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = SimConfig {
        seed: cell.seed,
        scale: Scale::Small,
    };
    write_scenario_with(&cfg, &knobs, dir.path()).expect("scenario written");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth readable");
    let out = dir.path().join("out");
    replay::run(&ReplayOptions {
        sms_volume: Some(InputPath::File(dir.path().join("sms_volume.jsonl"))),
        measurements: Some(InputPath::File(dir.path().join("measurements.jsonl"))),
        cells: Some(dir.path().join("cells.csv")),
        out: out.clone(),
        config: Config::default(),
        now_ms: Some(truth.end_ms),
    })
    .expect("replay runs");
    let cases: Vec<Case> = std::fs::read_to_string(out.join("cases.jsonl"))
        .expect("cases.jsonl written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a case per line"))
        .collect();
    let score = score(&truth, &cases);
    CellResult {
        cell: cell.clone(),
        failures: check(&score),
        score,
        wall_ms: started.elapsed().as_millis(),
    }
}

/// Run every cell of `plan` on two threads, in plan order.
pub fn run_matrix(plan: Plan) -> Vec<CellResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, CellResult)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cell) = plan.cells.get(i) else {
                    break;
                };
                let r = run_cell(cell);
                eprintln!(
                    "matrix: {} seed {} ({} ms): {}",
                    cell.variant,
                    cell.seed,
                    r.wall_ms,
                    if r.failures.is_empty() {
                        "meets every target".to_string()
                    } else {
                        r.failures.join("; ")
                    }
                );
                results.lock().expect("no panic holding it").push((i, r));
            });
        }
    });
    let mut results = results.into_inner().expect("no panic holding it");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn at_least(out: &mut Vec<String>, what: &str, v: f64, min: f64) {
    if v < min {
        out.push(format!("{what} {v:.3} < {min}"));
    }
}

fn at_most(out: &mut Vec<String>, what: &str, v: Option<f64>, max: f64) {
    match v {
        Some(v) if v > max => out.push(format!("{what} {v:.1} > {max}")),
        _ => {}
    }
}

/// Every target a cell misses.
pub fn check(r: &ScoreReport) -> Vec<String> {
    let mut out = check_spam(r);
    out.extend(check_bts(r));
    out
}

/// The spam targets a cell misses (precision, recall per kind, farm cases, delays,
/// false positives per trap category).
pub fn check_spam(r: &ScoreReport) -> Vec<String> {
    let mut out = Vec::new();
    let s = &r.sims;
    at_least(
        &mut out,
        "spam precision",
        s.precision,
        target::SPAM_PRECISION,
    );
    at_least(&mut out, "spam recall", s.recall, target::SPAM_RECALL);
    for (kind, k) in &s.recall_by_kind {
        at_least(
            &mut out,
            &format!("{kind} recall"),
            k.recall,
            target::SPAM_RECALL,
        );
    }
    at_least(
        &mut out,
        "farm-member recall (farm cases)",
        s.farm_member_recall,
        target::FARM_MEMBER_RECALL,
    );
    for (i, n) in s.farm_cases_per_farm.iter().enumerate() {
        if *n != 1 {
            out.push(format!("farm {} in {n} cases (one wanted)", i + 1));
        }
    }
    at_most(
        &mut out,
        "median delay from first record min",
        s.median_delay_from_first_record_min,
        target::MEDIAN_DELAY_MIN,
    );
    at_most(
        &mut out,
        "p90 delay from first record min",
        s.p90_delay_from_first_record_min,
        target::P90_DELAY_MIN,
    );
    for (kind, n) in &s.false_positives_by_kind {
        if kind != "ordinary" {
            out.push(format!("{n} false positive(s) among {kind} SIMs"));
        }
    }
    out
}

/// The fake-BTS targets of finding a cell misses: a transmitter not found, a false
/// case (a subset of [`check_bts`]).
pub fn check_bts_found(r: &ScoreReport) -> Vec<String> {
    let mut out = Vec::new();
    for (category, n) in &r.bts.false_cases_by_category {
        out.push(format!("{n} false fake_bts case(s) on {category} cells"));
    }
    for t in r.bts.per_transmitter.iter().filter(|t| !t.detected) {
        out.push(format!("{} ({}) not found", t.id, t.kind));
    }
    out
}

/// The fake-BTS targets a cell misses.
pub fn check_bts(r: &ScoreReport) -> Vec<String> {
    let mut out = Vec::new();
    let b = &r.bts;
    for (category, n) in &b.false_cases_by_category {
        out.push(format!("{n} false fake_bts case(s) on {category} cells"));
    }
    at_most(
        &mut out,
        "cases per transmitter",
        b.cases_per_transmitter,
        target::CASES_PER_TRANSMITTER,
    );
    let ttd: Vec<f64> = b
        .per_transmitter
        .iter()
        .filter(|t| t.kind != "imsi_catcher")
        .filter_map(|t| t.time_from_first_report_min)
        .collect();
    at_most(
        &mut out,
        "median time to detect min",
        median(ttd),
        target::MEDIAN_TIME_TO_DETECT_MIN,
    );
    for t in &b.per_transmitter {
        if !t.detected {
            out.push(format!("{} ({}) not found", t.id, t.kind));
            continue;
        }
        at_most(
            &mut out,
            &format!("{} time to detect from first report min", t.id),
            t.time_from_first_report_min,
            target::TIME_TO_DETECT_MIN,
        );
        if t.moving {
            at_most(
                &mut out,
                &format!("{} track error m", t.id),
                t.track_error_m,
                target::TRACK_ERROR_M,
            );
        } else {
            at_most(
                &mut out,
                &format!("{} localisation error m", t.id),
                t.localisation_error_m,
                target::STATIC_ERROR_M,
            );
        }
    }
    out
}

/// Median (mean of the two middle values for an even count); `None` when empty.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Worst (lowest) of some figures, `-` when none.
fn min_of(v: impl Iterator<Item = f64>) -> String {
    v.reduce(f64::min).map_or("-".into(), |x| format!("{x:.3}"))
}

/// Worst (highest) of some figures, `-` when none.
fn max_of(v: impl Iterator<Item = Option<f64>>, digits: usize) -> String {
    v.flatten()
        .reduce(f64::max)
        .map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// A count per cell as `worst (sum over the cells)`, or just `0`.
fn worst_and_total(per_cell: &[usize]) -> String {
    let worst = per_cell.iter().copied().max().unwrap_or(0);
    let total: usize = per_cell.iter().sum();
    if total == worst {
        worst.to_string()
    } else {
        format!("{worst} ({total})")
    }
}

/// One table row: the worst figure of each column over the cells of a variant.
fn row(variant: &str, cells: &[&CellResult]) -> String {
    let sims = || cells.iter().map(|c| &c.score.sims);
    let bts = || cells.iter().map(|c| &c.score.bts);
    let kind = |k: &'static str| {
        min_of(sims().filter_map(move |s| s.recall_by_kind.get(k).map(|r| r.recall)))
    };
    // Counts per cell: the worst cell, and in brackets the sum over the cells (a sum
    // alone read as a worst cell disagreed with the per-seed lines below the table).
    let trap_fp_per_cell: Vec<usize> = sims()
        .map(|s| {
            s.false_positives_by_kind
                .iter()
                .filter(|(k, _)| k.as_str() != "ordinary")
                .map(|(_, n)| n)
                .sum()
        })
        .collect();
    let trap_fp = worst_and_total(&trap_fp_per_cell);
    let false_bts = worst_and_total(&bts().map(|b| b.false_fake_bts_cases).collect::<Vec<_>>());
    let found: usize = bts().map(|b| b.detected).sum();
    let total: usize = bts().map(|b| b.transmitters_total).sum();
    let per_tx = |imsi: bool| {
        max_of(
            bts()
                .flat_map(|b| b.per_transmitter.iter())
                .filter(|t| (t.kind == "imsi_catcher") == imsi)
                .map(|t| t.time_from_first_report_min),
            1,
        )
    };
    let on_air = max_of(
        bts()
            .flat_map(|b| b.per_transmitter.iter())
            .map(|t| t.time_to_detect_min),
        1,
    );
    let failing = cells.iter().filter(|c| !c.failures.is_empty()).count();
    format!(
        "| {variant} | {failing}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {trap_fp} | {found}/{total} | {false_bts} | {} | {} | {} | {} | {} | {on_air} | {} |",
        cells.len(),
        min_of(sims().map(|s| s.precision)),
        min_of(sims().map(|s| s.recall)),
        kind("blatant_spam"),
        kind("ramp_spam"),
        kind("farm_member"),
        min_of(sims().map(|s| s.farm_member_recall)),
        sims().flat_map(|s| s.farm_cases_per_farm.iter().copied()).max().map_or("-".into(), |n| n.to_string()),
        max_of(sims().map(|s| s.median_delay_from_first_record_min), 1),
        max_of(sims().map(|s| s.p90_delay_from_first_record_min), 1),
        max_of(sims().map(|s| s.median_delay_min), 1),
        max_of(sims().map(|s| s.p90_delay_min), 1),
        max_of(bts().map(|b| b.cases_per_transmitter), 2),
        max_of(bts().flat_map(|b| b.per_transmitter.iter()).filter(|t| !t.moving).map(|t| t.localisation_error_m), 0),
        max_of(bts().flat_map(|b| b.per_transmitter.iter()).filter(|t| t.moving).map(|t| t.track_error_m), 0),
        per_tx(false),
        per_tx(true),
        cells.iter().map(|c| c.wall_ms).max().unwrap_or(0),
    )
}

/// The per-variant tables (asserted cells, then held-out ones) and the failing cells.
pub fn markdown(results: &[CellResult]) -> String {
    let mut out = String::new();
    for (asserted, title) in [
        (true, "Asserted cells"),
        (false, "Held-out cells (not asserted)"),
    ] {
        let mine: Vec<&CellResult> = results
            .iter()
            .filter(|r| r.cell.asserted == asserted)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let seeds: std::collections::BTreeSet<u64> = mine.iter().map(|r| r.cell.seed).collect();
        out.push_str(&format!("### {title}: seeds {seeds:?}\n\n"));
        out.push_str("Worst cell of each variant (lowest recall, highest delay...). Counts (trap SIM false positives, false fake-BTS cases) are the worst cell's, with the sum over the variant's cells in brackets when it differs; \"fake BTS found\" sums over the cells.\n\n");
        out.push_str("| variant | failing cells | precision | recall | blatant | ramp | farm SIMs | farm-member (farm case) | farm cases per farm | median delay min | p90 delay min | delay from start median min | delay from start p90 min | trap SIM FPs | fake BTS found | false BTS cases | cases per transmitter | static error m | track error m | time to detect min | IMSI catcher min | from on-air min | wall ms |\n");
        out.push_str(
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        let mut variants: Vec<&str> = Vec::new();
        for r in &mine {
            if !variants.contains(&r.cell.variant.as_str()) {
                variants.push(&r.cell.variant);
            }
        }
        for v in variants {
            let cells: Vec<&CellResult> = mine
                .iter()
                .copied()
                .filter(|r| r.cell.variant == v)
                .collect();
            out.push_str(&row(v, &cells));
            out.push('\n');
        }
        out.push_str("\nCells missing a target:\n\n");
        for r in mine.iter().filter(|r| !r.failures.is_empty()) {
            out.push_str(&format!(
                "- {} seed {}: {}\n",
                r.cell.variant,
                r.cell.seed,
                r.failures.join("; ")
            ));
        }
        out.push('\n');
    }
    out
}
