//! Localisation of a transmitter from the reports that heard it: a signal-weighted
//! centroid as the start, refined by robust least-squares multilateration on the
//! log-distance path-loss model with the transmitter's power as a free parameter.
//!
//! Timing advance, where reported, adds a range interval per observation (GSM steps
//! of 553.5 m, LTE 78 m): a residual only when the candidate position is outside it.
//!
//! With few reports the fix is the posterior mean over a grid instead (`posterior.rs`).
//!
//! Work is linear in the number of observations: a fixed number of Levenberg–Marquardt
//! iterations from a fixed number of starting points, each pass O(observations).
//! Observations may be spatial bins ([`bin_observations`], weight = reports), which
//! bounds the work by the footprint's occupied cells, and a fit may be warm-started
//! from the previous one (`multilaterate_from`).
#![allow(clippy::needless_range_loop)]

use super::geometry::PathLoss;
use super::rules::ta_step_m;
use crate::config::FakeBtsConfig;
use crate::model::CellMeasurement;

/// One report of the transmitter in a [`super::geometry::LocalFrame`] (metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub ts_ms: i64,
    pub x: f64,
    pub y: f64,
    /// Received power, dBm.
    pub rss_dbm: f64,
    /// Standard deviation of the reporter position (GPS accuracy), metres.
    pub pos_sigma_m: f64,
    /// Range interval implied by the timing advance, metres; `NAN` when none.
    pub ta_lo_m: f64,
    pub ta_hi_m: f64,
    /// Reports this observation stands for (1, or a spatial bin's count; see
    /// [`bin_observations`]); `rss_dbm` is then their mean.
    pub weight: f64,
    /// Sum of squared deviations of the binned reports' signal from their mean, dB²
    /// (0 for a single report): keeps the fit's residual scale exact under binning.
    pub rss_ss: f64,
}

impl Observation {
    /// An observation without timing advance.
    pub fn new(ts_ms: i64, x: f64, y: f64, rss_dbm: f64, pos_sigma_m: f64) -> Self {
        Observation {
            ts_ms,
            x,
            y,
            rss_dbm,
            pos_sigma_m,
            ta_lo_m: f64::NAN,
            ta_hi_m: f64::NAN,
            weight: 1.0,
            rss_ss: 0.0,
        }
    }

    /// The observation one report gives at local position `(x, y)`: its signal (`NAN`
    /// when it has none), its GPS accuracy (default 30 m) as the position's σ, and the
    /// range interval of its timing advance (steps of its RAT). This is how the
    /// detector turns reports into observations; public for analysis tools
    /// (tests/fakebts_quality.rs), which must localise exactly as the detector does.
    pub fn of_report(m: &CellMeasurement, x: f64, y: f64) -> Self {
        let o = Observation::new(
            m.ts_ms,
            x,
            y,
            m.signal_dbm.map_or(f64::NAN, f64::from),
            f64::from(m.accuracy_m.unwrap_or(30.0)).max(1.0) / 1.5,
        );
        match (m.ta, ta_step_m(m.rat)) {
            (Some(ta), Some(step)) => o.with_ta(ta, step),
            _ => o,
        }
    }

    /// Attach the range interval of a timing advance `ta` of `step_m` metres per step.
    pub(crate) fn with_ta(mut self, ta: u16, step_m: f64) -> Self {
        let centre = f64::from(ta) * step_m;
        self.ta_lo_m = (centre - step_m / 2.0).max(0.0);
        self.ta_hi_m = centre + step_m / 2.0;
        self
    }
}

