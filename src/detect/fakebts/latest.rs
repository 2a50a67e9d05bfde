//! Where a moving transmitter is at its last report, and how sure: the tracking
//! filter at its last short-window fix, with the uncertainty of the time since.
//!
//! A short-window fix needs several reports from several places within
//! `track_window_secs`; a blaster that apps and MDT hear every few minutes goes
//! minutes without one. Its case's position used to be the filter's prediction from
//! the last fix, the velocity extrapolated for up to a track window: the velocity of
//! fixes a few hundred metres and a minute or so apart is mostly noise, and a road
//! vehicle turns and stops at corners, so the position ran hundreds of metres off
//! (outside radio scenario: 486–857 m). The last filtered position is the better
//! guess (`track_predict_max_secs`, default 0); its radius is not the fix's alone
//! but grows with the time since: the filter's covariance propagated to the last
//! report, plus the displacement its velocity would have extrapolated and did not.
//! The phones with a timing advance that heard it in the last
//! `track_since_fix_secs` after that fix then pull the position within their reach.

use super::emitter::Emitter;
use super::geometry::PathLoss;
use super::locate::{largest_eigenvalue, Observation};
use super::track::Kalman;
use crate::config::FakeBtsConfig;

impl Emitter {
    /// A moving transmitter's position at its last report and its ≈ 95 % radius
    /// ([`position_at`] of its filter `k`), at most the distance to the phone of its
    /// last report plus that phone's [`reach_of`]: that phone heard it then, so it
    /// was within its reach (after a silence of ten minutes the filter's radius is
    /// kilometres; a phone hearing it now bounds it to hundreds of metres).
    pub(crate) fn latest_position(&self, k: &Kalman, cfg: &FakeBtsConfig) -> (f64, f64, f64) {
        let (mut x, mut y, radius) = position_at(k, self.last_seen, cfg.track_predict_max_ms());
        let Some(last) = self.observations.back().map(|o| o.observation()) else {
            return (x, y, radius);
        };
        let heard = self.heard_radius(PathLoss::from_config(cfg).db_per_decade());
        let bound = (last.x - x).hypot(last.y - y) + reach_of(&last, heard) + last.pos_sigma_m;
        let window = cfg.track_since_fix_ms();
        let bounded = radius.min(bound);
        if window > 0 && bounded <= cfg.association_radius_m {
            let since = k.ts_ms().max(self.last_seen.saturating_sub(window));
            let recent = self.observations.iter().rev().map(|o| o.observation());
            let recent: Vec<Observation> = recent.take_while(|o| o.ts_ms > since).collect();
            (x, y) = within_reach(x, y, bounded, recent.iter().rev(), heard);
            let bound = (last.x - x).hypot(last.y - y) + reach_of(&last, heard) + last.pos_sigma_m;
            return (x, y, bounded.min(bound));
        }
        (x, y, radius.min(bound))
    }
}

/// `(x, y)` moved, report by report in `reports`' order, to the nearest point within
/// each report's phone's reach (plus its position σ); a report whose phone lies
/// beyond `radius` plus that reach contradicts the position and is skipped, and so is
/// one without a timing advance (a signal alone bounds nothing: a distant real
/// cell's report looks the same).
fn within_reach<'a>(
    mut x: f64,
    mut y: f64,
    radius: f64,
    reports: impl Iterator<Item = &'a Observation>,
    heard_m: f64,
) -> (f64, f64) {
    for o in reports.filter(|o| o.ta_hi_m.is_finite()) {
        let reach = reach_of(o, heard_m) + o.pos_sigma_m;
        let d = (x - o.x).hypot(y - o.y);
        if d > reach && d <= radius + reach {
            x = o.x + (x - o.x) * reach / d;
            y = o.y + (y - o.y) * reach / d;
        }
    }
    (x, y)
}

/// How far from the phone of `o` its transmitter can be: its timing advance's outer
/// bound, a whole step past the value (its start or its middle, whichever convention
/// the network rounds by), when the report has one; else `heard_m`, how far from the
/// transmitter the phones hear it.
pub(crate) fn reach_of(o: &Observation, heard_m: f64) -> f64 {
    if o.ta_lo_m.is_finite() && o.ta_hi_m.is_finite() {
        // a value of 0 is the interval [0, step / 2], any other [c − step / 2, c + step / 2]
        let step = if o.ta_lo_m > 0.0 {
            o.ta_hi_m - o.ta_lo_m
        } else {
            2.0 * o.ta_hi_m
        };
        o.ta_hi_m + step / 2.0
    } else {
        heard_m
    }
}

