//! Case filters of `cases list|export`: kind, status, time range, operator, bounding
//! box and minimum score. One `CaseFilter::matches` serves both stores, so a replay
//! folder and ClickHouse answer the same question the same way.

use super::error::InspectError;
use crate::model::{parse_loosely, Case, CaseKind, CaseStatus, UnknownName};
use serde::Serialize;

/// A WGS84 rectangle, `min_lon,min_lat,max_lon,max_lat` (the GeoJSON `bbox` order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub(crate) min_lon: f64,
    pub(crate) min_lat: f64,
    pub(crate) max_lon: f64,
    pub(crate) max_lat: f64,
}

impl BoundingBox {
    /// Parse `min_lon,min_lat,max_lon,max_lat`.
    pub fn parse(text: &str) -> Result<BoundingBox, InspectError> {
        let bad = |message: String| InspectError::Filter {
            flag: "--bbox",
            message,
        };
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(bad(format!(
                "{text:?} must be four numbers min_lon,min_lat,max_lon,max_lat, e.g. 105.7,20.9,106.0,21.1"
            )));
        }
        let mut v = [0f64; 4];
        for (slot, p) in v.iter_mut().zip(&parts) {
            *slot = p
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{p:?} is not a number")))?;
        }
        let [min_lon, min_lat, max_lon, max_lat] = v;
        if !(-180.0..=180.0).contains(&min_lon) || !(-180.0..=180.0).contains(&max_lon) {
            return Err(bad("longitudes must be within -180..180".into()));
        }
        if !(-90.0..=90.0).contains(&min_lat) || !(-90.0..=90.0).contains(&max_lat) {
            return Err(bad("latitudes must be within -90..90".into()));
        }
        if min_lon >= max_lon || min_lat >= max_lat {
            return Err(bad(
                "the minimum must be below the maximum (order: min_lon,min_lat,max_lon,max_lat)"
                    .into(),
            ));
        }
        Ok(BoundingBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    pub(crate) fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }
}

/// Which cases to show. Empty lists and `None` mean "no restriction".
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseFilter {
    pub kinds: Vec<CaseKind>,
    pub statuses: Vec<CaseStatus>,
    /// Cases whose evidence span `[first_seen, last_seen]` reaches `since` or later.
    pub since_ms: Option<i64>,
    /// Cases whose evidence span starts before `until`.
    pub until_ms: Option<i64>,
    /// Operator code (`45204`): the SIM cases' operator, or the PLMN (MCC+MNC) a fake
    /// base station claimed.
    pub operator: Option<String>,
    /// Cases with an estimated position or a track point inside; SIM cases have no
    /// position and never match a bounding box.
    pub bbox: Option<BoundingBox>,
    pub min_score: Option<f64>,
    /// Keep at most this many cases (after sorting by `opened_at`).
    pub limit: Option<usize>,
}

/// Parse a comma-separated list of case kinds (`spam_sim,fake_bts`).
pub fn parse_kinds(text: &str) -> Result<Vec<CaseKind>, InspectError> {
    parse_name_list(text, "--kind")
}

/// Parse a comma-separated list of statuses (`open,handed_over`).
pub fn parse_statuses(text: &str) -> Result<Vec<CaseStatus>, InspectError> {
    parse_name_list(text, "--status")
}

/// Contract names separated by commas, as a person types them ([`parse_loosely`]).
fn parse_name_list<T>(text: &str, flag: &'static str) -> Result<Vec<T>, InspectError>
where
    T: std::str::FromStr<Err = UnknownName>,
{
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_loosely(s).map_err(|e| InspectError::Filter {
                flag,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Parse a minimum score in 0..=1.
pub fn parse_min_score(text: &str) -> Result<f64, InspectError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| (0.0..=1.0).contains(s))
        .ok_or_else(|| InspectError::Filter {
            flag: "--min-score",
            message: format!("{text:?} is not a score; give a number from 0 to 1, e.g. 0.8"),
        })
}

/// The PLMN codes (`MCC` + 2- or 3-digit `MNC`) a claimed identity stands for.
fn plmn_codes(mcc: u16, mnc: u16) -> [String; 2] {
    [format!("{mcc}{mnc:02}"), format!("{mcc}{mnc:03}")]
}

impl CaseFilter {
    /// Check the combination (a range that ends before it starts, an empty operator).
    pub fn validate(&self) -> Result<(), InspectError> {
        if let (Some(s), Some(u)) = (self.since_ms, self.until_ms) {
            if s >= u {
                return Err(InspectError::Filter {
                    flag: "--since/--until",
                    message: "--since must be before --until".into(),
                });
            }
        }
        if let Some(op) = &self.operator {
            if op.trim().is_empty() || op.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(InspectError::Filter {
                    flag: "--operator",
                    message: format!("{op:?} is not an operator code; give e.g. 45204"),
                });
            }
        }
        Ok(())
    }

    /// Whether the case (with its current status already applied) passes.
    pub(crate) fn matches(&self, case: &Case) -> bool {
        self.matches_placed(case, &[])
    }

    /// [`CaseFilter::matches`] for a case also drawn at other places (`(lat, lon)`):
    /// the console places SIM cases at their serving cells' sites, and a bounding
    /// box then keeps a case when one of those places is inside it too.
    pub(crate) fn matches_placed(&self, case: &Case, places: &[(f64, f64)]) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&case.kind) {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&case.status) {
            return false;
        }
        if self.since_ms.is_some_and(|s| case.last_seen < s) {
            return false;
        }
        if self.until_ms.is_some_and(|u| case.first_seen >= u) {
            return false;
        }
        if self.min_score.is_some_and(|m| case.score < m) {
            return false;
        }
        if let Some(op) = &self.operator {
            let sim_match = case.operator.as_deref() == Some(op.as_str());
            let cell_match = case
                .claimed_cell
                .iter()
                .chain(&case.identities)
                .any(|c| plmn_codes(c.mcc, c.mnc).iter().any(|p| p == op));
            if !sim_match && !cell_match {
                return false;
            }
        }
        if let Some(b) = &self.bbox {
            let at_location = case.location.is_some_and(|l| b.contains(l.lat, l.lon));
            let on_track = case.track.iter().any(|p| b.contains(p.lat, p.lon));
            let at_place = places.iter().any(|&(lat, lon)| b.contains(lat, lon));
            if !at_location && !on_track && !at_place {
                return false;
            }
        }
        true
    }

    /// Filter, sort by `opened_at` then `case_id`, and apply the limit.
    pub(crate) fn apply(&self, cases: Vec<Case>) -> Vec<Case> {
        let mut out: Vec<Case> = cases.into_iter().filter(|c| self.matches(c)).collect();
        out.sort_by(case_order);
        if let Some(n) = self.limit {
            out.truncate(n);
        }
        out
    }
}