/// Aggregate observations into square cells of `bin_m` metres (and equal timing
/// advance): one observation per occupied cell with the mean position, mean signal,
/// root-mean-square position σ, mean event time and the count as weight. The
/// least-squares problem keeps its normal equations (the within-cell signal variance
/// is carried in `rss_ss`), and the solver's work becomes bounded by the footprint's
/// occupied cells instead of the report count: a fixed probe reporting every minute
/// costs one cell. Observations without a finite signal are dropped. `bin_m ≤ 0`
/// copies them unchanged. O(n) expected (hashing), output in first-seen order.
pub fn bin_observations(obs: &[Observation], bin_m: f64) -> Vec<Observation> {
    let finite = obs.iter().filter(|o| o.rss_dbm.is_finite());
    if bin_m <= 0.0 || !bin_m.is_finite() {
        return finite.copied().collect();
    }
    #[derive(Clone, Copy)]
    struct Acc {
        n: f64,
        sx: f64,
        sy: f64,
        srss: f64,
        srss2: f64,
        spos2: f64,
        sts: i128,
        ta_lo: f64,
        ta_hi: f64,
    }
    let inv = 1.0 / bin_m;
    let mut slot: hashbrown::HashMap<(i64, i64, u64), usize> =
        hashbrown::HashMap::with_capacity(obs.len().min(1024));
    let mut accs: Vec<Acc> = Vec::new();
    for o in finite {
        let key = (
            (o.x * inv).floor() as i64,
            (o.y * inv).floor() as i64,
            if o.ta_hi_m.is_finite() {
                o.ta_hi_m.to_bits()
            } else {
                u64::MAX
            },
        );
        let w = o.weight;
        let i = *slot.entry(key).or_insert_with(|| {
            accs.push(Acc {
                n: 0.0,
                sx: 0.0,
                sy: 0.0,
                srss: 0.0,
                srss2: 0.0,
                spos2: 0.0,
                sts: 0,
                ta_lo: o.ta_lo_m,
                ta_hi: o.ta_hi_m,
            });
            accs.len() - 1
        });
        let a = &mut accs[i];
        a.n += w;
        a.sx += w * o.x;
        a.sy += w * o.y;
        a.srss += w * o.rss_dbm;
        // an input that is itself a bin brings its own spread around its mean
        a.srss2 += w * o.rss_dbm * o.rss_dbm + o.rss_ss;
        a.spos2 += w * o.pos_sigma_m * o.pos_sigma_m;
        a.sts += i128::from(o.ts_ms) * (w.round().max(1.0) as i128);
    }
    accs.iter()
        .filter(|a| a.n > 0.0)
        .map(|a| {
            let mean_rss = a.srss / a.n;
            Observation {
                ts_ms: (a.sts / (a.n.round().max(1.0) as i128)) as i64,
                x: a.sx / a.n,
                y: a.sy / a.n,
                rss_dbm: mean_rss,
                pos_sigma_m: (a.spos2 / a.n).sqrt(),
                ta_lo_m: a.ta_lo,
                ta_hi_m: a.ta_hi,
                weight: a.n,
                rss_ss: (a.srss2 - a.n * mean_rss * mean_rss).max(0.0),
            }
        })
        .collect()
}

/// Tunables of the solver (from [`FakeBtsConfig`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverParams {
    pub(crate) model: PathLoss,
    /// Huber threshold in standard deviations: residuals beyond it count linearly.
    pub(crate) huber_k: f64,
    /// Standard deviation of a range just outside its timing-advance interval, metres.
    pub(crate) ta_sigma_m: f64,
    /// Standard deviation of the weak prior pulling the position towards the centroid,
    /// metres; keeps one-sided geometries from running away.
    pub(crate) prior_sigma_m: f64,
    pub(crate) max_iterations: usize,
    /// Smallest reported uncertainty radius, metres.
    pub(crate) min_radius_m: f64,
    /// Up to this many reports (total weight), the fix is the posterior mean over a
    /// grid (`posterior.rs`); 0 never.
    pub(crate) posterior_max_reports: f64,
    /// Points a side of the posterior grid's coarse pass (`posterior.rs`).
    pub(crate) posterior_coarse_side: usize,
    /// Times the posterior grid's step is halved after the coarse pass.
    pub(crate) posterior_refine_levels: usize,
    /// Log-weight below the coarse pass's peak under which the grid is not refined.
    pub(crate) posterior_refine_margin: f64,
}

impl SolverParams {
    /// The solver of `[fakebts]`: the radio model with the wider σ of a position fit.
    pub fn from_config(cfg: &FakeBtsConfig) -> SolverParams {
        SolverParams {
            model: PathLoss {
                sigma_db: cfg.locate_rss_sigma_db,
                ..PathLoss::from_config(cfg)
            },
            huber_k: cfg.huber_k,
            ta_sigma_m: cfg.ta_sigma_m,
            prior_sigma_m: cfg.prior_sigma_m,
            max_iterations: 40,
            min_radius_m: cfg.min_radius_m,
            posterior_max_reports: cfg.locate_posterior_max_reports as f64,
            posterior_coarse_side: cfg.locate_posterior_coarse_side,
            posterior_refine_levels: cfg.locate_posterior_refine_levels,
            posterior_refine_margin: cfg.locate_posterior_refine_margin,
        }
    }
}

