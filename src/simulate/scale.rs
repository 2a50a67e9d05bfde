//! Scenario sizes: the public [`Scale`] names and what each means in SIMs, cells,
//! reporters, hours and late records.

use super::sims::SimParams;
use super::SimulateError;
use serde::Serialize;
use std::str::FromStr;

/// Size of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// ≈ 6 h, 3 000 SIMs, 300 cells, 800 reporters, 100–200 k lines (tests).
    Small,
    /// ≈ 24 h, 30 000 SIMs, 1–2 M lines (demo).
    Medium,
    /// ≈ 24 h, 200 000 SIMs, ≥ 5 M lines (throughput benchmarks).
    Large,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }
}

impl FromStr for Scale {
    type Err = SimulateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "large" => Ok(Scale::Large),
            other => Err(SimulateError::UnknownScale(other.to_string())),
        }
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a scale means: event-time hours, target cells, reporters, the SIM
/// population and the late records per feed file.
pub(super) struct ScaleParams {
    pub(crate) hours: i64,
    pub(crate) cells: usize,
    pub(crate) reporters: usize,
    pub(crate) sims: SimParams,
    pub(crate) late_per_file: usize,
}

impl ScaleParams {
    pub(crate) fn of(scale: Scale) -> ScaleParams {
        let heavy_share = [0.005, 0.002, 0.003, 0.005, 0.005];
        match scale {
            Scale::Small => ScaleParams {
                hours: 6,
                cells: 300,
                reporters: 800,
                sims: SimParams {
                    count: 3_000,
                    spam_share: 0.01,
                    spam_min: 20,
                    farms: 1,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 5,
            },
            Scale::Medium => ScaleParams {
                hours: 24,
                cells: 450,
                reporters: 2_000,
                sims: SimParams {
                    count: 30_000,
                    spam_share: 0.005,
                    spam_min: 20,
                    farms: 2,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 20,
            },
            Scale::Large => ScaleParams {
                hours: 24,
                cells: 600,
                reporters: 8_000,
                sims: SimParams {
                    count: 200_000,
                    spam_share: 0.003,
                    spam_min: 20,
                    farms: 3,
                    heavy_share,
                    heavy_min: 5,
                },
                late_per_file: 50,
            },
        }
    }
}
