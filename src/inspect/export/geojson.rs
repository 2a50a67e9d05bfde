//! GeoJSON export (RFC 7946, WGS84 `[lon, lat]`): per fake base station its estimated
//! position (Point), uncertainty circle (Polygon, closed counter-clockwise ring),
//! track (LineString) and the observations behind it (Points); per SIM case its
//! serving cells' registered sites (Points) when the inventory is given.
//! Properties are flat scalars so QGIS makes plain attribute columns of them.

use super::{claimed_label, located_serving_cells, round7, ExportContext, CIRCLE_SEGMENTS};
use crate::inspect::geo::circle_ring;
use crate::inspect::records::EvidenceRecord;
use crate::inspect::table::cell_label;
use crate::inspect::time::format_ms;
use crate::model::{Case, CaseKind, Location};
use serde_json::{json, Map, Value};

fn base_props(case: &Case, feature: &str) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("feature".into(), json!(feature));
    p.insert("case_id".into(), json!(case.case_id));
    p.insert("kind".into(), json!(case.kind.as_str()));
    p.insert("status".into(), json!(case.status.as_str()));
    p.insert("score".into(), json!(case.score));
    p
}

fn feature(geometry: Value, props: Map<String, Value>) -> Value {
    json!({ "type": "Feature", "geometry": geometry, "properties": props })
}

fn point(lat: f64, lon: f64) -> Value {
    json!({ "type": "Point", "coordinates": [round7(lon), round7(lat)] })
}

/// The features of one case.
pub(crate) fn case_features(case: &Case, ctx: &ExportContext<'_>) -> Vec<Value> {
    let records = ctx.records(&case.case_id);
    if case.kind != CaseKind::FakeBts {
        return serving_cell_features(case, records, ctx);
    }
    let mut out = Vec::new();
    if let Some(l) = case.location {
        out.push(feature(point(l.lat, l.lon), position_props(case, l)));
        if l.radius_m > 0.0 {
            out.push(uncertainty_feature(case, l));
        }
    }
    if case.track.len() >= 2 {
        out.push(track_feature(case));
    }
    for (i, t) in case.track.iter().enumerate() {
        let mut p = base_props(case, "track_point");
        p.insert("seq".into(), json!(i + 1));
        p.insert("time".into(), json!(format_ms(t.ts)));
        out.push(feature(point(t.lat, t.lon), p));
    }
    for r in records {
        let Some(o) = r.observation() else { continue };
        let mut p = base_props(case, "observation");
        p.insert("time".into(), json!(format_ms(o.ts)));
        p.insert("reporter".into(), json!(o.reporter));
        p.insert("cell".into(), json!(o.cell));
        p.insert("event".into(), json!(o.event));
        if let Some(s) = o.signal_dbm {
            p.insert("signal_dbm".into(), json!(s));
        }
        out.push(feature(point(o.lat, o.lon), p));
    }
    out
}

/// The properties of a fake base station's estimated position: the whole case in brief.
fn position_props(case: &Case, l: Location) -> Map<String, Value> {
    let mut p = base_props(case, "position");
    p.insert("radius_m".into(), json!(l.radius_m));
    p.insert("claimed_cell".into(), json!(claimed_label(case)));
    p.insert(
        "identities".into(),
        json!(case
            .identities
            .iter()
            .map(cell_label)
            .collect::<Vec<_>>()
            .join(";")),
    );
    p.insert("opened_at".into(), json!(format_ms(case.opened_at)));
    p.insert("last_seen".into(), json!(format_ms(case.last_seen)));
    p.insert(
        "reasons".into(),
        json!(case
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>()
            .join(";")),
    );
    p.insert("evidence_count".into(), json!(case.evidence_count));
    p
}

fn uncertainty_feature(case: &Case, l: Location) -> Value {
    let ring: Vec<Value> = circle_ring(l.lat, l.lon, l.radius_m, CIRCLE_SEGMENTS)
        .into_iter()
        .map(|(lo, la)| json!([round7(lo), round7(la)]))
        .collect();
    let mut p = base_props(case, "uncertainty");
    p.insert("radius_m".into(), json!(l.radius_m));
    feature(json!({ "type": "Polygon", "coordinates": [ring] }), p)
}

fn track_feature(case: &Case) -> Value {
    let coords: Vec<Value> = case
        .track
        .iter()
        .map(|t| json!([round7(t.lon), round7(t.lat)]))
        .collect();
    let mut p = base_props(case, "track");
    p.insert("points".into(), json!(case.track.len()));
    p.insert("start".into(), json!(format_ms(case.track[0].ts)));
    p.insert(
        "end".into(),
        json!(format_ms(case.track[case.track.len() - 1].ts)),
    );
    feature(json!({ "type": "LineString", "coordinates": coords }), p)
}

/// A SIM case's serving cells at their registered sites.
fn serving_cell_features(
    case: &Case,
    records: &[EvidenceRecord],
    ctx: &ExportContext<'_>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for c in located_serving_cells(case, records, ctx.sites) {
        let mut p = base_props(case, "serving_cell");
        p.insert("cell".into(), json!(c.key.to_string()));
        p.insert("range_m".into(), json!(c.range_m));
        p.insert("records".into(), json!(c.records));
        p.insert("sims".into(), json!(case.sims.len()));
        if let Some(op) = &case.operator {
            p.insert("operator".into(), json!(op));
        }
        out.push(feature(point(c.lat, c.lon), p));
    }
    out
}

/// A FeatureCollection of every case's features.
pub(crate) fn feature_collection(cases: &[Case], ctx: &ExportContext<'_>) -> Value {
    let features: Vec<Value> = cases.iter().flat_map(|c| case_features(c, ctx)).collect();
    json!({ "type": "FeatureCollection", "features": features })
}
