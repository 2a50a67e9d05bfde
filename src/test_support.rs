//! Lib-test support shared by the stage-exactness tests (fake-BTS and spam stages, the
//! service's split path): a small simulated scenario, and a scenario file fed through
//! the replay's pipeline line by line, as `cellwatch replay` feeds it.

use crate::ingest::Origin;
use crate::model::{Case, Feed, TimeBounds};
use crate::pipeline::Pipeline;
use crate::simulate::{write_scenario_with, Knobs, Scale, SimConfig, Truth};
use crate::validate::SourceValidator;
use std::path::Path;

/// Simulator variant `variant` at small scale with `seed`, written to a temporary
/// directory (kept while the returned guard lives), and its truth.
pub(crate) fn small_scenario(variant: &str, seed: u64) -> (tempfile::TempDir, Truth) {
    let dir = tempfile::tempdir().expect("temp dir");
    let knobs = Knobs::variant(variant).expect("a known variant");
    let sim = SimConfig {
        seed,
        scale: Scale::Small,
    };
    write_scenario_with(&sim, &knobs, dir.path()).expect("scenario written");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth");
    (dir, truth)
}

/// Every case `pipeline` emits over the records of `file` (a feed's JSON lines, read
/// as bytes: a scenario has malformed lines, not UTF-8 among them, which become dead
/// letters) validated as `feed` at `now_ms`, then its `finish`.
pub(crate) fn feed_file(
    pipeline: &mut Pipeline,
    feed: Feed,
    file: &Path,
    now_ms: i64,
    allowed_lateness_ms: i64,
) -> Vec<Case> {
    let mut validator = SourceValidator::new(feed, TimeBounds::at(now_ms), allowed_lateness_ms);
    let bytes = std::fs::read(file).expect("scenario file");
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = Origin::File {
            file: name.clone(),
            line: i as u64 + 1,
        };
        let _ = pipeline.process(&mut validator, line, origin, &mut cases);
    }
    pipeline.finish(&mut cases);
    cases
}
