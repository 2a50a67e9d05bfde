//! The position of a transmitter heard by few phones: the posterior mean of the
//! multilateration's cost over a grid around its least-squares optimum.
//!
//! With a handful of reports (at most `locate_posterior_max_reports`) the optimum is
//! a poor point: inside the region the timing advances allow, the signals of a few
//! phones (often at the top of their reportable range) barely move the cost, so the
//! optimum is wherever the iterations entered that region. The posterior mean is the
//! middle of what the evidence allows, and the posterior covariance is as wide as
//! that region: one phone never gives a 50 m circle.

use super::geometry::PathLoss;
use super::locate::{evaluate, largest_eigenvalue, Fix, Observation, SolverParams, LN10};

/// Posterior mean and covariance of the position under the fit's cost (the power at
/// 1 m profiled out at each point, tempered by the fit's `scale` as its covariance
/// is), over a square grid centred on `fix` wide enough to hold every reporter and
/// three standard deviations of the fit. `None` when the grid carries no mass.
///
/// The grid has `(posterior_coarse_side − 1) · 2^posterior_refine_levels + 1` points
/// a side (33 by default: a step of a sixteenth of the farthest reporter's distance,
/// 60–80 m for a low-power transmitter heard 1–1.3 km away; at 17 the mean of a
/// region a few hundred metres across rested on a handful of points and moved with
/// where they fell). It is evaluated coarse to fine: the coarse points first (17 × 17
/// by default), then at each level the points halfway between the last level's, only
/// where one of those around it has a log-weight within `posterior_refine_margin` of
/// the largest so far. Elsewhere the posterior weighs less than e^−margin of its peak
/// and the point counts as zero; with a margin past the exponent's range (≈ 745) the
/// mean is bit for bit the full grid's. The sums run over the full grid in its order
/// either way.
pub(super) fn posterior_on_grid(
    obs: &[Observation],
    p: &SolverParams,
    fix: &Fix,
    prior: (f64, f64),
    scale: f64,
) -> Option<(f64, f64, [[f64; 2]; 2])> {
    let sd = largest_eigenvalue(fix.cov).max(0.0).sqrt();
    let reach = obs
        .iter()
        .map(|o| (o.x - fix.x).hypot(o.y - fix.y) + 2.0 * o.pos_sigma_m)
        .fold(0.0, f64::max);
    let half = (3.0 * sd).max(reach).max(4.0 * p.min_radius_m);
    let side = ((p.posterior_coarse_side.max(2) - 1) << p.posterior_refine_levels) + 1;
    let step = 2.0 * half / (side - 1) as f64;
    let (costs, least) = grid_costs(
        obs,
        p,
        (fix.x - half, fix.y - half),
        step,
        side,
        prior,
        scale,
    )?;
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..side {
        for j in 0..side {
            let w = (least - costs[i * side + j]).exp();
            let x = -half + i as f64 * step;
            let y = -half + j as f64 * step;
            sw += w;
            sx += w * x;
            sy += w * y;
            sxx += w * x * x;
            sxy += w * x * y;
            syy += w * y * y;
        }
    }
    if sw <= 0.0 || !sw.is_finite() {
        return None;
    }
    let (mx, my) = (sx / sw, sy / sw);
    // a grid point stands for a square of `step`: its own spread (step²/12) adds
    let cell = step * step / 12.0;
    let cxy = sxy / sw - mx * my;
    Some((
        fix.x + mx,
        fix.y + my,
        [
            [sxx / sw - mx * mx + cell, cxy],
            [cxy, syy / sw - my * my + cell],
        ],
    ))
}

