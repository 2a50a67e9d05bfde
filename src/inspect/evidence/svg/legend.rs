//! The map's legend (bottom right): one row for each kind of mark the map shows.

use super::input::MapInput;
use super::layers::signal_colour;
use std::fmt::Write;

/// Symbol (SVG, drawn around `(8, 0)`) and label of each legend row, for what `input` shows.
fn items(input: &MapInput<'_>) -> Vec<(String, &'static str)> {
    let mut items: Vec<(String, &str)> = Vec::new();
    if input.position.is_some() {
        items.push((
            r##"<circle cx="8" cy="0" r="6" fill="#d62728"/>"##.into(),
            "estimated position",
        ));
        items.push((r##"<circle cx="8" cy="0" r="6" fill="#d62728" fill-opacity="0.15" stroke="#d62728" stroke-dasharray="3 2"/>"##.into(), "uncertainty radius"));
    }
    if input.track.len() >= 2 {
        items.push((
            r##"<path d="M0,0 h16" stroke="#e07000" stroke-width="3"/>"##.into(),
            "track (numbered in time order)",
        ));
    }
    if !input.observations.is_empty() {
        items.push((format!(r##"<circle cx="5" cy="0" r="4" fill="{}"/><circle cx="13" cy="0" r="4" fill="{}"/>"##, signal_colour(Some(-110.0)), signal_colour(Some(-50.0))), "observations (weak → strong signal)"));
    }
    if !input.cells.is_empty() {
        items.push((
            r##"<path d="M8,-6 L14,5 L2,5 z" fill="#5a6b7b"/>"##.into(),
            "registered cells",
        ));
        if input.cells.iter().any(|c| input.is_claimed(c)) {
            items.push((
                r##"<path d="M8,-6 L14,5 L2,5 z" fill="#b000b0"/>"##.into(),
                "registered cell with the claimed identity",
            ));
        }
    }
    if !input.serving.is_empty() {
        items.push((
            r##"<rect x="2" y="-6" width="12" height="12" fill="#b000b0"/>"##.into(),
            "serving cell site and reach",
        ));
    }
    items
}

/// The legend box, `<g id="legend">`.
pub(super) fn legend(o: &mut String, input: &MapInput<'_>, width: f64, height: f64) {
    let items = items(input);
    let lh = 18.0;
    let lw = 300.0;
    let lx = width - lw - 10.0;
    let ly = height - 10.0 - lh * items.len() as f64 - 8.0;
    let _ = write!(
        o,
        r##"<g id="legend"><rect x="{lx:.1}" y="{ly:.1}" width="{lw}" height="{:.1}" fill="#fff" fill-opacity="0.9" stroke="#bbb"/>"##,
        lh * items.len() as f64 + 8.0
    );
    for (i, (sym, label)) in items.iter().enumerate() {
        let y = ly + 4.0 + lh * (i as f64 + 0.5);
        let _ = write!(
            o,
            r##"<g transform="translate({:.1},{y:.1})">{sym}<text x="24" y="4" font-size="12" fill="#222">{label}</text></g>"##,
            lx + 8.0
        );
    }
    o.push_str("</g>");
}
