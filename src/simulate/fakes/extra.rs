//! The rogue transmitters the `attackers` knobs add (docs/simulator.md): the
//! low-power IMSI catcher, the SMS blaster that clones distant real cells while it
//! drives, and the static fake BTS copying a nearby real cell. Each transmitter draws
//! from a stream of its own, so adding one changes nothing else.

use super::{
    gsm_cell, minute_at, plausible_lac, position_on, random_point, road_path, single_identity,
    unregistered_cid, Broadcast, Driving, FakeKind, Transmitter,
};
use crate::model::{ClaimedCell, Rat};
use crate::simulate::city::{City, HALF_SIZE_M, OPERATORS};
use crate::simulate::knobs::{operator_index, Attackers, CloningBlaster, ImsiCatcher, StaticClone};
use crate::simulate::util::{stream, uniform, uniform_u32, weighted_index, SimRng, Span};
use rand::Rng;

/// The transmitters of the `attackers` knobs, in a fixed order (IMSI catchers,
/// cloning blasters, static clones).
pub(crate) fn generate_extra(
    city: &City,
    span: Span,
    k: &Attackers,
    seed: u64,
) -> Vec<Transmitter> {
    let mut out = Vec::new();
    for n in 0..k.imsi_catchers as usize {
        let mut rng = stream(seed, &format!("attackers/imsi_catcher/{n}"));
        out.push(imsi_catcher(city, span, &k.imsi_catcher, n, &mut rng));
    }
    for n in 0..k.cloning_blasters as usize {
        let mut rng = stream(seed, &format!("attackers/cloning_blaster/{n}"));
        out.push(cloning_blaster(city, span, &k.cloning_blaster, n, &mut rng));
    }
    for n in 0..k.static_clones as usize {
        let mut rng = stream(seed, &format!("attackers/static_clone/{n}"));
        out.push(static_clone(city, span, &k.static_clone, n, &mut rng));
    }
    out
}

/// The operator a knob names, or one drawn by subscriber share for `"random"`.
fn target_operator(knob: &str, rng: &mut SimRng) -> usize {
    operator_index(knob).unwrap_or_else(|| {
        let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
        weighted_index(rng, &shares)
    })
}

/// A channel of the operator's GSM 900 band.
fn gsm_channel(op: usize, rng: &mut SimRng) -> u32 {
    [1u32, 42, 83][op] + uniform_u32(rng, 0, 40)
}

/// An activity window of `[min, max]` minutes that fits in the scenario, starting at
/// a share of it in `start_share` when given, otherwise anywhere it fits.
fn window(
    span: Span,
    minutes: [u32; 2],
    start_share: Option<[f64; 2]>,
    rng: &mut SimRng,
) -> (i64, i64) {
    let total = (span.end_ms - span.start_ms) as f64;
    let dur = i64::from(uniform_u32(rng, minutes[0], minutes[1])) * 60_000;
    let fit = (1.0 - dur as f64 / total - 0.02).max(0.02);
    let [lo, hi] = start_share.unwrap_or([0.05, fit]);
    let from = minute_at(span, uniform(rng, lo.min(fit), hi.min(fit)));
    (from, (from + dur).min(span.end_ms - 60_000))
}

/// The cipher knob: `""` = the field is absent.
fn cipher(knob: &str) -> Option<String> {
    (!knob.is_empty()).then(|| knob.to_string())
}

/// The low-power IMSI catcher: an unknown cell id in a LAC no cell of its operator
/// uses (so every phone it catches attempts a location update and is rejected).
fn imsi_catcher(
    city: &City,
    span: Span,
    k: &ImsiCatcher,
    n: usize,
    rng: &mut SimRng,
) -> Transmitter {
    let op = target_operator(&k.operator, rng);
    let (from, to) = window(span, k.active_min, None, rng);
    let (x, y) = random_point(rng, k.max_offset_m);
    let lac = plausible_lac(city, op, 0.0, rng);
    let cid = unregistered_cid(city, op, lac, rng);
    let cell = gsm_cell(op, lac, cid, gsm_channel(op, rng));
    let phones = uniform_u32(rng, k.phones[0], k.phones[1]);
    Transmitter {
        id: format!("fake-imsi-catcher-{}", n + 1),
        kind: FakeKind::ImsiCatcher,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: uniform(rng, k.eirp_dbm[0], k.eirp_dbm[1]),
        path: vec![(from, x, y)],
        broadcasts: single_identity(rng, from, cell, k.neighbors),
        cipher: cipher(&k.cipher),
        shadow_key: 0xF00D_1100 + n as u64,
        capture_margin_db: k.capture_margin_db,
        capture_probability: k.capture_probability,
        max_captures: Some(phones),
    }
}

