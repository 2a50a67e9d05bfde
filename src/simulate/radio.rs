//! Radio propagation model of the simulator: log-distance path loss with spatially
//! stable log-normal shadowing, the conversion of received power to what phones
//! report (RxLev / RSCP / RSRP) and timing advance from distance.
//!
//! The defaults follow docs/detection.md (log-distance exponent n ≈ 3–3.5, shadowing
//! σ ≈ 6–8 dB); detectors that predict signal strength from the inventory may use
//! the same [`RadioConfig`] to stay consistent with the scenarios.

use super::util::{hashed_normal, mix64};
use crate::model::Rat;
use serde::{Deserialize, Serialize};

/// Parameters of the propagation model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RadioConfig {
    /// Path loss at the reference distance `d0_m`, dB (≈ free space at 1.8 GHz, 100 m,
    /// plus clutter).
    pub(crate) pl0_db: f64,
    /// Reference distance of the log-distance model, metres.
    pub(crate) d0_m: f64,
    /// Path-loss exponent n (docs/detection.md: 3–3.5 in cities).
    pub(crate) exponent: f64,
    /// Log-normal shadowing standard deviation, dB (docs/detection.md: 6–8 dB).
    pub(crate) shadowing_sigma_db: f64,
    /// Side of the square on which shadowing is constant, metres.
    pub(crate) shadowing_grid_m: f64,
    /// Per-report fast-fading standard deviation, dB.
    pub(crate) fast_fading_sigma_db: f64,
    /// Distances below this are treated as this (near-field clamp), metres.
    pub(crate) min_distance_m: f64,
    /// LTE: RSRP is per resource element, ≈ total power − 10·log10(1200 subcarriers).
    pub(crate) lte_rsrp_offset_db: f64,
    /// UMTS: RSCP of the pilot channel, ≈ 10 % of the total power.
    pub(crate) umts_rscp_offset_db: f64,
    /// Received total power below which a cell is not usable, dBm.
    pub(crate) sensitivity_dbm: f64,
}

impl Default for RadioConfig {
    fn default() -> Self {
        RadioConfig {
            pl0_db: 78.0,
            d0_m: 100.0,
            exponent: 3.2,
            shadowing_sigma_db: 7.0,
            shadowing_grid_m: 50.0,
            fast_fading_sigma_db: 2.0,
            min_distance_m: 10.0,
            lte_rsrp_offset_db: 30.8,
            umts_rscp_offset_db: 10.0,
            sensitivity_dbm: -108.0,
        }
    }
}

impl RadioConfig {
    /// Mean path loss at distance `d_m`, dB.
    pub(crate) fn path_loss_db(&self, d_m: f64) -> f64 {
        let d = d_m.max(self.min_distance_m);
        self.pl0_db + 10.0 * self.exponent * (d / self.d0_m).log10()
    }

    /// Path loss from the squared distance (avoids a square root in hot loops).
    pub(crate) fn path_loss_db_sq(&self, d2_m2: f64) -> f64 {
        let d2 = d2_m2.max(self.min_distance_m * self.min_distance_m);
        self.pl0_db + 5.0 * self.exponent * (d2 / (self.d0_m * self.d0_m)).log10()
    }

    /// Shadowing of transmitter `tx_key` seen at local position (x, y): constant on
    /// a grid square, so a device standing still sees a stable value.
    pub(crate) fn shadowing_db(&self, tx_key: u64, x: f64, y: f64) -> f64 {
        let gx = (x / self.shadowing_grid_m).floor() as i64 as u64;
        let gy = (y / self.shadowing_grid_m).floor() as i64 as u64;
        let key = mix64(tx_key ^ mix64(gx.wrapping_mul(0x1000_0000_01B3) ^ gy.rotate_left(29)));
        self.shadowing_sigma_db * hashed_normal(key)
    }

    /// Total received power (dBm) from a transmitter of `eirp_dbm` at `d_m`, before
    /// fast fading.
    pub(crate) fn received_dbm(&self, eirp_dbm: f64, d_m: f64, shadow_db: f64) -> f64 {
        eirp_dbm - self.path_loss_db(d_m) + shadow_db
    }

    /// What a phone reports as `signal_dbm` for a received total power.
    pub(crate) fn reported_signal(&self, rat: Rat, received_dbm: f64) -> f64 {
        let v = match rat {
            Rat::Gsm => received_dbm,
            Rat::Umts => received_dbm - self.umts_rscp_offset_db,
            Rat::Lte | Rat::Nr => received_dbm - self.lte_rsrp_offset_db,
        };
        let (lo, hi) = signal_range(rat);
        (v.clamp(lo, hi) * 10.0).round() / 10.0
    }
}

/// Reportable range of `signal_dbm` per technology: RxLev −110..−47 dBm,
/// RSCP −120..−25 dBm, RSRP −140..−44 dBm.
pub(crate) fn signal_range(rat: Rat) -> (f64, f64) {
    match rat {
        Rat::Gsm => (-110.0, -47.0),
        Rat::Umts => (-120.0, -25.0),
        Rat::Lte | Rat::Nr => (-140.0, -44.0),
    }
}

/// Timing advance for a distance: GSM steps of 553.5 m (0..63), LTE steps of
/// 78.12 m (0..1282); UMTS reports none.
pub(crate) fn timing_advance(rat: Rat, d_m: f64) -> Option<u16> {
    match rat {
        Rat::Gsm => Some((d_m / 553.5).round().clamp(0.0, 63.0) as u16),
        Rat::Lte | Rat::Nr => Some((d_m / 78.12).round().clamp(0.0, 1282.0) as u16),
        Rat::Umts => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_loss_grows_with_exponent() {
        let r = RadioConfig::default();
        let a = r.path_loss_db(100.0);
        let b = r.path_loss_db(1000.0);
        assert!((b - a - 32.0).abs() < 1e-9);
        assert_eq!(r.shadowing_db(1, 10.0, 10.0), r.shadowing_db(1, 20.0, 20.0));
    }

    #[test]
    fn timing_advance_steps() {
        assert_eq!(timing_advance(Rat::Gsm, 1200.0), Some(2));
        assert_eq!(timing_advance(Rat::Lte, 780.0), Some(10));
        assert_eq!(timing_advance(Rat::Umts, 780.0), None);
    }
}
