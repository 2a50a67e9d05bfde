//! The quality tests' input: the simulator's small scenario of one seed, written to a
//! temporary folder, with its ground truth.
//!
//! Use: `mod scenario;` at the top of a file in `tests/`, then `scenario::small(seed)`.

#![allow(dead_code)]

use cellwatch::simulate::truth::Truth;
use cellwatch::simulate::{write_scenario, Scale, SimConfig};
use tempfile::TempDir;

/// A written small scenario; its files live as long as `dir`.
pub struct Scenario {
    pub dir: TempDir,
    pub truth: Truth,
}

/// Write the small scenario of `seed` and load its truth.
pub fn small(seed: u64) -> Scenario {
    let dir = tempfile::tempdir().expect("temp dir");
    write_scenario(
        &SimConfig {
            seed,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .expect("scenario written");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth readable");
    Scenario { dir, truth }
}
