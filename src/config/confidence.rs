//! `[spam.confidence]`: how much each rule of the spam detector counts in the
//! noisy-OR score `1 − Π(1 − cᵢ)` of a case, one key per rule code.

use super::check::{within, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Confidence (0..=1) of each rule in the noisy-OR score of a case, by rule code: the
/// behaviour criteria of Decree 91 (new recipients, no voice) and the SIM-box
/// signatures (gateway modems, many SIMs per device, shared templates) weigh most; raw
/// volume weighs little because legitimate bulk senders have it too. Engineering
/// defaults (docs/detection.md). Unknown codes are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RuleConfidence {
    /// `SMS_RATE_5M`: the SIM sent at least `spam.rate_5m` SMS in the short window.
    #[serde(rename = "SMS_RATE_5M")]
    pub(crate) sms_rate_5m: f64,
    /// `SMS_RATE_1H`: the SIM sent at least `spam.rate_1h` SMS in the medium window.
    #[serde(rename = "SMS_RATE_1H")]
    pub(crate) sms_rate_1h: f64,
    /// `SMS_RATE_24H`: the SIM sent at least `spam.rate_24h` SMS in the long window.
    #[serde(rename = "SMS_RATE_24H")]
    pub(crate) sms_rate_24h: f64,
    /// `POPULATION_TAIL`: the medium-window count is at most `spam.population_tail_p`
    /// likely under the population's model of normal senders.
    #[serde(rename = "POPULATION_TAIL")]
    pub(crate) population_tail: f64,
    /// `RATE_ROBUST_Z`: the hourly rate is at least `spam.robust_z` robust z-scores
    /// above the population's median.
    #[serde(rename = "RATE_ROBUST_Z")]
    pub(crate) rate_robust_z: f64,
    /// `RATE_FAR_BEYOND`: the SIM sent at least `spam.far_rate_1h` SMS in the medium
    /// window and (where its records lack `sim_age_days` and `kyc_verified`)
    /// `spam.far_rate_24h` in the long window, far beyond its operator's
    /// population (`spam.far_robust_z`). Enough on its own to open a case (it needs only
    /// `sms_out`, so it holds on feeds that carry nothing else), unless evidence the
    /// feed does carry contradicts it.
    #[serde(rename = "RATE_FAR_BEYOND")]
    pub(crate) rate_far_beyond: f64,
    /// `NEW_RECIPIENT_RATIO`: most recipients of the medium window are "no
    /// relationship" numbers (`spam.new_recipient_ratio`, `spam.new_recipient_min`);
    /// for a farm, over all its members.
    #[serde(rename = "NEW_RECIPIENT_RATIO")]
    pub(crate) new_recipient_ratio: f64,
    /// `DISTINCT_RATIO`: one message per recipient over the medium window
    /// (`spam.distinct_ratio`): a broadcast, not a conversation.
    #[serde(rename = "DISTINCT_RATIO")]
    pub(crate) distinct_ratio: f64,
    /// `NO_VOICE`: at least `spam.no_voice_min_sms` SMS and no call over the long
    /// window; for a farm, the share of such members.
    #[serde(rename = "NO_VOICE")]
    pub(crate) no_voice: f64,
    /// `OUT_IN_ASYMMETRY`: sent / (received + 1) over the long window is at least
    /// `spam.out_in_ratio`.
    #[serde(rename = "OUT_IN_ASYMMETRY")]
    pub(crate) out_in_asymmetry: f64,
    /// `YOUNG_UNVERIFIED`: the SIM is at most `spam.young_sim_days` old and its
    /// identity is not verified; for a farm, the share of such members.
    #[serde(rename = "YOUNG_UNVERIFIED")]
    pub(crate) young_unverified: f64,
    /// `GATEWAY_TAC`: the device is a GSM-gateway model, configured or learned; for a
    /// farm, the share of members on gateway models.
    #[serde(rename = "GATEWAY_TAC")]
    pub(crate) gateway_tac: f64,
    /// `STATIONARY`: at least `spam.stationary_records` consecutive sending records
    /// from one cell; for a farm, the share of members in its most common cell.
    #[serde(rename = "STATIONARY")]
    pub(crate) stationary: f64,
    /// `TEMPLATE_REPEAT`: at least `spam.template_repeat` copies of one fingerprint in
    /// a single record.
    #[serde(rename = "TEMPLATE_REPEAT")]
    pub(crate) template_repeat: f64,
    /// `FARM_SIZE`: a group has at least `spam.farm_min_members` linked members.
    #[serde(rename = "FARM_SIZE")]
    pub(crate) farm_size: f64,
    /// `SIMS_PER_DEVICE`: at least `spam.sims_per_device` member SIMs on one device.
    #[serde(rename = "SIMS_PER_DEVICE")]
    pub(crate) sims_per_device: f64,
    /// `TEMPLATE_CAMPAIGN`: at least `spam.campaign_min_sims` members sending
    /// near-duplicate fingerprints in one cell and campaign window.
    #[serde(rename = "TEMPLATE_CAMPAIGN")]
    pub(crate) template_campaign: f64,
    /// `GATEWAY_TAC_CELL`: at least `spam.gateway_cell_min_sims` members sharing one
    /// gateway TAC in one cell.
    #[serde(rename = "GATEWAY_TAC_CELL")]
    pub(crate) gateway_tac_cell: f64,
    /// `SYNCHRONIZED_ONSET`: at least `spam.onset_min_sims` candidates of one operator,
    /// without device, cell or content in their records, became heavy senders within
    /// `spam.onset_window_secs` of each other.
    #[serde(rename = "SYNCHRONIZED_ONSET")]
    pub(crate) synchronized_onset: f64,
    /// `FARM_SITES`: sites (device and template in a cell) at several cells joined as one farm
    /// (same operator, same template, common start within `spam.farm_site_onset_secs`).
    #[serde(rename = "FARM_SITES")]
    pub(crate) farm_sites: f64,
    /// `RATE_HELD_HOURS`: the SIM sent at least `spam.held_rate_1h` SMS in each of
    /// `spam.held_hours` full hours and in the last hour, steadily, far beyond its
    /// operator's population (`spam.far_robust_z`). Enough on its own to open a case
    /// (it needs only `sms_out`), unless evidence the feed does carry contradicts it.
    #[serde(rename = "RATE_HELD_HOURS")]
    pub(crate) rate_held_hours: f64,
    /// `REPEATED_BURSTS`: the SIM sent `spam.burst_min_sms` or more within
    /// `spam.burst_within_secs`, paused, and did it again, `spam.burst_repeats` times
    /// within the long window: more than one contact book, more notices than a school
    /// sends. Enough on its own to open a case (it needs only `sms_out`), unless
    /// evidence the feed does carry contradicts it.
    #[serde(rename = "REPEATED_BURSTS")]
    pub(crate) repeated_bursts: f64,
    /// `RATE_STEADY_HOUR`: in every 5-minute bucket of the last hour the SIM sent at
    /// least `spam.steady_rate_1h`'s share of a bucket (the newest pro rata; on records
    /// longer than a bucket, up to `spam.steady_record_secs`, each record's own count,
    /// where the feed carries `distinct_recipients`), far beyond its operator's
    /// population (`spam.far_robust_z`): a script's pace, not a person's. Enough on its
    /// own to open a case (on records of a bucket or less it needs only `sms_out`),
    /// unless evidence the feed does carry contradicts it.
    #[serde(rename = "RATE_STEADY_HOUR")]
    pub(crate) rate_steady_hour: f64,
}

