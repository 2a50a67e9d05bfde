//! Validation of `[fakebts]`: what cannot work is refused with the key named in full.
//! Kept apart from the section's fields ([`super::fakebts`]) so each file stays short.

use super::check::{at_least, finite, non_negative, positive, within, Problems};
use super::error::ConfigError;
use super::fakebts::FakeBtsConfig;

impl FakeBtsConfig {
    /// This section alone, checked as `Config::validate` checks it: detectors built
    /// from a section call it, so an invalid section is refused, never replaced.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        self.check(&mut p);
        p.into_result()
    }

    /// Record what cannot work (keys named in full): the radio model needs positive
    /// distances and σ, shares are 0..=1, counts and windows that gate or divide are
    /// positive, and a transmitter with an open case is kept at least as long as an
    /// idle one.
    pub(crate) fn check(&self, p: &mut Problems) {
        self.check_radio(p);
        self.check_rules(p);
        self.check_tracking(p);
        self.weights.check(p);
        self.regions.check(p);
    }

    fn check_radio(&self, p: &mut Problems) {
        positive(p, "fakebts.path_loss_exponent", self.path_loss_exponent);
        positive(p, "fakebts.shadowing_sigma_db", self.shadowing_sigma_db);
        finite(p, "fakebts.reference_loss_db", self.reference_loss_db);
        positive(p, "fakebts.reference_distance_m", self.reference_distance_m);
        positive(p, "fakebts.min_distance_m", self.min_distance_m);
        finite(p, "fakebts.default_eirp_dbm", self.default_eirp_dbm);
        non_negative(p, "fakebts.lte_rsrp_offset_db", self.lte_rsrp_offset_db);
        non_negative(p, "fakebts.umts_rscp_offset_db", self.umts_rscp_offset_db);
    }

    fn check_rules(&self, p: &mut Problems) {
        positive(p, "fakebts.signal_excess_sigmas", self.signal_excess_sigmas);
        non_negative(p, "fakebts.reach_margin_m", self.reach_margin_m);
        non_negative(p, "fakebts.min_range_m", self.min_range_m);
        non_negative(p, "fakebts.missing_accuracy_m", self.missing_accuracy_m);
        at_least(
            p,
            "fakebts.catcher_horizon_secs",
            self.catcher_horizon_secs,
            1,
        );
        at_least(
            p,
            "fakebts.catcher_min_phones",
            self.catcher_min_phones as u64,
            1,
        );
        at_least(
            p,
            "fakebts.forced_min_phones",
            self.forced_min_phones as u64,
            1,
        );
        at_least(
            p,
            "fakebts.single_phone_min_signs",
            self.single_phone_min_signs as u64,
            1,
        );
        within(
            p,
            "fakebts.single_phone_lac_reject_signs",
            self.single_phone_lac_reject_signs as f64,
            1.0,
            3.0,
        );
        if self.far_clone_min_identities == 1 {
            p.push(
                "fakebts.far_clone_min_identities",
                "must be 0 (off) or at least 2, got 1",
            );
        }
        within(
            p,
            "fakebts.single_phone_min_share",
            self.single_phone_min_share,
            0.0,
            1.0,
        );
        within(
            p,
            "fakebts.catcher_min_share",
            self.catcher_min_share,
            0.0,
            1.0,
        );
        non_negative(p, "fakebts.ta_tolerance_m", self.ta_tolerance_m);
        positive(
            p,
            "fakebts.neighbourhood_radius_m",
            self.neighbourhood_radius_m,
        );
        at_least(
            p,
            "fakebts.neighbourhood_max_cells",
            self.neighbourhood_max_cells as u64,
            1,
        );
        within(
            p,
            "fakebts.min_event_fraction",
            self.min_event_fraction,
            0.0,
            1.0,
        );
        within(
            p,
            "fakebts.min_rule_fraction",
            self.min_rule_fraction,
            0.0,
            1.0,
        );
        positive(p, "fakebts.case_threshold", self.case_threshold);
        non_negative(p, "fakebts.min_rogue_points", self.min_rogue_points);
        if self.min_rogue_points > self.case_threshold {
            p.push(
                "fakebts.min_rogue_points",
                format!(
                    "must not exceed fakebts.case_threshold ({}): they are part of its points, got {}",
                    self.case_threshold, self.min_rogue_points
                ),
            );
        }
        at_least(
            p,
            "fakebts.duplicate_window_secs",
            self.duplicate_window_secs,
            1,
        );
        at_least(p, "fakebts.min_reporters", self.min_reporters as u64, 1);
        at_least(
            p,
            "fakebts.evidence_window_secs",
            self.evidence_window_secs,
            1,
        );
        at_least(
            p,
            "fakebts.finding_min_reporters",
            self.finding_min_reporters as u64,
            1,
        );
        at_least(
            p,
            "fakebts.finding_min_reports",
            self.finding_min_reports,
            1,
        );
        within(
            p,
            "fakebts.misplaced_min_fraction",
            self.misplaced_min_fraction,
            0.0,
            1.0,
        );
        non_negative(p, "fakebts.finding_min_offset_m", self.finding_min_offset_m);
    }

    fn check_tracking(&self, p: &mut Problems) {
        positive(p, "fakebts.association_radius_m", self.association_radius_m);
        non_negative(
            p,
            "fakebts.association_spread_factor",
            self.association_spread_factor,
        );
        non_negative(p, "fakebts.max_speed_mps", self.max_speed_mps);
        at_least(p, "fakebts.track_window_secs", self.track_window_secs, 1);
        at_least(
            p,
            "fakebts.max_case_identities",
            self.max_case_identities as u64,
            1,
        );
        at_least(p, "fakebts.max_open_cases", self.max_open_cases as u64, 1);
        let cand = self.max_candidate_observations;
        let profile = self.max_profile_observations;
        for (name, n) in [
            ("max_observations", self.max_observations),
            ("max_candidate_observations", cand),
            ("max_profile_observations", profile),
        ] {
            at_least(p, &format!("fakebts.{name}"), n as u64, 8);
        }
        non_negative(p, "fakebts.locate_bin_m", self.locate_bin_m);
        non_negative(p, "fakebts.locate_refit_share", self.locate_refit_share);
        positive(p, "fakebts.huber_k", self.huber_k);
        positive(p, "fakebts.ta_sigma_m", self.ta_sigma_m);
        positive(p, "fakebts.locate_rss_sigma_db", self.locate_rss_sigma_db);
        positive(p, "fakebts.prior_sigma_m", self.prior_sigma_m);
        non_negative(p, "fakebts.min_radius_m", self.min_radius_m);
        at_least(
            p,
            "fakebts.locate_posterior_coarse_side",
            self.locate_posterior_coarse_side as u64,
            2,
        );
        if self.locate_posterior_coarse_side > 65 || self.locate_posterior_refine_levels > 4 {
            p.push(
                "fakebts.locate_posterior_coarse_side",
                format!(
                    "at most 65 points a side and fakebts.locate_posterior_refine_levels at most 4, got {} and {}",
                    self.locate_posterior_coarse_side, self.locate_posterior_refine_levels
                ),
            );
        }
        non_negative(
            p,
            "fakebts.locate_posterior_refine_margin",
            self.locate_posterior_refine_margin,
        );
        non_negative(p, "fakebts.track_accel_noise", self.track_accel_noise);
        non_negative(p, "fakebts.track_place_m", self.track_place_m);
        non_negative(
            p,
            "fakebts.moving_min_displacement_m",
            self.moving_min_displacement_m,
        );
        at_least(p, "fakebts.idle_evict_secs", self.idle_evict_secs, 1);
        if self.case_idle_evict_secs < self.idle_evict_secs {
            p.push(
                "fakebts.case_idle_evict_secs",
                format!(
                    "must be at least fakebts.idle_evict_secs ({}): a transmitter with an open case is kept at least as long as an idle one, got {}",
                    self.idle_evict_secs, self.case_idle_evict_secs
                ),
            );
        }
        if self.far_clone_gap_secs > self.case_idle_evict_secs {
            p.push(
                "fakebts.far_clone_gap_secs",
                format!(
                    "must be at most fakebts.case_idle_evict_secs ({}): a case closed is not continued, got {}",
                    self.case_idle_evict_secs, self.far_clone_gap_secs
                ),
            );
        }
    }
}
