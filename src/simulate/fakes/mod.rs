//! Rogue transmitters injected into a scenario. Each knows its true position and
//! broadcast identity at any instant. The default three are in `legacy.rs` (a
//! stationary fake BTS, an SMS blaster changing its LAC/CID every few minutes, a
//! low-power clone); the ones the `attackers` knobs add are in `extra.rs` (IMSI
//! catcher, identity-cloning blaster, static clone of a nearby cell).

mod extra;
mod legacy;

pub(crate) use extra::{generate_extra, silence_victims};
pub(crate) use legacy::generate;

use super::city::{to_latlon, City, HALF_SIZE_M, MCC, OPERATORS};
use super::truth::{TruthIdentityChange, TruthTransmitter};
use super::util::{uniform, uniform_u32, SimRng, Span};
use crate::model::{round6, ClaimedCell, Rat, TrackPoint};
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FakeKind {
    Stationary,
    MovingBlaster,
    LowPower,
    ImsiCatcher,
    CloningBlaster,
    StaticClone,
}

impl FakeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FakeKind::Stationary => "stationary",
            FakeKind::MovingBlaster => "moving_blaster",
            FakeKind::LowPower => "low_power",
            FakeKind::ImsiCatcher => "imsi_catcher",
            FakeKind::CloningBlaster => "cloning_blaster",
            FakeKind::StaticClone => "static_clone",
        }
    }
}

/// An identity broadcast from `from_ms` on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Broadcast {
    pub(crate) from_ms: i64,
    pub(crate) cell: ClaimedCell,
    pub(crate) pci: u16,
    /// Neighbour cells announced with it.
    pub(crate) neighbors: u16,
}

/// One rogue transmitter.
pub(crate) struct Transmitter {
    pub(crate) id: String,
    pub(crate) kind: FakeKind,
    pub(crate) operator: usize,
    pub(crate) active_from_ms: i64,
    pub(crate) active_to_ms: i64,
    pub(crate) eirp_dbm: f64,
    /// Path vertices (ms, x, y), linear in between; one vertex if stationary.
    path: Vec<(i64, f64, f64)>,
    pub(crate) broadcasts: Vec<Broadcast>,
    /// Cipher reported by captured phones; `None` = the field is absent.
    pub(crate) cipher: Option<String>,
    /// Key for spatially stable shadowing.
    pub(crate) shadow_key: u64,
    /// How much weaker than the best real cell the transmitter may be and still
    /// capture phones (reselection offsets, jamming of 3G/4G), dB.
    pub(crate) capture_margin_db: f64,
    /// Chance that a phone in range and of the right operator is captured at a report.
    pub(crate) capture_probability: f64,
    /// How many phones it catches over its time on air, paced evenly (the IMSI
    /// catcher); `None` = no limit.
    pub(crate) max_captures: Option<u32>,
}

impl Transmitter {
    pub(crate) fn active(&self, t: i64) -> bool {
        t >= self.active_from_ms && t < self.active_to_ms
    }

    /// True position (local metres) at `t`.
    pub(crate) fn position(&self, t: i64) -> (f64, f64) {
        position_on(&self.path, t)
    }

    /// Identity broadcast at `t`.
    pub(crate) fn broadcast(&self, t: i64) -> Broadcast {
        let i = self.broadcasts.partition_point(|b| b.from_ms <= t);
        self.broadcasts[i.saturating_sub(1)]
    }

    /// Its truth record; `first_heard_ms` is what the reporters saw of it.
    pub(crate) fn truth(&self, first_heard_ms: Option<i64>) -> TruthTransmitter {
        let mut identities: Vec<ClaimedCell> = Vec::new();
        for b in &self.broadcasts {
            if !identities.contains(&b.cell) {
                identities.push(b.cell);
            }
        }
        let mut track = Vec::new();
        let mut t = self.active_from_ms;
        while t < self.active_to_ms {
            let (x, y) = self.position(t);
            let (lat, lon) = to_latlon(x, y);
            track.push(TrackPoint {
                ts: t,
                lat: round6(lat),
                lon: round6(lon),
            });
            t += 60_000;
        }
        TruthTransmitter {
            id: self.id.clone(),
            kind: self.kind.as_str().to_string(),
            identities,
            identity_changes: self
                .broadcasts
                .iter()
                .map(|b| TruthIdentityChange {
                    from_ms: b.from_ms,
                    identity: b.cell,
                })
                .collect(),
            active_from_ms: self.active_from_ms,
            active_to_ms: self.active_to_ms,
            first_heard_ms,
            eirp_dbm: self.eirp_dbm,
            track,
        }
    }
}

