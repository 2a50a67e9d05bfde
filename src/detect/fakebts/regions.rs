//! The places stage B of the fake-BTS detector is keyed by (docs/streaming.md,
//! "Stage B by region"): a grid of tiles over the globe, the tiles a report goes to
//! (its reporter's own and every tile within the overlap margin), and which tile's
//! copy of a transmitter emits its case.
//!
//! - **Tiles**: rows of `tile_km` of latitude; in each row, columns `tile_km` wide at
//!   the row's middle latitude. A tile is a [`RegionKey`] (row, column).
//! - **Overlap**: a report goes to the tile its reporter stands in and to every tile
//!   whose edge is within `margin_km` of the reporter ([`Grid::regions_of`]). Each
//!   tile runs its own [`Transmitters`] over the reports it gets, so a transmitter
//!   near an edge has a copy in each tile that hears it.
//! - **Ownership**: a copy's case is emitted only by the tile its transmitter's
//!   first report was made in (its *birth* tile; a transmitter split off another
//!   keeps the other's); the other copies keep their case muted
//!   ([`super::snapshot::CaseState::muted`]). A tile's copy gets every report within
//!   the margin of the tile, so a transmitter is one case while it stays that close.
//! - **Hand-over**: a report made in tile T, beyond the margin of the birth tile of
//!   the copy it joins in T, is one the birth tile never gets: T's copy takes the
//!   transmitter over and emits its case from then on (the same case id when both
//!   copies opened it at the same report, else a second case).
//!
//! Everything here is a function of the report's position and the configuration, so
//! every task that hosts a tile computes the same keys.

use super::emitter::Emitter;
use super::snapshot::emit_snapshot;
use super::transmitters::Transmitters;
use crate::config::FakeBtsConfig;
use crate::detect::CaseSink;
use crate::model::{stable_hash, CellMeasurement};
use std::collections::HashSet;

/// Kilometres per degree of latitude (mean Earth radius 6 371 km).
const KM_PER_DEG: f64 = 6_371.0 * std::f64::consts::PI / 180.0;
/// Cosines of latitude are floored at this (the columns stay finite at the poles).
const MIN_COS: f64 = 0.01;

/// A tile of the grid: its row (south to north) and column (west to east).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RegionKey {
    pub(crate) row: i32,
    pub(crate) col: i32,
}

impl RegionKey {
    /// Stable across processes: which task hosts the tile.
    pub(crate) fn hash(&self) -> u64 {
        stable_hash(&[&self.row.to_le_bytes(), &self.col.to_le_bytes()])
    }
}

impl std::fmt::Display for RegionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.row, self.col)
    }
}

/// The tiles and their margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grid {
    tile_km: f64,
    tile_lat_deg: f64,
    margin_km: f64,
}

impl Grid {
    pub(crate) fn new(cfg: &FakeBtsConfig) -> Self {
        Grid::with(cfg.regions.tile_km, cfg.regions.margin_km)
    }

    pub(crate) fn with(tile_km: f64, margin_km: f64) -> Self {
        Grid {
            tile_km,
            tile_lat_deg: tile_km / KM_PER_DEG,
            margin_km,
        }
    }

    /// One region, the whole map (`tile_km` 0): every report goes to the tile
    /// (0, 0).
    fn one_region(&self) -> bool {
        self.tile_km == 0.0
    }

    /// Whether the map is cut into tiles (a case id then names its tile).
    pub(crate) fn tiled(&self) -> bool {
        !self.one_region()
    }

    fn row_of(&self, lat: f64) -> i32 {
        if self.one_region() {
            return 0;
        }
        (lat / self.tile_lat_deg).floor() as i32
    }

    /// Width of the row's columns, degrees of longitude.
    fn col_deg(&self, row: i32) -> f64 {
        let middle = (f64::from(row) + 0.5) * self.tile_lat_deg;
        self.tile_km / (KM_PER_DEG * middle.to_radians().cos().max(MIN_COS))
    }

    /// The tile a position is in.
    pub(crate) fn home(&self, lat: f64, lon: f64) -> RegionKey {
        if self.one_region() {
            return RegionKey { row: 0, col: 0 };
        }
        let row = self.row_of(lat);
        RegionKey {
            row,
            col: (lon / self.col_deg(row)).floor() as i32,
        }
    }

    /// Distance from a position to the tile (0 inside), km, on the local plane.
    fn distance_km(&self, key: RegionKey, lat: f64, lon: f64) -> f64 {
        let (lat0, w) = (
            f64::from(key.row) * self.tile_lat_deg,
            self.col_deg(key.row),
        );
        let lon0 = f64::from(key.col) * w;
        let dlat = (lat0 - lat).max(lat - (lat0 + self.tile_lat_deg)).max(0.0);
        let dlon = (lon0 - lon).max(lon - (lon0 + w)).max(0.0);
        let cos = lat.to_radians().cos().max(MIN_COS);
        (dlat * KM_PER_DEG).hypot(dlon * KM_PER_DEG * cos)
    }

    /// Whether the tile gets a report made here: inside it or within its margin.
    pub(crate) fn reaches(&self, key: RegionKey, lat: f64, lon: f64) -> bool {
        if self.one_region() {
            return key == RegionKey { row: 0, col: 0 };
        }
        key == self.home(lat, lon) || self.distance_km(key, lat, lon) <= self.margin_km
    }

