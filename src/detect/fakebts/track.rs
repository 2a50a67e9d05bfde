//! Tracking a moving transmitter: a constant-velocity Kalman filter in the local plane,
//! fed with the windowed multilateration fixes (position + covariance) of the emitter.
//! Gives the smoothed track and the predicted position at any later event time.
#![allow(clippy::needless_range_loop)]

/// Filter state `[x, y, vx, vy]` (metres, metres per second) with its covariance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kalman {
    s: [f64; 4],
    p: [[f64; 4]; 4],
    ts_ms: i64,
    /// Acceleration noise spectral density, m²/s³.
    q: f64,
}

impl Kalman {
    /// Start at a fix, velocity unknown (σ `initial_speed_sigma` m/s on each axis).
    pub(crate) fn new(
        ts_ms: i64,
        x: f64,
        y: f64,
        cov: [[f64; 2]; 2],
        q: f64,
        initial_speed_sigma: f64,
    ) -> Self {
        let v = initial_speed_sigma * initial_speed_sigma;
        Kalman {
            s: [x, y, 0.0, 0.0],
            p: [
                [cov[0][0], cov[0][1], 0.0, 0.0],
                [cov[1][0], cov[1][1], 0.0, 0.0],
                [0.0, 0.0, v, 0.0],
                [0.0, 0.0, 0.0, v],
            ],
            ts_ms,
            q,
        }
    }

    pub(crate) fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    pub(crate) fn position(&self) -> (f64, f64) {
        (self.s[0], self.s[1])
    }

    #[cfg(test)]
    pub(crate) fn velocity(&self) -> (f64, f64) {
        (self.s[2], self.s[3])
    }

    pub(crate) fn position_cov(&self) -> [[f64; 2]; 2] {
        [[self.p[0][0], self.p[0][1]], [self.p[1][0], self.p[1][1]]]
    }

    /// State and covariance propagated to `ts_ms` without changing the filter.
    pub(crate) fn predicted(&self, ts_ms: i64) -> Kalman {
        let mut k = self.clone();
        k.predict(ts_ms);
        k
    }

    /// Propagate to `ts_ms` (no-op backwards in time).
    pub(crate) fn predict(&mut self, ts_ms: i64) {
        let dt = (ts_ms - self.ts_ms) as f64 / 1000.0;
        if dt <= 0.0 {
            return;
        }
        let f = [
            [1.0, 0.0, dt, 0.0],
            [0.0, 1.0, 0.0, dt],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        self.s = [
            self.s[0] + dt * self.s[2],
            self.s[1] + dt * self.s[3],
            self.s[2],
            self.s[3],
        ];
        let fp = mul4(&f, &self.p);
        let mut p = mul4_t(&fp, &f);
        let (q3, q2, q1) = (
            self.q * dt.powi(3) / 3.0,
            self.q * dt * dt / 2.0,
            self.q * dt,
        );
        p[0][0] += q3;
        p[1][1] += q3;
        p[0][2] += q2;
        p[2][0] += q2;
        p[1][3] += q2;
        p[3][1] += q2;
        p[2][2] += q1;
        p[3][3] += q1;
        self.p = p;
        self.ts_ms = ts_ms;
    }

    /// Squared Mahalanobis distance of a position measurement from the prediction.
    #[cfg(test)]
    pub(crate) fn innovation_d2(&self, x: f64, y: f64, r: [[f64; 2]; 2]) -> f64 {
        let s = self.innovation_cov(r);
        let Some(si) = inv2(s) else {
            return f64::INFINITY;
        };
        let v = [x - self.s[0], y - self.s[1]];
        v[0] * (si[0][0] * v[0] + si[0][1] * v[1]) + v[1] * (si[1][0] * v[0] + si[1][1] * v[1])
    }

    fn innovation_cov(&self, r: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
        [
            [self.p[0][0] + r[0][0], self.p[0][1] + r[0][1]],
            [self.p[1][0] + r[1][0], self.p[1][1] + r[1][1]],
        ]
    }

    /// Predict to `ts_ms`, then fuse a position measurement with covariance `r`.
    pub(crate) fn update(&mut self, ts_ms: i64, x: f64, y: f64, r: [[f64; 2]; 2]) {
        self.predict(ts_ms);
        let Some(si) = inv2(self.innovation_cov(r)) else {
            return;
        };
        // K = P Hᵀ S⁻¹, with H = [I 0]: P Hᵀ is the first two columns of P.
        let mut k = [[0.0; 2]; 4];
        for (i, row) in k.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = self.p[i][0] * si[0][j] + self.p[i][1] * si[1][j];
            }
        }
        let v = [x - self.s[0], y - self.s[1]];
        for (i, row) in k.iter().enumerate() {
            self.s[i] += row[0] * v[0] + row[1] * v[1];
        }
        // P = (I − K H) P
        let old = self.p;
        for (i, krow) in k.iter().enumerate() {
            for j in 0..4 {
                self.p[i][j] = old[i][j] - (krow[0] * old[0][j] + krow[1] * old[1][j]);
            }
        }
        // keep it symmetric against rounding
        for i in 0..4 {
            for j in 0..i {
                let m = 0.5 * (self.p[i][j] + self.p[j][i]);
                self.p[i][j] = m;
                self.p[j][i] = m;
            }
        }
    }
}

