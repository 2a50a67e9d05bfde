//! What a request carries, parsed: the case-list query string (the same filters and
//! value forms as `cellwatch cases list`), the status-change body and the login body.
//!
//! Pure functions over strings and bytes, without HTTP types, so the handlers stay
//! thin and a fuzz target can call them directly. Every refusal is a [`BadRequest`]
//! whose message names the parameter or field and says what would be accepted.

use crate::inspect::filter::{parse_kinds, parse_min_score, parse_statuses};
use crate::inspect::time::parse_time;
use crate::inspect::{BoundingBox, CaseFilter, InspectError};
use crate::model::{parse_loosely, CaseStatus};
use serde::Deserialize;

/// A request the console refuses (400), with the reason for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// The query parameters of `GET /api/cases`.
pub const CASE_QUERY_PARAMS: [&str; 8] = [
    "kind",
    "status",
    "since",
    "until",
    "operator",
    "bbox",
    "min_score",
    "limit",
];

/// A parsed `GET /api/cases` query: the filter and how many cases to return at most.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub filter: CaseFilter,
    pub limit: usize,
}

/// The message of a filter error without the CLI's flag name.
fn filter_message(param: &str, e: InspectError) -> BadRequest {
    match e {
        InspectError::Filter { message, .. } => {
            BadRequest(format!("invalid query parameter {param}: {message}"))
        }
        other => BadRequest(format!("invalid query parameter {param}: {other}")),
    }
}

/// Parse the query string of `GET /api/cases` (without the leading `?`).
/// `kind` and `status` may repeat (their lists are joined); the others may not.
/// Empty values mean "no restriction". `since` / `until` take the forms of
/// `cases list` (dates, RFC 3339, epoch ms, `24h` / `7d` ago from `now_ms`).
pub fn parse_case_query(
    query: &str,
    now_ms: i64,
    max_cases: usize,
) -> Result<CaseQuery, BadRequest> {
    let mut values: [Vec<String>; 8] = Default::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let Some(i) = CASE_QUERY_PARAMS.iter().position(|p| *p == k) else {
            return Err(BadRequest(format!(
                "unknown query parameter {:?}; use {}",
                truncate(&k, 40),
                CASE_QUERY_PARAMS.join(", ")
            )));
        };
        if !v.trim().is_empty() {
            values[i].push(v.into_owned());
        }
    }
    let one = |i: usize| -> Result<Option<&str>, BadRequest> {
        match values[i].as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v.as_str())),
            _ => Err(BadRequest(format!(
                "query parameter {} is given more than once",
                CASE_QUERY_PARAMS[i]
            ))),
        }
    };
    let joined = |i: usize| values[i].join(",");
    let time = |i: usize| -> Result<Option<i64>, BadRequest> {
        one(i)?
            .map(|t| {
                parse_time(t, now_ms).map_err(|m| {
                    BadRequest(format!(
                        "invalid query parameter {}: {m}",
                        CASE_QUERY_PARAMS[i]
                    ))
                })
            })
            .transpose()
    };
    let filter = CaseFilter {
        kinds: parse_kinds(&joined(0)).map_err(|e| filter_message("kind", e))?,
        statuses: parse_statuses(&joined(1)).map_err(|e| filter_message("status", e))?,
        since_ms: time(2)?,
        until_ms: time(3)?,
        operator: one(4)?.map(|s| s.trim().to_string()),
        bbox: one(5)?
            .map(BoundingBox::parse)
            .transpose()
            .map_err(|e| filter_message("bbox", e))?,
        min_score: one(6)?
            .map(parse_min_score)
            .transpose()
            .map_err(|e| filter_message("min_score", e))?,
        limit: None,
    };
    filter.validate().map_err(|e| match e {
        InspectError::Filter { message, .. } => BadRequest(format!(
            "invalid query: {}",
            message
                .replace("--since", "since")
                .replace("--until", "until")
        )),
        other => BadRequest(format!("invalid query: {other}")),
    })?;
    let limit = match one(7)? {
        None => max_cases,
        Some(t) => t
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max_cases).contains(n))
            .ok_or_else(|| {
                BadRequest(format!(
                    "invalid query parameter limit: {:?} is not a number from 1 to {max_cases}",
                    truncate(t, 40)
                ))
            })?,
    };
    Ok(CaseQuery { filter, limit })
}

/// Parse the query string of `GET /api/cells`: an optional `bbox`.
pub fn parse_cells_query(query: &str) -> Result<Option<BoundingBox>, BadRequest> {
    let mut bbox = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "bbox" {
            return Err(BadRequest(format!(
                "unknown query parameter {:?}; use bbox",
                truncate(&k, 40)
            )));
        }
        if bbox.is_some() {
            return Err(BadRequest(
                "query parameter bbox is given more than once".into(),
            ));
        }
        if !v.trim().is_empty() {
            bbox = Some(BoundingBox::parse(&v).map_err(|e| filter_message("bbox", e))?);
        }
    }
    Ok(bbox)
}

/// The body of `POST /api/cases/{id}/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRequest {
    pub status: CaseStatus,
    pub note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    note: String,
}

