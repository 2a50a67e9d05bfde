//! The simulated city (Hanoi, ~15 × 15 km) and its licensed cells: sites on a
//! jittered grid, three operators, GSM/UMTS/LTE cells with LAC/TAC clusters,
//! channels, EIRP and nominal range; and `cells.csv` (OpenCellID column order plus
//! `arfcn,pci,azimuth,eirp_dbm`), from which a few real cells are deliberately
//! missing and a few are listed at a wrong position. The legitimate oddities that
//! knobs add (odd GSM cells, new sites, cells on wheels) are in `traps.rs`.

pub(crate) mod traps;

use super::truth::TruthMisplaced;
use super::util::{normal, uniform, uniform_u32, weighted_index, SimRng};
use super::SimulateError;
use crate::model::Rat;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use std::io::Write;
use std::path::Path;

/// Centre of the city (Hoàn Kiếm, Hanoi).
pub(crate) const CENTRE_LAT: f64 = 21.0285;
pub(crate) const CENTRE_LON: f64 = 105.8542;
/// Half side of the simulated square, metres.
pub(crate) const HALF_SIZE_M: f64 = 7_500.0;
const M_PER_DEG_LAT: f64 = 111_320.0;

/// Operators: (PLMN code, MNC, share of subscribers).
pub(crate) const OPERATORS: [(&str, u16, f64); 3] =
    [("45201", 1, 0.25), ("45202", 2, 0.30), ("45204", 4, 0.45)];
pub(crate) const MCC: u16 = 452;

/// Local metres (east, north) from the centre to WGS84 (lat, lon).
pub(crate) fn to_latlon(x: f64, y: f64) -> (f64, f64) {
    let lat = CENTRE_LAT + y / M_PER_DEG_LAT;
    let lon = CENTRE_LON + x / (M_PER_DEG_LAT * CENTRE_LAT.to_radians().cos());
    (lat, lon)
}

/// A place where people live, work or go: the centre (normal, σ 3 km, clamped to
/// the city) with probability 0.6, otherwise anywhere in the city.
pub(crate) fn population_point(rng: &mut SimRng) -> (f64, f64) {
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

/// Coordinates are written with 6 decimals (~0.1 m), as cases write them.
pub(crate) use crate::model::round6;

/// How a real cell appears in `cells.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Listing {
    Listed,
    Missing,
    Misplaced { x: f64, y: f64 },
}

/// One real, licensed cell.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) operator: usize,
    pub(crate) rat: Rat,
    pub(crate) lac: u32,
    pub(crate) cid: u64,
    pub(crate) arfcn: u32,
    pub(crate) pci: u16,
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) azimuth: u16,
    pub(crate) eirp_dbm: f64,
    pub(crate) range_m: f64,
    pub(crate) neighbors: u16,
    pub(crate) cipher: &'static str,
    /// `MCC-MNC-LAC-CID`.
    pub(crate) key: String,
    pub(crate) listing: Listing,
    /// On air only in `[from, to)` (a cell on wheels); always when `None`.
    pub(crate) on_air: Option<(i64, i64)>,
    /// Heard far beyond its site now and then (a knob).
    pub(crate) overshoot: bool,
}

impl Cell {
    pub(crate) fn mnc(&self) -> u16 {
        OPERATORS[self.operator].1
    }

    /// Whether the cell transmits at `t`.
    pub(crate) fn on_air_at(&self, t: i64) -> bool {
        self.on_air.is_none_or(|(from, to)| t >= from && t < to)
    }
}

/// All real cells plus a coarse spatial index for "cells near a point" queries.
pub(crate) struct City {
    pub(crate) cells: Vec<Cell>,
    /// Per operator, per 1 km bucket: indices of that operator's cells.
    buckets: Vec<Vec<Vec<usize>>>,
}

