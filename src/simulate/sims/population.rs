//! The SIM population, drawn once at the start of a scenario: heavy-tailed ordinary
//! users, blatant spam SIMs of a few campaigns, low-and-slow SIM farms in GSM
//! gateways and legitimate heavy senders (false-positive traps), with the truth
//! about every injected SIM.
//!
//! The groups are drawn in a fixed order (campaigns, farms, ordinary users, spam
//! SIMs, farm members, heavy senders) from one random stream.

use crate::model::Rat;
use crate::simulate::city::{population_point, City, Listing, OPERATORS};
use crate::simulate::pseudonym::Pseudonymizer;
use crate::simulate::truth::{TruthFarm, TruthSim};
use crate::simulate::util::{lognormal, uniform, uniform_u32, weighted_index, SimRng, Span};
use crate::simulate::STEP_MS;
use rand::Rng;
use std::collections::BTreeMap;

/// Common handset TACs (synthetic, 8 digits).
pub(super) const PHONE_TACS: [&str; 12] = [
    "35332510", "35391110", "35260011", "86471503", "86928705", "35875209", "35467811", "86769204",
    "35209311", "86140205", "35698212", "86023006",
];
/// Cheap feature phones favoured by spammers.
pub(super) const CHEAP_TACS: [&str; 3] = ["35800104", "86519703", "35915600"];
/// M2M modules (meters, trackers, alarms).
const M2M_TACS: [&str; 3] = ["86672104", "86753205", "35917808"];
/// GSM-gateway / SIM-box modems.
pub(super) const GATEWAY_TACS: [&str; 4] = ["86291002", "35836209", "86045701", "35901306"];

/// Tunables of the SIM population.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimParams {
    pub(crate) count: usize,
    pub(crate) spam_share: f64,
    pub(crate) spam_min: usize,
    pub(crate) farms: usize,
    /// Shares of the legit heavy kinds: shop, school, tv_vote, m2m, new_normal.
    pub(crate) heavy_share: [f64; 5],
    pub(crate) heavy_min: usize,
}

pub(super) const HEAVY_KINDS: [&str; 5] = ["shop", "school", "tv_vote", "m2m", "new_normal"];

#[derive(Debug, Clone)]
pub(super) enum Behaviour {
    Normal,
    Spam {
        campaign: usize,
    },
    Farm {
        farm: usize,
        member: usize,
    },
    Shop {
        from: i64,
        to: i64,
        template: u64,
    },
    School {
        bursts: Vec<(i64, u64)>,
    },
    TvVote {
        from: i64,
        to: i64,
        codes: [u64; 2],
    },
    M2m {
        base: u64,
        peers: u32,
    },
    NewNormal {
        burst_from: i64,
        burst_to: i64,
        contacts: u32,
        messaged: u32,
    },
    /// A spam SIM of a campaign that ramps up (a knob).
    Ramp {
        template: u64,
        from: i64,
        ramp_ms: i64,
        /// SMS per step at the start and once ramped up.
        rate: (f32, f32),
    },
    /// A spam SIM sending in pulses, or steadily (a knob): from `from` to `to`, a
    /// pulse of `on_ms` every `period_ms`, `rate` SMS per step while on.
    Pulse {
        template: u64,
        from: i64,
        to: i64,
        on_ms: i64,
        period_ms: i64,
        rate: (u32, u32),
    },
    /// A subscriber texting the whole contact book about a new number (a knob).
    Announcement {
        at: i64,
        contacts: u32,
        sent: u32,
        template: u64,
        /// Share of the recipients the SIM never texted in the operator's look-back.
        p_new: f32,
    },
}

pub(super) struct Sim {
    pub(crate) id: String,
    pub(crate) operator: usize,
    pub(crate) behaviour: Behaviour,
    pub(crate) home_cell: u32,
    pub(crate) work_cell: Option<u32>,
    pub(crate) device: u32,
    pub(crate) tac: &'static str,
    pub(crate) age_at_start: u32,
    pub(crate) kyc: bool,
    /// Mean counts per 5-minute step at diurnal factor 1: sms_out, sms_in, calls_out, calls_in.
    pub(crate) rates: [f32; 4],
    pub(crate) fps: [u64; 4],
    /// No records before this instant (activation of spam / farm / new SIMs).
    pub(crate) active_from: i64,
    pub(crate) p_new: f32,
}