/// Position (local metres) at `t` on a path of vertices `(ms, x, y)`, linear in
/// between and clamped to its ends.
fn position_on(path: &[(i64, f64, f64)], t: i64) -> (f64, f64) {
    let i = path.partition_point(|p| p.0 <= t);
    if i == 0 {
        return (path[0].1, path[0].2);
    }
    if i >= path.len() {
        let p = path[path.len() - 1];
        return (p.1, p.2);
    }
    let (t0, x0, y0) = path[i - 1];
    let (t1, x1, y1) = path[i];
    let f = if t1 > t0 {
        (t - t0) as f64 / (t1 - t0) as f64
    } else {
        0.0
    };
    (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
}

fn gsm_cell(operator: usize, lac: u32, cid: u64, arfcn: u32) -> ClaimedCell {
    ClaimedCell {
        rat: Rat::Gsm,
        mcc: MCC,
        mnc: OPERATORS[operator].1,
        lac,
        cid,
        arfcn: Some(arfcn),
    }
}

/// A LAC that looks like one of the operator's (same numbering range) but that no
/// real cell uses; with `reuse_share`, an existing GSM LAC of the operator instead
/// (blasters copy LACs seen nearby). Either way the (LAC, CID) pair is unregistered.
fn plausible_lac(city: &City, operator: usize, reuse_share: f64, rng: &mut SimRng) -> u32 {
    let real: Vec<u32> = city
        .cells
        .iter()
        .filter(|c| c.operator == operator && c.rat == Rat::Gsm)
        .map(|c| c.lac)
        .collect();
    if !real.is_empty() && rng.random_bool(reuse_share) {
        return real[rng.random_range(0..real.len())];
    }
    let base = 10_000 + u32::from(OPERATORS[operator].1) * 1_000;
    loop {
        let lac = base + uniform_u32(rng, 0, 999);
        if !city
            .cells
            .iter()
            .any(|c| c.operator == operator && c.lac == lac)
        {
            return lac;
        }
    }
}

/// A GSM cell id no real cell of the operator has under `lac`.
fn unregistered_cid(city: &City, operator: usize, lac: u32, rng: &mut SimRng) -> u64 {
    loop {
        let cid = u64::from(uniform_u32(rng, 1_000, 65_000));
        if !city
            .cells
            .iter()
            .any(|c| c.operator == operator && c.lac == lac && c.cid == cid)
        {
            return cid;
        }
    }
}

fn random_point(rng: &mut SimRng, reach: f64) -> (f64, f64) {
    (uniform(rng, -reach, reach), uniform(rng, -reach, reach))
}

/// An instant at fraction `f` of the scenario, on a whole minute.
fn minute_at(span: Span, f: f64) -> i64 {
    span.at(f, 60_000)
}

/// The one identity of a transmitter that never changes it, with a random PCI/BSIC.
fn single_identity(
    rng: &mut SimRng,
    from: i64,
    cell: ClaimedCell,
    neighbors: u16,
) -> Vec<Broadcast> {
    vec![Broadcast {
        from_ms: from,
        cell,
        pci: uniform_u32(rng, 0, 63) as u16,
        neighbors,
    }]
}

/// How a transmitter in a car drives.
pub(crate) struct Driving {
    /// Speed between corners, km/h.
    pub(crate) speed_kmh: (f64, f64),
    /// Chance of a stop at a corner.
    pub(crate) stop_share: f64,
    /// Length of a stop, seconds.
    pub(crate) stop_secs: (u32, u32),
}

impl Driving {
    /// The default blaster: 20–40 km/h, short stops (lights, deliveries) at 30 % of
    /// the corners.
    pub(crate) const LEGACY: Driving = Driving {
        speed_kmh: (20.0, 40.0),
        stop_share: 0.3,
        stop_secs: (20, 150),
    };
}

/// A road-like path: axis-parallel segments on a 400 m street grid, with stops.
fn road_path(rng: &mut SimRng, from: i64, to: i64, drive: &Driving) -> Vec<(i64, f64, f64)> {
    const BLOCK: f64 = 400.0;
    let limit = HALF_SIZE_M - 1_500.0;
    let mut x = (uniform(rng, -2_000.0, 2_000.0) / BLOCK).round() * BLOCK;
    let mut y = (uniform(rng, -2_000.0, 2_000.0) / BLOCK).round() * BLOCK;
    let mut t = from;
    let mut path = vec![(t, x, y)];
    let mut horizontal = rng.random_bool(0.5);
    while t < to {
        let blocks = f64::from(uniform_u32(rng, 1, 4));
        let mut dir = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let (cur, _) = if horizontal { (x, y) } else { (y, x) };
        // Steer back toward the centre near the edge.
        if cur + dir * blocks * BLOCK > limit || cur + dir * blocks * BLOCK < -limit {
            dir = -dir;
        }
        let dist = blocks * BLOCK;
        let speed = uniform(rng, drive.speed_kmh.0, drive.speed_kmh.1) / 3.6;
        t += (dist / speed * 1000.0) as i64;
        if horizontal {
            x += dir * dist;
        } else {
            y += dir * dist;
        }
        path.push((t, x, y));
        if rng.random_bool(drive.stop_share) {
            t += i64::from(uniform_u32(rng, drive.stop_secs.0, drive.stop_secs.1)) * 1000;
            path.push((t, x, y));
        }
        horizontal = !horizontal;
    }
    path
}
