//! The evidence map: what it shows ([`MapInput`]), the area it covers, and the order
//! its layers are drawn in (later layers on top).

use super::super::super::cells::RegisteredCell;
use super::super::super::export::LocatedCell;
use super::super::super::geo::{distance_m, LocalProjection};
use super::super::super::records::Observation;
use super::{layers, legend, scale};
use crate::model::{CellKey, Location, TrackPoint};
use std::fmt::Write;

/// Smallest area a map shows, metres across: a blaster reaches 1–2 km
/// (docs/detection.md), so the registered cells it competes with are in view.
pub const MIN_MAP_SPAN_M: f64 = 3_000.0;

/// What the map shows.
#[derive(Default)]
pub struct MapInput<'a> {
    pub position: Option<Location>,
    pub track: &'a [TrackPoint],
    pub observations: &'a [Observation],
    /// Registered cells around (from `--cells`).
    pub cells: Vec<&'a RegisteredCell>,
    /// Serving cells of a SIM case placed at their sites.
    pub serving: &'a [LocatedCell],
    /// Identities the transmitter claimed: a registered cell with one of them is drawn
    /// as the cloned original.
    pub claimed: Vec<CellKey>,
}

impl MapInput<'_> {
    fn bounds(&self) -> Option<(f64, f64, f64, f64)> {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        if let Some(l) = self.position {
            let dlat = l.radius_m / 111_195.0;
            let dlon = dlat / l.lat.to_radians().cos().max(1e-6);
            pts.push((l.lat - dlat, l.lon - dlon));
            pts.push((l.lat + dlat, l.lon + dlon));
        }
        pts.extend(self.track.iter().map(|t| (t.lat, t.lon)));
        pts.extend(self.observations.iter().map(|o| (o.lat, o.lon)));
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

    /// Whether anything can be placed on a map.
    pub fn has_geometry(&self) -> bool {
        self.bounds().is_some()
    }

    /// Centre and a radius for picking "registered cells nearby".
    pub fn focus(&self) -> Option<(f64, f64, f64)> {
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

/// The map as an `<svg id="map">` element.
pub fn render_map(input: &MapInput<'_>, width: f64, height: f64) -> String {
    let mut o = String::new();
    open(&mut o, width, height);
    let Some(bounds) = input.bounds() else {
        let _ = writeln!(
            o,
            r##"<text id="map-empty" x="{}" y="{}" text-anchor="middle" font-size="15" fill="#555">no position known for this case: give the registered-cell inventory with --cells to place its serving cells</text></svg>"##,
            width / 2.0,
            height / 2.0
        );
        return o;
    };
    let proj = LocalProjection::fit(bounds, width, height, 0.12, MIN_MAP_SPAN_M);
    scale::grid(&mut o, &proj);
    // Registered cells nearby; those with a claimed identity are drawn last, on top.
    layers::registered_cells(&mut o, input, &proj, false);
    layers::serving_cells(&mut o, input.serving, &proj);
    layers::observations(&mut o, input.observations, &proj);
    // Uncertainty circle, above the observations so it is never hidden by them.
    layers::uncertainty(&mut o, input.position, &proj);
    layers::track(&mut o, input.track, &proj);
    layers::position(&mut o, input.position, &proj);
    layers::registered_cells(&mut o, input, &proj, true);
    scale::scale_bar_and_north(&mut o, &proj);
    legend::legend(&mut o, input, width, height);
    o.push_str("\n</svg>\n");
    o
}

/// The `<svg>` element, the track's arrow head and the background.
fn open(o: &mut String, width: f64, height: f64) {
    let _ = writeln!(
        o,
        r##"<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="map of the case">"##
    );
    o.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#e07000"/></marker></defs>"##);
    let _ = writeln!(
        o,
        r##"<rect class="bg" x="0" y="0" width="{width}" height="{height}" fill="#f4f1ea" stroke="#999"/>"##
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_map_says_why() {
        let s = render_map(&MapInput::default(), 400.0, 300.0);
        assert!(s.contains("id=\"map-empty\"") && s.contains("--cells"));
    }
}
