//! Population baseline: how much do SIMs of this population usually send?
//!
//! Fixed thresholds alone break on a population whose habits differ from the one they
//! were written for, so every per-SIM count is also compared with the population:
//!
//! - a decayed log-binned histogram of hourly send rates, one sample per record;
//! - robust location and spread of `ln(1 + rate)` (median and MAD, Hampel 1974), giving a
//!   robust z-score that a handful of extreme senders cannot drag;
//! - a gamma fit (method of moments on the part of the histogram below its
//!   `trim_quantile`) to the per-SIM rates: the count of a SIM drawn from that population
//!   in a window of `W` hours is then negative-binomial (gamma–Poisson mixture, the
//!   standard over-dispersed count model), and the tail probability `P(N ≥ x)` of a
//!   SIM's count (statrs) says how exceptional it is.
//!
//! The fit is refreshed at most every `refresh_ms` of event time, so the hot path only
//! compares a count with a precomputed minimum.

use statrs::distribution::{DiscreteCDF, NegativeBinomial};

/// Bins per doubling of `1 + rate`.
const BINS_PER_OCTAVE: f64 = 8.0;
/// Rates up to 2^24 per hour are binned; higher ones land in the last bin.
const N_BINS: usize = 24 * 8 + 1;

/// A decayed histogram of `ln(1 + rate)`.
#[derive(Debug, Clone)]
pub(crate) struct LogHistogram {
    bins: Vec<f64>,
    total: f64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            bins: vec![0.0; N_BINS],
            total: 0.0,
        }
    }
}

impl LogHistogram {
    #[inline]
    fn bin_of(rate: f64) -> usize {
        let b = ((1.0 + rate.max(0.0)).log2() * BINS_PER_OCTAVE).floor();
        (b as usize).min(N_BINS - 1)
    }

    /// Representative rate of a bin (geometric middle in `1 + rate`).
    fn rate_of(bin: usize) -> f64 {
        if bin == 0 {
            return 0.0;
        }
        ((bin as f64 + 0.5) / BINS_PER_OCTAVE).exp2() - 1.0
    }

    #[inline]
    pub(crate) fn add(&mut self, rate: f64, weight: f64) {
        self.bins[Self::bin_of(rate)] += weight;
        self.total += weight;
    }

    /// Multiply every count by `factor` (exponential forgetting).
    pub(crate) fn decay(&mut self, factor: f64) {
        for b in &mut self.bins {
            *b *= factor;
        }
        self.total *= factor;
    }

    pub(crate) fn total(&self) -> f64 {
        self.total
    }

    /// The rate below which a fraction `q` of the samples lie.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        Self::rate_of(self.quantile_bin(q))
    }

    fn quantile_bin(&self, q: f64) -> usize {
        let target = q.clamp(0.0, 1.0) * self.total;
        let mut acc = 0.0;
        for (i, &c) in self.bins.iter().enumerate() {
            acc += c;
            if acc >= target && c > 0.0 {
                return i;
            }
        }
        N_BINS - 1
    }

    /// Median and MAD of `ln(1 + rate)`.
    pub(crate) fn log_median_mad(&self) -> (f64, f64) {
        let med = (1.0 + self.quantile(0.5)).ln();
        let mut dev: Vec<(f64, f64)> = self
            .bins
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0.0)
            .map(|(i, &c)| (((1.0 + Self::rate_of(i)).ln() - med).abs(), c))
            .collect();
        dev.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = self.total / 2.0;
        let mut acc = 0.0;
        let mut mad = 0.0;
        for (d, c) in dev {
            acc += c;
            if acc >= half {
                mad = d;
                break;
            }
        }
        (med, mad)
    }

    /// Mean and variance of the rate over the samples at or below quantile `q`.
    pub(crate) fn trimmed_moments(&self, q: f64) -> (f64, f64) {
        let last = self.quantile_bin(q);
        let (mut n, mut s, mut s2) = (0.0, 0.0, 0.0);
        for (i, &c) in self.bins.iter().enumerate().take(last + 1) {
            let r = Self::rate_of(i);
            n += c;
            s += c * r;
            s2 += c * r * r;
        }
        if n <= 0.0 {
            return (0.0, 0.0);
        }
        let mean = s / n;
        (mean, (s2 / n - mean * mean).max(0.0))
    }
}

