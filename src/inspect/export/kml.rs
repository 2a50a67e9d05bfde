//! KML 2.2 export for Google Earth (and QGIS): one folder per case with the estimated
//! position, the uncertainty circle as a polygon, the track as a line plus time-stamped
//! points, and the observations with their time stamps (Google Earth's time slider
//! plays them back). No external icons: styles only use colours.

use super::{
    claimed_label, located_serving_cells, round7, ExportContext, LocatedCell, CIRCLE_SEGMENTS,
};
use crate::inspect::geo::circle_ring;
use crate::inspect::reasons::describe;
use crate::inspect::records::Observation;
use crate::inspect::table::fmt_num;
use crate::inspect::time::format_ms;
use crate::model::{Case, CaseKind, Location};
use std::fmt::Write;

/// Escape text for XML element content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

fn coord(lat: f64, lon: f64) -> String {
    format!("{},{},0", round7(lon), round7(lat))
}

const STYLES: &str = r#"  <Style id="position"><IconStyle><color>ff0000ff</color><scale>1.3</scale></IconStyle><LabelStyle><scale>0.9</scale></LabelStyle></Style>
  <Style id="uncertainty"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle><PolyStyle><color>330000ff</color></PolyStyle></Style>
  <Style id="track"><LineStyle><color>ffff7800</color><width>3</width></LineStyle></Style>
  <Style id="track_point"><IconStyle><color>ffff7800</color><scale>0.7</scale></IconStyle><LabelStyle><scale>0.7</scale></LabelStyle></Style>
  <Style id="observation"><IconStyle><color>ff00d7ff</color><scale>0.5</scale></IconStyle><LabelStyle><scale>0</scale></LabelStyle></Style>
  <Style id="serving_cell"><IconStyle><color>ffb000b0</color><scale>1.0</scale></IconStyle></Style>
"#;

fn data(o: &mut String, indent: &str, pairs: &[(&str, String)]) {
    let _ = writeln!(o, "{indent}<ExtendedData>");
    for (k, v) in pairs {
        let _ = writeln!(
            o,
            "{indent}  <Data name=\"{}\"><value>{}</value></Data>",
            xml_escape(k),
            xml_escape(v)
        );
    }
    let _ = writeln!(o, "{indent}</ExtendedData>");
}

fn case_description(case: &Case) -> String {
    let mut d = format!(
        "{} case, status {}, score {:.2}, opened {}, evidence {} .. {} ({} records).",
        case.kind.as_str(),
        case.status.as_str(),
        case.score,
        format_ms(case.opened_at),
        format_ms(case.first_seen),
        format_ms(case.last_seen),
        case.evidence_count
    );
    for r in &case.reasons {
        let _ = write!(
            d,
            "\n{}: {} (threshold {}){}",
            r.code,
            fmt_num(r.value),
            fmt_num(r.threshold),
            describe(&r.code)
                .map(|t| format!(" - {t}"))
                .unwrap_or_default()
        );
    }
    d
}

fn case_folder(o: &mut String, case: &Case, ctx: &ExportContext<'_>) {
    let records = ctx.records(&case.case_id);
    let _ = writeln!(o, "  <Folder>");
    let _ = writeln!(
        o,
        "    <name>{} ({})</name>",
        xml_escape(&case.case_id),
        case.kind.as_str()
    );
    let _ = writeln!(
        o,
        "    <description>{}</description>",
        xml_escape(&case_description(case))
    );
    if case.kind == CaseKind::FakeBts {
        if let Some(l) = case.location {
            position(o, case, l);
            if l.radius_m > 0.0 {
                uncertainty(o, case, l);
            }
        }
        track(o, case);
        let obs: Vec<_> = records.iter().filter_map(|r| r.observation()).collect();
        if !obs.is_empty() {
            observations(o, case, &obs);
        }
    } else {
        for c in located_serving_cells(case, records, ctx.sites) {
            serving_cell(o, case, &c);
        }
    }
    let _ = writeln!(o, "  </Folder>");
}

/// The data every placemark of a case carries.
fn common(case: &Case, feature: &str) -> Vec<(&'static str, String)> {
    vec![
        ("feature", feature.to_string()),
        ("case_id", case.case_id.clone()),
        ("kind", case.kind.as_str().to_string()),
        ("status", case.status.as_str().to_string()),
        ("score", format!("{:.4}", case.score)),
    ]
}

/// The estimated transmitter position of a fake base station.
fn position(o: &mut String, case: &Case, l: Location) {
    let claimed = claimed_label(case);
    let _ = writeln!(o, "    <Placemark>");
    let _ = writeln!(
        o,
        "      <name>{}</name>",
        xml_escape(&format!("estimated position {claimed}"))
    );
    let _ = writeln!(
        o,
        "      <description>{}</description>",
        xml_escape(&format!(
            "estimated transmitter position, uncertainty radius {:.0} m",
            l.radius_m
        ))
    );
    let _ = writeln!(o, "      <styleUrl>#position</styleUrl>");
    let mut d = common(case, "position");
    d.push(("radius_m", format!("{:.1}", l.radius_m)));
    d.push(("claimed_cell", claimed));
    data(o, "      ", &d);
    let _ = writeln!(
        o,
        "      <Point><coordinates>{}</coordinates></Point>",
        coord(l.lat, l.lon)
    );
    let _ = writeln!(o, "    </Placemark>");
}