/// The order of every case list: by `opened_at`, then `case_id`.
pub(crate) fn case_order(a: &Case, b: &Case) -> std::cmp::Ordering {
    a.opened_at
        .cmp(&b.opened_at)
        .then_with(|| a.case_id.cmp(&b.case_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClaimedCell, Location, Rat};

    fn case(id: &str, kind: CaseKind) -> Case {
        Case {
            case_id: id.into(),
            kind,
            status: CaseStatus::Open,
            opened_at: 1_000,
            first_seen: 500,
            last_seen: 2_000,
            score: 0.7,
            operator: None,
            sims: vec![],
            claimed_cell: None,
            identities: vec![],
            location: None,
            track: vec![],
            reasons: vec![],
            evidence_count: 1,
        }
    }

    #[test]
    fn every_criterion_filters() {
        let mut sim = case("s", CaseKind::SpamSim);
        sim.operator = Some("45204".into());
        let mut bts = case("b", CaseKind::FakeBts);
        bts.claimed_cell = Some(ClaimedCell {
            rat: Rat::Gsm,
            mcc: 452,
            mnc: 2,
            lac: 1,
            cid: 2,
            arfcn: None,
        });
        bts.location = Some(Location {
            lat: 21.0,
            lon: 105.8,
            radius_m: 300.0,
        });
        bts.score = 0.95;
        let all = vec![sim.clone(), bts.clone()];
        let f = |f: CaseFilter| -> Vec<String> {
            f.apply(all.clone())
                .into_iter()
                .map(|c| c.case_id)
                .collect()
        };
        assert_eq!(f(CaseFilter::default()), ["b", "s"]);
        assert_eq!(
            f(CaseFilter {
                kinds: vec![CaseKind::FakeBts],
                ..Default::default()
            }),
            ["b"]
        );
        assert_eq!(
            f(CaseFilter {
                operator: Some("45202".into()),
                ..Default::default()
            }),
            ["b"]
        );
        assert_eq!(
            f(CaseFilter {
                operator: Some("45204".into()),
                ..Default::default()
            }),
            ["s"]
        );
        assert_eq!(
            f(CaseFilter {
                min_score: Some(0.9),
                ..Default::default()
            }),
            ["b"]
        );
        let bbox = BoundingBox::parse("105.7,20.9,106.0,21.1").unwrap();
        assert_eq!(
            f(CaseFilter {
                bbox: Some(bbox),
                ..Default::default()
            }),
            ["b"]
        );
        assert!(f(CaseFilter {
            since_ms: Some(2_001),
            ..Default::default()
        })
        .is_empty());
        assert_eq!(
            f(CaseFilter {
                until_ms: Some(501),
                statuses: vec![CaseStatus::Open],
                limit: Some(1),
                ..Default::default()
            })
            .len(),
            1
        );
        let farm_box = CaseFilter {
            bbox: Some(BoundingBox::parse("105.0,20.0,105.1,20.1").unwrap()),
            ..Default::default()
        };
        assert!(
            !farm_box.matches(&sim),
            "a SIM case has no position of its own"
        );
        assert!(farm_box.matches_placed(&sim, &[(20.05, 105.05)]));
        assert!(!farm_box.matches_placed(&sim, &[(21.0, 105.05)]));
        assert!(f(CaseFilter {
            statuses: vec![CaseStatus::Confirmed],
            ..Default::default()
        })
        .is_empty());
    }

    #[test]
    fn malformed_filters_are_refused_with_a_hint() {
        for bad in ["1,2,3", "a,b,c,d", "106,20,105,21", "0,-91,1,1"] {
            let e = BoundingBox::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --bbox"), "{e}");
        }
        assert!(parse_kinds("spam_sim,bts")
            .unwrap_err()
            .to_string()
            .contains("spam_sim, sim_farm or fake_bts"));
        assert_eq!(
            parse_kinds("fake-bts , sim_farm").unwrap(),
            [CaseKind::FakeBts, CaseKind::SimFarm]
        );
        assert!(parse_statuses("open,closed").is_err());
        assert!(parse_min_score("1.5").is_err());
        assert!(parse_min_score("x").is_err());
        assert_eq!(parse_min_score("0.8").unwrap(), 0.8);
        let f = CaseFilter {
            since_ms: Some(10),
            until_ms: Some(5),
            ..Default::default()
        };
        assert!(f.validate().is_err());
    }
}