/// Tunables of the baseline (part of [`crate::config::SpamConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaselineParams {
    /// Samples needed before the population is trusted; before that only fixed rules speak.
    pub(crate) min_samples: f64,
    /// Quantile above which samples are left out of the gamma fit.
    pub(crate) trim_quantile: f64,
    /// Floor of the fitted mean hourly rate, so an almost silent population does not
    /// make every active SIM exceptional.
    pub(crate) min_rate_per_hour: f64,
    /// Floor of the MAD in `ln(1 + rate)` units.
    pub(crate) min_log_mad: f64,
    /// Exponential forgetting: half-life of a sample, in event-time ms.
    pub(crate) half_life_ms: i64,
}

/// The fitted population model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PopulationFit {
    /// Gamma shape `k` of per-SIM hourly rates.
    pub(crate) shape: f64,
    /// Gamma scale `θ` (SMS per hour).
    pub(crate) scale_per_hour: f64,
    /// Median of `ln(1 + hourly rate)`.
    pub(crate) log_median: f64,
    /// MAD of `ln(1 + hourly rate)`, floored.
    pub(crate) log_mad: f64,
}

impl PopulationFit {
    /// `P(N ≥ x)` for the count `N` of a population SIM over `hours`.
    pub(crate) fn tail_probability(&self, count: u64, hours: f64) -> f64 {
        if count == 0 {
            return 1.0;
        }
        let p = 1.0 / (1.0 + self.scale_per_hour * hours.max(1e-9));
        match NegativeBinomial::new(self.shape, p) {
            Ok(nb) => nb.sf(count - 1).clamp(0.0, 1.0),
            Err(_) => 1.0,
        }
    }

    /// Robust z-score of an hourly rate: `(ln(1+rate) − median) / (1.4826 · MAD)`.
    pub(crate) fn robust_z(&self, rate_per_hour: f64) -> f64 {
        ((1.0 + rate_per_hour.max(0.0)).ln() - self.log_median) / (1.4826 * self.log_mad)
    }

    /// Smallest count over `hours` whose tail probability is at most `p_max`
    /// (so the hot path compares integers); `u64::MAX` if none below `cap`.
    #[cfg(test)]
    pub(crate) fn min_count_for_tail(&self, hours: f64, p_max: f64, cap: u64) -> u64 {
        if self.tail_probability(cap, hours) > p_max {
            return u64::MAX;
        }
        let (mut lo, mut hi) = (1u64, cap);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.tail_probability(mid, hours) <= p_max {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }
}

/// The decayed histogram plus the fit derived from it.
#[derive(Debug, Clone)]
pub(crate) struct PopulationBaseline {
    params: BaselineParams,
    hist: LogHistogram,
    fit: Option<PopulationFit>,
    last_refresh_ms: Option<i64>,
}

impl PopulationBaseline {
    pub(crate) fn new(params: BaselineParams) -> Self {
        PopulationBaseline {
            params,
            hist: LogHistogram::default(),
            fit: None,
            last_refresh_ms: None,
        }
    }

    /// One record's send rate, per hour.
    #[inline]
    #[cfg(test)]
    pub(crate) fn observe(&mut self, rate_per_hour: f64) {
        self.hist.add(rate_per_hour, 1.0);
    }

    /// A send rate with a weight (e.g. the share of an hour the record covers, so a SIM
    /// reporting every minute does not count 60 times more than one reporting hourly).
    #[inline]
    pub(crate) fn observe_weighted(&mut self, rate_per_hour: f64, weight: f64) {
        self.hist.add(rate_per_hour, weight);
    }

    pub(crate) fn fit(&self) -> Option<&PopulationFit> {
        self.fit.as_ref()
    }

    pub(crate) fn samples(&self) -> f64 {
        self.hist.total()
    }

