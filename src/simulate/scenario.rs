//! Writing one scenario: the city and its inventory, the rogue transmitters, the
//! SIMs and the reporters, stepped through event time five minutes at a time into
//! the two feed files, then the truth about everything injected.
//!
//! Each part draws from its own random stream, seeded in a fixed order from the
//! scenario's seed, so the parts cannot shift each other's draws. What the knobs add
//! (docs/simulator.md) is applied after the default parts are drawn, from streams
//! named after each feature ([`super::util::stream`]): the default knobs write the
//! default scenario byte for byte.

use super::city::{traps, City, CityParams};
use super::fakes::{self, Transmitter};
use super::knobs::{operator_index, Knobs};
use super::output::{FeedPlan, FeedTotals, FeedWriter};
use super::pseudonym::Pseudonymizer;
use super::reporters::{ReporterParams, Reporters};
use super::scale::ScaleParams;
use super::sims::Sims;
use super::truth::Truth;
use super::util::{stream, SimRng, Span};
use super::{
    start_offset_hours, ScenarioSummary, SimConfig, SimulateError, BASE_START_MS, CELLS_FILE,
    MEASUREMENTS_FILE, SMS_VOLUME_FILE, STEP_MS, TRUTH_FILE,
};
use crate::model::Feed;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

/// Share of extra malformed lines per feed file (~0.2 %).
const MALFORMED_RATE: f64 = 0.002;

/// The simulated world, stepped through event time.
struct World {
    city: City,
    fakes: Vec<Transmitter>,
    sims: Sims,
    reporters: Reporters,
}

/// The next part's random stream.
fn sub_rng(master: &mut SimRng) -> SimRng {
    SimRng::seed_from_u64(master.random())
}

/// Generate the default scenario of `cfg` into `out_dir` (created if needed).
pub fn write_scenario(cfg: &SimConfig, out_dir: &Path) -> Result<ScenarioSummary, SimulateError> {
    write_scenario_with(cfg, &Knobs::default(), out_dir)
}

/// Generate the scenario of `cfg` with `knobs` into `out_dir` (created if needed).
pub fn write_scenario_with(
    cfg: &SimConfig,
    knobs: &Knobs,
    out_dir: &Path,
) -> Result<ScenarioSummary, SimulateError> {
    let problems = knobs.problems();
    if !problems.is_empty() {
        return Err(SimulateError::Knobs(problems.join("; ")));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| SimulateError::io(out_dir, e))?;
    let params = ScaleParams::of(cfg.scale);
    let mut master = SimRng::seed_from_u64(cfg.seed);
    let start_ms = BASE_START_MS + start_offset_hours(cfg.seed) * 3_600_000;
    let span = Span {
        start_ms,
        end_ms: start_ms + params.hours * 3_600_000,
    };
    let pseudo = Pseudonymizer::for_seed(cfg.seed);

    let mut city_rng = sub_rng(&mut master);
    let city = City::generate(
        &CityParams {
            target_cells: params.cells,
            missing_share: 0.02,
            misplaced_share: 0.02,
        },
        &mut city_rng,
    );
    let cells_path = out_dir.join(CELLS_FILE);
    let no_channel: Vec<usize> = knobs
        .cells
        .inventory_without_channel
        .iter()
        .filter_map(|op| operator_index(op))
        .collect();
    let cell_rows = city.write_csv(&cells_path, &no_channel, &mut city_rng)?;
    let mut fakes = fakes::generate(&city, span, &mut sub_rng(&mut master));
    let mut sims = Sims::generate(&params.sims, &city, span, &pseudo, sub_rng(&mut master));
    let mut reporters = Reporters::generate(
        ReporterParams {
            count: params.reporters,
        },
        start_ms,
        &pseudo,
        sub_rng(&mut master),
    );
    // The knobs, on top of the default parts.
    let mut city = city;
    let trap_cells = traps::apply(&mut city, &knobs.cells, cfg.seed, span);
    fakes.extend(fakes::generate_extra(
        &city,
        span,
        &knobs.attackers,
        cfg.seed,
    ));
    if knobs.attackers.static_clone.victim_silent {
        fakes::silence_victims(&mut city, &fakes);
    }
    sims.configure(&knobs.feeds, &knobs.sims, &city, span, &pseudo, cfg.seed);
    reporters.configure(&knobs.cells, &knobs.reports, fakes.len(), cfg.seed);
    let mut world = World {
        city,
        fakes,
        sims,
        reporters,
    };
    let (sms, meas) = write_feeds(&mut world, span, &params, &mut master, cfg.seed, out_dir)?;

    let mut truth = scenario_truth(cfg, span, &mut world, [&sms, &meas], cell_rows);
    if !knobs.is_default() {
        truth.knobs = serde_json::to_value(knobs).ok();
    }
    truth.trap_cells = trap_cells;
    let truth_path = out_dir.join(TRUTH_FILE);
    write_truth(&truth_path, &truth)?;
    tracing::info!(
        seed = cfg.seed,
        scale = cfg.scale.as_str(),
        sims = world.sims.sim_count(),
        sms_volume_lines = sms.lines,
        measurement_lines = meas.lines,
        cell_rows,
        "scenario written"
    );
    Ok(ScenarioSummary {
        sms_volume_lines: sms.lines,
        measurement_lines: meas.lines,
        cell_rows,
        files: vec![
            out_dir.join(SMS_VOLUME_FILE),
            out_dir.join(MEASUREMENTS_FILE),
            cells_path,
            truth_path,
        ],
    })
}