/// One place where a farm's gateways stand.
pub(super) struct FarmSite {
    pub(crate) cell: u32,
    pub(crate) devices: Vec<u32>,
    pub(crate) tac: &'static str,
}

pub(super) struct Farm {
    pub(crate) operator: usize,
    /// Member `m` sits at site `m % sites.len()` (the default farm has one).
    pub(crate) sites: Vec<FarmSite>,
    pub(crate) sims_per_device: usize,
    pub(crate) rotation_ms: i64,
    pub(crate) template: u64,
    pub(crate) active_from: i64,
    /// SMS a member sends in an active step, `min..=max`.
    pub(crate) per_5min: (u32, u32),
}

/// What `truth.json` says about the injected SIMs.
#[derive(Debug, Default)]
pub(crate) struct SimTruth {
    pub(crate) spam: Vec<TruthSim>,
    pub(crate) farms: Vec<TruthFarm>,
    pub(crate) heavy: Vec<TruthSim>,
}

/// Every SIM of a scenario, the farms, the spam campaigns' templates and the
/// device pseudonyms SIMs refer to by index.
pub(super) struct Population {
    pub(crate) sims: Vec<Sim>,
    pub(crate) farms: Vec<Farm>,
    pub(crate) campaigns: Vec<u64>,
    pub(crate) devices: Vec<String>,
    pub(crate) truth: SimTruth,
    /// Where device serials and SIM numbers continue (for SIMs added later).
    pub(crate) serial: u32,
    pub(crate) op_index: [usize; 3],
}

impl Population {
    pub(crate) fn generate(
        params: &SimParams,
        city: &City,
        span: Span,
        pseudo: &Pseudonymizer,
        rng: &mut SimRng,
    ) -> Population {
        let n = params.count;
        let n_spam = ((n as f64 * params.spam_share).round() as usize).max(params.spam_min);
        let heavy_counts: Vec<usize> = params
            .heavy_share
            .iter()
            .map(|s| ((n as f64 * s).round() as usize).max(params.heavy_min))
            .collect();
        let mut b = Builder {
            city,
            pseudo,
            span,
            shares: OPERATORS.iter().map(|o| o.2).collect(),
            rng,
            near: Vec::with_capacity(64),
            devices: Vec::with_capacity(n + 64),
            sims: Vec::with_capacity(n),
            serial: 0,
            op_index: [0; 3],
        };
        // Campaign templates of spam.
        let n_campaigns = (n_spam / 8).clamp(3, 12);
        let campaigns: Vec<u64> = (0..n_campaigns).map(|_| b.rng.random()).collect();
        let farms: Vec<NewFarm> = (0..params.farms).map(|fi| b.farm(fi)).collect();
        let farm_sims: Vec<(usize, usize)> = farms
            .iter()
            .enumerate()
            .flat_map(|(fi, f)| (0..f.size).map(move |m| (fi, m)))
            .collect();
        let farms: Vec<Farm> = farms.into_iter().map(|f| f.farm).collect();

        // Ordinary population first, then the special ones appended (order fixed).
        let n_special = n_spam + heavy_counts.iter().sum::<usize>() + farm_sims.len();
        for _ in 0..n.saturating_sub(n_special) {
            let sim = b.ordinary_sim();
            b.sims.push(sim);
        }
        let spam = b.spam_sims(n_spam, campaigns.len());
        let farm_truth = b.farm_members(&farms, 0, &farm_sims);
        let mut heavy = Vec::new();
        for (k, &count) in heavy_counts.iter().enumerate() {
            for _ in 0..count {
                heavy.push(b.heavy_sim(k, None));
            }
        }
        Population {
            sims: b.sims,
            farms,
            campaigns,
            devices: b.devices,
            truth: SimTruth {
                spam,
                farms: farm_truth,
                heavy,
            },
            serial: b.serial,
            op_index: b.op_index,
        }
    }
}

/// A farm just drawn, with the number of SIMs it will get.
pub(super) struct NewFarm {
    pub(super) farm: Farm,
    pub(super) size: usize,
}

/// The state shared while drawing the population: devices and SIM identifiers are
/// numbered in the order they are drawn.
pub(super) struct Builder<'a> {
    pub(super) city: &'a City,
    pub(super) pseudo: &'a Pseudonymizer,
    pub(super) span: Span,
    /// Subscriber share of each operator.
    pub(super) shares: Vec<f64>,
    pub(super) rng: &'a mut SimRng,
    pub(super) near: Vec<usize>,
    pub(super) devices: Vec<String>,
    pub(super) sims: Vec<Sim>,
    pub(super) serial: u32,
    pub(super) op_index: [usize; 3],
}