/// A position estimate with its covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub x: f64,
    pub y: f64,
    /// Fitted received power extrapolated to 1 m, dBm.
    pub p0_dbm: f64,
    /// Position covariance, m².
    pub(crate) cov: [[f64; 2]; 2],
    /// Root-mean-square residual, dB.
    pub rms_db: f64,
    /// Observations used.
    pub(crate) n: usize,
    /// Mean event time of the observations used.
    pub ts_ms: i64,
}

impl Fix {
    /// Radius of a circle holding the transmitter with ≈ 95 % probability
    /// (2.45 × the larger standard deviation of the error ellipse), floored.
    pub fn radius_m(&self, min_radius_m: f64) -> f64 {
        (2.45 * largest_eigenvalue(self.cov).max(0.0).sqrt()).max(min_radius_m)
    }
}

/// Largest eigenvalue of a symmetric 2×2 matrix.
pub(crate) fn largest_eigenvalue(m: [[f64; 2]; 2]) -> f64 {
    let tr = m[0][0] + m[1][1];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
    tr / 2.0 + disc
}

/// Centroid of the reporter positions weighted by the distance the path-loss model
/// infers from each signal (weight ∝ 1 / estimated distance): near reporters count more.
pub fn weighted_centroid(obs: &[Observation], model: &PathLoss) -> Option<(f64, f64)> {
    let max_rss = obs
        .iter()
        .map(|o| o.rss_dbm)
        .fold(f64::NEG_INFINITY, f64::max);
    if !max_rss.is_finite() {
        return None;
    }
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    for o in obs {
        let w = o.weight * 10f64.powf((o.rss_dbm - max_rss) / model.db_per_decade());
        sx += w * o.x;
        sy += w * o.y;
        sw += w;
    }
    (sw > 0.0).then(|| (sx / sw, sy / sw))
}

pub(super) const LN10: f64 = std::f64::consts::LN_10;

pub(super) struct Eval {
    pub(super) cost: f64,
    /// Normal matrix and gradient of the weighted, linearised problem (x, y, p0).
    a: [[f64; 3]; 3],
    g: [f64; 3],
    chi2: f64,
}

/// The cost (and, `want_normal`, the normal equations) at `theta`; `ln_d2(i, d²)` is
/// observation `i`'s `ln(d²)`: `d².ln()`, or in the posterior grid the value its
/// power fit at the same point computed (`posterior::p0_from_ln`): one logarithm there.
pub(super) fn evaluate(
    obs: &[Observation],
    p: &SolverParams,
    theta: [f64; 3],
    prior: (f64, f64),
    want_normal: bool,
    ln_d2: impl Fn(usize, f64) -> f64,
) -> Eval {
    let m = &p.model;
    let k = m.db_per_decade() / LN10;
    // predicted rss = p0 − 10 n log10(d) = p0 − half_k · ln(d²): one ln per observation
    let half_k = 0.5 * k;
    let h2 = m.min_distance_m * m.min_distance_m;
    let sigma2 = m.sigma_db * m.sigma_db;
    let ta2 = p.ta_sigma_m * p.ta_sigma_m;
    let mut a = [[0.0; 3]; 3];
    let mut g = [0.0; 3];
    let mut cost = 0.0;
    let mut chi2 = 0.0;
    let mut chi2_within = 0.0;
    let c = p.huber_k;
    // `n` reports sharing one residual `u` (a bin): n times the cost of one
    let mut add = |u: f64, j: [f64; 3], n: f64| {
        // Huber: quadratic inside ±c, linear outside (weight c/|u| in IRLS)
        let au = u.abs();
        let (rho, w) = if au <= c {
            (0.5 * u * u, 1.0)
        } else {
            (c * au - 0.5 * c * c, c / au)
        };
        cost += n * rho;
        let nw = n * w;
        chi2 += nw * u * u;
        if want_normal {
            let wu = nw * u;
            g[0] += j[0] * wu;
            g[1] += j[1] * wu;
            g[2] += j[2] * wu;
            a[0][0] += nw * j[0] * j[0];
            a[0][1] += nw * j[0] * j[1];
            a[0][2] += nw * j[0] * j[2];
            a[1][1] += nw * j[1] * j[1];
            a[1][2] += nw * j[1] * j[2];
            a[2][2] += nw * j[2] * j[2];
        }
    };
    for (i, o) in obs.iter().enumerate() {
        let dx = theta[0] - o.x;
        let dy = theta[1] - o.y;
        let d2 = dx * dx + dy * dy + h2;
        let pred = theta[2] - half_k * ln_d2(i, d2);
        // position error seen through the model's slope: k·σ_pos/d, squared
        let pos_term2 = k * k * o.pos_sigma_m * o.pos_sigma_m / d2;
        let s2 = sigma2 + pos_term2;
        let inv_s = 1.0 / s2.sqrt();
        // d(e)/dx = k·dx/d², d(e)/dp0 = −1, all divided by s
        let kd = k / d2 * inv_s;
        add(
            (o.rss_dbm - pred) * inv_s,
            [kd * dx, kd * dy, -inv_s],
            o.weight,
        );
        if o.rss_ss > 0.0 {
            // the spread of a bin's reports around their mean: constant in θ
            chi2_within += o.rss_ss / s2;
        }
        if o.ta_hi_m.is_finite() {
            let d = d2.sqrt();
            let outside = if d > o.ta_hi_m {
                d - o.ta_hi_m
            } else if d < o.ta_lo_m {
                d - o.ta_lo_m
            } else {
                0.0
            };
            if outside != 0.0 {
                let inv_st = 1.0 / (ta2 + o.pos_sigma_m * o.pos_sigma_m).sqrt();
                let jd = inv_st / d;
                add(outside * inv_st, [dx * jd, dy * jd, 0.0], o.weight);
            }
        }
    }
    a[1][0] = a[0][1];
    a[2][0] = a[0][2];
    a[2][1] = a[1][2];
    let ip = 1.0 / (p.prior_sigma_m * p.prior_sigma_m);
    let px = theta[0] - prior.0;
    let py = theta[1] - prior.1;
    cost += 0.5 * (px * px + py * py) * ip;
    if want_normal {
        a[0][0] += ip;
        a[1][1] += ip;
        g[0] += ip * px;
        g[1] += ip * py;
    }
    Eval {
        cost,
        a,
        g,
        chi2: chi2 + chi2_within,
    }
}

