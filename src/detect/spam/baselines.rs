//! One population baseline per operator and reporting interval: operators differ in
//! their subscribers and in how their feeds cut time (60 s records of a busy SIM look
//! different from 900 s ones), so "far beyond the population" means far beyond the
//! SIM's own operator's population, measured with the same interval. The list is
//! tiny (operators × intervals), so a linear search beats a map.

use super::baseline::{BaselineParams, PopulationBaseline};
use super::ids::OpIdx;

/// The baselines, created on first use.
#[derive(Debug, Clone)]
pub(crate) struct Baselines {
    params: BaselineParams,
    list: Vec<(OpIdx, u32, PopulationBaseline)>,
}

impl Baselines {
    pub(crate) fn new(params: BaselineParams) -> Self {
        Baselines {
            params,
            list: Vec::new(),
        }
    }

    /// Index of the baseline of operator `op` and interval `window_secs` (created
    /// when first asked for).
    #[inline]
    pub(crate) fn index(&mut self, op: OpIdx, window_secs: u32) -> usize {
        if let Some(i) = self
            .list
            .iter()
            .position(|(o, w, _)| *o == op && *w == window_secs)
        {
            return i;
        }
        self.list
            .push((op, window_secs, PopulationBaseline::new(self.params)));
        self.list.len() - 1
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &PopulationBaseline {
        &self.list[i].2
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut PopulationBaseline {
        &mut self.list[i].2
    }

    /// Decay and refit every baseline at event time `now_ms`.
    pub(crate) fn refresh(&mut self, now_ms: i64) {
        for (_, _, b) in &mut self.list {
            b.maybe_refresh(now_ms, 0);
        }
    }

    /// Baselines kept (for the memory estimate).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_baseline_per_operator_and_interval() {
        let mut b = Baselines::new(BaselineParams {
            min_samples: 10.0,
            trim_quantile: 0.95,
            min_rate_per_hour: 0.5,
            min_log_mad: 0.25,
            half_life_ms: 3_600_000,
        });
        let a = b.index(0, 300);
        assert_eq!(b.index(0, 300), a);
        let c = b.index(1, 300);
        let d = b.index(0, 900);
        assert!(a != c && a != d && c != d);
        b.get_mut(a).observe_weighted(5.0, 1.0);
        assert_eq!(b.get(a).samples(), 1.0);
        assert_eq!(b.get(c).samples(), 0.0);
        assert_eq!(b.len(), 3);
    }
}