impl Builder<'_> {
    /// A new device pseudonym of `tac`; its index.
    pub(super) fn new_device(&mut self, tac: &str) -> u32 {
        self.serial += 1;
        self.devices.push(self.pseudo.imei(tac, self.serial));
        (self.devices.len() - 1) as u32
    }

    /// The index of the device drawn last.
    pub(super) fn last_device(&self) -> u32 {
        (self.devices.len() - 1) as u32
    }

    /// A new SIM pseudonym of operator `op` (MSISDNs with small random gaps).
    pub(super) fn new_sim_id(&mut self, op: usize) -> String {
        self.op_index[op] += 1 + self.rng.random_range(0..3);
        self.pseudo.sim(op, self.op_index[op])
    }

    /// The cell of `op` serving a random place where people are.
    pub(super) fn random_cell(&mut self, op: usize) -> u32 {
        let (x, y) = population_point(self.rng);
        nearest_cell(self.city, op, x, y, &mut self.near)
    }

    /// A SIM farm (number `fi`): 20–60 SIMs in gateway modems of one TAC, in one
    /// listed GSM cell, rotating through the modems.
    fn farm(&mut self, fi: usize) -> NewFarm {
        let op = [2usize, 1, 0][fi % 3];
        let size = uniform_u32(self.rng, 20, 60) as usize;
        let (x, y) = population_point(self.rng);
        let cell = self
            .city
            .nearest(op, x, y, |c| {
                c.rat == Rat::Gsm && c.listing == Listing::Listed
            })
            .unwrap_or_else(|| nearest_cell(self.city, op, x, y, &mut self.near) as usize)
            as u32;
        let per_device = uniform_u32(self.rng, 8, 32) as usize;
        let n_dev = size.div_ceil(per_device).max(2);
        let tac = GATEWAY_TACS[self.rng.random_range(0..GATEWAY_TACS.len())];
        let devices = (0..n_dev).map(|_| self.new_device(tac)).collect();
        let farm = Farm {
            operator: op,
            sites: vec![FarmSite { cell, devices, tac }],
            sims_per_device: per_device,
            rotation_ms: i64::from(uniform_u32(self.rng, 30, 90)) * 60_000,
            template: self.rng.random(),
            active_from: self.span.at(uniform(self.rng, 0.1, 0.45), 1000),
            per_5min: (5, 15),
        };
        NewFarm { farm, size }
    }

    /// An ordinary user: log-normal daily rates, sometimes a work cell, ~3 % in a
    /// dual-SIM phone with the previous SIM.
    fn ordinary_sim(&mut self) -> Sim {
        let op = weighted_index(self.rng, &self.shares);
        let home_cell = self.random_cell(op);
        let work_cell = if self.rng.random_bool(0.4) {
            Some(self.random_cell(op))
        } else {
            None
        };
        let shares_device = !self.sims.is_empty() && self.rng.random_bool(0.03);
        let tac = if shares_device {
            self.sims[self.sims.len() - 1].tac
        } else {
            let tac = PHONE_TACS[self.rng.random_range(0..PHONE_TACS.len())];
            self.new_device(tac);
            tac
        };
        let young = self.rng.random_bool(0.03);
        let age = if young {
            uniform_u32(self.rng, 4, 30)
        } else {
            lognormal(self.rng, 700.0, 0.9).clamp(30.0, 6_000.0) as u32
        };
        let per_step = |daily: f64| (daily / 288.0) as f32;
        let rates = [
            per_step(lognormal(self.rng, 2.0, 1.1).min(120.0)),
            per_step(lognormal(self.rng, 3.0, 0.9).min(120.0)),
            per_step(lognormal(self.rng, 2.5, 0.9).min(60.0)),
            per_step(lognormal(self.rng, 2.5, 0.9).min(60.0)),
        ];
        Sim {
            id: self.new_sim_id(op),
            operator: op,
            behaviour: Behaviour::Normal,
            home_cell,
            work_cell,
            device: self.last_device(),
            tac,
            age_at_start: age,
            kyc: self.rng.random_bool(0.97),
            rates,
            fps: self.random_fps(),
            active_from: self.span.start_ms,
            p_new: if young { 0.3 } else { 0.04 },
        }
    }

    /// Four content fingerprints a SIM's ordinary messages are drawn from.
    pub(super) fn random_fps(&mut self) -> [u64; 4] {
        [
            self.rng.random(),
            self.rng.random(),
            self.rng.random(),
            self.rng.random(),
        ]
    }

    /// Blatant spam SIMs: young, unverified, cheap phones shared by 1–4 SIMs.
    fn spam_sims(&mut self, count: usize, campaigns: usize) -> Vec<TruthSim> {
        let mut truth = Vec::with_capacity(count);
        let mut shared_left = 0u32;
        for _ in 0..count {
            let op = weighted_index(self.rng, &self.shares);
            let cell = self.random_cell(op);
            let tac = CHEAP_TACS[self.rng.random_range(0..CHEAP_TACS.len())];
            if shared_left == 0 {
                self.new_device(tac);
                shared_left = uniform_u32(self.rng, 1, 4);
            }
            shared_left -= 1;
            let active_from = self.span.at(uniform(self.rng, 0.05, 0.8), 1000);
            let id = self.new_sim_id(op);
            truth.push(TruthSim {
                sim: id.clone(),
                operator: OPERATORS[op].0.to_string(),
                active_from_ms: active_from,
                kind: "blatant_spam".into(),
                first_carried_ms: None,
            });
            let behaviour = Behaviour::Spam {
                campaign: self.rng.random_range(0..campaigns),
            };
            let sim = self.young_campaign_sim(id, op, behaviour, cell, tac, active_from);
            self.sims.push(sim);
        }
        truth
    }

    /// The truth about farm `fi` (members still to be added).
    pub(super) fn farm_truth(&self, fi: usize, f: &Farm) -> TruthFarm {
        let several = |v: Vec<String>| if v.len() > 1 { v } else { Vec::new() };
        let cells: Vec<String> = f
            .sites
            .iter()
            .map(|s| self.city.cells[s.cell as usize].key.clone())
            .collect();
        let mut tacs: Vec<String> = Vec::new();
        for site in &f.sites {
            if !tacs.iter().any(|t| t == site.tac) {
                tacs.push(site.tac.to_string());
            }
        }
        TruthFarm {
            farm_id: format!("farm-{}", fi + 1),
            operator: OPERATORS[f.operator].0.to_string(),
            sims: Vec::new(),
            devices: f
                .sites
                .iter()
                .flat_map(|s| &s.devices)
                .map(|&d| self.devices[d as usize].clone())
                .collect(),
            imei_tac: tacs[0].clone(),
            cell: cells[0].clone(),
            active_from_ms: f.active_from,
            cells: several(cells),
            imei_tacs: several(tacs),
            first_carried_ms: BTreeMap::new(),
        }
    }

    /// The members of every farm (`(farm, member)` pairs in order) and the truth
    /// about the farms; farm indices start at `first`.
    pub(super) fn farm_members(
        &mut self,
        farms: &[Farm],
        first: usize,
        members: &[(usize, usize)],
    ) -> Vec<TruthFarm> {
        let mut truth: Vec<TruthFarm> = farms
            .iter()
            .enumerate()
            .map(|(fi, f)| self.farm_truth(first + fi, f))
            .collect();
        for &(fi, member) in members {
            let f = &farms[fi];
            let site = &f.sites[member % f.sites.len()];
            let id = self.new_sim_id(f.operator);
            truth[fi].sims.push(id.clone());
            let sim = Sim {
                id,
                operator: f.operator,
                behaviour: Behaviour::Farm {
                    farm: first + fi,
                    member,
                },
                home_cell: site.cell,
                work_cell: None,
                device: site.devices[0],
                tac: site.tac,
                age_at_start: uniform_u32(self.rng, 5, 60),
                kyc: self.rng.random_bool(0.5),
                rates: [0.0; 4],
                fps: [0; 4],
                active_from: f.active_from,
                p_new: 0.85,
            };
            self.sims.push(sim);
        }
        truth
    }

    /// A legitimate heavy sender of kind `HEAVY_KINDS[k]`, of operator `op` (drawn by
    /// share when `None`); its truth.
    pub(super) fn heavy_sim(&mut self, k: usize, op: Option<usize>) -> TruthSim {
        let op = op.unwrap_or_else(|| weighted_index(self.rng, &self.shares));
        let cell = self.random_cell(op);
        let base_rates = [0.3f32, 0.4, 0.3, 0.3];
        let mut traits = HeavyTraits {
            tac: PHONE_TACS[self.rng.random_range(0..PHONE_TACS.len())],
            age: lognormal(self.rng, 1_200.0, 0.6).clamp(200.0, 6_000.0) as u32,
            kyc: true,
            active_from: self.span.start_ms,
            heavy_from: self.span.start_ms,
            rates: base_rates.map(|r| r / 12.0),
        };
        let behaviour = self.heavy_behaviour(k, &mut traits);
        self.new_device(traits.tac);
        let id = self.new_sim_id(op);
        let truth = TruthSim {
            sim: id.clone(),
            operator: OPERATORS[op].0.to_string(),
            active_from_ms: traits.heavy_from,
            kind: HEAVY_KINDS[k].into(),
            first_carried_ms: None,
        };
        let sim = Sim {
            id,
            operator: op,
            behaviour,
            home_cell: cell,
            work_cell: None,
            device: self.last_device(),
            tac: traits.tac,
            age_at_start: traits.age,
            kyc: traits.kyc,
            rates: traits.rates,
            fps: self.random_fps(),
            active_from: traits.active_from,
            p_new: if k == 4 { 1.0 } else { 0.05 },
        };
        self.sims.push(sim);
        truth
    }

    /// What makes a heavy sender of kind `HEAVY_KINDS[k]` heavy; adjusts the traits
    /// that differ from an ordinary heavy sender's.
    fn heavy_behaviour(&mut self, k: usize, traits: &mut HeavyTraits) -> Behaviour {
        match k {
            0 => {
                let from = self.span.at(uniform(self.rng, 0.0, 0.2), 1000);
                traits.heavy_from = from;
                Behaviour::Shop {
                    from,
                    to: self.span.at(uniform(self.rng, 0.6, 1.0), 1000),
                    template: self.rng.random(),
                }
            }
            1 => {
                let n_b = uniform_u32(self.rng, 2, 3);
                let mut bursts: Vec<(i64, u64)> = (0..n_b)
                    .map(|_| {
                        (
                            self.span.at(uniform(self.rng, 0.02, 0.95), 1000),
                            self.rng.random(),
                        )
                    })
                    .collect();
                bursts.sort_unstable();
                traits.heavy_from = bursts[0].0;
                Behaviour::School { bursts }
            }
            2 => {
                let from = self.span.at(uniform(self.rng, 0.0, 0.75), 1000);
                traits.heavy_from = from;
                Behaviour::TvVote {
                    from,
                    to: from + i64::from(uniform_u32(self.rng, 60, 120)) * 60_000,
                    codes: [self.rng.random(), self.rng.random()],
                }
            }
            3 => {
                traits.tac = M2M_TACS[self.rng.random_range(0..M2M_TACS.len())];
                traits.rates = [0.0; 4];
                Behaviour::M2m {
                    base: self.rng.random(),
                    peers: uniform_u32(self.rng, 1, 2),
                }
            }
            _ => {
                traits.age = uniform_u32(self.rng, 0, 3);
                traits.kyc = self.rng.random_bool(0.7);
                let from = self.span.at(uniform(self.rng, 0.0, 0.7), 1000);
                traits.active_from = from;
                traits.heavy_from = from;
                traits.rates = [0.03, 0.04, 0.03, 0.03];
                Behaviour::NewNormal {
                    burst_from: from,
                    burst_to: from + i64::from(uniform_u32(self.rng, 2, 6)) * STEP_MS,
                    contacts: uniform_u32(self.rng, 3, 8),
                    messaged: 0,
                }
            }
        }
    }
}

/// The traits of a heavy sender that depend on its kind.
struct HeavyTraits {
    tac: &'static str,
    age: u32,
    kyc: bool,
    active_from: i64,
    /// When the heavy behaviour starts (the truth's `active_from_ms`).
    heavy_from: i64,
    rates: [f32; 4],
}

/// The operator's cell nearest to (x, y) among those around it (any cell of the
/// operator if none is around).
pub(super) fn nearest_cell(city: &City, op: usize, x: f64, y: f64, near: &mut Vec<usize>) -> u32 {
    city.cells_near(op, x, y, near);
    let best = near
        .iter()
        .map(|&i| (i, (city.cells[i].x - x).hypot(city.cells[i].y - y)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    best.or_else(|| city.nearest(op, x, y, |_| true))
        .unwrap_or(0) as u32
}
