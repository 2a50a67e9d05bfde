//! What one SIM does in one 5-minute step, by behaviour: spam and farm SIMs send
//! near-duplicate templates to mostly new recipients, heavy senders have their
//! busy moments (a shop's opening hours, a school's bursts, a TV vote, a new SIM
//! messaging its contacts) and everyone else follows a diurnal Poisson profile.

use super::population::{Behaviour, Farm, Sim};
use super::Sims;
use crate::simulate::util::{
    binomial, flip_up_to, local_hour, lognormal, poisson, uniform_u32, weighted_index, SimRng,
};
use crate::simulate::STEP_MS;
use rand::seq::SliceRandom;
use rand::Rng;

/// What one SIM did in one step (or an aggregated window).
#[derive(Debug, Clone, Default)]
pub(super) struct Activity {
    pub(crate) so: u32,
    pub(crate) si: u32,
    pub(crate) co: u32,
    pub(crate) ci: u32,
    pub(crate) distinct: u32,
    pub(crate) new: u32,
    pub(crate) offnet: u32,
    pub(crate) cell: u32,
    pub(crate) device: u32,
    /// Messages per content fingerprint.
    pub(crate) fps: Vec<(u64, u32)>,
}

impl Activity {
    /// Nothing done yet, at the SIM's home cell and device.
    pub(super) fn at_home(sim: &Sim) -> Activity {
        Activity {
            cell: sim.home_cell,
            device: sim.device,
            ..Activity::default()
        }
    }

    /// Add a later step of the same SIM (its cell and device win).
    pub(crate) fn merge(&mut self, o: Activity) {
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
            add_fp(&mut self.fps, fp, n);
        }
    }
}

/// Count `n` more messages of fingerprint `fp`.
pub(super) fn add_fp(fps: &mut Vec<(u64, u32)>, fp: u64, n: u32) {
    match fps.iter_mut().find(|f| f.0 == fp) {
        Some(f) => f.1 += n,
        None => fps.push((fp, n)),
    }
}

impl Sims {
    /// What SIM `si` does during the step starting at `t`, if anything.
    pub(super) fn activity(&mut self, si: usize, t: i64, day_factor: f64) -> Option<Activity> {
        let rng = if si < self.default_sims {
            &mut self.rng
        } else {
            &mut self.extra_rng
        };
        let population = &self.population;
        let sim = &population.sims[si];
        if t + STEP_MS <= sim.active_from {
            return None;
        }
        match &sim.behaviour {
            Behaviour::Spam { campaign } => return spam(rng, sim, population.campaigns[*campaign]),
            Behaviour::Farm { farm, member } => {
                return farm_member(rng, sim, &population.farms[*farm], *member, t)
            }
            Behaviour::M2m { base, peers } => return m2m(rng, sim, *base, *peers),
            Behaviour::Shop { from, to, template } if t >= *from && t < *to => {
                return shop_hours(rng, sim, *template)
            }
            Behaviour::School { bursts } => {
                if let Some(&(_, tpl)) = bursts.iter().find(|b| t >= b.0 && t < b.0 + 2 * STEP_MS) {
                    return Some(school_burst(rng, sim, tpl));
                }
            }
            Behaviour::TvVote { from, to, codes }
                if t >= *from && t < *to && rng.random_bool(0.9) =>
            {
                return Some(tv_vote(rng, sim, t < from + STEP_MS, *codes));
            }
            Behaviour::NewNormal {
                burst_from,
                burst_to,
                contacts,
                messaged,
            } if t >= *burst_from && t < *burst_to => {
                let contacts = *contacts;
                let (a, fresh) = new_sim_burst(rng, sim, contacts, *messaged);
                if let Behaviour::NewNormal { messaged, .. } =
                    &mut self.population.sims[si].behaviour
                {
                    *messaged = (*messaged + fresh).min(contacts);
                }
                return Some(a);
            }
            Behaviour::Ramp {
                template,
                from,
                ramp_ms,
                rate,
            } => {
                return super::extra_activity::ramp(
                    rng,
                    sim,
                    *template,
                    (*from, *ramp_ms),
                    *rate,
                    t,
                )
            }
            Behaviour::Pulse {
                template,
                from,
                to,
                on_ms,
                period_ms,
                rate,
            } => {
                let pulse = (*from, *to, *on_ms, *period_ms);
                return super::extra_activity::pulse(rng, sim, *template, pulse, *rate, t);
            }
            Behaviour::Announcement { .. } => {
                let (a, sent) = super::extra_activity::announcement(rng, sim, t, day_factor);
                if let Behaviour::Announcement { sent: s, .. } =
                    &mut self.population.sims[si].behaviour
                {
                    *s += sent;
                }
                return a;
            }
            _ => {}
        }
        // Ordinary behaviour (also the background of shops, schools, voters).
        ordinary(rng, sim, t, day_factor)
    }
}

