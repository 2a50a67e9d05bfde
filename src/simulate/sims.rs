//! The SIM population and its SMS-volume records: heavy-tailed ordinary users,
//! legitimate heavy senders (false-positive traps), blatant spam SIMs of a few
//! campaigns and low-and-slow SIM farms in GSM gateways. Each operator reports in
//! its own interval length (45201: 900 s, 45202: 60 s, 45204: 300 s).

use super::city::{City, Listing, HALF_SIZE_M, OPERATORS};
use super::output::FeedWriter;
use super::pseudonym::Pseudonymizer;
use super::records::{FpCount, SmsLine, Ts};
use super::truth::{TruthFarm, TruthSim};
use super::util::{
    binomial, diurnal, diurnal_mean, flip_up_to, lognormal, normal, poisson, uniform, uniform_u32,
    weighted_index, SimRng,
};
use super::SimulateError;
use crate::model::Rat;
use rand::seq::SliceRandom;
use rand::Rng;

const STEP_MS: i64 = 300_000;
const DAY_MS: i64 = 86_400_000;
/// Reporting interval per operator index (45201, 45202, 45204), seconds.
pub const WINDOW_SECS: [u32; 3] = [900, 60, 300];

/// Common handset TACs (synthetic, 8 digits).
const PHONE_TACS: [&str; 12] = [
    "35332510", "35391110", "35260011", "86471503", "86928705", "35875209", "35467811", "86769204",
    "35209311", "86140205", "35698212", "86023006",
];
/// Cheap feature phones favoured by spammers.
const CHEAP_TACS: [&str; 3] = ["35800104", "86519703", "35915600"];
/// M2M modules (meters, trackers, alarms).
const M2M_TACS: [&str; 3] = ["86672104", "86753205", "35917808"];
/// GSM-gateway / SIM-box modems.
const GATEWAY_TACS: [&str; 4] = ["86291002", "35836209", "86045701", "35901306"];

/// Tunables of the SIM population.
#[derive(Debug, Clone, Copy)]
pub struct SimParams {
    pub count: usize,
    pub spam_share: f64,
    pub spam_min: usize,
    pub farms: usize,
    /// Shares of the legit heavy kinds: shop, school, tv_vote, m2m, new_normal.
    pub heavy_share: [f64; 5],
    pub heavy_min: usize,
}

const HEAVY_KINDS: [&str; 5] = ["shop", "school", "tv_vote", "m2m", "new_normal"];

#[derive(Debug, Clone)]
enum Behaviour {
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
}

struct Sim {
    id: String,
    operator: usize,
    behaviour: Behaviour,
    home_cell: u32,
    work_cell: Option<u32>,
    device: u32,
    tac: &'static str,
    age_at_start: u32,
    kyc: bool,
    /// Mean counts per 5-minute step at diurnal factor 1: sms_out, sms_in, calls_out, calls_in.
    rates: [f32; 4],
    fps: [u64; 4],
    /// No records before this instant (activation of spam / farm / new SIMs).
    active_from: i64,
    p_new: f32,
}

struct Farm {
    operator: usize,
    cell: u32,
    devices: Vec<u32>,
    sims_per_device: usize,
    rotation_ms: i64,
    template: u64,
    tac: &'static str,
    active_from: i64,
}

/// What one SIM did in one step (or an aggregated window).
#[derive(Debug, Clone, Default)]
struct Activity {
    so: u32,
    si: u32,
    co: u32,
    ci: u32,
    distinct: u32,
    new: u32,
    offnet: u32,
    cell: u32,
    device: u32,
    fps: Vec<(u64, u32)>,
}

impl Activity {
    fn merge(&mut self, o: Activity) {
        self.so += o.so;
        self.si += o.si;
        self.co += o.co;
        self.ci += o.ci;
        self.distinct += o.distinct;
        self.new += o.new;
        self.offnet += o.offnet;
        self.cell = o.cell;
        self.device = o.device;
        for (fp, n) in o.fps {
            match self.fps.iter_mut().find(|f| f.0 == fp) {
                Some(f) => f.1 += n,
                None => self.fps.push((fp, n)),
            }
        }
    }
}

