//! Writing one scenario: the city and its inventory, the rogue transmitters, the
//! SIMs and the reporters, stepped through event time five minutes at a time into
//! the two feed files, then the truth about everything injected.
//!
//! Each part draws from its own random stream, seeded in a fixed order from the
//! scenario's seed, so the parts cannot shift each other's draws.

use super::city::{City, CityParams};
use super::fakes::{self, Transmitter};
use super::output::{FeedTotals, FeedWriter};
use super::pseudonym::Pseudonymizer;
use super::reporters::{ReporterParams, Reporters};
use super::scale::ScaleParams;
use super::sims::Sims;
use super::truth::Truth;
use super::util::{SimRng, Span};
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

/// Generate the scenario of `cfg` into `out_dir` (created if needed).
pub fn write_scenario(cfg: &SimConfig, out_dir: &Path) -> Result<ScenarioSummary, SimulateError> {
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
    let cell_rows = city.write_csv(&cells_path, &mut city_rng)?;
    let fakes = fakes::generate(&city, span, &mut sub_rng(&mut master));
    let sims = Sims::generate(&params.sims, &city, span, &pseudo, sub_rng(&mut master));
    let reporters = Reporters::generate(
        ReporterParams {
            count: params.reporters,
        },
        start_ms,
        &pseudo,
        sub_rng(&mut master),
    );
    let mut world = World {
        city,
        fakes,
        sims,
        reporters,
    };
    let (sms, meas) = write_feeds(&mut world, span, &params, &mut master, out_dir)?;

    let truth = scenario_truth(cfg, span, &mut world, [&sms, &meas], cell_rows);
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
    out_dir: &Path,
) -> Result<(FeedTotals, FeedTotals), SimulateError> {
    let n_steps = ((span.end_ms - span.start_ms) / STEP_MS) as usize;
    let mut feed_writer = |feed: Feed, name: &str| {
        FeedWriter::create(
            feed,
            &out_dir.join(name),
            n_steps,
            params.late_per_file,
            MALFORMED_RATE,
            sub_rng(master),
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
    let sims = world.sims.take_truth();
    Truth {
        seed: cfg.seed,
        scale: cfg.scale.as_str().to_string(),
        start_ms: span.start_ms,
        end_ms: span.end_ms,
        spam_sims: sims.spam,
        farms: sims.farms,
        legit_heavy: sims.heavy,
        transmitters: world.fakes.iter().map(Transmitter::truth).collect(),
        missing_cells: world.city.missing_cells(),
        misplaced_cells: world.city.misplaced_cells(),
        malformed_lines: per_feed(|f| f.malformed),
        late_records: per_feed(|f| f.late),
        line_counts,
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