/// Recipients of the `a.so` messages drawn: a `repeat` share go to a recipient
/// already messaged in the step, each distinct recipient is new with `p_new`, an
/// `offnet` share go to other networks.
pub(super) fn recipients(rng: &mut SimRng, a: &mut Activity, repeat: f64, p_new: f64, offnet: f64) {
    a.distinct = a.so - binomial(rng, a.so, repeat);
    a.new = binomial(rng, a.distinct, p_new);
    a.offnet = binomial(rng, a.so, offnet);
}

/// How an attacker's messages of one step look once their number is drawn.
pub(super) struct BulkProfile {
    /// Share of the messages to a recipient already messaged in the step.
    repeat: f64,
    /// Share of the messages to other networks.
    offnet: f64,
    /// Chance of receiving one SMS in the step.
    reply: f64,
    /// The template is sent in 1..=`max_variants` variants ...
    max_variants: u32,
    /// ... each with up to `max_flips` bits of its SimHash changed.
    max_flips: u32,
}

pub(super) const SPAM_PROFILE: BulkProfile = BulkProfile {
    repeat: 0.02,
    offnet: 0.45,
    reply: 0.02,
    max_variants: 3,
    max_flips: 3,
};

const FARM_PROFILE: BulkProfile = BulkProfile {
    repeat: 0.03,
    offnet: 0.5,
    reply: 0.03,
    max_variants: 2,
    max_flips: 4,
};

/// Recipients, replies and fingerprints of `a.so` messages from `template`.
pub(super) fn bulk_messages(
    rng: &mut SimRng,
    a: &mut Activity,
    p_new: f32,
    template: u64,
    p: &BulkProfile,
) {
    recipients(rng, a, p.repeat, f64::from(p_new), p.offnet);
    if rng.random_bool(p.reply) {
        a.si = 1;
    }
    let variants = uniform_u32(rng, 1, p.max_variants);
    split_fps(
        rng,
        a.so,
        variants,
        |rng| flip_up_to(rng, template, p.max_flips),
        &mut a.fps,
    );
}

/// A blatant spam SIM: 30–200 messages of its campaign's template (± 3 bits).
fn spam(rng: &mut SimRng, sim: &Sim, campaign: u64) -> Option<Activity> {
    if !rng.random_bool(0.85) {
        return None;
    }
    let mut a = Activity::at_home(sim);
    a.so = lognormal(rng, 70.0, 0.6).clamp(30.0, 200.0) as u32;
    bulk_messages(rng, &mut a, sim.p_new, campaign, &SPAM_PROFILE);
    Some(a)
}

/// A farm member: 5–15 messages of the farm's template (± 4 bits) from the gateway
/// modem the rotation puts it in.
fn farm_member(rng: &mut SimRng, sim: &Sim, f: &Farm, member: usize, t: i64) -> Option<Activity> {
    if !rng.random_bool(0.8) {
        return None;
    }
    let mut a = Activity::at_home(sim);
    // Member `member` sits at site `member % sites` as its `member / sites`-th SIM.
    let site = &f.sites[member % f.sites.len()];
    let k = member / f.sites.len();
    let rotation = ((t - f.active_from).max(0) / f.rotation_ms) as usize;
    let slot = (k + rotation * 3) / f.sims_per_device;
    a.device = site.devices[slot % site.devices.len()];
    a.so = uniform_u32(rng, f.per_5min.0, f.per_5min.1);
    bulk_messages(rng, &mut a, sim.p_new, f.template, &FARM_PROFILE);
    Some(a)
}

