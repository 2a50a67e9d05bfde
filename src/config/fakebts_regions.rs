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
    /// Height of a tile, and its width at the tile row's middle latitude, km.
    /// Default 100 (a metropolitan area and the roads a blaster drives in an
    /// afternoon fit in one tile plus its margin).
    pub(crate) tile_km: f64,
    /// Overlap: a report also goes to every tile this close to its reporter, km;
    /// below half of `tile_km`. Default 20 (beyond the 4–12 km a transmitter is
    /// heard at, and a blaster at 40 km/h needs half an hour to cross it). A
    /// transmitter is one case while it stays within this distance of the tile of
    /// its first report.
    pub(crate) margin_km: f64,
}

impl Default for RegionConfig {
    fn default() -> Self {
        RegionConfig {
            tile_km: 100.0,
            margin_km: 20.0,
        }
    }
}

impl RegionConfig {
    /// A tile of at least 1 km; a margin of 0 or more, below half a tile (a report
    /// then reaches at most the tiles around one corner).
    pub(crate) fn check(&self, p: &mut Problems) {
        positive(p, "fakebts.regions.tile_km", self.tile_km);
        if self.tile_km.is_finite() && self.tile_km < 1.0 {
            p.push(
                "fakebts.regions.tile_km",
                format!("must be at least 1, got {}", self.tile_km),
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