const BUCKET_M: f64 = 1_000.0;
const BUCKETS_PER_SIDE: usize = 17;
/// Buckets searched on each side of the query point (±2.5 km).
const BUCKET_REACH: i64 = 2;

fn bucket_of(x: f64, y: f64) -> (i64, i64) {
    let bx = ((x + HALF_SIZE_M + 1_000.0) / BUCKET_M).floor() as i64;
    let by = ((y + HALF_SIZE_M + 1_000.0) / BUCKET_M).floor() as i64;
    (
        bx.clamp(0, BUCKETS_PER_SIDE as i64 - 1),
        by.clamp(0, BUCKETS_PER_SIDE as i64 - 1),
    )
}

/// Parameters of the cell layout.
pub(crate) struct CityParams {
    pub(crate) target_cells: usize,
    /// Share of real cells left out of the inventory.
    pub(crate) missing_share: f64,
    /// Share of real cells listed 1–5 km away from their site.
    pub(crate) misplaced_share: f64,
}

const RAT_INDEX: [(Rat, u32); 3] = [(Rat::Gsm, 0), (Rat::Umts, 1), (Rat::Lte, 2)];

/// Where the next cell identities of each operator come from.
struct Numbering {
    next_gsm_ci: [u64; 3],
    /// Next LTE eNodeB id (one per site); a site's LTE cells are `enb * 256 + 1..3`.
    next_enb: [u64; 3],
    umts_ci: [u64; 3],
}

impl Numbering {
    fn draw(rng: &mut SimRng) -> Numbering {
        let mut next_gsm_ci = [0u64; 3];
        for (i, ci) in next_gsm_ci.iter_mut().enumerate() {
            *ci = u64::from(uniform_u32(rng, 1_000, 9_000)) + i as u64 * 10_000;
        }
        let mut next_enb = [0u64; 3];
        for (i, e) in next_enb.iter_mut().enumerate() {
            *e = u64::from(uniform_u32(rng, 100_000, 200_000)) + i as u64 * 250_000;
        }
        Numbering {
            next_gsm_ci,
            next_enb,
            umts_ci: [0; 3],
        }
    }

    /// The numbering that continues after the identities `cells` already use, so a
    /// site built later never repeats one.
    fn after(cells: &[Cell]) -> Numbering {
        let mut n = Numbering {
            next_gsm_ci: [0; 3],
            next_enb: [0; 3],
            umts_ci: [0; 3],
        };
        for c in cells {
            let op = c.operator;
            match c.rat {
                Rat::Gsm => n.next_gsm_ci[op] = n.next_gsm_ci[op].max(c.cid + 1),
                Rat::Umts => {
                    n.umts_ci[op] = n.umts_ci[op].max((c.cid % 65_536).saturating_sub(10_000))
                }
                _ => n.next_enb[op] = n.next_enb[op].max(c.cid / 256 + 1),
            }
        }
        n
    }
}

