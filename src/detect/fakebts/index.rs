//! The registered-cell inventory as the detector queries it: an exact lookup by
//! `MCC-MNC-LAC-CID`, a lookup by `MCC-MNC-CID` (to spot an identity reappearing under
//! another LAC/TAC), and an R-tree (rstar) over Earth-centred coordinates for "which
//! registered cells are near this reporter" questions. Kept current when the pipeline
//! applies inventory-topic updates.

use super::geometry::{chord_for_arc_m, ecef_m};
use crate::inventory::RegisteredCell;
use crate::model::{CellKey, Rat};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::collections::HashMap;

/// The index's and the detector's maps, looked up once or more per report: foldhash
/// instead of SipHash (keys are small integers; no untrusted key chooses a bucket that
/// matters), still seeded per process like `std`'s.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What the detector needs of one registered cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Site {
    pub(crate) rat: Rat,
    pub(crate) key: CellKey,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    /// Nominal coverage radius, metres.
    pub(crate) range_m: f64,
    pub(crate) arfcn: Option<u32>,
    pub(crate) pci: Option<u16>,
    pub(crate) eirp_dbm: Option<f32>,
}

impl Site {
    /// Whether the cell has coordinates the index can place: only such cells are
    /// indexed, and only they count as registered.
    #[inline]
    pub(crate) fn is_placed(&self) -> bool {
        self.lat.is_finite() && self.lon.is_finite()
    }
}

impl From<&RegisteredCell> for Site {
    fn from(cell: &RegisteredCell) -> Self {
        Site {
            rat: cell.radio,
            key: cell.key,
            lat: cell.lat,
            lon: cell.lon,
            range_m: cell.range_m,
            arfcn: cell.arfcn,
            pci: cell.pci,
            eirp_dbm: cell.eirp_dbm,
        }
    }
}

type Entry = GeomWithData<[f64; 3], CellKey>;

/// Spatial index of the registered cells.
#[derive(Debug, Default)]
pub(crate) struct CellIndex {
    by_key: FastMap<CellKey, Site>,
    /// `(mcc, mnc, cid)` → LACs under which that cell id is registered.
    by_cid: FastMap<(u16, u16, u64), Vec<u32>>,
    tree: RTree<Entry>,
}

