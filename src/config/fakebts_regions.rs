//! `[fakebts.regions]`: how the fake-BTS detector's transmitter stage (stage B) is
//! divided into regions, each its own set of candidate transmitters, so that the
//! stage is keyed by place and can be spread over tasks (docs/streaming.md, "Stage B
//! by region").

use super::check::{positive, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tiles of stage B and their overlap. A report goes to the tile its reporter stands
/// in and to every tile within `margin_km` of the reporter; a transmitter's case is
/// emitted by the tile its first report was in (docs/detection.md, "Regions").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RegionConfig {
    /// Height of a tile, and its width at the tile row's middle latitude, km; 0
    /// (the default): one region, the whole map, so no transmitter is tracked
    /// twice and no case is cut at a border. Tiles are what lets the service
    /// spread stage B over `[kafka] transmitter_partitions` tasks: set both at the
    /// first start (100 fits a metropolitan area and the roads a blaster drives in
    /// an afternoon in one tile plus its margin). Each tile near a border tracks
    /// its own copy of a transmitter heard there (BENCHMARKS.md, stop 30: +460 B
    /// per tracked identity on the medium scenario with 100 km tiles).
    pub(crate) tile_km: f64,
    /// Overlap: a report also goes to every tile this close to its reporter, km;
    /// below half of `tile_km` (unused with one region). Default 20 (beyond the 4–12 km a transmitter is
    /// heard at, and a blaster at 40 km/h needs half an hour to cross it). A
    /// transmitter is one case while it stays within this distance of the tile of
    /// its first report.
    pub(crate) margin_km: f64,
}

impl Default for RegionConfig {
    fn default() -> Self {
        RegionConfig {
            tile_km: 0.0,
            margin_km: 20.0,
        }
    }
}

impl RegionConfig {
    /// Whether the map is one region (`tile_km` 0).
    pub(crate) fn one_region(&self) -> bool {
        self.tile_km == 0.0
    }

    /// One region, or a tile of at least 1 km with a margin of 0 or more, below half
    /// a tile (a report then reaches at most the tiles around one corner).
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.one_region() {
            return;
        }
        positive(p, "fakebts.regions.tile_km", self.tile_km);
        if self.tile_km.is_finite() && self.tile_km < 1.0 {
            p.push(
                "fakebts.regions.tile_km",
                format!("must be 0 (one region) or at least 1, got {}", self.tile_km),
            );
        }
        let half = self.tile_km / 2.0;
        if !(self.margin_km >= 0.0 && self.margin_km < half) {
            p.push(
                "fakebts.regions.margin_km",
                format!(
                    "must be 0 or more and below half of tile_km ({half}), got {}",
                    self.margin_km
                ),
            );
        }
    }
}
