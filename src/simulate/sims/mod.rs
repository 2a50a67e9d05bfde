//! The SIMs of a scenario and their SMS-volume records: the population is drawn
//! once (`population.rs`, plus what the `sims` knobs add: `extras.rs`), then every
//! 5-minute step each SIM may act (`activity.rs`, `extra_activity.rs`) and what it
//! did is written as its operator's feed profile says (`emission.rs`: by default
//! 45201 every 900 s, 45202 every 60 s, 45204 every 300 s).
//!
//! Every random draw of the default population comes from one stream in a fixed
//! order, so a seed always gives the same bytes: moving code here must keep the order
//! of the draws. SIMs added by knobs draw from a second stream, delivery faults from
//! a third.

mod activity;
mod emission;
mod extra_activity;
mod extras;
mod population;

use super::city::City;
use super::knobs::{Feeds, SimKnobs};
use super::pseudonym::Pseudonymizer;
use super::util::{stream, SimRng, Span};
use activity::Activity;
use population::{Behaviour, Population};
use std::collections::HashMap;

pub(crate) use population::{SimParams, SimTruth};

/// The population and its step generator.
pub(crate) struct Sims {
    population: Population,
    cell_keys: Vec<String>,
    start_ms: i64,
    rng: SimRng,
    /// Pending aggregates of long windows by SIM index, and which SIMs have one.
    pending: Vec<Option<Activity>>,
    touched: Vec<u32>,
    /// Each operator's feed profile.
    feeds: Feeds,
    /// SIMs `0..default_sims` are the default population; the rest were added by
    /// knobs and draw from `extra_rng`.
    default_sims: usize,
    extra_rng: SimRng,
    /// Delivery faults (re-sent records, late batches).
    feed_rng: SimRng,
    /// Per operator: the step (within each period) whose batch is delivered late.
    late_batch_step: [Option<usize>; 3],
    /// By SIM index, for spam, ramp and farm SIMs: when the feed first carried one of
    /// their records with `sms_out > 0` (the truth's `first_carried_ms`).
    first_carried: Vec<Option<i64>>,
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
            feeds: Feeds::default(),
            default_sims: n_sims,
            extra_rng: stream(0, "sims/unused"),
            feed_rng: stream(0, "feeds/unused"),
            late_batch_step: [None; 3],
            first_carried: vec![None; n_sims],
        }
    }

    /// Apply the knobs: the operators' feed profiles and the SIMs the `sims` knobs
    /// add (drawn from streams of `seed`; `city` may have grown since `generate`).
    pub(crate) fn configure(
        &mut self,
        feeds: &Feeds,
        knobs: &SimKnobs,
        city: &City,
        span: Span,
        pseudo: &Pseudonymizer,
        seed: u64,
    ) {
        self.feeds = feeds.clone();
        self.feed_rng = stream(seed, "feeds/delivery");
        for op in 0..3 {
            let every = feeds.of(op).late_batch_every_min as usize / 5;
            if every > 0 {
                let mut rng = stream(seed, &format!("feeds/late_batch/{op}"));
                self.late_batch_step[op] = Some(rand::Rng::random_range(&mut rng, 0..every));
            }
        }
        let mut rng = stream(seed, "sims/population");
        self.population
            .add_extras(knobs, city, span, pseudo, &mut rng);
        self.extra_rng = stream(seed, "sims/activity");
        self.cell_keys = city.cells.iter().map(|c| c.key.clone()).collect();
        self.pending.resize(self.population.sims.len(), None);
        self.first_carried.resize(self.population.sims.len(), None);
    }

    pub(crate) fn sim_count(&self) -> usize {
        self.population.sims.len()
    }

    /// The truth about the injected SIMs, with when the feed first carried each
    /// positive's sending (taken out: a second call gets nothing).
    pub(crate) fn take_truth(&mut self) -> SimTruth {
        let mut truth = std::mem::take(&mut self.population.truth);
        let carried: HashMap<&str, i64> = self
            .population
            .sims
            .iter()
            .zip(&self.first_carried)
            .filter_map(|(sim, at)| Some((sim.id.as_str(), (*at)?)))
            .collect();
        for s in &mut truth.spam {
            s.first_carried_ms = carried.get(s.sim.as_str()).copied();
        }
        for f in &mut truth.farms {
            f.first_carried_ms = f
                .sims
                .iter()
                .filter_map(|s| Some((s.clone(), *carried.get(s.as_str())?)))
                .collect();
        }
        truth
    }

    /// Note that SIM `si`'s record with `sms_out` SMS was delivered at `delivered_ms`:
    /// the earliest such moment of a spam, ramp, pulse or farm SIM that sent is the truth's
    /// `first_carried_ms`.
    fn note_carried(&mut self, si: usize, sms_out: u32, delivered_ms: i64) {
        let positive = matches!(
            self.population.sims[si].behaviour,
            Behaviour::Spam { .. }
                | Behaviour::Farm { .. }
                | Behaviour::Ramp { .. }
                | Behaviour::Pulse { .. }
        );
        if positive && sms_out > 0 {
            let at = &mut self.first_carried[si];
            *at = Some(at.map_or(delivered_ms, |t| t.min(delivered_ms)));
        }
    }
}