/// An M2M module: a few near-identical messages to its one or two peers.
fn m2m(rng: &mut SimRng, sim: &Sim, base: u64, peers: u32) -> Option<Activity> {
    if !rng.random_bool(0.97) {
        return None;
    }
    let mut a = Activity::at_home(sim);
    a.so = uniform_u32(rng, 1, 3);
    a.distinct = peers.min(a.so);
    a.si = u32::from(rng.random_bool(0.05));
    split_fps(rng, a.so, a.so, |rng| flip_up_to(rng, base, 2), &mut a.fps);
    Some(a)
}

/// A shop in its opening hours: order confirmations from one template, some calls.
fn shop_hours(rng: &mut SimRng, sim: &Sim, template: u64) -> Option<Activity> {
    let mut a = Activity::at_home(sim);
    if rng.random_bool(0.6) {
        a.so = lognormal(rng, 14.0, 0.5).clamp(4.0, 50.0) as u32;
        recipients(rng, &mut a, 0.05, 0.06, 0.35);
        split_fps(rng, a.so, 1, |_| template, &mut a.fps);
    }
    a.si = poisson(rng, 0.5);
    a.co = poisson(rng, 0.2);
    a.ci = poisson(rng, 0.3);
    if a.so + a.si + a.co + a.ci == 0 {
        return None;
    }
    Some(a)
}

/// A school's burst: one notice to every parent.
fn school_burst(rng: &mut SimRng, sim: &Sim, template: u64) -> Activity {
    let mut a = Activity::at_home(sim);
    a.so = uniform_u32(rng, 40, 150);
    recipients(rng, &mut a, 0.02, 0.02, 0.4);
    split_fps(rng, a.so, 1, |_| template, &mut a.fps);
    a.ci = poisson(rng, 0.3);
    a
}

/// A TV voter: many messages of two codes to one short number (new in the first step).
fn tv_vote(rng: &mut SimRng, sim: &Sim, first_step: bool, codes: [u64; 2]) -> Activity {
    let mut a = Activity::at_home(sim);
    a.so = uniform_u32(rng, 10, 50);
    a.distinct = 1;
    a.new = u32::from(first_step && rng.random_bool(0.5));
    split_fps(
        rng,
        a.so,
        2,
        |rng| codes[rng.random_range(0..2)],
        &mut a.fps,
    );
    a.co = poisson(rng, 0.05);
    a
}

/// A brand-new SIM messaging its contacts; also how many recipients were new.
fn new_sim_burst(rng: &mut SimRng, sim: &Sim, contacts: u32, messaged: u32) -> (Activity, u32) {
    let mut a = Activity::at_home(sim);
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
    (a, fresh)
}

/// An ordinary user: active with the probability of at least one event at the
/// step's rates, then each event an SMS or call out or in by the rates; at the work
/// cell during office hours.
pub(super) fn ordinary(rng: &mut SimRng, sim: &Sim, t: i64, day_factor: f64) -> Option<Activity> {
    let mut a = Activity::at_home(sim);
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
        let h = local_hour(t);
        if (8..17).contains(&h) && rng.random_bool(0.85) {
            a.cell = w;
        }
    }
    Some(a)
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
pub(super) fn split_fps(
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
        add_fp(out, *fp, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn split_fps_keeps_the_total_and_merges_equal_fingerprints() {
        let mut rng = SimRng::seed_from_u64(5);
        let mut out = vec![(7, 2)];
        split_fps(&mut rng, 10, 3, |_| 7, &mut out);
        assert_eq!(out, vec![(7, 12)]);
        let mut out = Vec::new();
        let mut next = 0;
        split_fps(
            &mut rng,
            10,
            3,
            |_| {
                next += 1;
                next
            },
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out.iter().map(|f| f.1).sum::<u32>(), 10);
    }

    #[test]
    fn truncated_poisson_is_never_zero() {
        let mut rng = SimRng::seed_from_u64(9);
        for mean in [0.01, 0.5, 2.0, 5.0] {
            let draws: Vec<u32> = (0..500)
                .map(|_| truncated_poisson(&mut rng, mean))
                .collect();
            assert!(draws.iter().all(|&k| k >= 1), "mean {mean}");
            let avg = draws.iter().sum::<u32>() as f64 / draws.len() as f64;
            // E[K | K ≥ 1] = mean / (1 − e^−mean)
            let expected = mean / (1.0 - (-mean).exp());
            assert!(
                (avg - expected).abs() < 0.25 * expected,
                "mean {mean}: {avg}"
            );
        }
    }
}