/// One position measurement fed to the filter: event time, local position, covariance.
pub(crate) type TrackFix = (i64, f64, f64, [[f64; 2]; 2]);

/// The smoothed track through `fixes` (in time order): the same constant-velocity
/// filter run forward, then a Rauch–Tung–Striebel pass backward, so each point uses
/// the fixes after it as well as those before. The last point is the filtered one (no
/// later fix exists); earlier ones no longer carry a wrong velocity forward through a
/// stretch of sparse reports. One point per fix, O(fixes).
pub(crate) fn smoothed_track(
    fixes: &[TrackFix],
    q: f64,
    initial_speed_sigma: f64,
) -> Vec<(i64, f64, f64)> {
    let Some(&(t0, x0, y0, r0)) = fixes.first() else {
        return Vec::new();
    };
    let mut k = Kalman::new(t0, x0, y0, r0, q, initial_speed_sigma);
    // per step: predicted state and covariance (before the fix), filtered ones after
    let mut steps: Vec<Step> = Vec::with_capacity(fixes.len());
    steps.push((k.s, k.p, k.s, k.p, 0.0));
    for &(ts, x, y, r) in &fixes[1..] {
        let ts = ts.max(k.ts_ms);
        let dt = (ts - k.ts_ms) as f64 / 1000.0;
        k.predict(ts);
        let (s_pred, p_pred) = (k.s, k.p);
        k.update(ts, x, y, r);
        steps.push((s_pred, p_pred, k.s, k.p, dt));
    }
    let n = steps.len();
    let mut smoothed = vec![[0.0; 4]; n];
    smoothed[n - 1] = steps[n - 1].2;
    for i in (0..n - 1).rev() {
        let (_, _, s_f, p_f, _) = steps[i];
        let (s_p, p_p, _, _, dt) = steps[i + 1];
        let f = [
            [1.0, 0.0, dt, 0.0],
            [0.0, 1.0, 0.0, dt],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let Some(p_inv) = inv4(&p_p) else {
            smoothed[i] = s_f;
            continue;
        };
        // C = P_f Fᵀ P_p⁻¹
        let c = mul4(&mul4_t(&p_f, &f), &p_inv);
        let d: [f64; 4] = std::array::from_fn(|j| smoothed[i + 1][j] - s_p[j]);
        for j in 0..4 {
            smoothed[i][j] = s_f[j] + (0..4).map(|l| c[j][l] * d[l]).sum::<f64>();
        }
    }
    let mut ts = i64::MIN;
    fixes
        .iter()
        .zip(smoothed)
        .map(|(f, s)| {
            ts = ts.max(f.0);
            (ts, s[0], s[1])
        })
        .collect()
}

/// The filter run over `fixes` (in time order) from the first: where it stands
/// after the last (`None` without fixes).
pub(crate) fn refilter(fixes: &[TrackFix], q: f64, initial_speed_sigma: f64) -> Option<Kalman> {
    let (&(t0, x0, y0, r0), rest) = fixes.split_first()?;
    let mut k = Kalman::new(t0, x0, y0, r0, q, initial_speed_sigma);
    for &(ts, x, y, r) in rest {
        k.update(ts, x, y, r);
    }
    Some(k)
}

/// One filter step: predicted state and covariance, filtered state and covariance, and
/// the time since the previous step, s.
type Step = ([f64; 4], [[f64; 4]; 4], [f64; 4], [[f64; 4]; 4], f64);

/// Inverse of a 4 × 4 matrix by Gauss–Jordan elimination with partial pivoting.
fn inv4(m: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut a = *m;
    let mut inv = [[0.0; 4]; 4];
    for i in 0..4 {
        inv[i][i] = 1.0;
    }
    for col in 0..4 {
        let pivot = (col..4).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..4 {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for row in 0..4 {
            if row != col {
                let f = a[row][col];
                for j in 0..4 {
                    a[row][j] -= f * a[col][j];
                    inv[row][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

fn mul4(a: &[[f64; 4]; 4], b: &[[f64; 4]; 4]) -> [[f64; 4]; 4] {
    let mut c = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            c[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

/// `a · bᵀ`
fn mul4_t(a: &[[f64; 4]; 4], b: &[[f64; 4]; 4]) -> [[f64; 4]; 4] {
    let mut c = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            c[i][j] = (0..4).map(|k| a[i][k] * b[j][k]).sum();
        }
    }
    c
}

fn inv2(m: [[f64; 2]; 2]) -> Option<[[f64; 2]; 2]> {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    Some([
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn follows_a_car_and_learns_its_velocity() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let noise = Normal::new(0.0, 150.0).unwrap();
        let r = [[150.0f64.powi(2), 0.0], [0.0, 150.0f64.powi(2)]];
        let mut kf = Kalman::new(
            0,
            noise.sample(&mut rng),
            noise.sample(&mut rng),
            r,
            0.05,
            15.0,
        );
        for step in 1..=20 {
            let t = step * 60_000;
            let truth = (10.0 * (t as f64 / 1000.0), 0.0);
            kf.update(
                t,
                truth.0 + noise.sample(&mut rng),
                truth.1 + noise.sample(&mut rng),
                r,
            );
        }
        let (vx, vy) = kf.velocity();
        assert!((vx - 10.0).abs() < 3.5 && vy.abs() < 3.5, "v = {vx}, {vy}");
        let ahead = kf.predicted(21 * 60_000);
        let (x, _) = ahead.position();
        assert!((x - 12_600.0).abs() < 400.0, "x = {x}");
        assert!(ahead.position_cov()[0][0] > kf.position_cov()[0][0]);
    }

    #[test]
    fn stationary_target_stays_put() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let noise = Normal::new(0.0, 100.0).unwrap();
        let r = [[1e4, 0.0], [0.0, 1e4]];
        let mut kf = Kalman::new(0, 0.0, 0.0, r, 1e-4, 5.0);
        for step in 1..=30 {
            kf.update(
                step * 60_000,
                noise.sample(&mut rng),
                noise.sample(&mut rng),
                r,
            );
        }
        let (x, y) = kf.position();
        assert!(x.hypot(y) < 120.0, "x {x} y {y} v {:?}", kf.velocity());
        assert!(kf.innovation_d2(5_000.0, 0.0, r) > 100.0);
    }

    #[test]
    fn smoothing_uses_later_fixes_and_keeps_the_last_one_filtered() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, 200.0).unwrap();
        let r = [[200.0f64.powi(2), 0.0], [0.0, 200.0f64.powi(2)]];
        let truth = |t: i64| (8.0 * t as f64 / 1000.0, 0.0);
        let fixes: Vec<TrackFix> = (0..40)
            .map(|step| {
                let t = step * 60_000;
                let (x, y) = truth(t);
                (t, x + noise.sample(&mut rng), y + noise.sample(&mut rng), r)
            })
            .collect();
        let smoothed = smoothed_track(&fixes, 0.5, 10.0);
        assert_eq!(smoothed.len(), fixes.len());
        let mut kf = Kalman::new(fixes[0].0, fixes[0].1, fixes[0].2, r, 0.5, 10.0);
        let mut filtered = vec![kf.position()];
        for f in &fixes[1..] {
            kf.update(f.0, f.1, f.2, f.3);
            filtered.push(kf.position());
        }
        let err = |p: &[(f64, f64)]| -> f64 {
            let mut e: Vec<f64> = p
                .iter()
                .zip(&fixes)
                .map(|(&(x, y), f)| {
                    let (tx, ty) = truth(f.0);
                    (x - tx).hypot(y - ty)
                })
                .collect();
            e.sort_by(f64::total_cmp);
            e[e.len() / 2]
        };
        let s: Vec<(f64, f64)> = smoothed.iter().map(|&(_, x, y)| (x, y)).collect();
        assert!(
            err(&s) < 0.8 * err(&filtered),
            "smoothed {} filtered {}",
            err(&s),
            err(&filtered)
        );
        let last = smoothed.last().unwrap();
        assert!((last.1 - filtered.last().unwrap().0).abs() < 1e-6);
        assert!(smoothed_track(&[], 0.5, 10.0).is_empty());
    }
}
