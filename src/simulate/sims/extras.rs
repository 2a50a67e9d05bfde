//! The SIMs the `sims` knobs add to the default population, drawn from a stream of
//! their own after it (so the default SIMs, their numbers and devices stay as they
//! are): more SIM farms (on a chosen operator, spread over several sites and gateway
//! models), spam campaigns that ramp up, and legitimate look-alikes — more shops,
//! schools, TV votes, M2M lines and new SIMs, and new-number announcements.

use super::population::{
    nearest_cell, Behaviour, Builder, Farm, FarmSite, NewFarm, Population, Sim, CHEAP_TACS,
    GATEWAY_TACS, HEAVY_KINDS, PHONE_TACS,
};
use crate::model::Rat;
use crate::simulate::city::{population_point, City, OPERATORS};
use crate::simulate::knobs::{
    operator_index, ExtraFarm, LookalikeKind, PulseCampaign, RampCampaign, SimKnobs,
};
use crate::simulate::pseudonym::Pseudonymizer;
use crate::simulate::truth::TruthSim;
use crate::simulate::util::{lognormal, uniform, uniform_u32, weighted_index, SimRng, Span};
use rand::seq::SliceRandom;
use rand::Rng;

impl Population {
    /// Add the SIMs of the `sims` knobs (none for the defaults), drawn from `rng`.
    pub(crate) fn add_extras(
        &mut self,
        knobs: &SimKnobs,
        city: &City,
        span: Span,
        pseudo: &Pseudonymizer,
        rng: &mut SimRng,
    ) {
        if *knobs == SimKnobs::default() {
            return;
        }
        let mut b = Builder {
            city,
            pseudo,
            span,
            shares: OPERATORS.iter().map(|o| o.2).collect(),
            rng,
            near: Vec::with_capacity(64),
            devices: std::mem::take(&mut self.devices),
            sims: std::mem::take(&mut self.sims),
            serial: self.serial,
            op_index: self.op_index,
        };
        let first = self.farms.len();
        let mut farms = Vec::new();
        let mut members = Vec::new();
        for (i, f) in knobs.extra_farms.iter().enumerate() {
            let NewFarm { farm, size } = b.extra_farm(f);
            members.extend((0..size).map(|m| (i, m)));
            farms.push(farm);
        }
        let truth = b.farm_members(&farms, first, &members);
        self.farms.extend(farms);
        self.truth.farms.extend(truth);
        for c in &knobs.ramp_campaigns {
            let truth = b.ramp_campaign(c);
            self.truth.spam.extend(truth);
        }
        for c in &knobs.pulse_campaigns {
            let truth = b.pulse_campaign(c);
            self.truth.spam.extend(truth);
        }
        for g in &knobs.lookalikes {
            let op = operator_index(&g.operator);
            for _ in 0..g.count {
                let truth = match g.kind {
                    LookalikeKind::NewNumberAnnouncement => b.announcement(op),
                    k => {
                        let index = HEAVY_KINDS.iter().position(|h| *h == k.as_str());
                        b.heavy_sim(index.unwrap_or(0), op)
                    }
                };
                self.truth.heavy.push(truth);
            }
        }
        self.devices = b.devices;
        self.sims = b.sims;
        self.serial = b.serial;
        self.op_index = b.op_index;
    }
}

