//! The default scenario's three rogue transmitters: a stationary fake BTS, a moving
//! SMS blaster inventing a new identity every few minutes, and a low-power clone of a
//! registered cell. Their draws come from the scenario's transmitter stream in a
//! fixed order: changing this file changes every default scenario.

use super::{
    gsm_cell, minute_at, plausible_lac, random_point, road_path, single_identity, unregistered_cid,
    Broadcast, Driving, FakeKind, Transmitter,
};
use crate::model::Rat;
use crate::simulate::city::{City, Listing};
use crate::simulate::util::{uniform, uniform_u32, SimRng, Span};
use rand::Rng;

/// Build the three transmitters of a scenario.
pub(crate) fn generate(city: &City, span: Span, rng: &mut SimRng) -> Vec<Transmitter> {
    vec![
        stationary(city, span, rng),
        moving_blaster(city, span, rng),
        low_power(city, span, rng),
    ]
}

/// Stationary fake BTS, target operator 45204: unregistered or cloned identity.
fn stationary(city: &City, span: Span, rng: &mut SimRng) -> Transmitter {
    let op = 2;
    let from = minute_at(span, uniform(rng, 0.15, 0.30));
    let to = minute_at(span, uniform(rng, 0.65, 0.80));
    let (x, y) = random_point(rng, 3_000.0);
    let arfcn = uniform_u32(rng, 83, 124);
    let far_clone = city
        .cells
        .iter()
        .filter(|c| {
            c.operator == op
                && c.rat == Rat::Gsm
                && c.listing == Listing::Listed
                && (c.x - x).hypot(c.y - y) > 6_000.0
        })
        .map(|c| (c.lac, c.cid))
        .collect::<Vec<_>>();
    let cell = if rng.random_bool(0.5) && !far_clone.is_empty() {
        let (lac, cid) = far_clone[rng.random_range(0..far_clone.len())];
        gsm_cell(op, lac, cid, arfcn)
    } else {
        let lac = plausible_lac(city, op, 0.3, rng);
        gsm_cell(op, lac, unregistered_cid(city, op, lac, rng), arfcn)
    };
    Transmitter {
        id: "fake-stationary-1".into(),
        kind: FakeKind::Stationary,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: 43.0,
        path: vec![(from, x, y)],
        broadcasts: single_identity(rng, from, cell, 0),
        cipher: Some("A5/0".into()),
        shadow_key: 0xF00D_0001,
        capture_probability: 0.85,
        max_captures: None,
        capture_margin_db: 10.0,
    }
}

/// Moving SMS blaster in a car, target operator 45202 or 45204: a new unregistered
/// identity every 3–10 minutes.
fn moving_blaster(city: &City, span: Span, rng: &mut SimRng) -> Transmitter {
    let op = if rng.random_bool(0.5) { 1 } else { 2 };
    let from = minute_at(span, uniform(rng, 0.35, 0.45));
    let to = minute_at(span, uniform(rng, 0.65, 0.75));
    let path = road_path(rng, from, to, &Driving::LEGACY);
    let arfcn = [1u32, 42, 83][op] + uniform_u32(rng, 0, 40);
    let pci = uniform_u32(rng, 0, 63) as u16;
    let mut broadcasts = Vec::new();
    let mut t = from;
    while t < to {
        let lac = plausible_lac(city, op, 0.3, rng);
        let cid = unregistered_cid(city, op, lac, rng);
        broadcasts.push(Broadcast {
            from_ms: t,
            cell: gsm_cell(op, lac, cid, arfcn),
            pci,
            neighbors: 0,
        });
        t += i64::from(uniform_u32(rng, 180, 600)) * 1000;
    }
    Transmitter {
        id: "fake-blaster-1".into(),
        kind: FakeKind::MovingBlaster,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: 47.0,
        path,
        broadcasts,
        cipher: Some("A5/0".into()),
        shadow_key: 0xF00D_0002,
        capture_probability: 0.8,
        max_captures: None,
        capture_margin_db: 10.0,
    }
}

/// Low-power transmitter cloning a registered GSM cell 2–4 km away, on another
/// channel, ciphering and announcing neighbours: only the geometry and the channel
/// give it away.
fn low_power(city: &City, span: Span, rng: &mut SimRng) -> Transmitter {
    let op = 0;
    let from = minute_at(span, uniform(rng, 0.10, 0.25));
    let to = minute_at(span, uniform(rng, 0.85, 0.95));
    let (x, y) = random_point(rng, 1_500.0);
    let candidates: Vec<(u32, u64, u32)> = city
        .cells
        .iter()
        .filter(|c| {
            let d = (c.x - x).hypot(c.y - y);
            c.operator == op
                && c.rat == Rat::Gsm
                && c.listing == Listing::Listed
                && (2_000.0..4_000.0).contains(&d)
        })
        .map(|c| (c.lac, c.cid, c.arfcn))
        .collect();
    let cell = if candidates.is_empty() {
        let lac = plausible_lac(city, op, 0.5, rng);
        gsm_cell(op, lac, unregistered_cid(city, op, lac, rng), 7)
    } else {
        let (lac, cid, arfcn) = candidates[rng.random_range(0..candidates.len())];
        let other = if arfcn > 20 {
            arfcn - uniform_u32(rng, 3, 12)
        } else {
            arfcn + uniform_u32(rng, 3, 12)
        };
        gsm_cell(op, lac, cid, other)
    };
    Transmitter {
        id: "fake-lowpower-1".into(),
        kind: FakeKind::LowPower,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: 30.0,
        path: vec![(from, x, y)],
        broadcasts: single_identity(rng, from, cell, 2),
        cipher: Some("A5/1".into()),
        shadow_key: 0xF00D_0003,
        capture_probability: 0.6,
        max_captures: None,
        capture_margin_db: 3.0,
    }
}
