//! `GET /api/cells?bbox=…`: the registered cells (`--cells`) inside the map's view,
//! for the map's registered-cell layer (drawn without any base map).

use super::{ApiError, State};
use crate::console::auth::session::Visitor;
use crate::console::query::parse_cells_query;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

#[derive(Serialize)]
struct CellView {
    cell: String,
    radio: &'static str,
    lat: f64,
    lon: f64,
    range_m: f64,
}

#[derive(Serialize)]
struct CellList {
    cells: Vec<CellView>,
    /// More cells are inside the box than `[console] max_cells`.
    truncated: bool,
    /// Registered cells loaded in all.
    loaded: usize,
}

pub(crate) async fn list(
    axum::extract::State(state): axum::extract::State<State>,
    Extension(visitor): Extension<Visitor>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state.reader(&visitor)?;
    let bbox = parse_cells_query(query.as_deref().unwrap_or(""))?;
    let Some(sites) = &state.sites else {
        return Ok(Json(CellList {
            cells: Vec::new(),
            truncated: false,
            loaded: 0,
        })
        .into_response());
    };
    let (cells, truncated) = sites.within(bbox.as_ref(), state.config.max_cells);
    Ok(Json(CellList {
        cells: cells
            .iter()
            .map(|c| CellView {
                cell: c.key.to_string(),
                radio: c.radio.as_str(),
                lat: c.lat,
                lon: c.lon,
                range_m: c.range_m,
            })
            .collect(),
        truncated,
        loaded: sites.count(),
    })
    .into_response())
}