    /// The tiles a report made here goes to, in key order (the margin is below half
    /// a tile, so they are among the 3 × 3 around the home tile).
    pub(crate) fn regions_of(&self, lat: f64, lon: f64, out: &mut Vec<RegionKey>) {
        out.clear();
        if self.one_region() {
            out.push(RegionKey { row: 0, col: 0 });
            return;
        }
        let r = self.row_of(lat);
        for row in r - 1..=r + 1 {
            let c = (lon / self.col_deg(row)).floor() as i32;
            for col in c - 1..=c + 1 {
                let key = RegionKey { row, col };
                if self.reaches(key, lat, lon) {
                    out.push(key);
                }
            }
        }
    }
}

impl RegionKey {
    /// The partition (of `n`) whose task hosts the tile ([`super::regional::Regions::hosting`]).
    pub(crate) fn partition(&self, n: u64) -> u64 {
        self.hash() % n.max(1)
    }
}

impl Grid {
    /// The partitions (of `n`) whose tasks host a tile that a report made here goes
    /// to, ascending, each once (`keys` is scratch space).
    pub(crate) fn partitions_of(
        &self,
        lat: f64,
        lon: f64,
        n: u64,
        keys: &mut Vec<RegionKey>,
        out: &mut Vec<u64>,
    ) {
        self.regions_of(lat, lon, keys);
        out.clear();
        out.extend(keys.iter().map(|k| k.partition(n)));
        out.sort_unstable();
        out.dedup();
    }
}

/// What a region's [`Transmitters`] knows of its place.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) key: RegionKey,
    pub(crate) grid: Grid,
    /// Transmitters born in another tile that this one took over.
    pub(crate) taken: HashSet<u64, foldhash::fast::RandomState>,
}

impl Scope {
    pub(crate) fn new(key: RegionKey, grid: Grid) -> Self {
        Scope {
            key,
            grid,
            taken: HashSet::default(),
        }
    }

    /// The tile a transmitter was born in (where its first report was made).
    fn birth(&self, e: &Emitter) -> RegionKey {
        let (lat, lon) = e.frame.origin();
        self.grid.home(lat, lon)
    }
}

impl Transmitters {
    /// Whether this stage emits the transmitter's case and findings: always without
    /// regions; in a region, for a transmitter born in it or taken over.
    pub(super) fn owns(&self, e: &Emitter) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.taken.contains(&e.id) || s.birth(e) == s.key)
    }

    /// A report `m` just joined transmitter `eid`: if it was made in this tile and
    /// beyond the margin of the transmitter's birth tile (which does not get it),
    /// this tile takes the transmitter over and emits its case at once.
    pub(super) fn hand_over(&mut self, eid: u64, m: &CellMeasurement, out: &mut dyn CaseSink) {
        let Some(s) = self.scope.as_deref_mut() else {
            return;
        };
        let Some(e) = self.emitters.get_mut(&eid) else {
            return;
        };
        let birth = s.birth(e);
        if birth == s.key
            || s.taken.contains(&eid)
            || s.grid.home(m.lat, m.lon) != s.key
            || s.grid.reaches(birth, m.lat, m.lon)
        {
            return;
        }
        s.taken.insert(eid);
        tracing::debug!(emitter = eid, region = %s.key, birth = %birth, "transmitter taken over by the region it moved to");
        if let Some(case) = e.case.as_mut() {
            case.muted = false;
            emit_snapshot(e, &self.cfg, &self.spec, out, &mut self.stats, false);
        }
    }

    /// A transmitter is forgotten: so is its hand-over.
    pub(super) fn forget_taken(&mut self, eid: u64) {
        if let Some(s) = self.scope.as_deref_mut() {
            s.taken.remove(&eid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_goes_to_its_tile_and_the_tiles_within_the_margin() {
        let g = Grid::with(100.0, 20.0);
        let mut keys = Vec::new();
        // the middle of a tile: that tile only
        let home = g.home(21.5, 105.5);
        let (lat0, w) = (f64::from(home.row) * g.tile_lat_deg, g.col_deg(home.row));
        let (mid_lat, mid_lon) = (lat0 + g.tile_lat_deg / 2.0, (f64::from(home.col) + 0.5) * w);
        g.regions_of(mid_lat, mid_lon, &mut keys);
        assert_eq!(keys, vec![g.home(mid_lat, mid_lon)]);
        // 10 km inside the east edge: also the tile east of it
        let east_edge = (f64::from(home.col) + 1.0) * w;
        let lon = east_edge - 10.0 / (KM_PER_DEG * mid_lat.to_radians().cos());
        g.regions_of(mid_lat, lon, &mut keys);
        assert_eq!(
            keys,
            vec![
                home,
                RegionKey {
                    row: home.row,
                    col: home.col + 1
                }
            ]
        );
        // near a corner: the tiles around it (the row below has its own columns)
        let lat = lat0 + 5.0 / KM_PER_DEG;
        g.regions_of(lat, lon, &mut keys);
        assert!((3..=4).contains(&keys.len()), "{keys:?}");
        assert!(keys.iter().any(|k| k.row == home.row - 1));
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| g.reaches(*k, lat, lon)));
        // no margin: the home tile only
        let g0 = Grid::with(100.0, 0.0);
        g0.regions_of(lat, lon, &mut keys);
        assert_eq!(keys, vec![g0.home(lat, lon)]);
    }
}
