//! Small deterministic sampling helpers shared by the simulator parts.
//!
//! Kept here (rather than building `rand_distr` objects per draw) because the hot
//! loops draw millions of small Poisson / binomial counts with changing parameters.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) type SimRng = ChaCha8Rng;

/// The random stream of one knob-driven feature of a scenario: ChaCha8 seeded from the
/// scenario seed and the feature's label, independent of the default scenario's
/// streams, so turning a knob never shifts the draws of anything else.
pub(crate) fn stream(seed: u64, label: &str) -> SimRng {
    use rand::SeedableRng;
    // FNV-1a of the label, mixed with the seed.
    let h = label.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    SimRng::seed_from_u64(mix64(seed ^ mix64(h)))
}

/// Standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut SimRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal draw with the given median and log-space sigma.
pub(crate) fn lognormal(rng: &mut SimRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Poisson draw: Knuth for small means, rounded normal approximation above 30.
pub(crate) fn poisson(rng: &mut SimRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let l = (-mean).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// Binomial draw (exact for small n, normal approximation for large n).
pub(crate) fn binomial(rng: &mut SimRng, n: u32, p: f64) -> u32 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if n <= 40 {
        return (0..n).filter(|_| rng.random::<f64>() < p).count() as u32;
    }
    let mean = f64::from(n) * p;
    let sd = (mean * (1.0 - p)).sqrt();
    (mean + sd * normal(rng)).round().clamp(0.0, f64::from(n)) as u32
}

/// Uniform integer in `lo..=hi`.
pub(crate) fn uniform_u32(rng: &mut SimRng, lo: u32, hi: u32) -> u32 {
    rng.random_range(lo..=hi)
}

/// The event-time span of a scenario, `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

impl Span {
    /// The instant a fraction `f` of the way through the span, on a whole multiple
    /// of `granularity_ms` after its start.
    pub(crate) fn at(self, f: f64, granularity_ms: i64) -> i64 {
        self.start_ms
            + ((self.end_ms - self.start_ms) as f64 * f) as i64 / granularity_ms * granularity_ms
    }
}

/// Uniform float in `lo..hi`.
pub(crate) fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// An approximately standard normal value that is a pure function of `key` (used
/// for spatially stable shadowing: the same place always sees the same shadow).
/// Irwin–Hall sum of four 16-bit uniforms: cheap, smooth, tails cut at ±3.5 σ.
pub(crate) fn hashed_normal(key: u64) -> f64 {
    let h = mix64(key);
    let sum = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    // Mean 2 × 65535, standard deviation sqrt(4/12) × 65535.
    (sum as f64 - 131_070.0) / (0.577_350_269 * 65_535.0)
}

/// Pick an index with probability proportional to `weights`.
pub(crate) fn weighted_index(rng: &mut SimRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut r = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Flip `bits` distinct random bits of `fp` (a near-duplicate SimHash).
pub(crate) fn flip_bits(rng: &mut SimRng, fp: u64, bits: u32) -> u64 {
    let mut out = fp;
    let mut flipped = 0u64;
    while flipped.count_ones() < bits {
        let b = 1u64 << rng.random_range(0..64);
        if flipped & b == 0 {
            flipped |= b;
            out ^= b;
        }
    }
    out
}

/// Flip between 0 and `max_bits` random bits of `fp`.
pub(crate) fn flip_up_to(rng: &mut SimRng, fp: u64, max_bits: u32) -> u64 {
    let bits = rng.random_range(0..=max_bits);
    flip_bits(rng, fp, bits)
}

/// Relative activity of people by local hour (Vietnam, UTC+7), mean ≈ 0.7.
pub(crate) const DIURNAL: [f64; 24] = [
    0.15, 0.10, 0.07, 0.06, 0.08, 0.18, 0.40, 0.70, 0.90, 1.00, 1.00, 1.00, 1.00, 0.95, 0.95, 1.00,
    1.00, 1.05, 1.10, 1.15, 1.15, 1.00, 0.70, 0.35,
];

/// Local (UTC+7) hour of an epoch-millisecond instant.
pub(crate) fn local_hour(ms: i64) -> usize {
    (((ms / 3_600_000) + 7).rem_euclid(24)) as usize
}

/// Diurnal activity factor at an instant.
pub(crate) fn diurnal(ms: i64) -> f64 {
    DIURNAL[local_hour(ms)]
}

/// Mean of [`DIURNAL`], to turn daily rates into per-interval rates.
pub(crate) fn diurnal_mean() -> f64 {
    DIURNAL.iter().sum::<f64>() / 24.0
}
