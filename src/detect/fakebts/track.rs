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
}
