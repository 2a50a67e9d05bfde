//! Rogue transmitters injected into a scenario: a stationary fake BTS, an SMS
//! blaster driven through the streets changing its LAC/CID every few minutes, and a
//! low-power transmitter cloning a registered cell with only subtle indicators.
//! Each knows its true position and broadcast identity at any instant.

use super::city::{to_latlon, City, Listing, HALF_SIZE_M, MCC, OPERATORS};
use super::truth::{TruthIdentityChange, TruthTransmitter};
use super::util::{uniform, uniform_u32, SimRng, Span};
use crate::model::{ClaimedCell, Rat, TrackPoint};
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FakeKind {
    Stationary,
    MovingBlaster,
    LowPower,
}

impl FakeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FakeKind::Stationary => "stationary",
            FakeKind::MovingBlaster => "moving_blaster",
            FakeKind::LowPower => "low_power",
        }
    }
}

/// An identity broadcast from `from_ms` on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Broadcast {
    pub(crate) from_ms: i64,
    pub(crate) cell: ClaimedCell,
    pub(crate) pci: u16,
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
    /// Neighbour cells announced.
    pub(crate) neighbors: u16,
    pub(crate) cipher: &'static str,
    /// Key for spatially stable shadowing.
    pub(crate) shadow_key: u64,
    /// How much weaker than the best real cell the transmitter may be and still
    /// capture phones (reselection offsets, jamming of 3G/4G), dB.
    pub(crate) capture_margin_db: f64,
    /// Chance that a phone in range and of the right operator is captured at a report.
    pub(crate) capture_probability: f64,
}

impl Transmitter {
    pub(crate) fn active(&self, t: i64) -> bool {
        t >= self.active_from_ms && t < self.active_to_ms
    }

    /// True position (local metres) at `t`.
    pub(crate) fn position(&self, t: i64) -> (f64, f64) {
        let i = self.path.partition_point(|p| p.0 <= t);
        if i == 0 {
            return (self.path[0].1, self.path[0].2);
        }
        if i >= self.path.len() {
            let p = self.path[self.path.len() - 1];
            return (p.1, p.2);
        }
        let (t0, x0, y0) = self.path[i - 1];
        let (t1, x1, y1) = self.path[i];
        let f = if t1 > t0 {
            (t - t0) as f64 / (t1 - t0) as f64
        } else {
            0.0
        };
        (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
    }

    /// Identity broadcast at `t`.
    pub(crate) fn broadcast(&self, t: i64) -> Broadcast {
        let i = self.broadcasts.partition_point(|b| b.from_ms <= t);
        self.broadcasts[i.saturating_sub(1)]
    }

    pub(crate) fn truth(&self) -> TruthTransmitter {
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
                lat: super::city::round6(lat),
                lon: super::city::round6(lon),
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
            eirp_dbm: self.eirp_dbm,
            track,
        }
    }
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

/// Build the three transmitters of a scenario.
pub(crate) fn generate(city: &City, span: Span, rng: &mut SimRng) -> Vec<Transmitter> {
    vec![
        stationary(city, span, rng),
        moving_blaster(city, span, rng),
        low_power(city, span, rng),
    ]
}

/// An instant at fraction `f` of the scenario, on a whole minute.
fn minute_at(span: Span, f: f64) -> i64 {
    span.at(f, 60_000)
}

/// The one identity of a transmitter that never changes it, with a random PCI/BSIC.
fn single_identity(rng: &mut SimRng, from: i64, cell: ClaimedCell) -> Vec<Broadcast> {
    vec![Broadcast {
        from_ms: from,
        cell,
        pci: uniform_u32(rng, 0, 63) as u16,
    }]
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
        broadcasts: single_identity(rng, from, cell),
        neighbors: 0,
        cipher: "A5/0",
        shadow_key: 0xF00D_0001,
        capture_probability: 0.85,
        capture_margin_db: 10.0,
    }
}

/// Moving SMS blaster in a car, target operator 45202 or 45204: a new unregistered
/// identity every 3–10 minutes.
fn moving_blaster(city: &City, span: Span, rng: &mut SimRng) -> Transmitter {
    let op = if rng.random_bool(0.5) { 1 } else { 2 };
    let from = minute_at(span, uniform(rng, 0.35, 0.45));
    let to = minute_at(span, uniform(rng, 0.65, 0.75));
    let path = road_path(rng, from, to);
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
        neighbors: 0,
        cipher: "A5/0",
        shadow_key: 0xF00D_0002,
        capture_probability: 0.8,
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
        broadcasts: single_identity(rng, from, cell),
        neighbors: 2,
        cipher: "A5/1",
        shadow_key: 0xF00D_0003,
        capture_probability: 0.6,
        capture_margin_db: 3.0,
    }
}

/// A road-like path: axis-parallel segments on a 400 m street grid at 20–40 km/h,
/// with short stops (lights, deliveries).
fn road_path(rng: &mut SimRng, from: i64, to: i64) -> Vec<(i64, f64, f64)> {
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
        let speed = uniform(rng, 20.0, 40.0) / 3.6;
        t += (dist / speed * 1000.0) as i64;
        if horizontal {
            x += dir * dist;
        } else {
            y += dir * dist;
        }
        path.push((t, x, y));
        if rng.random_bool(0.3) {
            t += i64::from(uniform_u32(rng, 20, 150)) * 1000;
            path.push((t, x, y));
        }
        horizontal = !horizontal;
    }
    path
}