/// Parse `{"status": "handed_over", "note": "…"}`. Whether the step is allowed and
/// the note acceptable is the lifecycle's decision ([`crate::inspect::set_status`]).
pub fn parse_status_body(body: &[u8]) -> Result<StatusRequest, BadRequest> {
    let b: StatusBody = json_body(body, r#"{"status": "handed_over", "note": "why"}"#, true)?;
    let status = parse_loosely::<CaseStatus>(&b.status).map_err(|_| {
        BadRequest(format!(
            "status {:?} is not a status; use handed_over, confirmed or dismissed",
            truncate(&b.status, 40)
        ))
    })?;
    Ok(StatusRequest {
        status,
        note: b.note,
    })
}

/// The body of `POST /api/login`. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"********")
            .finish()
    }
}

/// Parse `{"user": "…", "password": "…"}`.
pub fn parse_login_body(body: &[u8]) -> Result<LoginRequest, BadRequest> {
    json_body(body, r#"{"user": "name", "password": "…"}"#, false)
}

/// A JSON object body of type `T`; the error shows the expected shape. serde's own
/// message (which may quote a value) is added only when `echo` is true: a login body
/// holds a password, so its errors say only where the body went wrong.
fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
    echo: bool,
) -> Result<T, BadRequest> {
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data if echo => e.to_string(),
            serde_json::error::Category::Data => "a field is missing, unknown or not text".into(),
            _ => format!("not JSON at line {} column {}", e.line(), e.column()),
        };
        BadRequest(format!("the request body must be {shape}: {what}"))
    })
}

/// At most `n` characters of `s`, for echoing input in messages.
fn truncate(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaseKind;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn the_query_takes_the_cli_filters() {
        let q = parse_case_query(
            "kind=fake_bts&kind=sim_farm&status=open,handed_over&since=24h&until=&operator=45204&bbox=105.7%2C20.9%2C106.0%2C21.1&min_score=0.8&limit=10",
            NOW,
            100,
        )
        .unwrap();
        assert_eq!(q.filter.kinds, [CaseKind::FakeBts, CaseKind::SimFarm]);
        assert_eq!(
            q.filter.statuses,
            [CaseStatus::Open, CaseStatus::HandedOver]
        );
        assert_eq!(q.filter.since_ms, Some(NOW - 86_400_000));
        assert_eq!(q.filter.until_ms, None, "an empty value is no restriction");
        assert_eq!(q.filter.operator.as_deref(), Some("45204"));
        assert!(q.filter.bbox.is_some());
        assert_eq!(q.filter.min_score, Some(0.8));
        assert_eq!(q.limit, 10);
        assert_eq!(parse_case_query("", NOW, 100).unwrap().limit, 100);
    }

    #[test]
    fn bad_queries_name_the_parameter() {
        let e = |q: &str| parse_case_query(q, NOW, 100).unwrap_err().0;
        assert!(
            e("kind=bts").starts_with("invalid query parameter kind:"),
            "{}",
            e("kind=bts")
        );
        assert!(e("colour=red").contains("unknown query parameter \"colour\""));
        assert!(e("bbox=1,2,3").contains("invalid query parameter bbox"));
        assert!(e("min_score=2").contains("min_score"));
        assert!(e("limit=0").contains("from 1 to 100"));
        assert!(e("limit=101").contains("from 1 to 100"));
        assert!(e("operator=1&operator=2").contains("more than once"));
        assert!(e("since=2026-01-02&until=2026-01-01").contains("since must be before until"));
        assert!(e("since=yesterday").contains("invalid query parameter since"));
        assert!(e("%ff=1").contains("unknown query parameter"));
    }

    #[test]
    fn cells_queries() {
        assert!(parse_cells_query("").unwrap().is_none());
        assert!(parse_cells_query("bbox=105,20,106,21").unwrap().is_some());
        assert!(parse_cells_query("bbox=1").is_err());
        assert!(parse_cells_query("x=1").is_err());
        assert!(parse_cells_query("bbox=105,20,106,21&bbox=105,20,106,21").is_err());
    }

    #[test]
    fn status_bodies() {
        let r = parse_status_body(br#"{"status":"handed_over","note":"to the police"}"#).unwrap();
        assert_eq!(r.status, CaseStatus::HandedOver);
        assert_eq!(r.note, "to the police");
        for bad in [
            &br#"{"status":"closed","note":"x"}"#[..],
            br#"{"status":"confirmed"}"#,
            br#"{"status":"confirmed","note":"x","actor":"mallory"}"#,
            br#"["confirmed"]"#,
            b"\xff\xfe",
            b"",
        ] {
            let e = parse_status_body(bad).unwrap_err().0;
            assert!(e.contains("status") || e.contains("body"), "{e}");
        }
        let e = parse_status_body(br#"{"status":"confirmed","note":"x","actor":"mallory"}"#)
            .unwrap_err()
            .0;
        assert!(
            e.contains("unknown field `actor`"),
            "the actor is the session's user: {e}"
        );
    }

    #[test]
    fn login_bodies_never_echo_the_password() {
        let r = parse_login_body(br#"{"user":"alice","password":"hunter2-hunter2"}"#).unwrap();
        assert_eq!(r.user, "alice");
        assert!(!format!("{r:?}").contains("hunter2"));
        let e = parse_login_body(br#"{"user":"alice","password":"hunter2-hunter2""#)
            .unwrap_err()
            .0;
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse_login_body(br#"{"user":"alice","password":12345}"#)
            .unwrap_err()
            .0;
        assert!(!e.contains("12345"), "{e}");
    }
}
