//! Registered cells for the "registered cells nearby" layer of the evidence map and to
//! place SIM cases at their serving cell's site: the project's inventory
//! ([`crate::inventory`], OpenCellID CSV order) behind a small lookup.

use super::error::InspectError;
use super::geo::distance_m;
use crate::inventory::Inventory;
pub(crate) use crate::inventory::RegisteredCell;
use crate::model::CellKey;
use std::path::Path;

/// The inventory as the map needs it.
#[derive(Debug, Clone, Default)]
pub struct CellSites {
    inventory: Inventory,
}

impl CellSites {
    /// Read an OpenCellID-order CSV with the inventory loader.
    pub fn load(path: &Path) -> Result<CellSites, InspectError> {
        let (inventory, report) = Inventory::load_csv(path)?;
        if report.rejected_total > 0 {
            tracing::warn!(
                path = %path.display(),
                rejected = report.rejected_total,
                "some inventory rows were refused and are not drawn"
            );
        }
        Ok(CellSites { inventory })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inventory.len()
    }

    pub(crate) fn get(&self, key: &CellKey) -> Option<&RegisteredCell> {
        self.inventory.get(key)
    }

    /// How many cells the inventory holds.
    pub fn count(&self) -> usize {
        self.inventory.len()
    }

    /// Up to `max` cells inside a box (all cells when `bbox` is `None`), in key
    /// order, and whether more were there.
    pub(crate) fn within(
        &self,
        bbox: Option<&crate::inspect::BoundingBox>,
        max: usize,
    ) -> (Vec<&RegisteredCell>, bool) {
        let mut v: Vec<&RegisteredCell> = self
            .inventory
            .iter()
            .filter(|c| bbox.is_none_or(|b| b.contains(c.lat, c.lon)))
            .collect();
        v.sort_by_key(|c| c.key);
        let more = v.len() > max;
        v.truncate(max);
        (v, more)
    }

    /// Up to `max` cells within `radius_m` of a point, nearest first (ties by key).
    pub(crate) fn nearby(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        max: usize,
    ) -> Vec<&RegisteredCell> {
        let mut v: Vec<(f64, &RegisteredCell)> = self
            .inventory
            .iter()
            .map(|c| (distance_m(lat, lon, c.lat, c.lon), c))
            .filter(|(d, _)| *d <= radius_m)
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.key.cmp(&b.1.key)));
        v.into_iter().take(max).map(|(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_opencellid_rows_and_finds_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cells.csv");
        std::fs::write(
            &p,
            "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n\
             GSM,452,4,100,1,,105.85,21.03,1200,10,1,0,0,0\n\
             LTE,452,2,200,70001,,105.90,21.03,800,10,1,0,0,0\n",
        )
        .unwrap();
        let s = CellSites::load(&p).unwrap();
        assert_eq!(s.len(), 2);
        let k = CellKey::parse("452-4-100-1").unwrap();
        assert_eq!(s.get(&k).unwrap().range_m, 1200.0);
        let near = s.nearby(21.03, 105.851, 1000.0, 10);
        assert_eq!(near.len(), 1);
        assert_eq!(s.nearby(21.03, 105.851, 10_000.0, 10).len(), 2);
        let e = CellSites::load(&dir.path().join("none.csv")).unwrap_err();
        assert!(e.to_string().contains("--cells"), "{e}");
    }
}
