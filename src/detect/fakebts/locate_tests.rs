//! Tests of the multilateration solver (`super`) on synthetic noisy reports around a
//! known transmitter: it beats the centroid, timing advance sharpens it, too few
//! reports give no fix. Kept apart so that locate.rs stays within 700 lines.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn params() -> SolverParams {
    SolverParams {
        model: PathLoss {
            exponent: 3.2,
            ref_loss_db: 78.0,
            ref_distance_m: 100.0,
            sigma_db: 7.0,
            min_distance_m: 10.0,
        },
        huber_k: 2.0,
        ta_sigma_m: 80.0,
        prior_sigma_m: 5_000.0,
        max_iterations: 40,
        min_radius_m: 25.0,
        posterior_max_reports: 0.0,
        posterior_coarse_side: 17,
        posterior_refine_levels: 1,
        posterior_refine_margin: 24.0,
    }
}

fn synth(seed: u64, n: usize, tx: (f64, f64), spread: f64) -> Vec<Observation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = params();
    let shadow = Normal::new(0.0, p.model.sigma_db).unwrap();
    (0..n)
        .map(|i| {
            let x = tx.0 + rng.random_range(-spread..spread);
            let y = tx.1 + rng.random_range(-spread..spread);
            let d = (x - tx.0).hypot(y - tx.1);
            Observation::new(
                i as i64 * 1000,
                x,
                y,
                p.model.predicted_rss_dbm(40.0, d) + shadow.sample(&mut rng),
                10.0,
            )
        })
        .collect()
}

#[test]
fn multilateration_beats_the_centroid_and_recovers_power() {
    let mut errs = Vec::new();
    for seed in 0..20 {
        // reporters on one side: the centroid is biased, the model fit is not
        let obs: Vec<_> = synth(seed, 60, (300.0, -200.0), 1500.0);
        let fix = multilaterate(&obs, &params()).unwrap();
        errs.push((fix.x - 300.0).hypot(fix.y + 200.0));
        assert!(fix.radius_m(25.0) >= 25.0);
        assert!(
            (fix.p0_dbm - (40.0 - 78.0 + 64.0)).abs() < 8.0,
            "p0 {}",
            fix.p0_dbm
        );
    }
    errs.sort_by(f64::total_cmp);
    assert!(errs[10] < 250.0, "median error {}", errs[10]);
}

#[test]
fn timing_advance_sharpens_the_fix() {
    let mut plain = Vec::new();
    let mut with_ta = Vec::new();
    for seed in 0..20 {
        let obs = synth(100 + seed, 12, (0.0, 0.0), 1200.0);
        let fix = multilaterate(&obs, &params()).unwrap();
        plain.push(fix.x.hypot(fix.y));
        let obs: Vec<_> = obs
            .into_iter()
            .map(|o| {
                let ta = (o.x.hypot(o.y) / 553.5).round() as u16;
                o.with_ta(ta, 553.5)
            })
            .collect();
        let fix = multilaterate(&obs, &params()).unwrap();
        with_ta.push(fix.x.hypot(fix.y));
    }
    plain.sort_by(f64::total_cmp);
    with_ta.sort_by(f64::total_cmp);
    assert!(
        with_ta[10] < plain[10],
        "ta {} plain {}",
        with_ta[10],
        plain[10]
    );
}

#[test]
fn too_few_observations_give_no_fix() {
    let obs = synth(1, 2, (0.0, 0.0), 500.0);
    assert!(multilaterate(&obs, &params()).is_none());
}

#[test]
fn centroid_pulls_towards_strong_reports() {
    let m = params().model;
    let obs = [
        Observation::new(0, 0.0, 0.0, -50.0, 5.0),
        Observation::new(0, 1000.0, 0.0, -90.0, 5.0),
    ];
    let (x, _) = weighted_centroid(&obs, &m).unwrap();
    assert!(x < 200.0);
}