impl Builder<'_> {
    /// The operator a knob names, or one drawn by subscriber share.
    fn operator(&mut self, knob: Option<usize>) -> usize {
        knob.unwrap_or_else(|| weighted_index(self.rng, &self.shares))
    }

    /// A farm of the `extra_farms` knob: its gateways at `sites` GSM cells of its
    /// operator, with `tacs` gateway models dealt to the sites in turn.
    fn extra_farm(&mut self, f: &ExtraFarm) -> NewFarm {
        let op = self.operator(operator_index(&f.operator));
        let size = uniform_u32(self.rng, f.sims[0], f.sims[1]) as usize;
        let per_device = uniform_u32(self.rng, f.sims_per_device[0], f.sims_per_device[1]) as usize;
        let mut models = GATEWAY_TACS.to_vec();
        models.shuffle(self.rng);
        let n_sites = f.sites as usize;
        let mut sites = Vec::with_capacity(n_sites);
        for s in 0..n_sites {
            let (x, y) = population_point(self.rng);
            let cell = self
                .city
                .nearest(op, x, y, |c| c.rat == Rat::Gsm && c.on_air.is_none())
                .map_or_else(
                    || nearest_cell(self.city, op, x, y, &mut self.near),
                    |i| i as u32,
                );
            let tac = models[s % (f.tacs as usize).min(models.len())];
            // members m with m % n_sites == s
            let here = (size + n_sites - 1 - s) / n_sites;
            let devices = (0..here.div_ceil(per_device).max(1))
                .map(|_| self.new_device(tac))
                .collect();
            sites.push(FarmSite { cell, devices, tac });
        }
        let farm = Farm {
            operator: op,
            sites,
            sims_per_device: per_device,
            rotation_ms: i64::from(uniform_u32(self.rng, 30, 90)) * 60_000,
            template: self.rng.random(),
            active_from: self
                .span
                .at(uniform(self.rng, f.start_share[0], f.start_share[1]), 1000),
            per_5min: (f.per_5min[0], f.per_5min[1]),
        };
        NewFarm { farm, size }
    }

    /// A campaign SIM: young, unverified mostly, on the cheap phone just made,
    /// mostly texting numbers new to it (the ramp and pulse campaigns).
    pub(super) fn young_campaign_sim(
        &mut self,
        id: String,
        op: usize,
        behaviour: Behaviour,
        cell: u32,
        tac: &'static str,
        from: i64,
    ) -> Sim {
        Sim {
            id,
            operator: op,
            behaviour,
            home_cell: cell,
            work_cell: None,
            device: self.last_device(),
            tac,
            age_at_start: uniform_u32(self.rng, 0, 14),
            kyc: self.rng.random_bool(0.15),
            rates: [0.0; 4],
            fps: [0; 4],
            active_from: from,
            p_new: 0.93,
        }
    }

    /// The SIMs of a ramping campaign (young, unverified, on cheap phones, joining
    /// over `stagger_min`); their truth (`kind` = `"ramp_spam"`).
    fn ramp_campaign(&mut self, c: &RampCampaign) -> Vec<TruthSim> {
        let template: u64 = self.rng.random();
        let start = self
            .span
            .at(uniform(self.rng, c.start_share[0], c.start_share[1]), 1000);
        let mut truth = Vec::with_capacity(c.sims as usize);
        for _ in 0..c.sims {
            let op = self.operator(operator_index(&c.operator));
            let cell = self.random_cell(op);
            let tac = CHEAP_TACS[self.rng.random_range(0..CHEAP_TACS.len())];
            self.new_device(tac);
            let from = start + i64::from(uniform_u32(self.rng, 0, c.stagger_min * 60)) * 1000;
            let rate = (
                uniform_u32(self.rng, c.start_per_5min[0], c.start_per_5min[1]) as f32,
                uniform_u32(self.rng, c.end_per_5min[0], c.end_per_5min[1]) as f32,
            );
            let id = self.new_sim_id(op);
            truth.push(campaign_truth(&id, op, from, "ramp_spam"));
            let behaviour = Behaviour::Ramp {
                template,
                from,
                ramp_ms: i64::from(c.ramp_min) * 60_000,
                rate,
            };
            let sim = self.young_campaign_sim(id, op, behaviour, cell, tac, from);
            self.sims.push(sim);
        }
        truth
    }

    /// The SIMs of a pulsing campaign (young, unverified, on cheap phones, joining
    /// over `stagger_min`); their truth (`kind` = `"pulse_spam"`).
    fn pulse_campaign(&mut self, c: &PulseCampaign) -> Vec<TruthSim> {
        let template: u64 = self.rng.random();
        let start = self
            .span
            .at(uniform(self.rng, c.start_share[0], c.start_share[1]), 1000);
        let mut truth = Vec::with_capacity(c.sims as usize);
        for _ in 0..c.sims {
            let op = self.operator(operator_index(&c.operator));
            let cell = self.random_cell(op);
            let tac = CHEAP_TACS[self.rng.random_range(0..CHEAP_TACS.len())];
            self.new_device(tac);
            let from = start + i64::from(uniform_u32(self.rng, 0, c.stagger_min * 60)) * 1000;
            let minutes =
                |rng: &mut SimRng, [a, b]: [u32; 2]| i64::from(uniform_u32(rng, a, b)) * 60_000;
            let on_ms = minutes(self.rng, c.on_min);
            let period_ms = minutes(self.rng, c.period_min).max(on_ms);
            let to = from + minutes(self.rng, c.duration_min);
            let id = self.new_sim_id(op);
            truth.push(campaign_truth(&id, op, from, "pulse_spam"));
            let behaviour = Behaviour::Pulse {
                template,
                from,
                to,
                on_ms,
                period_ms,
                rate: (c.per_5min[0], c.per_5min[1]),
            };
            let sim = self.young_campaign_sim(id, op, behaviour, cell, tac, from);
            self.sims.push(sim);
        }
        truth
    }

    /// A subscriber announcing a new number to 100–400 contacts: half from the new
    /// SIM itself (days old, every recipient new to it), half from the old one
    /// (years old, recipients partly not texted within the look-back); its truth
    /// (`kind` = `"new_number_announcement"`).
    fn announcement(&mut self, op: Option<usize>) -> TruthSim {
        let op = self.operator(op);
        let cell = self.random_cell(op);
        let tac = PHONE_TACS[self.rng.random_range(0..PHONE_TACS.len())];
        self.new_device(tac);
        let at = self.span.at(uniform(self.rng, 0.05, 0.85), 1000);
        let contacts = uniform_u32(self.rng, 100, 400);
        let from_new_sim = self.rng.random_bool(0.5);
        let (age, active_from, p_new) = if from_new_sim {
            (uniform_u32(self.rng, 0, 2), at, 0.97)
        } else {
            let age = lognormal(self.rng, 900.0, 0.7).clamp(60.0, 6_000.0) as u32;
            (age, self.span.start_ms, uniform(self.rng, 0.5, 0.8) as f32)
        };
        let per_step = |daily: f64| (daily / 288.0) as f32;
        let rates = [
            per_step(lognormal(self.rng, 3.0, 0.8).min(120.0)),
            per_step(lognormal(self.rng, 4.0, 0.8).min(120.0)),
            per_step(lognormal(self.rng, 3.0, 0.8).min(60.0)),
            per_step(lognormal(self.rng, 3.0, 0.8).min(60.0)),
        ];
        let id = self.new_sim_id(op);
        let sim = Sim {
            id: id.clone(),
            operator: op,
            behaviour: Behaviour::Announcement {
                at,
                contacts,
                sent: 0,
                template: self.rng.random(),
                p_new,
            },
            home_cell: cell,
            work_cell: None,
            device: self.last_device(),
            tac,
            age_at_start: age,
            kyc: self.rng.random_bool(0.97),
            rates,
            fps: self.random_fps(),
            active_from,
            p_new: 0.05,
        };
        self.sims.push(sim);
        TruthSim {
            sim: id,
            operator: OPERATORS[op].0.to_string(),
            active_from_ms: at,
            kind: LookalikeKind::NewNumberAnnouncement.as_str().into(),
            first_carried_ms: None,
        }
    }
}

/// The truth of a campaign SIM of `kind`, active from `from`.
fn campaign_truth(id: &str, op: usize, from: i64, kind: &str) -> TruthSim {
    TruthSim {
        sim: id.to_string(),
        operator: OPERATORS[op].0.to_string(),
        active_from_ms: from,
        kind: kind.into(),
        first_carried_ms: None,
    }
}
