//! Legitimate cells that look odd, added by the `cells` knobs after the city is laid
//! out (so the default city and its inventory stay as they are): GSM cells that do
//! not cipher, announce few neighbours or are heard far beyond their site; newly
//! built sites and cells on wheels missing from the inventory. Each knob draws from a
//! stream of its own.

use super::{new_cell, population_point, to_latlon, City, Listing, Numbering, OPERATORS};
use crate::model::{round6, Rat};
use crate::simulate::knobs::CellKnobs;
use crate::simulate::truth::TruthTrapCell;
use crate::simulate::util::{stream, uniform, uniform_u32, weighted_index, SimRng, Span};
use rand::Rng;

/// Apply the `cells` knobs to `city`; the cells they made odd, for the truth.
pub(crate) fn apply(
    city: &mut City,
    knobs: &CellKnobs,
    seed: u64,
    span: Span,
) -> Vec<TruthTrapCell> {
    let mut traps = Vec::new();
    let gsm: Vec<usize> = (0..city.cells.len())
        .filter(|&i| city.cells[i].rat == Rat::Gsm)
        .collect();
    let pick = |label: &str, share: f64| -> Vec<usize> {
        if share <= 0.0 {
            return Vec::new();
        }
        let mut rng = stream(seed, label);
        gsm.iter()
            .copied()
            .filter(|_| rng.random_bool(share))
            .collect()
    };
    let null_cipher = pick("cells/null_cipher", knobs.gsm_null_cipher_share);
    let few = pick("cells/few_neighbours", knobs.gsm_few_neighbours_share);
    let overshoot = pick("cells/overshoot", knobs.gsm_overshoot_share);
    let mut rng = stream(seed, "cells/few_neighbours/count");
    for &i in &null_cipher {
        city.cells[i].cipher = "A5/0";
        traps.push(trap(city, i, "gsm_null_cipher"));
    }
    for &i in &few {
        city.cells[i].neighbors = uniform_u32(&mut rng, 0, 2) as u16;
        traps.push(trap(city, i, "gsm_few_neighbours"));
    }
    for &i in &overshoot {
        city.cells[i].overshoot = true;
        traps.push(trap(city, i, "gsm_overshoot"));
    }
    let mut rng = stream(seed, "cells/new_sites");
    for _ in 0..knobs.new_sites {
        for i in build_site(city, &mut rng, None) {
            traps.push(trap(city, i, "new_site"));
        }
    }
    let mut rng = stream(seed, "cells/cells_on_wheels");
    for _ in 0..knobs.cells_on_wheels {
        let from = span.at(uniform(&mut rng, 0.05, 0.4), 60_000);
        let to = (from + i64::from(uniform_u32(&mut rng, 120, 240)) * 60_000).min(span.end_ms);
        for i in build_site(city, &mut rng, Some((from, to))) {
            traps.push(trap(city, i, "cell_on_wheels"));
        }
    }
    traps
}

/// A new site of a random operator where people are, with 1–2 technologies, missing
/// from the inventory; a cell on wheels (`on_air` set) always has GSM and LTE and a
/// strong transmitter. The indices of its cells.
fn build_site(city: &mut City, rng: &mut SimRng, on_air: Option<(i64, i64)>) -> Vec<usize> {
    let shares: Vec<f64> = OPERATORS.iter().map(|o| o.2).collect();
    let op = weighted_index(rng, &shares);
    let (x, y) = population_point(rng);
    let rats = if on_air.is_some() || rng.random_bool(0.5) {
        vec![Rat::Gsm, Rat::Lte]
    } else if rng.random_bool(0.5) {
        vec![Rat::Lte]
    } else {
        vec![Rat::Gsm]
    };
    let mut numbering = Numbering::after(&city.cells);
    let enb = numbering.next_enb[op];
    numbering.next_enb[op] += 1;
    let mut added = Vec::new();
    for rat in rats {
        let mut cell = new_cell(rng, &mut numbering, op, rat, (x, y), enb);
        cell.listing = Listing::Missing;
        if on_air.is_some() {
            cell.on_air = on_air;
            cell.eirp_dbm = cell.eirp_dbm.max(55.0);
        }
        added.push(city.cells.len());
        city.add_cell(cell);
    }
    added
}

/// The truth about odd cell `i`.
fn trap(city: &City, i: usize, category: &str) -> TruthTrapCell {
    let c = &city.cells[i];
    let (lat, lon) = to_latlon(c.x, c.y);
    TruthTrapCell {
        cell: c.key.clone(),
        category: category.to_string(),
        rat: c.rat.as_str().to_string(),
        lat: round6(lat),
        lon: round6(lon),
    }
}
