//! Exports parsed back: GeoJSON (geometry types, `[lon, lat]` order, a closed
//! counter-clockwise uncertainty ring at the right radius, the track, the
//! observations), KML (well-formed XML, placemarks, closed ring, time stamps), CSV and
//! JSON (every case, every column).

mod inspect_support;

use cellwatch::inspect::cells::CellSites;
use cellwatch::inspect::export::{csv::COLUMNS, write_export, ExportContext, ExportFormat};
use cellwatch::inspect::geo::{distance_m, signed_area2};
use cellwatch::inspect::{CaseStore, FolderStore};
use cellwatch::model::Case;
use inspect_support::*;
use serde_json::Value;

fn export(format: ExportFormat, f: &ReplayFolder, with_cells: bool) -> (String, Vec<Case>) {
    let store = FolderStore::open(&f.out).unwrap();
    let rt = runtime();
    let cases = rt.block_on(store.list(&Default::default())).unwrap();
    let sites = with_cells.then(|| CellSites::load(&f.cells).unwrap());
    let ctx = ExportContext {
        evidence: rt.block_on(store.evidence(&cases)).unwrap(),
        sites: sites.as_ref(),
    };
    let mut buf = Vec::new();
    write_export(format, &cases, &ctx, &mut buf).unwrap();
    (String::from_utf8(buf).unwrap(), cases)
}

fn lonlat(v: &Value) -> (f64, f64) {
    let a = v.as_array().expect("a position is an array");
    assert_eq!(a.len(), 2, "positions are [lon, lat]");
    (a[0].as_f64().unwrap(), a[1].as_f64().unwrap())
}

#[test]
fn geojson_has_position_circle_track_and_observations() {
    let f = replay_folder(&all_cases(), 30, 4);
    let (text, _) = export(ExportFormat::GeoJson, &f, true);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    let features = doc["features"].as_array().unwrap();
    let of = |kind: &str| -> Vec<&Value> {
        features
            .iter()
            .filter(|x| x["properties"]["feature"] == kind)
            .collect()
    };
    for feat in features {
        assert_eq!(feat["type"], "Feature");
        assert!(feat["properties"]["case_id"].is_string());
    }
    let bts = fake_bts_case();
    let loc = bts.location.unwrap();

    let pos = of("position");
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0]["geometry"]["type"], "Point");
    let (lon, lat) = lonlat(&pos[0]["geometry"]["coordinates"]);
    assert!(
        (lon - loc.lon).abs() < 1e-6 && (lat - loc.lat).abs() < 1e-6,
        "lon first, lat second"
    );
    assert_eq!(pos[0]["properties"]["radius_m"], 420.0);
    assert_eq!(
        pos[0]["properties"]["claimed_cell"],
        "452-4-14349-38748/GSM"
    );

    let circle = of("uncertainty");
    assert_eq!(circle.len(), 1);
    assert_eq!(circle[0]["geometry"]["type"], "Polygon");
    let rings = circle[0]["geometry"]["coordinates"].as_array().unwrap();
    assert_eq!(rings.len(), 1, "one exterior ring, no holes");
    let ring: Vec<(f64, f64)> = rings[0].as_array().unwrap().iter().map(lonlat).collect();
    assert!(ring.len() > 8, "a circle, not a square");
    assert_eq!(ring.first(), ring.last(), "the ring is closed");
    assert!(
        signed_area2(&ring) > 0.0,
        "RFC 7946 exterior rings are counter-clockwise"
    );
    for (lo, la) in &ring {
        let d = distance_m(loc.lat, loc.lon, *la, *lo);
        assert!((d - 420.0).abs() < 1.0, "vertex {d} m from the centre");
    }

    let track = of("track");
    assert_eq!(track.len(), 1);
    assert_eq!(track[0]["geometry"]["type"], "LineString");
    let pts: Vec<(f64, f64)> = track[0]["geometry"]["coordinates"]
        .as_array()
        .unwrap()
        .iter()
        .map(lonlat)
        .collect();
    assert_eq!(pts.len(), bts.track.len());
    for (p, t) in pts.iter().zip(&bts.track) {
        assert!((p.0 - t.lon).abs() < 1e-6 && (p.1 - t.lat).abs() < 1e-6);
    }
    assert_eq!(of("track_point").len(), bts.track.len());

    let obs = of("observation");
    assert_eq!(obs.len(), 30, "exactly the measurements behind the case");
    for o in &obs {
        assert_eq!(o["geometry"]["type"], "Point");
        let (lo, la) = lonlat(&o["geometry"]["coordinates"]);
        assert!(distance_m(loc.lat, loc.lon, la, lo) < 1_000.0);
        assert!(o["properties"]["time"].as_str().unwrap().ends_with('Z'));
    }

    // SIM cases at their serving cell's registered site (with the inventory)
    let serving = of("serving_cell");
    assert_eq!(serving.len(), 2, "the farm and the spam SIM share one cell");
    let (lo, la) = lonlat(&serving[0]["geometry"]["coordinates"]);
    assert!((lo - 105.834234).abs() < 1e-6 && (la - 21.047877).abs() < 1e-6);
}