/// Solve a symmetric positive 3×3 system by Cholesky; `None` if not positive definite.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let mut l = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..=i {
            let mut s = a[i][j];
            for kk in 0..j {
                s -= l[i][kk] * l[j][kk];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = [0.0; 3];
    for i in 0..3 {
        let mut s = b[i];
        for kk in 0..i {
            s -= l[i][kk] * y[kk];
        }
        y[i] = s / l[i][i];
    }
    let mut x = [0.0; 3];
    for i in (0..3).rev() {
        let mut s = y[i];
        for kk in i + 1..3 {
            s -= l[kk][i] * x[kk];
        }
        x[i] = s / l[i][i];
    }
    Some(x)
}

fn invert3(a: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let mut inv = [[0.0; 3]; 3];
    for c in 0..3 {
        let mut e = [0.0; 3];
        e[c] = 1.0;
        let col = solve3(a, e)?;
        for r in 0..3 {
            inv[r][c] = col[r];
        }
    }
    Some(inv)
}

/// Best power at 1 m for a fixed position: mean of `rss + 10 n log10 d`.
pub(super) fn p0_for(obs: &[Observation], model: &PathLoss, x: f64, y: f64) -> f64 {
    let h2 = model.min_distance_m * model.min_distance_m;
    let half_k = 0.5 * model.db_per_decade() / LN10;
    let (mut s, mut n) = (0.0, 0.0);
    for o in obs {
        let d2 = (x - o.x).powi(2) + (y - o.y).powi(2) + h2;
        s += o.weight * (o.rss_dbm + half_k * d2.ln());
        n += o.weight;
    }
    if n > 0.0 {
        s / n
    } else {
        0.0
    }
}

/// A step shorter than this ends the iterations, metres (far below any fix's
/// uncertainty).
const CONVERGED_M: f64 = 1.0;
/// Levenberg–Marquardt from one start; returns the final parameters and their
/// evaluation (with the normal matrix, which the fix's covariance reuses).
fn refine(
    obs: &[Observation],
    p: &SolverParams,
    start: (f64, f64),
    prior: (f64, f64),
) -> ([f64; 3], Eval) {
    let ln = |_: usize, d2: f64| d2.ln();
    let mut theta = [start.0, start.1, p0_for(obs, &p.model, start.0, start.1)];
    let mut cur = evaluate(obs, p, theta, prior, true, ln);
    let mut lambda = 1e-3;
    for _ in 0..p.max_iterations {
        let mut damped = cur.a;
        for (i, row) in damped.iter_mut().enumerate() {
            row[i] += lambda * cur.a[i][i].max(1e-12);
        }
        let Some(step) = solve3(damped, [-cur.g[0], -cur.g[1], -cur.g[2]]) else {
            lambda *= 10.0;
            continue;
        };
        let cand = [theta[0] + step[0], theta[1] + step[1], theta[2] + step[2]];
        let next = evaluate(obs, p, cand, prior, true, ln);
        if next.cost.is_finite() && next.cost <= cur.cost {
            theta = cand;
            cur = next;
            lambda = (lambda / 3.0).max(1e-9);
            if step[0].hypot(step[1]) < CONVERGED_M {
                break;
            }
        } else {
            lambda *= 4.0;
            if lambda > 1e9 {
                break;
            }
        }
    }
    (theta, cur)
}

