//! The map's layers, each a `<g id="layer-…">` (or one element with an id) of marks
//! with a class and a `<title>` tooltip: registered and serving cells, observations,
//! the uncertainty circle, the track and the estimated position.

use super::input::MapInput;
use super::short;
use crate::inspect::cells::RegisteredCell;
use crate::inspect::export::kml::xml_escape;
use crate::inspect::export::LocatedCell;
use crate::inspect::geo::LocalProjection;
use crate::inspect::records::Observation;
use crate::inspect::time::format_ms;
use crate::model::{Location, TrackPoint};
use std::fmt::Write;

/// Colour for a signal level: blue (weak, −115 dBm) to red (strong, −45 dBm).
pub(super) fn signal_colour(dbm: Option<f64>) -> String {
    let Some(d) = dbm else {
        return "#7f7f7f".into();
    };
    let t = ((d + 115.0) / 70.0).clamp(0.0, 1.0);
    let hue = 220.0 * (1.0 - t);
    format!("hsl({hue:.0},85%,45%)")
}

/// Registered cells nearby as triangles: those without a claimed identity
/// (`layer-cells`), or with one, drawn larger as the cloned original
/// (`layer-claimed-cells`).
pub(super) fn registered_cells(
    o: &mut String,
    input: &MapInput<'_>,
    proj: &LocalProjection,
    claimed: bool,
) {
    let id = if claimed {
        "layer-claimed-cells"
    } else {
        "layer-cells"
    };
    let _ = write!(o, r##"<g id="{id}">"##);
    for c in input
        .cells
        .iter()
        .filter(|c| input.is_claimed(c) == claimed)
    {
        cell_mark(o, c, proj, claimed);
    }
    o.push_str("</g>\n");
}

fn cell_mark(o: &mut String, c: &RegisteredCell, proj: &LocalProjection, cloned: bool) {
    let (x, y) = proj.project(c.lat, c.lon);
    if !proj.visible((x, y)) {
        return;
    }
    let (fill, cls, size, note) = if cloned {
        (
            "#b000b0",
            "cell cloned",
            10.0,
            " (identity claimed by the suspect transmitter)",
        )
    } else {
        ("#5a6b7b", "cell", 6.0, "")
    };
    let _ = write!(
        o,
        r##"<g class="{cls}"><title>registered cell {} {} range {:.0} m{note}</title><path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} z" fill="{fill}" fill-opacity="0.9" stroke="#fff" stroke-width="1"/></g>"##,
        c.key,
        c.radio.as_str(),
        c.range_m,
        y - size * 7.0 / 6.0,
        x + size,
        y + size * 5.0 / 6.0,
        x - size,
        y + size * 5.0 / 6.0
    );
}

/// Serving cells of SIM cases, with their nominal reach.
pub(super) fn serving_cells(o: &mut String, serving: &[LocatedCell], proj: &LocalProjection) {
    o.push_str(r##"<g id="layer-serving">"##);
    for s in serving {
        let (x, y) = proj.project(s.lat, s.lon);
        let r = (s.range_m / proj.m_per_px).max(4.0);
        let _ = write!(
            o,
            r##"<g class="serving"><title>serving cell {} — {} record(s), range {:.0} m</title><circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="#b000b0" fill-opacity="0.08" stroke="#b000b0" stroke-dasharray="4 3"/><rect x="{:.1}" y="{:.1}" width="12" height="12" fill="#b000b0"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#4a004a">{}</text></g>"##,
            s.key,
            s.records,
            s.range_m,
            x - 6.0,
            y - 6.0,
            x + 9.0,
            y - 8.0,
            s.key
        );
    }
    o.push_str("</g>\n");
}

/// Observations, coloured by signal.
pub(super) fn observations(o: &mut String, observations: &[Observation], proj: &LocalProjection) {
    o.push_str(r##"<g id="layer-observations">"##);
    for ob in observations {
        let (x, y) = proj.project(ob.lat, ob.lon);
        let _ = write!(
            o,
            r##"<circle class="obs" cx="{x:.1}" cy="{y:.1}" r="4" fill="{}" fill-opacity="0.8" stroke="#fff" stroke-width="0.8"><title>{} reporter {} {} {}</title></circle>"##,
            signal_colour(ob.signal_dbm),
            format_ms(ob.ts),
            xml_escape(short(&ob.reporter)),
            ob.signal_dbm
                .map(|s| format!("{s:.0} dBm"))
                .unwrap_or_default(),
            xml_escape(&ob.event)
        );
    }
    o.push_str("</g>\n");
}

/// The uncertainty circle around the estimated position.
pub(super) fn uncertainty(o: &mut String, position: Option<Location>, proj: &LocalProjection) {
    let Some(l) = position else {
        return;
    };
    let (x, y) = proj.project(l.lat, l.lon);
    let r = l.radius_m / proj.m_per_px;
    let _ = writeln!(
        o,
        r##"<circle id="uncertainty" cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="#d62728" fill-opacity="0.10" stroke="#b00000" stroke-width="2.5" stroke-dasharray="6 4"><title>uncertainty radius {:.0} m</title></circle>"##,
        l.radius_m
    );
}

/// The track as a line with an arrow head (two points or more), then its points
/// numbered in time order.
pub(super) fn track(o: &mut String, track: &[TrackPoint], proj: &LocalProjection) {
    if track.len() >= 2 {
        let pts: Vec<String> = track
            .iter()
            .map(|t| {
                let (x, y) = proj.project(t.lat, t.lon);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = writeln!(
            o,
            r##"<polyline id="track" points="{}" fill="none" stroke="#e07000" stroke-width="3" stroke-linejoin="round" marker-end="url(#arrow)"/>"##,
            pts.join(" ")
        );
    }
    o.push_str(r##"<g id="layer-track-points">"##);
    for (i, t) in track.iter().enumerate() {
        let (x, y) = proj.project(t.lat, t.lon);
        let _ = write!(
            o,
            r##"<g class="track-point"><title>{} {}</title><circle cx="{x:.1}" cy="{y:.1}" r="7" fill="#fff" stroke="#e07000" stroke-width="2"/><text x="{x:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="#a04f00">{}</text></g>"##,
            i + 1,
            format_ms(t.ts),
            y + 3.0,
            i + 1
        );
    }
    o.push_str("</g>\n");
}

/// The estimated transmitter position, a cross-hair dot.
pub(super) fn position(o: &mut String, position: Option<Location>, proj: &LocalProjection) {
    let Some(l) = position else {
        return;
    };
    let (x, y) = proj.project(l.lat, l.lon);
    let _ = writeln!(
        o,
        r##"<g id="position"><title>estimated transmitter position {:.6}, {:.6} ± {:.0} m</title><circle cx="{x:.1}" cy="{y:.1}" r="9" fill="#d62728" stroke="#fff" stroke-width="2"/><path d="M{:.1},{y:.1} H{:.1} M{x:.1},{:.1} V{:.1}" stroke="#fff" stroke-width="2"/></g>"##,
        l.lat,
        l.lon,
        l.radius_m,
        x - 5.0,
        x + 5.0,
        y - 5.0,
        y + 5.0
    );
}