/// The tempered cost (minus the log-weight) at each point of the `side` × `side`
/// grid from `origin` by `step` (row `i` along x), coarse to fine as
/// [`posterior_on_grid`] says; `+∞` at the points left out; with the least of them.
/// `None` when no coarse point has a finite cost.
fn grid_costs(
    obs: &[Observation],
    p: &SolverParams,
    origin: (f64, f64),
    step: f64,
    side: usize,
    prior: (f64, f64),
    scale: f64,
) -> Option<(Vec<f64>, f64)> {
    let mut ln_d2 = Vec::with_capacity(obs.len());
    let mut cost_at = |i: usize, j: usize| {
        let x = origin.0 + i as f64 * step;
        let y = origin.1 + j as f64 * step;
        let p0 = p0_from_ln(obs, &p.model, x, y, &mut ln_d2);
        evaluate(obs, p, [x, y, p0], prior, false, |k, _| ln_d2[k]).cost / scale
    };
    let mut costs = vec![f64::INFINITY; side * side];
    let mut least = f64::INFINITY;
    let mut stride = 1 << p.posterior_refine_levels;
    for i in (0..side).step_by(stride) {
        for j in (0..side).step_by(stride) {
            let c = cost_at(i, j);
            costs[i * side + j] = c;
            least = least.min(c);
        }
    }
    if !least.is_finite() {
        return None;
    }
    while stride > 1 {
        let (coarse, h) = (stride, stride / 2);
        let bar = least + p.posterior_refine_margin;
        // the coarser level's points around index k: k itself, or one on each side
        let around = |k: usize| {
            if k % coarse == 0 {
                (k, k)
            } else {
                (k - h, k + h)
            }
        };
        for i in (0..side).step_by(h) {
            let (i0, i1) = around(i);
            for j in (0..side).step_by(h) {
                if i % coarse == 0 && j % coarse == 0 {
                    continue;
                }
                let (j0, j1) = around(j);
                let near = [(i0, j0), (i0, j1), (i1, j0), (i1, j1)]
                    .iter()
                    .map(|&(a, b)| costs[a * side + b])
                    .fold(f64::INFINITY, f64::min);
                if near <= bar {
                    let c = cost_at(i, j);
                    costs[i * side + j] = c;
                    least = least.min(c);
                }
            }
        }
        stride = h;
    }
    Some((costs, least))
}