impl Default for RuleConfidence {
    fn default() -> Self {
        RuleConfidence {
            sms_rate_5m: 0.3,
            sms_rate_1h: 0.3,
            sms_rate_24h: 0.2,
            population_tail: 0.4,
            rate_robust_z: 0.3,
            rate_far_beyond: 0.9,
            new_recipient_ratio: 0.6,
            distinct_ratio: 0.3,
            no_voice: 0.4,
            out_in_asymmetry: 0.3,
            young_unverified: 0.4,
            gateway_tac: 0.5,
            stationary: 0.1,
            template_repeat: 0.2,
            farm_size: 0.2,
            sims_per_device: 0.6,
            template_campaign: 0.6,
            gateway_tac_cell: 0.5,
            synchronized_onset: 0.9,
            farm_sites: 0.6,
            rate_held_hours: 0.9,
            repeated_bursts: 0.9,
            rate_steady_hour: 0.9,
        }
    }
}

impl RuleConfidence {
    /// Every confidence is a probability.
    pub(crate) fn check(&self, p: &mut Problems) {
        for (code, value) in self.by_code() {
            within(p, &format!("spam.confidence.{code}"), value, 0.0, 1.0);
        }
    }

    /// `(rule code, confidence)` of every rule, in declaration order.
    pub(crate) fn by_code(&self) -> [(&'static str, f64); 23] {
        [
            ("SMS_RATE_5M", self.sms_rate_5m),
            ("SMS_RATE_1H", self.sms_rate_1h),
            ("SMS_RATE_24H", self.sms_rate_24h),
            ("POPULATION_TAIL", self.population_tail),
            ("RATE_ROBUST_Z", self.rate_robust_z),
            ("RATE_FAR_BEYOND", self.rate_far_beyond),
            ("NEW_RECIPIENT_RATIO", self.new_recipient_ratio),
            ("DISTINCT_RATIO", self.distinct_ratio),
            ("NO_VOICE", self.no_voice),
            ("OUT_IN_ASYMMETRY", self.out_in_asymmetry),
            ("YOUNG_UNVERIFIED", self.young_unverified),
            ("GATEWAY_TAC", self.gateway_tac),
            ("STATIONARY", self.stationary),
            ("TEMPLATE_REPEAT", self.template_repeat),
            ("FARM_SIZE", self.farm_size),
            ("SIMS_PER_DEVICE", self.sims_per_device),
            ("TEMPLATE_CAMPAIGN", self.template_campaign),
            ("GATEWAY_TAC_CELL", self.gateway_tac_cell),
            ("SYNCHRONIZED_ONSET", self.synchronized_onset),
            ("FARM_SITES", self.farm_sites),
            ("RATE_HELD_HOURS", self.rate_held_hours),
            ("REPEATED_BURSTS", self.repeated_bursts),
            ("RATE_STEADY_HOUR", self.rate_steady_hour),
        ]
    }
}
