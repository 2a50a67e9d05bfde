//! `GET /api/cases/{id}/evidence` (the records behind a case and what they say: SIMs
//! and devices of a farm, serving cells, observations of a transmitter, the activity
//! timeline) and `GET /api/cases/{id}/package` (the evidence package of
//! `cases export --evidence`, as a tar archive with its SHA-256 manifest).

use super::{ApiError, State};
use crate::console::auth::session::Visitor;
use crate::inspect::evidence::svg::render_timeline;
use crate::inspect::evidence::{write_package, PackageInput};
use crate::inspect::records::Activity;
use crate::inspect::sims::{self, DeviceSummary, MemberSummary};
use crate::inspect::{EvidenceRecord, Observation};
use crate::model::{Case, CaseKind, CellKey};
use axum::extract::Path;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use std::sync::Arc;

/// Observations of a transmitter sent to the page at most (its map draws them).
const MAX_OBSERVATIONS: usize = 5000;

#[derive(Serialize)]
struct CellUseView {
    cell: String,
    records: u64,
    sims: usize,
    /// The registered site, when `--cells` has the cell.
    lat: Option<f64>,
    lon: Option<f64>,
}

#[derive(Serialize)]
struct ObservationView {
    ts: i64,
    lat: f64,
    lon: f64,
    signal_dbm: Option<f64>,
    reporter: String,
    cell: String,
    event: String,
}

impl From<&Observation> for ObservationView {
    fn from(o: &Observation) -> ObservationView {
        ObservationView {
            ts: o.ts,
            lat: o.lat,
            lon: o.lon,
            signal_dbm: o.signal_dbm,
            reporter: o.reporter.clone(),
            cell: o.cell.clone(),
            event: o.event.clone(),
        }
    }
}

#[derive(Serialize)]
struct EvidenceView<'a> {
    case_id: &'a str,
    total_records: usize,
    /// The first `[console] max_records` records by event time.
    records: &'a [EvidenceRecord],
    truncated: bool,
    members: Vec<MemberSummary>,
    devices: Vec<DeviceSummary>,
    cells: Vec<CellUseView>,
    observations: Vec<ObservationView>,
    observations_total: usize,
    /// SIM cases: one row per SIM, one bar per reporting interval (SVG); empty for
    /// fake base stations (the page draws their observations over time).
    timeline_svg: String,
}

async fn case_and_records(
    state: &State,
    id: &str,
) -> Result<(Case, Arc<Vec<EvidenceRecord>>), ApiError> {
    let store = state.store()?;
    let case = store.get(id.to_string()).await?;
    let records = state
        .records
        .get(&case, || async {
            let mut ev = store.evidence(vec![case.clone()]).await?;
            let mut records = ev.remove(id).unwrap_or_default();
            records.sort_by(|a, b| {
                a.event_time
                    .cmp(&b.event_time)
                    .then(a.source.cmp(&b.source))
            });
            Ok::<_, ApiError>(records)
        })
        .await?;
    Ok((case, records))
}

pub(crate) async fn evidence(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    let (case, records) = case_and_records(&state, &id).await?;
    let acts: Vec<Activity> = records.iter().filter_map(|r| r.activity()).collect();
    let observations: Vec<Observation> = records.iter().filter_map(|r| r.observation()).collect();
    let cells = sims::cell_uses(&acts)
        .into_iter()
        .map(|u| {
            let site = state
                .sites
                .as_ref()
                .zip(CellKey::parse(&u.cell))
                .and_then(|(s, k)| s.get(&k).map(|c| (c.lat, c.lon)));
            CellUseView {
                cell: u.cell,
                records: u.records,
                sims: u.sims,
                lat: site.map(|s| s.0),
                lon: site.map(|s| s.1),
            }
        })
        .collect();
    let shown = records.len().min(state.config.max_records);
    let body = EvidenceView {
        case_id: &case.case_id,
        total_records: records.len(),
        records: &records[..shown],
        truncated: shown < records.len(),
        members: if case.kind == CaseKind::FakeBts {
            Vec::new()
        } else {
            sims::members(&case.sims, &acts)
        },
        devices: sims::devices(&acts),
        cells,
        observations: observations
            .iter()
            .take(MAX_OBSERVATIONS)
            .map(ObservationView::from)
            .collect(),
        observations_total: observations.len(),
        timeline_svg: if case.kind == CaseKind::FakeBts {
            String::new()
        } else {
            render_timeline(&acts, 1000.0, 60)
        },
    };
    Ok(Json(body).into_response())
}

/// A case id as a file name: letters, digits, `.`, `_` and `-` only.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) async fn package(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    let store = state.store()?;
    let (case, records) = case_and_records(&state, &id).await?;
    let history = store.history(id.clone()).await?;
    let source = store.describe();
    let name = format!("evidence-{}", file_safe(&id));
    let state2 = state.clone();
    let name2 = name.clone();
    let tar = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let tmp = std::env::temp_dir().join(format!(
            "cellwatch-console-{}-{}",
            std::process::id(),
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                crate::console::error::random_bytes::<9>()
            )
        ));
        std::fs::create_dir(&tmp).map_err(|e| server_error("create a temporary folder", e))?;
        let dir = tmp.join(&name2);
        let result = (|| {
            write_package(
                &dir,
                &PackageInput {
                    case: &case,
                    history: &history,
                    records: &records,
                    sites: state2.sites.as_deref(),
                    sites_source: state2.sites_source.clone(),
                    source,
                    generated_at_ms: chrono::Utc::now().timestamp_millis(),
                },
            )?;
            let mut b = tar::Builder::new(Vec::new());
            b.append_dir_all(&name2, &dir)
                .map_err(|e| server_error("archive the package", e))?;
            b.into_inner()
                .map_err(|e| server_error("archive the package", e))
        })();
        let _ = std::fs::remove_dir_all(&tmp);
        result
    })
    .await
    .map_err(|e| server_error("build the package", e))??;
    Ok((
        [
            (CONTENT_TYPE, "application/x-tar".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.tar\""),
            ),
        ],
        tar,
    )
        .into_response())
}

fn server_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "console: cannot {what}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot {what}: {e}"),
    )
}
