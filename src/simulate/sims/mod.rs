//! The SIMs of a scenario and their SMS-volume records: the population is drawn
//! once (`population.rs`), then every 5-minute step each SIM may act (`activity.rs`)
//! and what it did is written in its operator's reporting interval (`emission.rs`:
//! 45201 every 900 s, 45202 every 60 s, 45204 every 300 s).
//!
//! Every random draw comes from one stream in a fixed order, so a seed always gives
//! the same bytes: moving code here must keep the order of the draws.

mod activity;
mod emission;
mod population;

use super::city::City;
use super::pseudonym::Pseudonymizer;
use super::util::{SimRng, Span};
use activity::Activity;
use population::Population;

pub(crate) use population::{SimParams, SimTruth};

/// Reporting interval per operator index (45201, 45202, 45204), seconds.
pub(crate) const WINDOW_SECS: [u32; 3] = [900, 60, 300];

/// The population and its step generator.
pub(crate) struct Sims {
    population: Population,
    cell_keys: Vec<String>,
    start_ms: i64,
    rng: SimRng,
    /// Pending 900-s aggregates by SIM index, and which SIMs have one.
    pending: Vec<Option<Activity>>,
    touched: Vec<u32>,
}

impl Sims {
    pub(crate) fn generate(
        params: &SimParams,
        city: &City,
        span: Span,
        pseudo: &Pseudonymizer,
        mut rng: SimRng,
    ) -> Sims {
        let population = Population::generate(params, city, span, pseudo, &mut rng);
        let n_sims = population.sims.len();
        Sims {
            population,
            cell_keys: city.cells.iter().map(|c| c.key.clone()).collect(),
            start_ms: span.start_ms,
            rng,
            pending: vec![None; n_sims],
            touched: Vec::new(),
        }
    }

    pub(crate) fn sim_count(&self) -> usize {
        self.population.sims.len()
    }

    /// The truth about the injected SIMs (taken out: a second call gets nothing).
    pub(crate) fn take_truth(&mut self) -> SimTruth {
        std::mem::take(&mut self.population.truth)
    }
}