/// The identity-cloning SMS blaster: drives the street grid with stops and every few
/// minutes takes the identity of a real GSM cell of its operator whose site is far
/// from where it is (sometimes an invented identity instead).
fn cloning_blaster(
    city: &City,
    span: Span,
    k: &CloningBlaster,
    n: usize,
    rng: &mut SimRng,
) -> Transmitter {
    let op = target_operator(&k.operator, rng);
    let (from, to) = window(span, k.active_min, Some(k.start_share), rng);
    let drive = Driving {
        speed_kmh: (k.speed_kmh[0], k.speed_kmh[1]),
        stop_share: k.stop_share,
        stop_secs: (k.stop_secs[0], k.stop_secs[1]),
    };
    let path = road_path(rng, from, to, &drive);
    let own_arfcn = gsm_channel(op, rng);
    let own_pci = uniform_u32(rng, 0, 63) as u16;
    let mut broadcasts = Vec::new();
    let mut t = from;
    while t < to {
        let (x, y) = position_on(&path, t);
        let far: Vec<usize> = (0..city.cells.len())
            .filter(|&i| {
                let c = &city.cells[i];
                c.operator == op
                    && c.rat == Rat::Gsm
                    && c.on_air.is_none()
                    && (c.x - x).hypot(c.y - y) >= k.min_clone_distance_m
            })
            .collect();
        let invent = far.is_empty() || rng.random_bool(k.new_identity_share);
        let b = if invent {
            let lac = plausible_lac(city, op, 0.3, rng);
            let cid = unregistered_cid(city, op, lac, rng);
            Broadcast {
                from_ms: t,
                cell: gsm_cell(op, lac, cid, own_arfcn),
                pci: own_pci,
                neighbors: k.neighbors,
            }
        } else {
            let c = &city.cells[far[rng.random_range(0..far.len())]];
            let (arfcn, pci) = if k.copy_channel {
                (c.arfcn, c.pci)
            } else {
                (own_arfcn, own_pci)
            };
            Broadcast {
                from_ms: t,
                cell: gsm_cell(op, c.lac, c.cid, arfcn),
                pci,
                neighbors: if k.copy_neighbors {
                    c.neighbors
                } else {
                    k.neighbors
                },
            }
        };
        broadcasts.push(b);
        let every = uniform_u32(rng, k.identity_every_min[0], k.identity_every_min[1]);
        t += i64::from(every) * 60_000;
    }
    Transmitter {
        id: format!("fake-cloning-blaster-{}", n + 1),
        kind: FakeKind::CloningBlaster,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: k.eirp_dbm,
        path,
        broadcasts,
        cipher: cipher(&k.cipher),
        shadow_key: 0xF00D_1200 + n as u64,
        capture_margin_db: k.capture_margin_db,
        capture_probability: k.capture_probability,
        max_captures: None,
    }
}

/// The static fake BTS copying a real GSM cell of its operator a few hundred metres
/// away, within 4 km of the centre (where people are).
fn static_clone(
    city: &City,
    span: Span,
    k: &StaticClone,
    n: usize,
    rng: &mut SimRng,
) -> Transmitter {
    let op = target_operator(&k.operator, rng);
    let (from, to) = window(span, k.active_min, None, rng);
    let near_centre: Vec<usize> = (0..city.cells.len())
        .filter(|&i| {
            let c = &city.cells[i];
            c.operator == op && c.rat == Rat::Gsm && c.on_air.is_none() && c.x.hypot(c.y) < 4_000.0
        })
        .collect();
    let copied = near_centre
        .get(rng.random_range(0..near_centre.len().max(1)))
        .map(|&i| &city.cells[i]);
    let d = uniform(rng, k.clone_distance_m[0], k.clone_distance_m[1]);
    let a = uniform(rng, 0.0, std::f64::consts::TAU);
    let limit = HALF_SIZE_M - 500.0;
    let (cell, pci, neighbors, (x, y)) = match copied {
        Some(c) => {
            let arfcn = if k.copy_channel {
                c.arfcn
            } else {
                other_channel(op, c.arfcn, rng)
            };
            let neighbors = if k.copy_neighbors {
                c.neighbors
            } else {
                k.neighbors
            };
            let at = (
                (c.x + d * a.cos()).clamp(-limit, limit),
                (c.y + d * a.sin()).clamp(-limit, limit),
            );
            (gsm_cell(op, c.lac, c.cid, arfcn), c.pci, neighbors, at)
        }
        None => {
            let lac = plausible_lac(city, op, 0.3, rng);
            let cid = unregistered_cid(city, op, lac, rng);
            let cell: ClaimedCell = gsm_cell(op, lac, cid, gsm_channel(op, rng));
            (cell, 0, k.neighbors, random_point(rng, 2_000.0))
        }
    };
    Transmitter {
        id: format!("fake-static-clone-{}", n + 1),
        kind: FakeKind::StaticClone,
        operator: op,
        active_from_ms: from,
        active_to_ms: to,
        eirp_dbm: uniform(rng, k.eirp_dbm[0], k.eirp_dbm[1]),
        path: vec![(from, x, y)],
        broadcasts: vec![Broadcast {
            from_ms: from,
            cell,
            pci,
            neighbors,
        }],
        cipher: cipher(&k.cipher),
        shadow_key: 0xF00D_1300 + n as u64,
        capture_margin_db: k.capture_margin_db,
        capture_probability: k.capture_probability,
        max_captures: None,
    }
}

/// `attackers.static_clone.victim_silent`: the real cell each static clone copies is
/// never on air in the scenario (the inventory still lists it), so no phone hears it
/// on its own channel, before the clone or beside it.
pub(crate) fn silence_victims(city: &mut City, fakes: &[Transmitter]) {
    for f in fakes.iter().filter(|f| f.kind == FakeKind::StaticClone) {
        let Some(b) = f.broadcasts.first() else {
            continue;
        };
        let copied = city.cells.iter_mut().find(|c| {
            c.operator == f.operator
                && c.rat == Rat::Gsm
                && c.on_air.is_none()
                && c.lac == b.cell.lac
                && c.cid == b.cell.cid
        });
        if let Some(c) = copied {
            c.on_air = Some((i64::MIN, i64::MIN));
        }
    }
}

/// A channel of the operator's GSM 900 band other than `arfcn`.
fn other_channel(op: usize, arfcn: u32, rng: &mut SimRng) -> u32 {
    loop {
        let c = gsm_channel(op, rng);
        if c != arfcn {
            return c;
        }
    }
}