/// Channels, code range (PSC / PCI), EIRP and ciphers of the UMTS or LTE cells.
struct Band {
    /// Per operator.
    channels: [&'static [u32]; 3],
    fallback_channel: u32,
    max_code: u32,
    eirp_dbm: (f64, f64),
    /// The usual cipher (80 %) and the older one.
    ciphers: (&'static str, &'static str),
}

const UMTS_BAND: Band = Band {
    channels: [&[10563, 10588], &[10613, 10638], &[10663, 10688, 10713]],
    fallback_channel: 10563,
    max_code: 511,
    eirp_dbm: (43.0, 55.0),
    ciphers: ("UEA2", "UEA1"),
};

const LTE_BAND: Band = Band {
    channels: [&[1275, 1300], &[1450, 1500], &[1650, 1700, 1850]],
    fallback_channel: 1300,
    max_code: 503,
    eirp_dbm: (50.0, 60.0),
    ciphers: ("EEA2", "EEA1"),
};

/// Radio parameters of a new cell: `(cid, arfcn, pci, eirp_dbm, cipher)`.
type Radio = (u64, u32, u16, f64, &'static str);

/// Sites on a jittered square grid, each of one operator with 1–3 RATs, until
/// the target number of cells is reached.
fn lay_out_sites(params: &CityParams, rng: &mut SimRng) -> Vec<Cell> {
    // Each site hosts on average ~2 cells of one operator.
    let n_sites = (params.target_cells / 2).max(9);
    let per_side = (n_sites as f64).sqrt().ceil() as usize;
    let spacing = 2.0 * HALF_SIZE_M / per_side as f64;
    let mut cells: Vec<Cell> = Vec::with_capacity(params.target_cells + 8);
    let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
    let mut numbering = Numbering::draw(rng);
    for gy in 0..per_side {
        for gx in 0..per_side {
            if cells.len() >= params.target_cells {
                return cells;
            }
            let x = -HALF_SIZE_M + (gx as f64 + 0.5 + uniform(rng, -0.35, 0.35)) * spacing;
            let y = -HALF_SIZE_M + (gy as f64 + 0.5 + uniform(rng, -0.35, 0.35)) * spacing;
            let op = weighted_index(rng, &shares);
            let mut rats: Vec<Rat> = Vec::new();
            if rng.random_bool(0.7) {
                rats.push(Rat::Gsm);
            }
            if rng.random_bool(0.4) {
                rats.push(Rat::Umts);
            }
            if rng.random_bool(0.8) || rats.is_empty() {
                rats.push(Rat::Lte);
            }
            let enb = numbering.next_enb[op];
            numbering.next_enb[op] += 1;
            for rat in rats {
                cells.push(new_cell(rng, &mut numbering, op, rat, (x, y), enb));
            }
        }
    }
    cells
}

/// One cell of operator `op` and RAT `rat` at site (x, y).
fn new_cell(
    rng: &mut SimRng,
    numbering: &mut Numbering,
    op: usize,
    rat: Rat,
    (x, y): (f64, f64),
    enb: u64,
) -> Cell {
    let rat_i = RAT_INDEX
        .iter()
        .find(|r| r.0 == rat)
        .map(|r| r.1)
        .unwrap_or(0);
    // LAC/TAC clusters: 5 km blocks (3 × 3), one area per operator and RAT.
    let block = (((x + HALF_SIZE_M) / 5_000.0).floor().clamp(0.0, 2.0) as u32) * 3
        + ((y + HALF_SIZE_M) / 5_000.0).floor().clamp(0.0, 2.0) as u32;
    let lac = 10_000 + u32::from(OPERATORS[op].1) * 1_000 + rat_i * 100 + block + 1;
    let (cid, arfcn, pci, eirp, cipher) = match rat {
        Rat::Gsm => gsm_radio(rng, numbering, op),
        Rat::Umts => {
            let rnc = 100 + u64::from(block) + op as u64 * 20;
            numbering.umts_ci[op] += 1;
            let cid = rnc * 65_536 + 10_000 + numbering.umts_ci[op];
            band_radio(rng, cid, op, &UMTS_BAND)
        }
        _ => {
            let cid = enb * 256 + u64::from(uniform_u32(rng, 1, 3));
            band_radio(rng, cid, op, &LTE_BAND)
        }
    };
    let range_m = (500.0 + (eirp - 43.0) / 17.0 * 2_500.0 + uniform(rng, -300.0, 300.0))
        .clamp(500.0, 3_000.0);
    let mnc = OPERATORS[op].1;
    Cell {
        operator: op,
        rat,
        lac,
        cid,
        arfcn,
        pci,
        x,
        y,
        azimuth: uniform_u32(rng, 0, 359) as u16,
        eirp_dbm: (eirp * 10.0).round() / 10.0,
        range_m: range_m.round(),
        neighbors: uniform_u32(rng, 4, 12) as u16,
        cipher,
        key: format!("{MCC}-{mnc}-{lac}-{cid}"),
        listing: Listing::Listed,
        on_air: None,
        overshoot: false,
    }
}

/// A GSM cell: the operator's next cell id, a channel of its 900 or 1800 MHz band.
fn gsm_radio(rng: &mut SimRng, numbering: &mut Numbering, op: usize) -> Radio {
    let ci = numbering.next_gsm_ci[op];
    numbering.next_gsm_ci[op] += u64::from(uniform_u32(rng, 1, 3));
    let base = [1u32, 42, 83][op];
    let arfcn = if rng.random_bool(0.6) {
        base + uniform_u32(rng, 0, 40)
    } else {
        512 + op as u32 * 120 + uniform_u32(rng, 0, 119)
    };
    let cipher = if rng.random_bool(0.65) {
        "A5/3"
    } else {
        "A5/1"
    };
    (
        ci,
        arfcn,
        uniform_u32(rng, 0, 63) as u16,
        uniform(rng, 47.0, 58.0),
        cipher,
    )
}

/// A UMTS or LTE cell with id `cid` on one of the operator's channels of `band`.
fn band_radio(rng: &mut SimRng, cid: u64, op: usize, band: &Band) -> Radio {
    let arfcn = *band.channels[op]
        .choose(rng)
        .unwrap_or(&band.fallback_channel);
    let cipher = if rng.random_bool(0.8) {
        band.ciphers.0
    } else {
        band.ciphers.1
    };
    (
        cid,
        arfcn,
        uniform_u32(rng, 0, band.max_code) as u16,
        uniform(rng, band.eirp_dbm.0, band.eirp_dbm.1),
        cipher,
    )
}

/// Deliberate inventory defects: a share of the cells missing from `cells.csv`,
/// another share listed 1–5 km away from their site.
fn add_inventory_defects(cells: &mut [Cell], params: &CityParams, rng: &mut SimRng) {
    let n = cells.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let n_missing = ((n as f64 * params.missing_share).round() as usize).max(2);
    let n_misplaced = ((n as f64 * params.misplaced_share).round() as usize).max(2);
    for &i in order.iter().take(n_missing) {
        cells[i].listing = Listing::Missing;
    }
    for &i in order.iter().skip(n_missing).take(n_misplaced) {
        let d = uniform(rng, 1_000.0, 5_000.0);
        let a = uniform(rng, 0.0, std::f64::consts::TAU);
        cells[i].listing = Listing::Misplaced {
            x: cells[i].x + d * a.cos(),
            y: cells[i].y + d * a.sin(),
        };
    }
}

impl City {
    pub(crate) fn generate(params: &CityParams, rng: &mut SimRng) -> City {
        let mut cells = lay_out_sites(params, rng);
        add_inventory_defects(&mut cells, params, rng);
        let mut buckets =
            vec![vec![Vec::new(); BUCKETS_PER_SIDE * BUCKETS_PER_SIDE]; OPERATORS.len()];
        for (i, c) in cells.iter().enumerate() {
            let (bx, by) = bucket_of(c.x, c.y);
            buckets[c.operator][by as usize * BUCKETS_PER_SIDE + bx as usize].push(i);
        }
        City { cells, buckets }
    }

    /// Add a cell built after the layout (its index is the next one).
    pub(crate) fn add_cell(&mut self, cell: Cell) {
        let (bx, by) = bucket_of(cell.x, cell.y);
        self.buckets[cell.operator][by as usize * BUCKETS_PER_SIDE + bx as usize]
            .push(self.cells.len());
        self.cells.push(cell);
    }

    /// Indices of the operator's cells within roughly ±2.5 km of (x, y).
    pub(crate) fn cells_near(&self, operator: usize, x: f64, y: f64, out: &mut Vec<usize>) {
        out.clear();
        let (bx, by) = bucket_of(x, y);
        for dy in -BUCKET_REACH..=BUCKET_REACH {
            for dx in -BUCKET_REACH..=BUCKET_REACH {
                let (qx, qy) = (bx + dx, by + dy);
                if qx < 0
                    || qy < 0
                    || qx >= BUCKETS_PER_SIDE as i64
                    || qy >= BUCKETS_PER_SIDE as i64
                {
                    continue;
                }
                out.extend_from_slice(
                    &self.buckets[operator][qy as usize * BUCKETS_PER_SIDE + qx as usize],
                );
            }
        }
    }

    /// Nearest cell of an operator to (x, y) among `filter`-accepted cells.
    pub(crate) fn nearest(
        &self,
        operator: usize,
        x: f64,
        y: f64,
        filter: impl Fn(&Cell) -> bool,
    ) -> Option<usize> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.operator == operator && filter(c))
            .map(|(i, c)| (i, (c.x - x).hypot(c.y - y)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// Keys of the real cells left out of `cells.csv` (for the truth).
    pub(crate) fn missing_cells(&self) -> Vec<String> {
        self.cells
            .iter()
            .filter(|c| c.listing == Listing::Missing)
            .map(|c| c.key.clone())
            .collect()
    }

    /// The cells listed at a wrong position, with both positions (for the truth).
    pub(crate) fn misplaced_cells(&self) -> Vec<TruthMisplaced> {
        self.cells
            .iter()
            .filter_map(|c| match c.listing {
                Listing::Misplaced { x, y } => {
                    let (tl, tn) = to_latlon(c.x, c.y);
                    let (ll, ln) = to_latlon(x, y);
                    Some(TruthMisplaced {
                        cell: c.key.clone(),
                        true_lat: round6(tl),
                        true_lon: round6(tn),
                        listed_lat: round6(ll),
                        listed_lon: round6(ln),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Write `cells.csv`; returns the number of data rows. The rows of the operators
    /// (indices) in `no_channel` leave `arfcn` and `pci` empty.
    pub(crate) fn write_csv(
        &self,
        path: &Path,
        no_channel: &[usize],
        rng: &mut SimRng,
    ) -> Result<u64, SimulateError> {
        let file = std::fs::File::create(path).map_err(|source| SimulateError::io(path, source))?;
        let mut w = std::io::BufWriter::new(file);
        let io = |source| SimulateError::io(path, source);
        writeln!(
            w,
            "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal,arfcn,pci,azimuth,eirp_dbm"
        )
        .map_err(io)?;
        let mut rows = 0u64;
        for c in &self.cells {
            let (x, y) = match c.listing {
                Listing::Missing => continue,
                Listing::Listed => (c.x, c.y),
                Listing::Misplaced { x, y } => (x, y),
            };
            let (lat, lon) = to_latlon(x, y);
            let bare = no_channel.contains(&c.operator);
            let unit = if c.rat == Rat::Gsm || bare {
                String::new()
            } else {
                c.pci.to_string()
            };
            // created 2015..2024, updated 2025-01..2026-10 (epoch seconds).
            let created = rng.random_range(1_420_070_400i64..1_704_067_200);
            let (arfcn, pci) = if bare {
                (String::new(), String::new())
            } else {
                (c.arfcn.to_string(), c.pci.to_string())
            };
            let updated = rng.random_range(1_735_689_600i64..1_790_000_000);
            writeln!(
                w,
                "{},{},{},{},{},{},{:.6},{:.6},{},{},1,{},{},0,{},{},{},{:.1}",
                c.rat.as_str(),
                MCC,
                c.mnc(),
                c.lac,
                c.cid,
                unit,
                lon,
                lat,
                c.range_m,
                rng.random_range(3u32..800),
                created,
                updated,
                arfcn,
                pci,
                c.azimuth,
                c.eirp_dbm
            )
            .map_err(io)?;
            rows += 1;
        }
        w.flush().map_err(io)?;
        Ok(rows)
    }
}