/// Where the filter `k` puts the transmitter at `ts_ms`: its velocity extrapolated
/// over `max_predict_ms` at most; the ≈ 95 % radius (2.45 × the larger σ) of its
/// covariance propagated to `ts_ms`, plus the outer product of the displacement left
/// out (the transmitter may have gone on at that velocity).
pub(crate) fn position_at(k: &Kalman, ts_ms: i64, max_predict_ms: i64) -> (f64, f64, f64) {
    let horizon = k.ts_ms().saturating_add(max_predict_ms.max(0));
    let (x, y) = k.predicted(ts_ms.min(horizon)).position();
    let full = k.predicted(ts_ms);
    let (fx, fy) = full.position();
    let (dx, dy) = (fx - x, fy - y);
    let c = full.position_cov();
    let cov = [
        [c[0][0] + dx * dx, c[0][1] + dx * dy],
        [c[1][0] + dx * dy, c[1][1] + dy * dy],
    ];
    (x, y, 2.45 * largest_eigenvalue(cov).max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filter that saw a car drive east at 10 m/s for ten minutes, fixes every
    /// minute to within 100 m.
    fn driving_east() -> Kalman {
        let r = [[1e4, 0.0], [0.0, 1e4]];
        let mut k = Kalman::new(0, 0.0, 0.0, r, 0.5, 10.0);
        for step in 1..=10 {
            k.update(step * 60_000, 600.0 * step as f64, 0.0, r);
        }
        k
    }

    #[test]
    fn the_position_is_the_last_filtered_one_with_the_time_since_in_its_radius() {
        let k = driving_east();
        let (x0, y0, r0) = position_at(&k, k.ts_ms(), 0);
        assert!(
            (x0 - 6_000.0).abs() < 150.0 && y0.abs() < 150.0,
            "{x0} {y0}"
        );
        // two minutes later, nothing heard since: not moved, but less sure, by more
        // than the 1 200 m it may have driven
        let (x, y, r) = position_at(&k, k.ts_ms() + 120_000, 0);
        assert_eq!((x, y), (x0, y0));
        assert!(r > r0 + 1_000.0, "r {r} r0 {r0}");
        // extrapolated instead: moved on by the velocity, the radius the covariance's
        let (xe, _, re) = position_at(&k, k.ts_ms() + 120_000, 180_000);
        assert!((xe - x0 - 1_200.0).abs() < 300.0, "{xe}");
        assert!(re < r, "re {re} r {r}");
    }

    #[test]
    fn the_position_moves_within_reach_of_the_phones_since_the_fix_and_no_farther() {
        // a phone with timing advance 0 (GSM: within 553.5 m) 1 000 m east of the fix
        let near = Observation::new(0, 1_000.0, 0.0, -80.0, 5.0).with_ta(0, 553.5);
        let (x, y) = within_reach(0.0, 0.0, 1_500.0, [near].iter(), 700.0);
        assert!(
            (x - (1_000.0 - 558.5)).abs() < 1e-6 && y.abs() < 1e-9,
            "{x} {y}"
        );
        // already within its reach: unchanged
        let (x, y) = within_reach(600.0, 0.0, 1_500.0, [near].iter(), 700.0);
        assert_eq!((x, y), (600.0, 0.0));
        // a phone 7 km off contradicts a filter sure to 1.5 km: skipped
        let far = Observation::new(0, 7_000.0, 0.0, -80.0, 5.0).with_ta(0, 553.5);
        assert_eq!(
            within_reach(0.0, 0.0, 1_500.0, [far].iter(), 700.0),
            (0.0, 0.0)
        );
        // no timing advance: a signal alone bounds nothing, skipped
        let app = Observation::new(0, 1_000.0, 0.0, -80.0, 5.0);
        assert_eq!(
            within_reach(0.0, 0.0, 1_500.0, [app].iter(), 700.0),
            (0.0, 0.0)
        );
    }

    #[test]
    fn a_phone_reaches_a_whole_timing_advance_step_past_its_value_else_as_far_as_heard() {
        let o = Observation::new(0, 0.0, 0.0, -80.0, 5.0);
        assert_eq!(reach_of(&o, 700.0), 700.0);
        assert!((reach_of(&o.with_ta(0, 553.5), 700.0) - 553.5).abs() < 1e-9);
        assert!((reach_of(&o.with_ta(1, 553.5), 700.0) - 1_107.0).abs() < 1e-9);
        assert!((reach_of(&o.with_ta(2, 78.0), 700.0) - 234.0).abs() < 1e-9);
    }
}