/// The population and its step generator.
pub struct Sims {
    sims: Vec<Sim>,
    farms: Vec<Farm>,
    campaigns: Vec<u64>,
    devices: Vec<String>,
    cell_keys: Vec<String>,
    start_ms: i64,
    rng: SimRng,
    /// Pending 900-s aggregates by SIM index, and which SIMs have one.
    pending: Vec<Option<Activity>>,
    touched: Vec<u32>,
    pub truth_spam: Vec<TruthSim>,
    pub truth_farms: Vec<TruthFarm>,
    pub truth_heavy: Vec<TruthSim>,
}

fn home_point(rng: &mut SimRng) -> (f64, f64) {
    if rng.random_bool(0.6) {
        (
            (3_000.0 * normal(rng)).clamp(-HALF_SIZE_M, HALF_SIZE_M),
            (3_000.0 * normal(rng)).clamp(-HALF_SIZE_M, HALF_SIZE_M),
        )
    } else {
        (
            uniform(rng, -HALF_SIZE_M, HALF_SIZE_M),
            uniform(rng, -HALF_SIZE_M, HALF_SIZE_M),
        )
    }
}

fn nearest_cell(city: &City, op: usize, x: f64, y: f64, near: &mut Vec<usize>) -> u32 {
    city.cells_near(op, x, y, near);
    let best = near
        .iter()
        .map(|&i| (i, (city.cells[i].x - x).hypot(city.cells[i].y - y)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    best.or_else(|| city.nearest(op, x, y, |_| true))
        .unwrap_or(0) as u32
}

impl Sims {
    pub fn generate(
        params: &SimParams,
        city: &City,
        start_ms: i64,
        end_ms: i64,
        pseudo: &Pseudonymizer,
        mut rng: SimRng,
    ) -> Sims {
        let len = end_ms - start_ms;
        let at = |f: f64| start_ms + ((len as f64 * f) as i64) / 1000 * 1000;
        let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
        let n = params.count;
        let n_spam = ((n as f64 * params.spam_share).round() as usize).max(params.spam_min);
        let heavy_counts: Vec<usize> = params
            .heavy_share
            .iter()
            .map(|s| ((n as f64 * s).round() as usize).max(params.heavy_min))
            .collect();
        let mut near = Vec::with_capacity(64);
        let mut devices: Vec<String> = Vec::with_capacity(n + 64);
        let mut sims: Vec<Sim> = Vec::with_capacity(n);
        let mut serial = 0u32;
        let mut op_index = [0usize; 3];
        let mut new_sim_id = |op: usize, rng: &mut SimRng| {
            op_index[op] += 1 + rng.random_range(0..3);
            pseudo.sim(op, op_index[op])
        };

        // Campaign templates of spam.
        let n_campaigns = (n_spam / 8).clamp(3, 12);
        let campaigns: Vec<u64> = (0..n_campaigns).map(|_| rng.random()).collect();

        // Farms.
        let mut farms = Vec::new();
        let mut farm_sims: Vec<(usize, usize)> = Vec::new();
        for fi in 0..params.farms {
            let op = [2usize, 1, 0][fi % 3];
            let size = uniform_u32(&mut rng, 20, 60) as usize;
            let (x, y) = home_point(&mut rng);
            let cell = city
                .nearest(op, x, y, |c| {
                    c.rat == Rat::Gsm && c.listing == Listing::Listed
                })
                .unwrap_or_else(|| nearest_cell(city, op, x, y, &mut near) as usize)
                as u32;
            let per_device = uniform_u32(&mut rng, 8, 32) as usize;
            let n_dev = size.div_ceil(per_device).max(2);
            let tac = GATEWAY_TACS[rng.random_range(0..GATEWAY_TACS.len())];
            let mut devs = Vec::new();
            for _ in 0..n_dev {
                serial += 1;
                devices.push(pseudo.imei(tac, serial));
                devs.push((devices.len() - 1) as u32);
            }
            farms.push(Farm {
                operator: op,
                cell,
                devices: devs,
                sims_per_device: per_device,
                rotation_ms: i64::from(uniform_u32(&mut rng, 30, 90)) * 60_000,
                template: rng.random(),
                tac,
                active_from: at(uniform(&mut rng, 0.1, 0.45)),
            });
            for m in 0..size {
                farm_sims.push((fi, m));
            }
        }

        // Ordinary population first, then the special ones appended (order fixed).
        let n_special = n_spam + heavy_counts.iter().sum::<usize>() + farm_sims.len();
        let n_normal = n.saturating_sub(n_special);
        for _ in 0..n_normal {
            let op = weighted_index(&mut rng, &shares);
            let (x, y) = home_point(&mut rng);
            let home_cell = nearest_cell(city, op, x, y, &mut near);
            let work_cell = if rng.random_bool(0.4) {
                let (wx, wy) = home_point(&mut rng);
                Some(nearest_cell(city, op, wx, wy, &mut near))
            } else {
                None
            };
            // ~3 % of SIMs sit in a dual-SIM phone with the previous SIM.
            let shares_device = !sims.is_empty() && rng.random_bool(0.03);
            let tac = if shares_device {
                sims[sims.len() - 1].tac
            } else {
                let tac = PHONE_TACS[rng.random_range(0..PHONE_TACS.len())];
                serial += 1;
                devices.push(pseudo.imei(tac, serial));
                tac
            };
            let young = rng.random_bool(0.03);
            let age = if young {
                uniform_u32(&mut rng, 4, 30)
            } else {
                lognormal(&mut rng, 700.0, 0.9).clamp(30.0, 6_000.0) as u32
            };
            let per_step = |daily: f64| (daily / 288.0) as f32;
            let rates = [
                per_step(lognormal(&mut rng, 2.0, 1.1).min(120.0)),
                per_step(lognormal(&mut rng, 3.0, 0.9).min(120.0)),
                per_step(lognormal(&mut rng, 2.5, 0.9).min(60.0)),
                per_step(lognormal(&mut rng, 2.5, 0.9).min(60.0)),
            ];
            sims.push(Sim {
                id: new_sim_id(op, &mut rng),
                operator: op,
                behaviour: Behaviour::Normal,
                home_cell,
                work_cell,
                device: (devices.len() - 1) as u32,
                tac,
                age_at_start: age,
                kyc: rng.random_bool(0.97),
                rates,
                fps: [rng.random(), rng.random(), rng.random(), rng.random()],
                active_from: start_ms,
                p_new: if young { 0.3 } else { 0.04 },
            });
        }

        let mut truth_spam = Vec::new();
        let mut truth_heavy = Vec::new();

        // Blatant spam SIMs: young, unverified, cheap phones shared by 1–4 SIMs.
        let mut shared_left = 0u32;
        for _ in 0..n_spam {
            let op = weighted_index(&mut rng, &shares);
            let (x, y) = home_point(&mut rng);
            let cell = nearest_cell(city, op, x, y, &mut near);
            let tac = CHEAP_TACS[rng.random_range(0..CHEAP_TACS.len())];
            if shared_left == 0 {
                serial += 1;
                devices.push(pseudo.imei(tac, serial));
                shared_left = uniform_u32(&mut rng, 1, 4);
            }
            shared_left -= 1;
            let active_from = at(uniform(&mut rng, 0.05, 0.8));
            let id = new_sim_id(op, &mut rng);
            truth_spam.push(TruthSim {
                sim: id.clone(),
                operator: OPERATORS[op].0.to_string(),
                active_from_ms: active_from,
                kind: "blatant_spam".into(),
            });
            sims.push(Sim {
                id,
                operator: op,
                behaviour: Behaviour::Spam {
                    campaign: rng.random_range(0..campaigns.len()),
                },
                home_cell: cell,
                work_cell: None,
                device: (devices.len() - 1) as u32,
                tac,
                age_at_start: uniform_u32(&mut rng, 0, 14),
                kyc: rng.random_bool(0.15),
                rates: [0.0; 4],
                fps: [0; 4],
                active_from,
                p_new: 0.93,
            });
        }

        // Farm members.
        let mut truth_farms: Vec<TruthFarm> = farms
            .iter()
            .enumerate()
            .map(|(fi, f)| TruthFarm {
                farm_id: format!("farm-{}", fi + 1),
                operator: OPERATORS[f.operator].0.to_string(),
                sims: Vec::new(),
                devices: f
                    .devices
                    .iter()
                    .map(|&d| devices[d as usize].clone())
                    .collect(),
                imei_tac: f.tac.to_string(),
                cell: city.cells[f.cell as usize].key.clone(),
                active_from_ms: f.active_from,
            })
            .collect();
        for &(fi, member) in &farm_sims {
            let f = &farms[fi];
            let id = new_sim_id(f.operator, &mut rng);
            truth_farms[fi].sims.push(id.clone());
            sims.push(Sim {
                id,
                operator: f.operator,
                behaviour: Behaviour::Farm { farm: fi, member },
                home_cell: f.cell,
                work_cell: None,
                device: f.devices[0],
                tac: f.tac,
                age_at_start: uniform_u32(&mut rng, 5, 60),
                kyc: rng.random_bool(0.5),
                rates: [0.0; 4],
                fps: [0; 4],
                active_from: f.active_from,
                p_new: 0.85,
            });
        }

        // Legitimate heavy senders.
        for (k, &count) in heavy_counts.iter().enumerate() {
            for _ in 0..count {
                let op = weighted_index(&mut rng, &shares);
                let (x, y) = home_point(&mut rng);
                let cell = nearest_cell(city, op, x, y, &mut near);
                let mut tac = PHONE_TACS[rng.random_range(0..PHONE_TACS.len())];
                let mut age = lognormal(&mut rng, 1_200.0, 0.6).clamp(200.0, 6_000.0) as u32;
                let mut kyc = true;
                let mut active_from = start_ms;
                let mut heavy_from = start_ms;
                let base_rates = [0.3f32, 0.4, 0.3, 0.3];
                let mut rates = [
                    base_rates[0] / 12.0,
                    base_rates[1] / 12.0,
                    base_rates[2] / 12.0,
                    base_rates[3] / 12.0,
                ];
                let behaviour = match k {
                    0 => {
                        let from = at(uniform(&mut rng, 0.0, 0.2));
                        heavy_from = from;
                        Behaviour::Shop {
                            from,
                            to: at(uniform(&mut rng, 0.6, 1.0)),
                            template: rng.random(),
                        }
                    }
                    1 => {
                        let n_b = uniform_u32(&mut rng, 2, 3);
                        let mut bursts: Vec<(i64, u64)> = (0..n_b)
                            .map(|_| (at(uniform(&mut rng, 0.02, 0.95)), rng.random()))
                            .collect();
                        bursts.sort_unstable();
                        heavy_from = bursts[0].0;
                        Behaviour::School { bursts }
                    }
                    2 => {
                        let from = at(uniform(&mut rng, 0.0, 0.75));
                        heavy_from = from;
                        Behaviour::TvVote {
                            from,
                            to: from + i64::from(uniform_u32(&mut rng, 60, 120)) * 60_000,
                            codes: [rng.random(), rng.random()],
                        }
                    }
                    3 => {
                        tac = M2M_TACS[rng.random_range(0..M2M_TACS.len())];
                        rates = [0.0; 4];
                        Behaviour::M2m {
                            base: rng.random(),
                            peers: uniform_u32(&mut rng, 1, 2),
                        }
                    }
                    _ => {
                        age = uniform_u32(&mut rng, 0, 3);
                        kyc = rng.random_bool(0.7);
                        let from = at(uniform(&mut rng, 0.0, 0.7));
                        active_from = from;
                        heavy_from = from;
                        rates = [0.03, 0.04, 0.03, 0.03];
                        Behaviour::NewNormal {
                            burst_from: from,
                            burst_to: from + i64::from(uniform_u32(&mut rng, 2, 6)) * STEP_MS,
                            contacts: uniform_u32(&mut rng, 3, 8),
                            messaged: 0,
                        }
                    }
                };
                serial += 1;
                devices.push(pseudo.imei(tac, serial));
                let id = new_sim_id(op, &mut rng);
                truth_heavy.push(TruthSim {
                    sim: id.clone(),
                    operator: OPERATORS[op].0.to_string(),
                    active_from_ms: heavy_from,
                    kind: HEAVY_KINDS[k].into(),
                });
                sims.push(Sim {
                    id,
                    operator: op,
                    behaviour,
                    home_cell: cell,
                    work_cell: None,
                    device: (devices.len() - 1) as u32,
                    tac,
                    age_at_start: age,
                    kyc,
                    rates,
                    fps: [rng.random(), rng.random(), rng.random(), rng.random()],
                    active_from,
                    p_new: if k == 4 { 1.0 } else { 0.05 },
                });
            }
        }
        let n_sims = sims.len();
        Sims {
            sims,
            farms,
            campaigns,
            devices,
            cell_keys: city.cells.iter().map(|c| c.key.clone()).collect(),
            start_ms,
            rng,
            pending: vec![None; n_sims],
            touched: Vec::new(),
            truth_spam,
            truth_farms,
            truth_heavy,
        }
    }

    pub fn sim_count(&self) -> usize {
        self.sims.len()
    }

    /// Generate and write the records of step `step` (starting at `step_start`).
    pub fn step(
        &mut self,
        step: usize,
        step_start: i64,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let day_factor = diurnal(step_start) / diurnal_mean();
        for si in 0..self.sims.len() {
            let Some(act) = self.activity(si, step_start, day_factor) else {
                continue;
            };
            match WINDOW_SECS[self.sims[si].operator] {
                900 => match &mut self.pending[si] {
                    Some(p) => p.merge(act),
                    slot @ None => {
                        *slot = Some(act);
                        self.touched.push(si as u32);
                    }
                },
                60 => self.emit_split(si, step_start, act, out)?,
                _ => self.emit(si, step_start, 300, &act, out)?,
            }
        }
        // Flush the 900-s aggregates at the end of each quarter hour.
        if step % 3 == 2 {
            let window_start = step_start - 2 * STEP_MS;
            let mut touched = std::mem::take(&mut self.touched);
            touched.sort_unstable();
            for &si in &touched {
                if let Some(act) = self.pending[si as usize].take() {
                    let mut act = act;
                    act.distinct = act.distinct.min(act.so);
                    act.new = act.new.min(act.distinct);
                    self.emit(si as usize, window_start, 900, &act, out)?;
                }
            }
            touched.clear();
            self.touched = touched;
        }
        Ok(())
    }

    /// What SIM `si` does during the step starting at `t`, if anything.
    fn activity(&mut self, si: usize, t: i64, day_factor: f64) -> Option<Activity> {
        let rng = &mut self.rng;
        let sim = &self.sims[si];
        if t + STEP_MS <= sim.active_from {
            return None;
        }
        let mut a = Activity {
            cell: sim.home_cell,
            device: sim.device,
            ..Activity::default()
        };
        match &sim.behaviour {
            Behaviour::Spam { campaign } => {
                if !rng.random_bool(0.85) {
                    return None;
                }
                a.so = lognormal(rng, 70.0, 0.6).clamp(30.0, 200.0) as u32;
                a.distinct = a.so - binomial(rng, a.so, 0.02);
                a.new = binomial(rng, a.distinct, f64::from(sim.p_new));
                a.offnet = binomial(rng, a.so, 0.45);
                if rng.random_bool(0.02) {
                    a.si = 1;
                }
                let base = self.campaigns[*campaign];
                let variants = uniform_u32(rng, 1, 3);
                split_fps(
                    rng,
                    a.so,
                    variants,
                    |rng| flip_up_to(rng, base, 3),
                    &mut a.fps,
                );
                return Some(a);
            }
            Behaviour::Farm { farm, member } => {
                let f = &self.farms[*farm];
                if !rng.random_bool(0.8) {
                    return None;
                }
                let rotation = ((t - f.active_from).max(0) / f.rotation_ms) as usize;
                let slot = (member + rotation * 3) / f.sims_per_device;
                a.device = f.devices[slot % f.devices.len()];
                a.so = uniform_u32(rng, 5, 15);
                a.distinct = a.so - binomial(rng, a.so, 0.03);
                a.new = binomial(rng, a.distinct, f64::from(sim.p_new));
                a.offnet = binomial(rng, a.so, 0.5);
                if rng.random_bool(0.03) {
                    a.si = 1;
                }
                let base = f.template;
                let variants = uniform_u32(rng, 1, 2);
                split_fps(
                    rng,
                    a.so,
                    variants,
                    |rng| flip_up_to(rng, base, 4),
                    &mut a.fps,
                );
                return Some(a);
            }
            Behaviour::M2m { base, peers } => {
                if !rng.random_bool(0.97) {
                    return None;
                }
                a.so = uniform_u32(rng, 1, 3);
                a.distinct = (*peers).min(a.so);
                a.si = u32::from(rng.random_bool(0.05));
                let base = *base;
                split_fps(rng, a.so, a.so, |rng| flip_up_to(rng, base, 2), &mut a.fps);
                return Some(a);
            }
            Behaviour::Shop { from, to, template } if t >= *from && t < *to => {
                if rng.random_bool(0.6) {
                    a.so = lognormal(rng, 14.0, 0.5).clamp(4.0, 50.0) as u32;
                    a.distinct = a.so - binomial(rng, a.so, 0.05);
                    a.new = binomial(rng, a.distinct, 0.06);
                    a.offnet = binomial(rng, a.so, 0.35);
                    let tpl = *template;
                    split_fps(rng, a.so, 1, |_| tpl, &mut a.fps);
                }
                a.si = poisson(rng, 0.5);
                a.co = poisson(rng, 0.2);
                a.ci = poisson(rng, 0.3);
                if a.so + a.si + a.co + a.ci == 0 {
                    return None;
                }
                return Some(a);
            }
            Behaviour::School { bursts } => {
                if let Some(&(_, tpl)) = bursts.iter().find(|b| t >= b.0 && t < b.0 + 2 * STEP_MS) {
                    a.so = uniform_u32(rng, 40, 150);
                    a.distinct = a.so - binomial(rng, a.so, 0.02);
                    a.new = binomial(rng, a.distinct, 0.02);
                    a.offnet = binomial(rng, a.so, 0.4);
                    split_fps(rng, a.so, 1, |_| tpl, &mut a.fps);
                    a.ci = poisson(rng, 0.3);
                    return Some(a);
                }
            }
            Behaviour::TvVote { from, to, codes }
                if t >= *from && t < *to && rng.random_bool(0.9) =>
            {
                a.so = uniform_u32(rng, 10, 50);
                a.distinct = 1;
                a.new = u32::from(t < from + STEP_MS && rng.random_bool(0.5));
                let codes = *codes;
                split_fps(
                    rng,
                    a.so,
                    2,
                    |rng| codes[rng.random_range(0..2)],
                    &mut a.fps,
                );
                a.co = poisson(rng, 0.05);
                return Some(a);
            }
            Behaviour::NewNormal {
                burst_from,
                burst_to,
                contacts,
                messaged,
            } if t >= *burst_from && t < *burst_to => {
                let (contacts, messaged) = (*contacts, *messaged);
                a.so = uniform_u32(rng, 3, 12);
                a.distinct = uniform_u32(rng, 2, contacts).min(a.so);
                // Every recipient of a brand-new SIM is "new" the first time.
                let fresh = a.distinct.min(contacts.saturating_sub(messaged));
                a.new = fresh.max(binomial(rng, a.distinct, 0.2)).min(a.distinct);
                a.offnet = binomial(rng, a.so, 0.3);
                a.si = poisson(rng, 2.0);
                a.co = poisson(rng, 0.3);
                a.ci = poisson(rng, 0.3);
                let fps = sim.fps;
                split_fps(rng, a.so, 3, |rng| fps[rng.random_range(0..4)], &mut a.fps);
                if let Behaviour::NewNormal { messaged, .. } = &mut self.sims[si].behaviour {
                    *messaged = (*messaged + fresh).min(contacts);
                }
                return Some(a);
            }
            _ => {}
        }
        // Ordinary behaviour (also the background of shops, schools, voters).
        let f = day_factor as f32;
        let means = [
            sim.rates[0] * f,
            sim.rates[1] * f,
            sim.rates[2] * f,
            sim.rates[3] * f,
        ];
        let total: f32 = means.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let total = f64::from(total);
        let p_active = 1.0 - (-total).exp();
        if rng.random::<f64>() >= p_active {
            return None;
        }
        let n = truncated_poisson(rng, total);
        let w: [f64; 4] = means.map(f64::from);
        for _ in 0..n {
            match weighted_index(rng, &w) {
                0 => a.so += 1,
                1 => a.si += 1,
                2 => a.co += 1,
                _ => a.ci += 1,
            }
        }
        if a.so > 0 {
            a.distinct = (1 + binomial(rng, a.so - 1, 0.3)).min(a.so);
            a.new = binomial(rng, a.distinct, f64::from(sim.p_new));
            a.offnet = binomial(rng, a.so, 0.3);
            let fps = sim.fps;
            split_fps(
                rng,
                a.so,
                a.so.min(2),
                |rng| fps[rng.random_range(0..4)],
                &mut a.fps,
            );
        }
        if let Some(w) = sim.work_cell {
            let h = super::util::local_hour(t);
            if (8..17).contains(&h) && rng.random_bool(0.85) {
                a.cell = w;
            }
        }
        Some(a)
    }

    /// Split a 5-minute activity of a 60-s operator into minute records.
    fn emit_split(
        &mut self,
        si: usize,
        step_start: i64,
        act: Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let mut subs: [Activity; 5] = Default::default();
        // A SIM activated inside the step only acts in the minutes after activation.
        let first = ((self.sims[si].active_from - step_start).max(0) / 60_000).min(4) as usize;
        let rng = &mut self.rng;
        for s in subs.iter_mut() {
            s.cell = act.cell;
            s.device = act.device;
        }
        // Messages: each to a minute, with its fingerprint.
        let mut fp_units: Vec<u64> = Vec::with_capacity(act.so as usize);
        for &(fp, n) in &act.fps {
            fp_units.extend(std::iter::repeat_n(fp, n as usize));
        }
        fp_units.resize(act.so as usize, act.fps.first().map_or(0, |f| f.0));
        for fp in fp_units {
            let s = &mut subs[rng.random_range(first..5)];
            s.so += 1;
            match s.fps.iter_mut().find(|f| f.0 == fp) {
                Some(f) => f.1 += 1,
                None => s.fps.push((fp, 1)),
            }
        }
        for _ in 0..act.si {
            subs[rng.random_range(first..5)].si += 1;
        }
        for _ in 0..act.co {
            subs[rng.random_range(first..5)].co += 1;
        }
        for _ in 0..act.ci {
            subs[rng.random_range(first..5)].ci += 1;
        }
        for (k, s) in subs.iter_mut().enumerate() {
            if s.so + s.si + s.co + s.ci == 0 {
                continue;
            }
            if s.so > 0 && act.so > 0 {
                let share = f64::from(s.so) / f64::from(act.so);
                s.distinct = ((f64::from(act.distinct) * share).round() as u32).clamp(1, s.so);
                s.new = ((f64::from(act.new) * share).round() as u32).min(s.distinct);
                s.offnet = ((f64::from(act.offnet) * share).round() as u32).min(s.so);
            }
            let s = std::mem::take(s);
            self.emit(si, step_start + k as i64 * 60_000, 60, &s, out)?;
        }
        Ok(())
    }

    fn emit(
        &mut self,
        si: usize,
        window_start: i64,
        window_secs: u32,
        a: &Activity,
        out: &mut FeedWriter,
    ) -> Result<(), SimulateError> {
        let sim = &self.sims[si];
        let op = sim.operator;
        let text_ts = if op == 1 { 0.3 } else { 0.01 };
        let ts = if self.rng.random_bool(text_ts) {
            Ts::rfc3339(window_start, op == 1)
        } else {
            Ts::Ms(window_start)
        };
        let age = sim.age_at_start + ((window_start - self.start_ms).max(0) / DAY_MS) as u32;
        let has_so = a.so > 0;
        let line = SmsLine {
            operator: OPERATORS[op].0,
            sim: &sim.id,
            window_start: ts,
            window_secs,
            sms_out: a.so,
            sms_in: Some(a.si),
            distinct_recipients: Some(a.distinct.min(a.so)),
            new_recipients: Some(a.new.min(a.distinct).min(a.so)),
            // 45201 does not report off-net counts.
            offnet_out: if op == 0 {
                None
            } else {
                Some(a.offnet.min(a.so))
            },
            calls_out: Some(a.co),
            calls_in: Some(a.ci),
            device: Some(&self.devices[a.device as usize]),
            imei_tac: Some(sim.tac),
            cell: Some(&self.cell_keys[a.cell as usize]),
            sim_age_days: Some(age),
            kyc_verified: Some(sim.kyc),
            content_fps: if has_so {
                a.fps
                    .iter()
                    .filter(|f| f.1 > 0)
                    .map(|&(fp, n)| FpCount::new(fp, n))
                    .collect()
            } else {
                Vec::new()
            },
        };
        let ordinary = matches!(sim.behaviour, Behaviour::Normal);
        out.push(
            &line,
            window_start + i64::from(window_secs) * 1000,
            ordinary,
        )
    }
}

/// A Poisson count conditioned on being at least 1.
fn truncated_poisson(rng: &mut SimRng, mean: f64) -> u32 {
    if mean > 3.0 {
        loop {
            let k = poisson(rng, mean);
            if k > 0 {
                return k;
            }
        }
    }
    let e = (-mean).exp();
    let norm = 1.0 - e;
    let u: f64 = rng.random::<f64>() * norm;
    let mut k = 1u32;
    let mut p = e * mean;
    let mut cum = p;
    while cum < u && k < 50 {
        k += 1;
        p *= mean / f64::from(k);
        cum += p;
    }
    k
}

/// Spread `total` messages over `variants` fingerprints drawn by `make`.
fn split_fps(
    rng: &mut SimRng,
    total: u32,
    variants: u32,
    mut make: impl FnMut(&mut SimRng) -> u64,
    out: &mut Vec<(u64, u32)>,
) {
    if total == 0 {
        return;
    }
    let variants = variants.clamp(1, total);
    let mut fps: Vec<u64> = (0..variants).map(|_| make(rng)).collect();
    fps.shuffle(rng);
    let mut left = total;
    for (i, fp) in fps.iter().enumerate() {
        let n = if i + 1 == fps.len() {
            left
        } else {
            (left / (variants - i as u32)).max(1).min(left)
        };
        left -= n;
        if n == 0 {
            continue;
        }
        match out.iter_mut().find(|f| f.0 == *fp) {
            Some(f) => f.1 += n,
            None => out.push((*fp, n)),
        }
    }
}