#[test]
fn geojson_without_inventory_leaves_sim_cases_out() {
    let f = replay_folder(&all_cases(), 5, 2);
    let (text, _) = export(ExportFormat::GeoJson, &f, false);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["properties"]["case_id"] == "bts-test-1"));
}

/// A minimal element tree, enough to check KML.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.find_all(name, out);
        }
    }
    fn all(&self, name: &str) -> Vec<&Node> {
        let mut v = Vec::new();
        self.find_all(name, &mut v);
        v
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.all(name).into_iter().next()
    }
}

fn parse_xml(text: &str) -> Node {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let mut n = Node {
                    name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                    ..Default::default()
                };
                for a in e.attributes() {
                    let a = a.unwrap();
                    n.attrs.push((
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        String::from_utf8(a.value.to_vec()).unwrap(),
                    ));
                }
                stack.push(n);
            }
            Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                    ..Default::default()
                };
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                    .unwrap_or_else(|| panic!("undefined entity &{name};"));
                stack.last_mut().unwrap().text.push_str(resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element is closed");
    stack.pop().unwrap()
}

fn kml_coords(text: &str) -> Vec<(f64, f64)> {
    text.split_whitespace()
        .map(|t| {
            let p: Vec<f64> = t.split(',').map(|x| x.parse().unwrap()).collect();
            assert_eq!(p.len(), 3, "lon,lat,alt");
            (p[0], p[1])
        })
        .collect()
}

