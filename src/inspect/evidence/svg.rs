//! Inline SVG for the HTML report: an offline map (local projection, no tiles, no
//! script) and an activity timeline. Every layer has an id and every mark a class,
//! so the report test can find them in the rendered DOM.

use super::super::cells::RegisteredCell;
use super::super::export::kml::xml_escape;
use super::super::export::LocatedCell;
use super::super::geo::LocalProjection;
use super::super::records::{Activity, Observation};
use super::super::time::format_ms;
use crate::model::{CellKey, Location, TrackPoint};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Smallest area a map shows, metres across: a blaster reaches 1–2 km (DOMAIN.md),
/// so the registered cells it competes with are in view.
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
        let half = super::super::geo::distance_m(b.0, b.1, b.2, b.3) / 2.0;
        Some((lat, lon, (half * 1.3).max(2_000.0)))
    }
}

/// Colour for a signal level: blue (weak, −115 dBm) to red (strong, −45 dBm).
fn signal_colour(dbm: Option<f64>) -> String {
    let Some(d) = dbm else {
        return "#7f7f7f".into();
    };
    let t = ((d + 115.0) / 70.0).clamp(0.0, 1.0);
    let hue = 220.0 * (1.0 - t);
    format!("hsl({hue:.0},85%,45%)")
}

/// A "nice" length (1, 2 or 5 × 10^k metres) close to `target`.
fn nice_length(target: f64) -> f64 {
    let k = 10f64.powf(target.max(1.0).log10().floor());
    for m in [5.0, 2.0, 1.0] {
        if m * k <= target {
            return m * k;
        }
    }
    k
}

