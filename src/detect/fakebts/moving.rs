//! Whether a transmitter moves: the short-window fixes of its localisations tested
//! against the fix over all its reports. Kept apart from `emitter.rs` (which holds
//! the transmitter's state) so the test and its reasons read in one place.

use super::locate::Fix;
use crate::config::FakeBtsConfig;

/// χ² with 2 degrees of freedom at 99.9 %.
const CHI2_2DOF_999: f64 = 13.8;

/// What the recent short-window fixes (`short`, in time order; those within the
/// evidence window of `last_seen`) say about a transmitter's movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Displacement {
    /// At least two fixes sit, beyond their combined uncertainty with `all` (χ², 2
    /// dof, 99.9 %), more than `moving_min_displacement_m` away from the fix over the
    /// whole window `all`: the transmitter may have moved, so identity linking treats
    /// it like one seen changing identity (`link.rs`).
    pub(crate) seen: bool,
    /// Two such fixes are also **independent**: their mean report times lie at least
    /// one `track_window_secs` apart. The transmitter is moving: its case shows a
    /// track and the filter's position.
    ///
    /// Consecutive localisations (every `locate_interval_secs`, or sooner as reports
    /// arrive) fit windows of `track_window_secs` that share most of their reports, so
    /// two such fixes are one excursion seen twice, not two: three phones in one
    /// window put a stationary 43 dBm fake's fix 1 km off twice, 20 s apart, and its
    /// case became a track whose prediction ended 336 m from it (lookalikes_radio
    /// seed 4). A moving transmitter keeps leaving its whole-window fix behind, so a
    /// later window shows the displacement again.
    pub(crate) confirmed: bool,
}

/// The [`Displacement`] of the short-window fixes `short` from the whole-window fix
/// `all`.
pub(crate) fn displacement<'a>(
    short: impl IntoIterator<Item = &'a Fix>,
    last_seen: i64,
    all: &Fix,
    cfg: &FakeBtsConfig,
) -> Displacement {
    let from = last_seen - cfg.evidence_window_ms();
    let apart = cfg.track_window_ms();
    let mut last_counted: Option<i64> = None;
    let (mut outliers, mut independent) = (0, 0);
    for f in short
        .into_iter()
        .filter(|f| f.ts_ms > from && displaced(f, all, cfg.moving_min_displacement_m))
    {
        outliers += 1;
        if last_counted.is_none_or(|t| f.ts_ms - t >= apart) {
            last_counted = Some(f.ts_ms);
            independent += 1;
        }
    }
    Displacement {
        seen: outliers >= 2,
        confirmed: independent >= 2,
    }
}

/// Whether short-window fix `f` shows a displacement from the whole-window fix `all`:
/// precise enough to show `min_m` (a few reports from one or two places fit anywhere
/// along a line: such a fit is a thin ellipse whose χ² test passes at kilometres),
/// more than `min_m` away, and beyond their combined uncertainty.
fn displaced(f: &Fix, all: &Fix, min_m: f64) -> bool {
    if f.radius_m(0.0) > min_m {
        return false;
    }
    let dx = f.x - all.x;
    let dy = f.y - all.y;
    let c = [
        [f.cov[0][0] + all.cov[0][0], f.cov[0][1] + all.cov[0][1]],
        [f.cov[1][0] + all.cov[1][0], f.cov[1][1] + all.cov[1][1]],
    ];
    let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
    let d2 = if det > 0.0 {
        (dx * (c[1][1] * dx - c[0][1] * dy) + dy * (-c[1][0] * dx + c[0][0] * dy)) / det
    } else {
        0.0
    };
    dx.hypot(dy) > min_m && d2 > CHI2_2DOF_999
}
