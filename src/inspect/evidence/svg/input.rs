//! What the evidence map shows ([`MapInput`]): the transmitter's position and track,
//! the reports, registered and serving cells, and the area they cover together.

use crate::inspect::cells::RegisteredCell;
use crate::inspect::export::LocatedCell;
use crate::inspect::geo::distance_m;
use crate::inspect::records::Observation;
use crate::model::{CellKey, Location, TrackPoint};

/// Reports farther than this from a located transmitter (and its track) do not
/// widen the map, metres: an SMS blaster is heard 1–2 km around it.
const FOCUS_REPORTS_M: f64 = 3_000.0;

/// What the map shows.
#[derive(Default)]
pub(crate) struct MapInput<'a> {
    pub(crate) position: Option<Location>,
    pub(crate) track: &'a [TrackPoint],
    pub(crate) observations: &'a [Observation],
    /// Registered cells around (from `--cells`).
    pub(crate) cells: Vec<&'a RegisteredCell>,
    /// Serving cells of a SIM case placed at their sites.
    pub(crate) serving: &'a [LocatedCell],
    /// Identities the transmitter claimed: a registered cell with one of them is drawn
    /// as the cloned original.
    pub(crate) claimed: Vec<CellKey>,
}

impl MapInput<'_> {
    pub(super) fn bounds(&self) -> Option<(f64, f64, f64, f64)> {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        if let Some(l) = self.position {
            let dlat = l.radius_m / 111_195.0;
            let dlon = dlat / l.lat.to_radians().cos().max(1e-6);
            pts.push((l.lat - dlat, l.lon - dlon));
            pts.push((l.lat + dlat, l.lon + dlon));
        }
        pts.extend(self.track.iter().map(|t| (t.lat, t.lon)));
        // Reports of a cloned identity include the real cell's, kilometres away: with
        // a position, the map zooms to it and its track and leaves far reports out.
        let near = |lat: f64, lon: f64| match self.position {
            None => true,
            Some(l) => {
                let reach = (3.0 * l.radius_m).max(FOCUS_REPORTS_M);
                distance_m(l.lat, l.lon, lat, lon) <= reach
                    || self
                        .track
                        .iter()
                        .any(|t| distance_m(t.lat, t.lon, lat, lon) <= FOCUS_REPORTS_M)
            }
        };
        pts.extend(
            self.observations
                .iter()
                .filter(|o| near(o.lat, o.lon))
                .map(|o| (o.lat, o.lon)),
        );
        for s in self.serving {
            let dlat = s.range_m.min(3000.0) / 111_195.0;
            let dlon = dlat / s.lat.to_radians().cos().max(1e-6);
            pts.push((s.lat - dlat, s.lon - dlon));
            pts.push((s.lat + dlat, s.lon + dlon));
        }
        if pts.is_empty() {
            return None;
        }
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (la, lo) in pts {
            b.0 = b.0.min(la);
            b.1 = b.1.min(lo);
            b.2 = b.2.max(la);
            b.3 = b.3.max(lo);
        }
        Some(b)
    }

    /// Centre and a radius for picking "registered cells nearby".
    pub(crate) fn focus(&self) -> Option<(f64, f64, f64)> {
        let b = self.bounds()?;
        let (lat, lon) = ((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0);
        let half = distance_m(b.0, b.1, b.2, b.3) / 2.0;
        Some((lat, lon, (half * 1.3).max(2_000.0)))
    }

    /// Whether `c` carries one of the claimed identities (the cloned original).
    pub(super) fn is_claimed(&self, c: &RegisteredCell) -> bool {
        self.claimed.contains(&c.key)
    }
}
