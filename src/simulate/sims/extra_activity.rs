//! What the SIMs added by the `sims` knobs do in a step: a ramping campaign's spam
//! SIM sends its template at a rate that grows from an ordinary heavy texter's to a
//! blaster's; a pulsing campaign's SIM sends its template in pulses (or steadily) for
//! a few hours; a subscriber announcing a new number texts the whole contact book in a
//! few minutes (one message each, the same text), then gets replies, and otherwise
//! lives like anyone else.

use super::activity::{bulk_messages, ordinary, recipients, split_fps, Activity, SPAM_PROFILE};
use super::population::{Behaviour, Sim};
use crate::simulate::util::{binomial, flip_up_to, lognormal, poisson, uniform_u32, SimRng};
use crate::simulate::STEP_MS;
use rand::Rng;

/// A ramping campaign's SIM at `t`: `(from, ramp_ms)` is when its ramp starts and how
/// long it takes, `rate` its SMS per step at the start and at the end.
pub(super) fn ramp(
    rng: &mut SimRng,
    sim: &Sim,
    template: u64,
    (from, ramp_ms): (i64, i64),
    (start, end): (f32, f32),
    t: i64,
) -> Option<Activity> {
    if !rng.random_bool(0.85) {
        return None;
    }
    let f = ((t - from) as f64 / ramp_ms.max(1) as f64).clamp(0.0, 1.0);
    let mean = f64::from(start) + f64::from(end - start) * f;
    let mut a = Activity::at_home(sim);
    a.so = lognormal(rng, mean, 0.3).round().max(1.0) as u32;
    bulk_messages(rng, &mut a, sim.p_new, template, &SPAM_PROFILE);
    Some(a)
}

/// A pulsing campaign's SIM at `t`: `(from, to, on_ms, period_ms)` is when it sends
/// and how its pulses go, `rate` its SMS per step while a pulse is on (every step
/// of a pulse sends: a script, not a person).
pub(super) fn pulse(
    rng: &mut SimRng,
    sim: &Sim,
    template: u64,
    (from, to, on_ms, period_ms): (i64, i64, i64, i64),
    (lo, hi): (u32, u32),
    t: i64,
) -> Option<Activity> {
    if t < from || t >= to || (t - from).rem_euclid(period_ms.max(STEP_MS)) >= on_ms {
        return None;
    }
    let mut a = Activity::at_home(sim);
    a.so = uniform_u32(rng, lo, hi);
    bulk_messages(rng, &mut a, sim.p_new, template, &SPAM_PROFILE);
    Some(a)
}

/// A subscriber announcing a new number at `t`, and how many contacts it texted in
/// the step. A phone sends "send to all" at 12–30 SMS a minute.
pub(super) fn announcement(
    rng: &mut SimRng,
    sim: &Sim,
    t: i64,
    day_factor: f64,
) -> (Option<Activity>, u32) {
    let Behaviour::Announcement {
        at,
        contacts,
        sent,
        template,
        p_new,
    } = sim.behaviour
    else {
        return (None, 0);
    };
    if t + STEP_MS <= at {
        return (ordinary(rng, sim, t, day_factor), 0);
    }
    let mut a = Activity::at_home(sim);
    if sent < contacts {
        a.so = uniform_u32(rng, 60, 150).min(contacts - sent);
        recipients(rng, &mut a, 0.0, f64::from(p_new), 0.35);
        split_fps(rng, a.so, 2, |rng| flip_up_to(rng, template, 1), &mut a.fps);
        a.si = poisson(rng, 0.5);
        let sent = a.so;
        return (Some(a), sent);
    }
    if t < at + 3_600_000 {
        // The contacts answer: "congratulations", "saved", a call now and then.
        a.si = binomial(rng, contacts, 0.15 / 12.0);
        a.ci = poisson(rng, 0.4);
        a.co = poisson(rng, 0.2);
        if a.si + a.ci + a.co > 0 {
            return (Some(a), 0);
        }
        return (None, 0);
    }
    (ordinary(rng, sim, t, day_factor), 0)
}