/// Step the world through the scenario into `sms_volume.jsonl` and
/// `measurements.jsonl`; what each file got.
fn write_feeds(
    world: &mut World,
    span: Span,
    params: &ScaleParams,
    master: &mut SimRng,
    seed: u64,
    out_dir: &Path,
) -> Result<(FeedTotals, FeedTotals), SimulateError> {
    let n_steps = ((span.end_ms - span.start_ms) / STEP_MS) as usize;
    let plan = FeedPlan {
        n_steps,
        start_ms: span.start_ms,
        late_count: params.late_per_file,
        malformed_rate: MALFORMED_RATE,
    };
    let mut feed_writer = |feed: Feed, name: &str| {
        FeedWriter::create(
            feed,
            &out_dir.join(name),
            &plan,
            sub_rng(master),
            stream(seed, &format!("delivery/{name}")),
        )
    };
    let mut sms_out = feed_writer(Feed::SmsVolume, SMS_VOLUME_FILE)?;
    let mut meas_out = feed_writer(Feed::Measurements, MEASUREMENTS_FILE)?;
    for step in 0..n_steps {
        let t = span.start_ms + step as i64 * STEP_MS;
        world.sims.step(step, t, &mut sms_out)?;
        world
            .reporters
            .step(t, &world.city, &world.fakes, &mut meas_out)?;
        sms_out.finish_step()?;
        meas_out.finish_step()?;
    }
    Ok((sms_out.finish()?, meas_out.finish()?))
}

/// The truth of the scenario: what was injected and what each file holds
/// (`feeds`: what `sms_volume.jsonl` and `measurements.jsonl` got).
fn scenario_truth(
    cfg: &SimConfig,
    span: Span,
    world: &mut World,
    [sms, meas]: [&FeedTotals; 2],
    cell_rows: u64,
) -> Truth {
    let per_feed = |of: fn(&FeedTotals) -> u64| {
        BTreeMap::from([
            (SMS_VOLUME_FILE.to_string(), of(sms)),
            (MEASUREMENTS_FILE.to_string(), of(meas)),
        ])
    };
    let mut line_counts = per_feed(|f| f.lines);
    line_counts.insert(CELLS_FILE.to_string(), cell_rows + 1);
    // Only present when a feed profile asked for them.
    let some = |m: BTreeMap<String, u64>| {
        if m.values().all(|&n| n == 0) {
            BTreeMap::new()
        } else {
            m
        }
    };
    let sims = world.sims.take_truth();
    Truth {
        seed: cfg.seed,
        scale: cfg.scale.as_str().to_string(),
        start_ms: span.start_ms,
        end_ms: span.end_ms,
        spam_sims: sims.spam,
        farms: sims.farms,
        legit_heavy: sims.heavy,
        transmitters: world
            .fakes
            .iter()
            .zip(world.reporters.first_heard())
            .map(|(f, &first_heard)| f.truth(first_heard))
            .collect(),
        missing_cells: world.city.missing_cells(),
        misplaced_cells: world.city.misplaced_cells(),
        malformed_lines: per_feed(|f| f.malformed),
        late_records: per_feed(|f| f.late),
        line_counts,
        knobs: None,
        trap_cells: Vec::new(),
        redelivered_records: some(per_feed(|f| f.redelivered)),
        delayed_records: some(per_feed(|f| f.delayed)),
    }
}

/// Write `truth.json` (pretty JSON and a final newline).
fn write_truth(path: &Path, truth: &Truth) -> Result<(), SimulateError> {
    let file = std::fs::File::create(path).map_err(|e| SimulateError::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, truth).map_err(|source| SimulateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    std::io::Write::write_all(&mut w, b"\n").map_err(|e| SimulateError::io(path, e))?;
    std::io::Write::flush(&mut w).map_err(|e| SimulateError::io(path, e))?;
    Ok(())
}