/// The uncertainty circle as a polygon.
fn uncertainty(o: &mut String, case: &Case, l: Location) {
    let ring: Vec<String> = circle_ring(l.lat, l.lon, l.radius_m, CIRCLE_SEGMENTS)
        .into_iter()
        .map(|(lo, la)| coord(la, lo))
        .collect();
    let _ = writeln!(o, "    <Placemark>");
    let _ = writeln!(o, "      <name>uncertainty {:.0} m</name>", l.radius_m);
    let _ = writeln!(o, "      <styleUrl>#uncertainty</styleUrl>");
    let mut d = common(case, "uncertainty");
    d.push(("radius_m", format!("{:.1}", l.radius_m)));
    data(o, "      ", &d);
    let _ = writeln!(
        o,
        "      <Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></outerBoundaryIs></Polygon>",
        ring.join(" ")
    );
    let _ = writeln!(o, "    </Placemark>");
}

/// The track as a line (two points or more) and its time-stamped points.
fn track(o: &mut String, case: &Case) {
    if case.track.len() >= 2 {
        let coords: Vec<String> = case.track.iter().map(|t| coord(t.lat, t.lon)).collect();
        let _ = writeln!(o, "    <Placemark>");
        let _ = writeln!(o, "      <name>track ({} points)</name>", case.track.len());
        let _ = writeln!(o, "      <styleUrl>#track</styleUrl>");
        data(o, "      ", &common(case, "track"));
        let _ = writeln!(
            o,
            "      <LineString><tessellate>1</tessellate><coordinates>{}</coordinates></LineString>",
            coords.join(" ")
        );
        let _ = writeln!(o, "    </Placemark>");
    }
    for (i, t) in case.track.iter().enumerate() {
        let _ = writeln!(o, "    <Placemark>");
        let _ = writeln!(o, "      <name>{}</name>", i + 1);
        let _ = writeln!(
            o,
            "      <TimeStamp><when>{}</when></TimeStamp>",
            format_ms(t.ts)
        );
        let _ = writeln!(o, "      <styleUrl>#track_point</styleUrl>");
        let mut d = common(case, "track_point");
        d.push(("seq", (i + 1).to_string()));
        data(o, "      ", &d);
        let _ = writeln!(
            o,
            "      <Point><coordinates>{}</coordinates></Point>",
            coord(t.lat, t.lon)
        );
        let _ = writeln!(o, "    </Placemark>");
    }
}

/// A folder of the observations, time-stamped for Google Earth's time slider.
fn observations(o: &mut String, case: &Case, obs: &[Observation]) {
    let _ = writeln!(o, "    <Folder>");
    let _ = writeln!(o, "      <name>observations ({})</name>", obs.len());
    for ob in obs {
        let _ = writeln!(o, "      <Placemark>");
        let _ = writeln!(
            o,
            "        <name>{}</name>",
            xml_escape(
                &ob.signal_dbm
                    .map(|s| format!("{s:.0} dBm"))
                    .unwrap_or_else(|| ob.event.clone())
            )
        );
        let _ = writeln!(
            o,
            "        <TimeStamp><when>{}</when></TimeStamp>",
            format_ms(ob.ts)
        );
        let _ = writeln!(o, "        <styleUrl>#observation</styleUrl>");
        let mut d = common(case, "observation");
        d.push(("reporter", ob.reporter.clone()));
        d.push(("cell", ob.cell.clone()));
        d.push(("event", ob.event.clone()));
        if let Some(s) = ob.signal_dbm {
            d.push(("signal_dbm", fmt_num(s)));
        }
        data(o, "        ", &d);
        let _ = writeln!(
            o,
            "        <Point><coordinates>{}</coordinates></Point>",
            coord(ob.lat, ob.lon)
        );
        let _ = writeln!(o, "      </Placemark>");
    }
    let _ = writeln!(o, "    </Folder>");
}

/// A serving cell of a SIM case at its registered site.
fn serving_cell(o: &mut String, case: &Case, c: &LocatedCell) {
    let _ = writeln!(o, "    <Placemark>");
    let _ = writeln!(
        o,
        "      <name>{}</name>",
        xml_escape(&format!("serving cell {}", c.key))
    );
    let _ = writeln!(o, "      <styleUrl>#serving_cell</styleUrl>");
    let mut d = common(case, "serving_cell");
    d.push(("cell", c.key.to_string()));
    d.push(("records", c.records.to_string()));
    d.push(("sims", case.sims.len().to_string()));
    data(o, "      ", &d);
    let _ = writeln!(
        o,
        "      <Point><coordinates>{}</coordinates></Point>",
        coord(c.lat, c.lon)
    );
    let _ = writeln!(o, "    </Placemark>");
}

/// A complete KML document for `cases`.
pub(crate) fn document(cases: &[Case], ctx: &ExportContext<'_>) -> String {
    let mut o = String::new();
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document>\n");
    let _ = writeln!(o, "  <name>cellwatch cases ({})</name>", cases.len());
    o.push_str(STYLES);
    for c in cases {
        case_folder(&mut o, c, ctx);
    }
    o.push_str("</Document>\n</kml>\n");
    o
}