fn length_label(m: f64) -> String {
    if m >= 1000.0 {
        format!("{} km", m / 1000.0)
    } else {
        format!("{m} m")
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// The map as an `<svg id="map">` element.
pub fn render_map(input: &MapInput<'_>, width: f64, height: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        r##"<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="map of the case">"##
    );
    o.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#e07000"/></marker></defs>"##);
    let _ = writeln!(
        o,
        r##"<rect class="bg" x="0" y="0" width="{width}" height="{height}" fill="#f4f1ea" stroke="#999"/>"##
    );
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

    // Grid every "nice" distance, for a sense of scale without tiles.
    let step_m = nice_length(width * proj.m_per_px / 6.0);
    let step_px = step_m / proj.m_per_px;
    o.push_str(r##"<g id="grid" stroke="#e2ddd0" stroke-width="1">"##);
    let mut x = (width / 2.0) % step_px;
    while x < width {
        let _ = write!(o, r#"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{height}"/>"#);
        x += step_px;
    }
    let mut y = (height / 2.0) % step_px;
    while y < height {
        let _ = write!(o, r#"<line x1="0" y1="{y:.1}" x2="{width}" y2="{y:.1}"/>"#);
        y += step_px;
    }
    o.push_str("</g>\n");

    // Registered cells nearby; those with a claimed identity are drawn last, on top.
    let cell_mark = |o: &mut String, c: &RegisteredCell, cloned: bool| {
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
    };
    o.push_str(r##"<g id="layer-cells">"##);
    for c in input
        .cells
        .iter()
        .filter(|c| !input.claimed.contains(&c.key))
    {
        cell_mark(&mut o, c, false);
    }
    o.push_str("</g>\n");

    // Serving cells of SIM cases, with their nominal reach.
    o.push_str(r##"<g id="layer-serving">"##);
    for s in input.serving {
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

    // Observations, coloured by signal.
    o.push_str(r##"<g id="layer-observations">"##);
    for ob in input.observations {
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

    // Uncertainty circle, above the observations so it is never hidden by them.
    if let Some(l) = input.position {
        let (x, y) = proj.project(l.lat, l.lon);
        let r = l.radius_m / proj.m_per_px;
        let _ = writeln!(
            o,
            r##"<circle id="uncertainty" cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="#d62728" fill-opacity="0.10" stroke="#b00000" stroke-width="2.5" stroke-dasharray="6 4"><title>uncertainty radius {:.0} m</title></circle>"##,
            l.radius_m
        );
    }

    // Track.
    if input.track.len() >= 2 {
        let pts: Vec<String> = input
            .track
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
    for (i, t) in input.track.iter().enumerate() {
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

    // Estimated position.
    if let Some(l) = input.position {
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

    o.push_str(r##"<g id="layer-claimed-cells">"##);
    for c in input
        .cells
        .iter()
        .filter(|c| input.claimed.contains(&c.key))
    {
        cell_mark(&mut o, c, true);
    }
    o.push_str("</g>\n");

    // Scale bar and north arrow.
    let bar_m = nice_length(width * proj.m_per_px / 5.0);
    let bar_px = bar_m / proj.m_per_px;
    let (bx, by) = (16.0, height - 20.0);
    let _ = writeln!(
        o,
        r##"<g id="scale"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="26" fill="#fff" fill-opacity="0.8"/><path d="M{bx},{by} h{bar_px:.1} M{bx},{:.1} v8 M{:.1},{:.1} v8" stroke="#222" stroke-width="2"/><text x="{bx}" y="{:.1}" font-size="11" fill="#222">{}</text></g>"##,
        bx - 6.0,
        by - 18.0,
        bar_px + 12.0,
        by - 4.0,
        bx + bar_px,
        by - 4.0,
        by - 7.0,
        length_label(bar_m)
    );
    let _ = writeln!(
        o,
        r##"<g id="north" transform="translate({:.1},30)"><path d="M0,-16 L7,8 L0,3 L-7,8 z" fill="#222"/><text x="0" y="22" font-size="12" text-anchor="middle" fill="#222">N</text></g>"##,
        width - 24.0
    );

    // Legend.
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
        if input.cells.iter().any(|c| input.claimed.contains(&c.key)) {
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
    o.push_str("</g>\n</svg>\n");
    o
}

/// The activity timeline of SIM cases: one row per SIM, one bar per reporting
/// interval, darker for more SMS sent; `<svg id="timeline">`.
pub fn render_timeline(activity: &[Activity], width: f64, max_rows: usize) -> String {
    let mut o = String::new();
    if activity.is_empty() {
        let _ = writeln!(
            o,
            r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 40" width="{width}" height="40"><text x="10" y="24" font-size="13" fill="#555">no activity records for this case</text></svg>"##
        );
        return o;
    }
    let mut per_sim: BTreeMap<&str, Vec<&Activity>> = BTreeMap::new();
    for a in activity {
        per_sim.entry(a.sim.as_str()).or_default().push(a);
    }
    let mut sims: Vec<(&str, u64)> = per_sim
        .iter()
        .map(|(s, v)| (*s, v.iter().map(|a| a.sms_out).sum()))
        .collect();
    sims.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    sims.truncate(max_rows);
    let t0 = activity
        .iter()
        .map(|a| a.ts - (a.window_secs as i64) * 1000)
        .min()
        .unwrap_or(0);
    let t1 = activity
        .iter()
        .map(|a| a.ts)
        .max()
        .unwrap_or(t0 + 1)
        .max(t0 + 1);
    let max_out = activity.iter().map(|a| a.sms_out).max().unwrap_or(1).max(1) as f64;
    let (left, right, top, row_h) = (130.0, 10.0, 10.0, 12.0);
    let plot_w = width - left - right;
    let height = top + row_h * sims.len() as f64 + 34.0;
    let xt = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * plot_w;
    let _ = writeln!(
        o,
        r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0}" width="{width}" height="{height:.0}" role="img" aria-label="activity timeline">"##
    );
    let _ = writeln!(
        o,
        r##"<rect x="{left}" y="{top}" width="{plot_w:.1}" height="{:.1}" fill="#fafafa" stroke="#ccc"/>"##,
        row_h * sims.len() as f64
    );
    for (row, (sim, total)) in sims.iter().enumerate() {
        let y = top + row_h * row as f64;
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" font-family="monospace" fill="#333">{}</text>"##,
            left - 6.0,
            y + row_h - 3.0,
            xml_escape(short(sim))
        );
        for a in &per_sim[sim] {
            let x0 = xt(a.ts - (a.window_secs as i64) * 1000);
            let x1 = xt(a.ts).max(x0 + 1.0);
            let op = 0.15 + 0.85 * (a.sms_out as f64 / max_out);
            let _ = write!(
                o,
                r##"<rect class="act" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f5fa8" fill-opacity="{op:.2}"><title>{} {} sms_out {}</title></rect>"##,
                y + 1.0,
                x1 - x0,
                row_h - 2.0,
                xml_escape(short(sim)),
                format_ms(a.ts),
                a.sms_out
            );
        }
        let _ = writeln!(o, "<!-- {} sms total -->", total);
    }
    let yb = top + row_h * sims.len() as f64;
    let _ = writeln!(
        o,
        r##"<text x="{left}" y="{:.1}" font-size="11" fill="#333">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333">{}</text>"##,
        yb + 16.0,
        format_ms(t0),
        width - right,
        yb + 16.0,
        format_ms(t1)
    );
    if per_sim.len() > sims.len() {
        let _ = writeln!(
            o,
            r##"<text x="{left}" y="{:.1}" font-size="11" fill="#777">{} more SIM(s) not drawn; all are in the members table</text>"##,
            yb + 30.0,
            per_sim.len() - sims.len()
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_lengths() {
        assert_eq!(nice_length(740.0), 500.0);
        assert_eq!(nice_length(2100.0), 2000.0);
        assert_eq!(nice_length(1.0), 1.0);
        assert_eq!(length_label(2000.0), "2 km");
    }

    #[test]
    fn empty_map_says_why() {
        let s = render_map(&MapInput::default(), 400.0, 300.0);
        assert!(s.contains("id=\"map-empty\"") && s.contains("--cells"));
    }
}