/// `locate::p0_for` at `(x, y)`, keeping each observation's `ln(d²)` in `ln_d2` for
/// [`evaluate`] at the same point: the same power, computed with the same
/// operations (`powi(2)` is one multiplication), and one logarithm per observation
/// instead of two.
pub(super) fn p0_from_ln(
    obs: &[Observation],
    model: &PathLoss,
    x: f64,
    y: f64,
    ln_d2: &mut Vec<f64>,
) -> f64 {
    let h2 = model.min_distance_m * model.min_distance_m;
    let half_k = 0.5 * model.db_per_decade() / LN10;
    let (mut s, mut n) = (0.0, 0.0);
    ln_d2.clear();
    for o in obs {
        let dx = x - o.x;
        let dy = y - o.y;
        let l = (dx * dx + dy * dy + h2).ln();
        ln_d2.push(l);
        s += o.weight * (o.rss_dbm + half_k * l);
        n += o.weight;
    }
    if n > 0.0 {
        s / n
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::locate::{multilaterate, multilaterate_from, p0_for};
    use super::*;
    use crate::config::FakeBtsConfig;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    /// A low-power transmitter at the origin heard by `n` phones within its reach
    /// (≤ 450 m), signals clipped at the top of the GSM range, GSM timing advances.
    fn few_phones(seed: u64, n: usize) -> Vec<Observation> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = PathLoss::from_config(&FakeBtsConfig::default());
        let shadow = Normal::new(0.0, model.sigma_db).unwrap();
        (0..n)
            .map(|i| {
                let d = rng.random_range(50.0..450.0);
                let a = rng.random_range(0.0..std::f64::consts::TAU);
                let (x, y) = (d * a.cos(), d * a.sin());
                let rss = (model.predicted_rss_dbm(30.0, d) + shadow.sample(&mut rng))
                    .clamp(-110.0, -47.0);
                let ta = (d / 553.5).round() as u16;
                Observation::new(i as i64 * 60_000, x, y, rss, 15.0).with_ta(ta, 553.5)
            })
            .collect()
    }

    /// The detector's solver (default configuration) with the grid, and the same
    /// without it (least squares alone).
    fn with_and_without_grid() -> (SolverParams, SolverParams) {
        let post = SolverParams::from_config(&FakeBtsConfig::default());
        let lsq = SolverParams {
            posterior_max_reports: 0.0,
            ..post
        };
        (post, lsq)
    }

    #[test]
    fn the_grid_s_shared_logarithms_give_the_same_power_and_cost() {
        let p = with_and_without_grid().1;
        let obs: Vec<_> = few_phones(7, 40);
        let mut ln_d2 = Vec::new();
        for (x, y) in [
            (0.0, 0.0),
            (120.5, -80.25),
            (-3000.0, 4000.0),
            (obs[0].x, obs[0].y),
        ] {
            let p0 = p0_for(&obs, &p.model, x, y);
            assert_eq!(
                p0.to_bits(),
                p0_from_ln(&obs, &p.model, x, y, &mut ln_d2).to_bits()
            );
            let a = evaluate(&obs, &p, [x, y, p0], (10.0, 20.0), false, |_, d2| d2.ln());
            let b = evaluate(&obs, &p, [x, y, p0], (10.0, 20.0), false, |i, _| ln_d2[i]);
            assert_eq!(a.cost.to_bits(), b.cost.to_bits());
        }
    }

    #[test]
    fn the_grid_refined_where_the_mass_is_gives_the_full_grid_s_posterior() {
        let (post, _) = with_and_without_grid();
        let full = SolverParams {
            posterior_refine_margin: 800.0,
            ..post
        };
        let coarse = SolverParams {
            posterior_refine_levels: 0,
            ..post
        };
        let (mut far_coarse, mut n) = (0, 0);
        for seed in 0..40 {
            let obs = few_phones(900 + seed, 3 + (seed as usize % 30));
            let Some(fix) = multilaterate(
                &obs,
                &SolverParams {
                    posterior_max_reports: 0.0,
                    ..post
                },
            ) else {
                continue;
            };
            let at = |p: &SolverParams| posterior_on_grid(&obs, p, &fix, (0.0, 0.0), 1.0).unwrap();
            let (a, b, c) = (at(&post), at(&full), at(&coarse));
            assert!(
                (a.0 - b.0).hypot(a.1 - b.1) < 0.01,
                "refined {a:?} full {b:?}"
            );
            assert!((a.2[0][0] - b.2[0][0]).abs() <= 1e-6 * b.2[0][0]);
            // the coarse grid alone is another estimate: the refinement is not idle
            far_coarse += usize::from((c.0 - b.0).hypot(c.1 - b.1) > 0.5);
            n += 1;
        }
        assert!(n >= 30 && far_coarse >= n / 2, "{far_coarse} of {n}");
    }

    #[test]
    fn few_phones_give_the_middle_of_what_they_allow_and_an_honest_radius() {
        let (post, lsq) = with_and_without_grid();
        let (mut e_lsq, mut e_post, mut covered) = (Vec::new(), Vec::new(), 0);
        for seed in 0..40 {
            let obs = few_phones(500 + seed, 3 + (seed as usize % 5));
            let a = multilaterate(&obs, &lsq).unwrap();
            let b = multilaterate(&obs, &post).unwrap();
            e_lsq.push(a.x.hypot(a.y));
            let e = b.x.hypot(b.y);
            e_post.push(e);
            // never a tight circle from a handful of phones
            assert!(b.radius_m(25.0) >= 100.0, "radius {}", b.radius_m(25.0));
            covered += usize::from(e <= b.radius_m(25.0));
        }
        e_lsq.sort_by(f64::total_cmp);
        e_post.sort_by(f64::total_cmp);
        // where the least-squares optimum is already good, the grid keeps it so
        assert!(
            e_post[20] < 150.0 && e_post[20] <= e_lsq[20] + 25.0,
            "median error: posterior {} least squares {}",
            e_post[20],
            e_lsq[20]
        );
        assert!(
            covered >= 34,
            "the 95 % circle holds the truth {covered}/40 times"
        );
    }

    /// Reports of the simulator's low-power transmitter (`cellwatch simulate`, default
    /// scenario seeds 9 and 6, variants `imsi_catcher` and `static_clone` seed 5), in
    /// metres from its true position: `(x, y, signal dBm, timing advance, GPS
    /// accuracy m)`, in arrival order. Three to seven phones, signals mostly at the
    /// top of the GSM range, timing advances 0–1.
    /// `(x, y, signal dBm, timing advance, GPS accuracy m)` of one report.
    type Report = (f64, f64, f64, u16, f64);

    const SIMULATED_LOW_POWER: [&[Report]; 4] = [
        &[
            (-13.0, -332.0, -61.1, 1, 12.5),
            (-212.0, 186.0, -52.3, 1, 8.2),
            (-190.0, 203.0, -51.2, 1, 9.3),
            (-57.0, 35.0, -47.0, 0, 30.3),
            (-90.0, -141.0, -47.0, 0, 19.3),
        ],
        &[
            (97.0, -25.0, -47.0, 0, 21.4),
            (473.0, -325.0, -61.5, 1, 35.4),
            (289.0, -59.0, -50.6, 1, 16.7),
            (219.0, -14.0, -50.3, 0, 17.2),
            (-48.0, -427.0, -54.9, 1, 21.6),
            (58.0, 48.0, -47.0, 0, 15.1),
            (110.0, 38.0, -48.1, 0, 29.3),
        ],
        &[
            (79.0, 67.0, -47.0, 0, 41.3),
            (130.0, 328.0, -47.0, 1, 12.3),
            (-331.0, -21.0, -49.8, 1, 5.2),
        ],
        &[
            (70.0, 105.0, -47.0, 0, 9.4),
            (73.0, 36.0, -47.0, 0, 19.4),
            (128.0, 33.0, -47.0, 0, 37.3),
            (-63.0, 334.0, -52.7, 1, 48.0),
        ],
    ];

    /// Final fix after fitting each growing prefix of `reports`, warm-started from
    /// the previous fix, as the detector localises while reports arrive.
    fn as_reports_arrive(reports: &[Report], p: &SolverParams) -> Fix {
        let mut obs = Vec::new();
        let mut fix: Option<Fix> = None;
        for (i, &(x, y, rss, ta, acc)) in reports.iter().enumerate() {
            obs.push(Observation::new(i as i64 * 60_000, x, y, rss, acc / 1.5).with_ta(ta, 553.5));
            if let Some(f) = multilaterate_from(&obs, p, fix.map(|f| (f.x, f.y))) {
                fix = Some(f);
            }
        }
        fix.unwrap()
    }

    #[test]
    fn the_simulated_low_power_transmitter_is_placed_within_its_honest_radius() {
        let (post, lsq) = with_and_without_grid();
        for reports in SIMULATED_LOW_POWER {
            let b = as_reports_arrive(reports, &post);
            let a = as_reports_arrive(reports, &lsq);
            let (e, r) = (b.x.hypot(b.y), b.radius_m(post.min_radius_m));
            eprintln!(
                "{} phones: posterior {e:.0} m (radius {r:.0}), least squares {:.0} m (radius {:.0})",
                reports.len(),
                a.x.hypot(a.y),
                a.radius_m(post.min_radius_m)
            );
            assert!(e <= 150.0 && e <= r && r >= 150.0, "error {e} radius {r}");
        }
    }
}