#[test]
fn kml_is_well_formed_with_the_same_geometry() {
    let f = replay_folder(&all_cases(), 20, 3);
    let (text, cases) = export(ExportFormat::Kml, &f, true);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let root = parse_xml(&text);
    let kml = &root.children[0];
    assert_eq!(kml.name, "kml");
    assert!(kml
        .attrs
        .contains(&("xmlns".into(), "http://www.opengis.net/kml/2.2".into())));
    let doc = kml.child("Document").unwrap();
    let folders: Vec<&Node> = doc.children.iter().filter(|c| c.name == "Folder").collect();
    assert_eq!(folders.len(), cases.len(), "one folder per case");
    let bts = folders
        .iter()
        .find(|f| {
            f.children
                .iter()
                .any(|c| c.name == "name" && c.text.starts_with("bts-test-1"))
        })
        .unwrap();
    let loc = fake_bts_case().location.unwrap();

    let points: Vec<&Node> = bts.all("Placemark");
    let by_style = |s: &str| -> Vec<&Node> {
        points
            .iter()
            .copied()
            .filter(|p| {
                p.child("styleUrl")
                    .is_some_and(|u| u.text == format!("#{s}"))
            })
            .collect()
    };
    let pos = by_style("position");
    assert_eq!(pos.len(), 1);
    let c = kml_coords(
        &pos[0]
            .child("Point")
            .unwrap()
            .child("coordinates")
            .unwrap()
            .text,
    );
    assert!((c[0].0 - loc.lon).abs() < 1e-6 && (c[0].1 - loc.lat).abs() < 1e-6);

    let circle = by_style("uncertainty");
    let ring = kml_coords(
        &circle[0]
            .child("outerBoundaryIs")
            .unwrap()
            .child("LinearRing")
            .unwrap()
            .child("coordinates")
            .unwrap()
            .text,
    );
    assert_eq!(ring.first(), ring.last(), "closed LinearRing");
    assert!(ring.len() > 8);
    for (lo, la) in &ring {
        assert!((distance_m(loc.lat, loc.lon, *la, *lo) - 420.0).abs() < 1.0);
    }

    let track = by_style("track");
    assert_eq!(
        kml_coords(
            &track[0]
                .child("LineString")
                .unwrap()
                .child("coordinates")
                .unwrap()
                .text
        )
        .len(),
        4
    );
    let obs = by_style("observation");
    assert_eq!(obs.len(), 20);
    for o in &obs {
        let when = &o.child("TimeStamp").unwrap().child("when").unwrap().text;
        assert!(chrono::DateTime::parse_from_rfc3339(when).is_ok(), "{when}");
    }
    // the description carries escaped text that parses back
    let desc = &bts.child("description").unwrap().text;
    assert!(
        desc.contains("SIGNAL_TOO_STRONG: 21.5 (threshold 12)"),
        "{desc}"
    );
    let data: Vec<&Node> = pos[0].all("Data");
    assert!(data
        .iter()
        .any(|d| d.attrs.contains(&("name".into(), "radius_m".into()))));

    // SIM cases: their serving cell
    let farm = folders
        .iter()
        .find(|f| {
            f.children
                .iter()
                .any(|c| c.name == "name" && c.text.starts_with("farm-test-1"))
        })
        .unwrap();
    let serving = farm.all("Placemark");
    assert_eq!(serving.len(), 1);
    assert!(serving[0].child("name").unwrap().text.contains(FARM_CELL));
}

#[test]
fn csv_and_json_carry_every_case() {
    let f = replay_folder(&all_cases(), 5, 2);
    let (text, cases) = export(ExportFormat::Csv, &f, false);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(headers, COLUMNS);
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    let bts = rows
        .iter()
        .find(|r| &r[col("case_id")] == "bts-test-1")
        .unwrap();
    assert_eq!(&bts[col("kind")], "fake_bts");
    assert_eq!(&bts[col("status")], "open");
    assert_eq!(bts[col("lat")].parse::<f64>().unwrap(), BTS_LAT);
    assert_eq!(
        &bts[col("identities")],
        "452-4-14349-38748/GSM;452-4-14350-38749/GSM"
    );
    assert_eq!(
        &bts[col("reasons")],
        "CELL_NOT_REGISTERED=1/1;SIGNAL_TOO_STRONG=21.5/12"
    );
    assert_eq!(&bts[col("opened_at")], "2026-11-05T01:02:00Z");
    let farm = rows
        .iter()
        .find(|r| &r[col("case_id")] == "farm-test-1")
        .unwrap();
    assert_eq!(&farm[col("sim_count")], "5");
    assert_eq!(farm[col("sims")].split(';').count(), 5);

    let (text, _) = export(ExportFormat::Json, &f, false);
    let back: Vec<Case> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, cases);
}

#[test]
fn cli_export_writes_files_whole_or_not_at_all() {
    let f = replay_folder(&all_cases(), 5, 2);
    let dir = f.out.to_str().unwrap();
    let target = f.root.path().join("cases.geojson");
    let (ok, out, err) = cellwatch(&[
        "cases",
        "export",
        "--from",
        dir,
        "--output",
        target.to_str().unwrap(),
        "--cells",
        f.cells.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.is_empty());
    let v: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let (ok, out, _) = cellwatch(&[
        "cases",
        "export",
        "--from",
        dir,
        "--format",
        "kml",
        "--case",
        "bts-test-1",
    ]);
    assert!(ok);
    assert_eq!(parse_xml(&out).children[0].name, "kml");
    // an unwritable target: error, no partial file
    let bad = f.root.path().join("missing-dir").join("x.csv");
    let (ok, _, err) = cellwatch(&[
        "cases",
        "export",
        "--from",
        dir,
        "--output",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("cannot write"), "{err}");
    assert!(!bad.exists());
}