impl CellIndex {
    /// Build from a set of sites in one bulk load (O(n log n)).
    pub(crate) fn from_sites(sites: impl IntoIterator<Item = Site>) -> Self {
        let mut by_key = FastMap::default();
        for s in sites {
            if s.is_placed() {
                by_key.insert(s.key, s);
            }
        }
        let mut by_cid: FastMap<(u16, u16, u64), Vec<u32>> = FastMap::default();
        let mut entries = Vec::with_capacity(by_key.len());
        for s in by_key.values() {
            by_cid
                .entry((s.key.mcc, s.key.mnc, s.key.cid))
                .or_default()
                .push(s.key.lac);
            entries.push(GeomWithData::new(ecef_m(s.lat, s.lon), s.key));
        }
        // The same tree whatever the map's (per-instance random) iteration order.
        entries.sort_unstable_by_key(|e| e.data);
        for lacs in by_cid.values_mut() {
            lacs.sort_unstable();
        }
        CellIndex {
            by_key,
            by_cid,
            tree: RTree::bulk_load(entries),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The registered cells' keys, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &CellKey> + '_ {
        self.by_key.keys()
    }

    #[inline]
    pub(crate) fn get(&self, key: &CellKey) -> Option<&Site> {
        self.by_key.get(key)
    }

    /// LACs/TACs under which `(mcc, mnc, cid)` is registered.
    pub(crate) fn lacs_of(&self, mcc: u16, mnc: u16, cid: u64) -> &[u32] {
        self.by_cid.get(&(mcc, mnc, cid)).map_or(&[], Vec::as_slice)
    }

    /// Insert or replace one cell.
    pub(crate) fn upsert(&mut self, site: Site) {
        if !site.is_placed() {
            self.remove(&site.key);
            return;
        }
        self.remove(&site.key);
        self.by_cid
            .entry((site.key.mcc, site.key.mnc, site.key.cid))
            .or_default()
            .push(site.key.lac);
        self.tree
            .insert(GeomWithData::new(ecef_m(site.lat, site.lon), site.key));
        self.by_key.insert(site.key, site);
    }

    /// Remove one cell; returns it if it was there.
    pub(crate) fn remove(&mut self, key: &CellKey) -> Option<Site> {
        let old = self.by_key.remove(key)?;
        self.tree
            .remove(&GeomWithData::new(ecef_m(old.lat, old.lon), *key));
        let cid_key = (key.mcc, key.mnc, key.cid);
        if let Some(lacs) = self.by_cid.get_mut(&cid_key) {
            lacs.retain(|&l| l != key.lac);
            if lacs.is_empty() {
                self.by_cid.remove(&cid_key);
            }
        }
        Some(old)
    }

    /// Registered cells within `radius_m` (great-circle) of a position, nearest first,
    /// at most `limit` of them. Equidistant cells (the sectors of one mast share its
    /// position) come in key order, and when the limit falls among them the ones with
    /// the smallest keys are kept: the answer depends on the inventory only, never on
    /// the tree's shape (which follows load and update order).
    pub(crate) fn near(&self, lat: f64, lon: f64, radius_m: f64, limit: usize) -> Vec<&Site> {
        if limit == 0 {
            return Vec::new();
        }
        let chord = chord_for_arc_m(radius_m);
        let q = ecef_m(lat, lon);
        let mut found: Vec<(f64, &Entry)> = Vec::new();
        for (e, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&q) {
            if d2 > chord * chord {
                break;
            }
            // past the limit, only cells tied with the last one kept still compete
            if found.len() >= limit && found.last().is_some_and(|(last, _)| d2 > *last) {
                break;
            }
            found.push((d2, e));
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.data.cmp(&b.1.data)));
        found.truncate(limit);
        found
            .into_iter()
            .filter_map(|(_, e)| self.by_key.get(&e.data))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(lac: u32, cid: u64, lat: f64, lon: f64) -> Site {
        Site {
            rat: Rat::Lte,
            key: CellKey {
                mcc: 452,
                mnc: 4,
                lac,
                cid,
            },
            lat,
            lon,
            range_m: 1000.0,
            arfcn: Some(1650),
            pci: None,
            eirp_dbm: None,
        }
    }

    #[test]
    fn near_finds_by_distance_and_updates_stay_in_sync() {
        let mut idx =
            CellIndex::from_sites([site(1, 10, 21.00, 105.80), site(1, 11, 21.05, 105.80)]);
        let near: Vec<_> = idx
            .near(21.001, 105.80, 2_000.0, 10)
            .iter()
            .map(|s| s.key.cid)
            .collect();
        assert_eq!(near, vec![10]);
        // move cell 10 far away: the tree follows
        idx.upsert(site(1, 10, 22.0, 105.80));
        assert!(idx.near(21.001, 105.80, 2_000.0, 10).is_empty());
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lacs_of(452, 4, 10), &[1]);
        idx.upsert(site(2, 10, 21.0, 105.8));
        let mut lacs = idx.lacs_of(452, 4, 10).to_vec();
        lacs.sort();
        assert_eq!(lacs, vec![1, 2]);
        assert!(idx
            .remove(&CellKey {
                mcc: 452,
                mnc: 4,
                lac: 1,
                cid: 10
            })
            .is_some());
        assert_eq!(idx.lacs_of(452, 4, 10), &[2]);
        let all: Vec<_> = idx
            .near(21.0, 105.8, 10_000.0, 10)
            .iter()
            .map(|s| s.key.cid)
            .collect();
        assert_eq!(all, vec![10, 11]);
    }

    #[test]
    fn the_limit_among_co_located_cells_keeps_the_smallest_keys() {
        // six sectors on one mast, one cell a little further: whatever order the
        // cells are loaded or inserted in, the same three are returned
        let mast: Vec<Site> = (0..6).map(|c| site(1, 100 + c, 21.0, 105.8)).collect();
        let far = site(1, 7, 21.001, 105.8);
        let mut reversed = mast.clone();
        reversed.reverse();
        let mut inserted = CellIndex::default();
        for s in reversed.iter().chain([&far]) {
            inserted.upsert(*s);
        }
        for idx in [
            CellIndex::from_sites(mast.iter().copied().chain([far])),
            CellIndex::from_sites(reversed.iter().copied()),
            inserted,
        ] {
            let near: Vec<u64> = idx
                .near(21.0, 105.8, 1_000.0, 3)
                .iter()
                .map(|s| s.key.cid)
                .collect();
            assert_eq!(near, vec![100, 101, 102]);
        }
    }
}
