//! The evidence map: the area it covers and the order its layers are drawn in (later
//! layers on top).

use super::input::MapInput;
use super::{layers, legend, scale};
use crate::inspect::geo::LocalProjection;
use std::fmt::Write;

/// Smallest area a map shows, metres across: a blaster reaches 1–2 km
/// (docs/detection.md), so the registered cells it competes with are in view.
pub(crate) const MIN_MAP_SPAN_M: f64 = 3_000.0;

/// The map as an `<svg id="map">` element.
pub(crate) fn render_map(input: &MapInput<'_>, width: f64, height: f64) -> String {
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