/// Robust multilateration. Needs at least three reports; starts from the weighted
/// centroid and from the positions of the three strongest reporters and keeps the best.
pub fn multilaterate(obs: &[Observation], p: &SolverParams) -> Option<Fix> {
    multilaterate_from(obs, p, None)
}

/// [`multilaterate`], warm-started: with `warm` (e.g. the previous fix of the same
/// transmitter) the fit starts from it, the weighted centroid and the strongest
/// report only (the optimum moves little between two localisations of one
/// transmitter, so a few iterations usually suffice from the warm start, and the two
/// data-driven starts let it leave a local minimum found on fewer reports); without,
/// from the four cold starts.
pub(crate) fn multilaterate_from(
    obs: &[Observation],
    p: &SolverParams,
    warm: Option<(f64, f64)>,
) -> Option<Fix> {
    let total: f64 = obs.iter().map(|o| o.weight).sum();
    if obs.is_empty() || total < 3.0 {
        return None;
    }
    let centroid = weighted_centroid(obs, &p.model)?;
    let mut starts = [centroid; 4];
    let mut strongest: [Option<&Observation>; 3] = [None; 3];
    let n_starts = match warm {
        Some(w) if w.0.is_finite() && w.1.is_finite() => {
            starts[1] = w;
            if let Some(s) = obs.iter().max_by(|a, b| a.rss_dbm.total_cmp(&b.rss_dbm)) {
                starts[2] = (s.x, s.y);
            }
            3
        }
        _ => {
            for o in obs {
                let mut cand = Some(o);
                for slot in strongest.iter_mut() {
                    match (*slot, cand) {
                        (None, _) => {
                            *slot = cand;
                            break;
                        }
                        (Some(s), Some(c)) if c.rss_dbm > s.rss_dbm => {
                            *slot = Some(c);
                            cand = Some(s);
                        }
                        _ => {}
                    }
                }
            }
            for (i, s) in strongest.iter().enumerate() {
                if let Some(s) = s {
                    starts[i + 1] = (s.x, s.y);
                }
            }
            4
        }
    };
    let mut best: Option<([f64; 3], Eval)> = None;
    for s in &starts[..n_starts] {
        let (theta, fin) = refine(obs, p, *s, centroid);
        if best.as_ref().is_none_or(|(_, b)| fin.cost < b.cost) {
            best = Some((theta, fin));
        }
    }
    // the best start's last evaluation is the one at its parameters: reused, not redone
    let (theta, fin) = best?;
    let inv = invert3(fin.a)?;
    let dof = (total - 3.0).max(1.0);
    let scale = (fin.chi2 / dof).max(1.0);
    let mut sum_ts = 0.0;
    let mut sq = 0.0;
    let h2 = p.model.min_distance_m * p.model.min_distance_m;
    let half_k = 0.5 * p.model.db_per_decade() / LN10;
    for o in obs {
        sum_ts += o.weight * (o.ts_ms - obs[0].ts_ms) as f64;
        let d2 = (theta[0] - o.x).powi(2) + (theta[1] - o.y).powi(2) + h2;
        let e = o.rss_dbm - (theta[2] - half_k * d2.ln());
        sq += o.weight * e * e + o.rss_ss;
    }
    let mut fix = Fix {
        x: theta[0],
        y: theta[1],
        p0_dbm: theta[2],
        cov: [
            [inv[0][0] * scale, inv[0][1] * scale],
            [inv[1][0] * scale, inv[1][1] * scale],
        ],
        rms_db: (sq / total).sqrt(),
        n: total.round() as usize,
        ts_ms: obs[0].ts_ms + (sum_ts / total).round() as i64,
    };
    if total <= p.posterior_max_reports {
        if let Some((x, y, cov)) =
            super::posterior::posterior_on_grid(obs, p, &fix, centroid, scale)
        {
            (fix.x, fix.y, fix.cov) = (x, y, cov);
        }
    }
    Some(fix)
}

#[cfg(test)]
#[path = "locate_tests.rs"]
mod tests;