    /// Decay and refit if `refresh_ms` of event time passed since the last refresh
    /// (or if there is no fit yet and enough samples arrived). Returns true if refit.
    pub(crate) fn maybe_refresh(&mut self, now_ms: i64, refresh_ms: i64) -> bool {
        let due = match self.last_refresh_ms {
            None => true,
            Some(t) => now_ms - t >= refresh_ms,
        };
        if !due {
            return false;
        }
        if let Some(t) = self.last_refresh_ms {
            let dt = (now_ms - t).max(0) as f64;
            let hl = self.params.half_life_ms.max(1) as f64;
            self.hist.decay((-dt / hl * std::f64::consts::LN_2).exp());
        }
        self.last_refresh_ms = Some(now_ms);
        self.refit();
        true
    }

    /// Fit the population model from the histogram now.
    pub(crate) fn refit(&mut self) {
        if self.hist.total() < self.params.min_samples {
            self.fit = None;
            return;
        }
        let (mean, var) = self.hist.trimmed_moments(self.params.trim_quantile);
        let mean = mean.max(self.params.min_rate_per_hour);
        // Gamma by moments; a variance at or below the mean means no over-dispersion
        // beyond Poisson: use a large shape (nearly Poisson).
        let var = var.max(mean * 1e-3);
        let shape = (mean * mean / var).clamp(0.05, 1e4);
        let scale = mean / shape;
        let (log_median, log_mad) = self.hist.log_median_mad();
        self.fit = Some(PopulationFit {
            shape,
            scale_per_hour: scale,
            log_median,
            log_mad: log_mad.max(self.params.min_log_mad),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BaselineParams {
        BaselineParams {
            min_samples: 100.0,
            trim_quantile: 0.99,
            min_rate_per_hour: 0.1,
            min_log_mad: 0.1,
            half_life_ms: 6 * 3_600_000,
        }
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = LogHistogram::default();
        for i in 0..1000 {
            h.add(f64::from(i % 10), 1.0);
        }
        let med = h.quantile(0.5);
        assert!((3.0..=6.0).contains(&med), "median {med}");
        let (m, v) = h.trimmed_moments(1.0);
        assert!((m - 4.5).abs() < 0.6, "mean {m}");
        assert!(v > 5.0 && v < 12.0, "var {v}");
    }

    /// The detector skips the exact tail below mean + 3σ; that is safe only if the tail
    /// there is always far above the default 10⁻⁶.
    #[test]
    fn tail_at_three_sigma_is_never_extreme() {
        for shape in [0.05, 0.3, 1.0, 5.0, 50.0, 1e4] {
            for mean in [0.2, 1.0, 5.0, 50.0, 500.0] {
                let fit = PopulationFit {
                    shape,
                    scale_per_hour: mean / shape,
                    log_median: 0.0,
                    log_mad: 1.0,
                };
                let sd = (mean + mean * mean / shape).sqrt();
                let count = (mean + 3.0 * sd).ceil() as u64;
                let p = fit.tail_probability(count.max(1), 1.0);
                assert!(
                    p > 1e-4,
                    "shape {shape} mean {mean}: P(N >= {count}) = {p:e}"
                );
            }
        }
    }

    #[test]
    fn tail_and_z_rank_extremes() {
        let mut b = PopulationBaseline::new(params());
        assert!(b.fit().is_none());
        for i in 0..10_000u32 {
            b.observe(f64::from(i % 7)); // typical: 0..6 SMS per hour
        }
        b.observe(5_000.0); // one spammer cannot move the robust fit
        b.maybe_refresh(0, 60_000);
        let fit = *b.fit().unwrap();
        assert!(fit.tail_probability(3, 1.0) > 0.1);
        assert!(fit.tail_probability(200, 1.0) < 1e-6);
        assert!(fit.robust_z(3.0) < 2.0);
        assert!(fit.robust_z(300.0) > 4.0);
        let min = fit.min_count_for_tail(1.0, 1e-6, 1_000_000);
        assert!(min > 6 && min < 200, "min {min}");
        assert!(fit.tail_probability(min, 1.0) <= 1e-6);
        assert!(fit.tail_probability(min - 1, 1.0) > 1e-6);
        // refresh is rate-limited by event time, and decays
        assert!(!b.maybe_refresh(30_000, 60_000));
        assert!(b.maybe_refresh(6 * 3_600_000, 60_000));
        assert!((b.samples() - 5_000.5).abs() < 1.0);
    }
}
