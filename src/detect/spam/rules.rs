//! The rules: each a small named unit with a code, the value it measured and the
//! threshold it compares with, so every case can say why it exists.
//!
//! Per-SIM rules read [`SimFeatures`]; farm rules read [`FarmFeatures`]. A fired rule
//! contributes its confidence to a noisy-OR score (`1 − Π(1 − cᵢ)`): independent
//! pieces of evidence each make the case likelier, none alone makes it certain.

use super::state::field;
use crate::config::{RuleConfidence, SpamConfig};
use crate::model::{round4, Reason};

pub(crate) use super::farm_rules::{FarmFeatures, FarmRules};

/// Identifier of a rule; also its bit in a fired-rules mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum RuleId {
    SmsRate5m,
    SmsRate1h,
    SmsRate24h,
    PopulationTail,
    RateRobustZ,
    RateFarBeyond,
    NewRecipientRatio,
    DistinctRatio,
    NoVoice,
    OutInAsymmetry,
    YoungUnverified,
    GatewayTac,
    Stationary,
    TemplateRepeat,
    FarmSize,
    SimsPerDevice,
    TemplateCampaign,
    GatewayTacCell,
    SynchronizedOnset,
    FarmSites,
    RateHeldHours,
    RepeatedBursts,
    RateSteadyHour,
}

pub(crate) const ALL_RULES: [RuleId; 23] = [
    RuleId::SmsRate5m,
    RuleId::SmsRate1h,
    RuleId::SmsRate24h,
    RuleId::PopulationTail,
    RuleId::RateRobustZ,
    RuleId::RateFarBeyond,
    RuleId::NewRecipientRatio,
    RuleId::DistinctRatio,
    RuleId::NoVoice,
    RuleId::OutInAsymmetry,
    RuleId::YoungUnverified,
    RuleId::GatewayTac,
    RuleId::Stationary,
    RuleId::TemplateRepeat,
    RuleId::FarmSize,
    RuleId::SimsPerDevice,
    RuleId::TemplateCampaign,
    RuleId::GatewayTacCell,
    RuleId::SynchronizedOnset,
    RuleId::FarmSites,
    RuleId::RateHeldHours,
    RuleId::RepeatedBursts,
    RuleId::RateSteadyHour,
];

impl RuleId {
    /// The code written into a case's `reasons`.
    pub(crate) const fn code(self) -> &'static str {
        match self {
            RuleId::SmsRate5m => "SMS_RATE_5M",
            RuleId::SmsRate1h => "SMS_RATE_1H",
            RuleId::SmsRate24h => "SMS_RATE_24H",
            RuleId::PopulationTail => "POPULATION_TAIL",
            RuleId::RateRobustZ => "RATE_ROBUST_Z",
            RuleId::RateFarBeyond => "RATE_FAR_BEYOND",
            RuleId::NewRecipientRatio => "NEW_RECIPIENT_RATIO",
            RuleId::DistinctRatio => "DISTINCT_RATIO",
            RuleId::NoVoice => "NO_VOICE",
            RuleId::OutInAsymmetry => "OUT_IN_ASYMMETRY",
            RuleId::YoungUnverified => "YOUNG_UNVERIFIED",
            RuleId::GatewayTac => "GATEWAY_TAC",
            RuleId::Stationary => "STATIONARY",
            RuleId::TemplateRepeat => "TEMPLATE_REPEAT",
            RuleId::FarmSize => "FARM_SIZE",
            RuleId::SimsPerDevice => "SIMS_PER_DEVICE",
            RuleId::TemplateCampaign => "TEMPLATE_CAMPAIGN",
            RuleId::GatewayTacCell => "GATEWAY_TAC_CELL",
            RuleId::SynchronizedOnset => "SYNCHRONIZED_ONSET",
            RuleId::FarmSites => "FARM_SITES",
            RuleId::RateHeldHours => "RATE_HELD_HOURS",
            RuleId::RateSteadyHour => "RATE_STEADY_HOUR",
            RuleId::RepeatedBursts => "REPEATED_BURSTS",
        }
    }

    #[inline]
    pub(crate) const fn bit(self) -> u32 {
        1 << (self as u8)
    }

    #[cfg(test)]
    pub(crate) fn from_code(code: &str) -> Option<RuleId> {
        ALL_RULES.iter().copied().find(|r| r.code() == code)
    }

    /// Volume rules: how much the SIM sends.
    pub(crate) const VOLUME_MASK: u32 = RuleId::SmsRate5m.bit()
        | RuleId::SmsRate1h.bit()
        | RuleId::SmsRate24h.bit()
        | RuleId::PopulationTail.bit()
        | RuleId::RateRobustZ.bit()
        | RuleId::RateFarBeyond.bit()
        | RuleId::RateHeldHours.bit()
        | RuleId::RepeatedBursts.bit()
        | RuleId::RateSteadyHour.bit();

    /// Rules that may open a case on their own, from `sms_out` alone.
    pub(crate) const ALONE_MASK: u32 = RuleId::RateFarBeyond.bit()
        | RuleId::RateHeldHours.bit()
        | RuleId::RepeatedBursts.bit()
        | RuleId::RateSteadyHour.bit();

    /// Link rules: what ties SIMs of a farm together.
    pub(crate) const LINK_MASK: u32 = RuleId::SimsPerDevice.bit()
        | RuleId::TemplateCampaign.bit()
        | RuleId::GatewayTacCell.bit()
        | RuleId::SynchronizedOnset.bit();
}

/// Confidence of one rule in the noisy-OR score, from `[spam.confidence]` (where
/// the defaults and their reasons are documented).
pub(crate) fn confidence(rule: RuleId, c: &RuleConfidence) -> f64 {
    match rule {
        RuleId::SmsRate5m => c.sms_rate_5m,
        RuleId::SmsRate1h => c.sms_rate_1h,
        RuleId::SmsRate24h => c.sms_rate_24h,
        RuleId::PopulationTail => c.population_tail,
        RuleId::RateRobustZ => c.rate_robust_z,
        RuleId::RateFarBeyond => c.rate_far_beyond,
        RuleId::NewRecipientRatio => c.new_recipient_ratio,
        RuleId::DistinctRatio => c.distinct_ratio,
        RuleId::NoVoice => c.no_voice,
        RuleId::OutInAsymmetry => c.out_in_asymmetry,
        RuleId::YoungUnverified => c.young_unverified,
        RuleId::GatewayTac => c.gateway_tac,
        RuleId::Stationary => c.stationary,
        RuleId::TemplateRepeat => c.template_repeat,
        RuleId::FarmSize => c.farm_size,
        RuleId::SimsPerDevice => c.sims_per_device,
        RuleId::TemplateCampaign => c.template_campaign,
        RuleId::GatewayTacCell => c.gateway_tac_cell,
        RuleId::SynchronizedOnset => c.synchronized_onset,
        RuleId::FarmSites => c.farm_sites,
        RuleId::RateHeldHours => c.rate_held_hours,
        RuleId::RepeatedBursts => c.repeated_bursts,
        RuleId::RateSteadyHour => c.rate_steady_hour,
    }
}

/// Confidence of every rule, indexed by [`RuleId`].
pub(crate) fn confidences(c: &RuleConfidence) -> [f64; ALL_RULES.len()] {
    ALL_RULES.map(|r| confidence(r, c))
}

/// What the rules of one evaluation found: a mask and each fired rule's value and threshold.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fired {
    pub(crate) mask: u32,
    value: [f64; ALL_RULES.len()],
    threshold: [f64; ALL_RULES.len()],
}

/// One rule of a table: its code and the function measuring it (value, threshold).
pub(crate) type RuleEntry<P, F> = (RuleId, fn(&P, &F) -> Option<(f64, f64)>);

/// Run a rule table: every rule that fires is recorded with its value and threshold.
pub(crate) fn fire<P, F>(table: &[RuleEntry<P, F>], params: &P, f: &F) -> Fired {
    let mut out = Fired::default();
    for (id, rule) in table {
        if let Some((value, threshold)) = rule(params, f) {
            out.push(*id, value, threshold);
        }
    }
    out
}

impl Fired {
    #[inline]
    pub(crate) fn push(&mut self, rule: RuleId, value: f64, threshold: f64) {
        let i = rule as usize;
        self.mask |= rule.bit();
        self.value[i] = value;
        self.threshold[i] = threshold;
    }

    #[inline]
    pub(crate) fn has(&self, rule: RuleId) -> bool {
        self.mask & rule.bit() != 0
    }

    /// Whether a rule that may open a case on its own fired ([`RuleId::ALONE_MASK`]).
    #[inline]
    pub(crate) fn opens_alone(&self) -> bool {
        self.mask & RuleId::ALONE_MASK != 0
    }

    #[cfg(test)]
    pub(crate) fn value(&self, rule: RuleId) -> f64 {
        self.value[rule as usize]
    }

    /// Noisy-OR of the confidences of the fired rules.
    pub(crate) fn score(&self, confidence: &[f64; ALL_RULES.len()]) -> f64 {
        let mut keep = 1.0;
        for r in ALL_RULES {
            if self.has(r) {
                keep *= 1.0 - confidence[r as usize].clamp(0.0, 1.0);
            }
        }
        1.0 - keep
    }

    /// Fold another evaluation in: union of rules, the larger value of each.
    pub(crate) fn merge_max(&mut self, other: &Fired) {
        for r in ALL_RULES {
            if other.has(r) {
                let i = r as usize;
                if !self.has(r) || other.value[i] > self.value[i] {
                    self.value[i] = other.value[i];
                    self.threshold[i] = other.threshold[i];
                }
                self.mask |= r.bit();
            }
        }
    }

    /// The fired rules as case reasons, in rule order.
    pub(crate) fn reasons(&self) -> Vec<Reason> {
        ALL_RULES
            .iter()
            .filter(|r| self.has(**r))
            .map(|&r| {
                Reason::new(
                    r.code(),
                    round4(self.value[r as usize]),
                    round4(self.threshold[r as usize]),
                )
            })
            .collect()
    }
}

/// Per-SIM measurements at one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SimFeatures {
    pub(crate) out_short: u64,
    pub(crate) out_medium: u64,
    pub(crate) out_long: u64,
    /// Hourly send rate over the part of the medium window the SIM has been seen in
    /// (at least the short window): a SIM that started 20 minutes ago and sent 400 is
    /// sending 1 200 an hour, not 400.
    pub(crate) rate_seen_per_hour: f64,
    pub(crate) distinct_medium: u64,
    pub(crate) new_medium: u64,
    pub(crate) voice_long: u64,
    pub(crate) in_long: u64,
    /// `−log10` of the population tail probability of the medium-window count, if computed.
    pub(crate) tail_log10: Option<f64>,
    pub(crate) robust_z: Option<f64>,
    /// Robust z-score of `rate_seen_per_hour` against the operator's population, if
    /// its baseline is trusted.
    pub(crate) rate_seen_z: Option<f64>,
    /// Share of the medium-window buckets since the SIM was first seen in which it
    /// sent (filled in only when it may open a case): how steadily it sends.
    pub(crate) active_share: f64,
    /// Consecutive full hours (long-window buckets before the current one) in which
    /// the SIM sent at `held_rate_1h` or more (filled in only when it may open a case).
    pub(crate) held_hours: u32,
    /// The smallest hourly rate among those hours (0 when there are none).
    pub(crate) held_min_per_hour: f64,
    /// Robust z-score of `held_min_per_hour` against the operator's population, if
    /// its baseline is trusted and the SIM held a pace at all.
    pub(crate) held_z: Option<f64>,
    /// Bursts (`burst_min_sms` within `burst_within_secs`, each after a pause) the
    /// SIM sent within the long window (stage A's burst column).
    #[serde(default)]
    pub(crate) bursts: u32,
    /// Consecutive medium-window buckets, back from the newest (pro rata when it has
    /// only partly elapsed), in which the SIM sent at least `steady_rate_1h`'s share
    /// of a bucket (filled in only when it may open a case and its pace is
    /// `RATE_HELD_HOURS`'s; on records longer than a bucket counted record by record,
    /// see `evaluate::steady_buckets`; 0 otherwise): a pace held in every 5 minutes.
    #[serde(default)]
    pub(crate) steady_buckets: u32,
    /// The smallest of those buckets' counts as an hourly rate (0 when there are none).
    #[serde(default)]
    pub(crate) steady_min_per_hour: f64,
    /// Robust z-score of `steady_min_per_hour` against the operator's population, if
    /// its baseline is trusted and the SIM held a steady pace at all.
    #[serde(default)]
    pub(crate) steady_z: Option<f64>,
    pub(crate) age_days: Option<u32>,
    pub(crate) kyc_verified: Option<bool>,
    pub(crate) gateway_tac: Option<u32>,
    pub(crate) cell_streak: u32,
    /// Largest count of one fingerprint in the record.
    pub(crate) max_fp_count: u32,
    /// That fingerprint (the record's main template), when the record carries any.
    pub(crate) top_fp: Option<u64>,
    /// Optional fields the SIM's records carried (`state::field` bits): a rule whose
    /// field is missing is not evaluated.
    pub(crate) fields: u8,
}

impl SimFeatures {
    /// Whether the SIM's records carried every field of `mask`.
    #[inline]
    pub(crate) fn carries(&self, mask: u8) -> bool {
        self.fields & mask == mask
    }

    /// Whether the SIM's records carried `sim_age_days` and `kyc_verified`: what tells
    /// a subscriber's one-off burst from a spammer's (`ONE_OFF_BURST`).
    #[inline]
    pub(crate) fn carries_identity(&self) -> bool {
        self.age_days.is_some() && self.kyc_verified.is_some()
    }
}

/// Thresholds of the per-SIM rules, from [`SpamConfig`].
#[derive(Debug, Clone)]
pub(crate) struct SimRules {
    pub(crate) rate_5m: u64,
    pub(crate) rate_1h: u64,
    pub(crate) rate_24h: u64,
    pub(crate) tail_log10: f64,
    pub(crate) robust_z: f64,
    pub(crate) far_rate_1h: u64,
    pub(crate) far_rate_24h: u64,
    pub(crate) far_robust_z: f64,
    pub(crate) far_active_share: f64,
    pub(crate) held_rate_1h: u64,
    /// `held_rate_1h` over the medium window (its count at that pace).
    pub(crate) held_medium_min: u64,
    pub(crate) held_hours: u32,
    pub(crate) burst_repeats: u32,
    pub(crate) steady_rate_1h: u64,
    /// Buckets `RATE_STEADY_HOUR` needs: every bucket of the medium window, the newest
    /// read pro rata when it has only partly elapsed.
    pub(crate) steady_buckets: u32,
    /// Longest record `RATE_STEADY_HOUR` reads (`steady_record_secs`).
    pub(crate) steady_record_secs: u32,
    pub(crate) new_ratio: f64,
    pub(crate) new_min: u64,
    pub(crate) distinct_ratio: f64,
    pub(crate) distinct_min: u64,
    pub(crate) no_voice_min: u64,
    pub(crate) out_in_ratio: f64,
    pub(crate) out_in_min: u64,
    pub(crate) young_days: u32,
    pub(crate) stationary: u32,
    pub(crate) template_repeat: u32,
}

impl SimRules {
    pub(crate) fn from_config(c: &SpamConfig) -> SimRules {
        SimRules {
            rate_5m: u64::from(c.rate_5m),
            rate_1h: u64::from(c.rate_1h),
            rate_24h: u64::from(c.rate_24h),
            tail_log10: -c.population_tail_p.max(1e-300).log10(),
            robust_z: c.robust_z,
            far_rate_1h: u64::from(c.far_rate_1h),
            far_rate_24h: u64::from(c.far_rate_24h),
            far_robust_z: c.far_robust_z,
            far_active_share: c.far_active_share,
            held_rate_1h: u64::from(c.held_rate_1h),
            held_medium_min: (u64::from(c.held_rate_1h) * u64::from(c.medium_window_secs))
                .div_ceil(3_600),
            held_hours: c.held_hours,
            burst_repeats: c.burst_repeats,
            steady_rate_1h: u64::from(c.steady_rate_1h),
            steady_buckets: 12,
            steady_record_secs: c.steady_record_secs,
            new_ratio: c.new_recipient_ratio,
            new_min: u64::from(c.new_recipient_min),
            distinct_ratio: c.distinct_ratio,
            distinct_min: u64::from(c.distinct_min_sms),
            no_voice_min: u64::from(c.no_voice_min_sms),
            out_in_ratio: c.out_in_ratio,
            out_in_min: u64::from(c.out_in_min_sms),
            young_days: c.young_sim_days,
            stationary: c.stationary_records,
            template_repeat: c.template_repeat,
        }
    }

    /// Evaluate every per-SIM rule of [`SIM_RULES`].
    pub(crate) fn evaluate(&self, f: &SimFeatures) -> Fired {
        fire(&SIM_RULES, self, f)
    }

    /// Whether `NEW_RECIPIENT_RATIO` fires (the behaviour gate of a `spam_sim` case).
    #[inline]
    pub(crate) fn new_recipient_ratio(&self, f: &SimFeatures) -> Option<(f64, f64)> {
        new_recipient_ratio(self, f)
    }

    /// Whether a SIM on a feed without `new_recipients` broadcasts a template (one
    /// message per recipient, `DISTINCT_RATIO`): the stand-in behaviour evidence, once
    /// other broadcasters share the template (`TEMPLATE_CAMPAIGN`).
    pub(crate) fn template_broadcast(&self, f: &SimFeatures) -> bool {
        !f.carries(field::NEW) && f.top_fp.is_some() && distinct_ratio(self, f).is_some()
    }
}

/// A per-SIM rule: `Some((measured value, threshold))` when it fires.
pub(crate) type SimRuleFn = fn(&SimRules, &SimFeatures) -> Option<(f64, f64)>;

/// The per-SIM rules, each a small named unit, in the order of a case's reasons.
pub(crate) const SIM_RULES: [(RuleId, SimRuleFn); 17] = [
    (RuleId::SmsRate5m, sms_rate_5m),
    (RuleId::SmsRate1h, sms_rate_1h),
    (RuleId::SmsRate24h, sms_rate_24h),
    (RuleId::PopulationTail, population_tail),
    (RuleId::RateRobustZ, rate_robust_z),
    (RuleId::RateFarBeyond, rate_far_beyond),
    (RuleId::NewRecipientRatio, new_recipient_ratio),
    (RuleId::DistinctRatio, distinct_ratio),
    (RuleId::NoVoice, no_voice),
    (RuleId::OutInAsymmetry, out_in_asymmetry),
    (RuleId::YoungUnverified, young_unverified),
    (RuleId::GatewayTac, gateway_tac),
    (RuleId::Stationary, stationary),
    (RuleId::TemplateRepeat, template_repeat),
    (RuleId::RateHeldHours, rate_held_hours),
    (RuleId::RepeatedBursts, repeated_bursts),
    (RuleId::RateSteadyHour, rate_steady_hour),
];

#[inline]
fn at_least(value: u64, threshold: u64) -> Option<(f64, f64)> {
    (value >= threshold).then_some((value as f64, threshold as f64))
}

/// `SMS_RATE_5M`: SMS sent in the short window ≥ `rate_5m`.
fn sms_rate_5m(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    at_least(f.out_short, r.rate_5m)
}

/// `SMS_RATE_1H`: SMS sent in the medium window ≥ `rate_1h`.
fn sms_rate_1h(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    at_least(f.out_medium, r.rate_1h)
}

/// `SMS_RATE_24H`: SMS sent in the long window ≥ `rate_24h` (one network's published
/// limit of 100 a day).
fn sms_rate_24h(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    at_least(f.out_long, r.rate_24h)
}

/// `POPULATION_TAIL`: `−log10 P(N ≥ count)` of the medium-window count under the
/// population's negative-binomial model ≥ `−log10 population_tail_p`.
fn population_tail(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    f.tail_log10
        .filter(|v| *v >= r.tail_log10)
        .map(|v| (v, r.tail_log10))
}

/// `RATE_ROBUST_Z`: robust z-score of the hourly rate (median/MAD of the population)
/// ≥ `robust_z`.
fn rate_robust_z(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    f.robust_z
        .filter(|z| *z >= r.robust_z)
        .map(|z| (z, r.robust_z))
}

/// `RATE_FAR_BEYOND`: an hourly rate over the time the SIM has been seen (at most the
/// medium window) ≥ `far_rate_1h`, held: sent in at least `far_active_share` of the
/// medium-window buckets since the SIM was first seen (a school's or a shop's
/// bursts come with pauses), (once the SIM's operator has a trusted baseline for
/// its reporting interval) a robust z-score of that rate of at least `far_robust_z`,
/// and past one contact book where the feed needs that ([`past_contact_book`]).
/// Needs only `sms_out`: the one rule that may open a case on its own, for feeds that
/// carry nothing else (value: the rate, SMS per hour).
fn rate_far_beyond(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    (far_held(r, f) && past_contact_book(r, f))
        .then_some((f.rate_seen_per_hour, r.far_rate_1h as f64))
}

/// `RATE_HELD_HOURS`: at least `held_rate_1h` SMS per hour in each of the last
/// `held_hours` full hours (long-window buckets before the current one) and over the
/// last hour (the medium window), sent in at least `far_active_share` of the medium
/// window's buckets since the SIM was first seen, and (once the operator's baseline
/// for the SIM's reporting interval is trusted) the smallest of those hours' rates at
/// a robust z of at least `far_robust_z`. A pace kept up for hours is what tells a
/// spammer that ramps up slowly or settles under `far_rate_1h` from a subscriber's
/// burst, a TV vote or a school's notices; it needs only `sms_out` and may open a
/// case on its own, like `RATE_FAR_BEYOND` (value: the hours held).
fn rate_held_hours(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    let held = f.held_hours >= r.held_hours
        && held_pace(r, f)
        && f.active_share >= r.far_active_share
        && !f.held_z.is_some_and(|z| z < r.far_robust_z);
    held.then_some((f64::from(f.held_hours), f64::from(r.held_hours)))
}

/// `RATE_STEADY_HOUR`: in every bucket of the medium window (twelve 5-minute buckets:
/// the last hour, the newest pro rata to the time elapsed in it) the SIM sent at least
/// `steady_rate_1h`'s share of a bucket (a longer record is spread evenly over its
/// buckets and shows no bucket's own count: on records up to `steady_record_secs` each
/// record's own count, where they carry `distinct_recipients`), and (once the
/// operator's baseline for the SIM's reporting interval is trusted) the slowest
/// bucket's pace at a robust z of at least `far_robust_z`. A script keeps its pace in every 5 minutes; a person's voting or
/// texting rises, falls and pauses. Enough on its own, held back by the contrary
/// evidence that holds back `RATE_FAR_BEYOND` (value: the slowest bucket's pace, SMS
/// per hour).
fn rate_steady_hour(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    let steady = f.steady_buckets >= r.steady_buckets
        && f.steady_min_per_hour >= r.steady_rate_1h as f64
        && !f.steady_z.is_some_and(|z| z < r.far_robust_z);
    steady.then_some((f.steady_min_per_hour, r.steady_rate_1h as f64))
}

/// `REPEATED_BURSTS`: at least `burst_repeats` bursts (`burst_min_sms` within
/// `burst_within_secs`, each after a pause of `burst_gap_secs` with fewer than
/// `burst_quiet_sms`) within the long window. A "send to all" is one burst and a
/// school sends 2–3 notices a day; a SIM that sends a contact book's worth again and
/// again is sending more than one. Needs only `sms_out` and may open a case on its
/// own, like `RATE_FAR_BEYOND` (value: the bursts).
fn repeated_bursts(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    (f.bursts >= r.burst_repeats).then_some((f64::from(f.bursts), f64::from(r.burst_repeats)))
}

/// Whether a SIM's last hour reaches `RATE_HELD_HOURS`'s pace (the gate that lets a
/// SIM without the behaviour fields be evaluated for it).
#[inline]
pub(crate) fn held_pace(r: &SimRules, f: &SimFeatures) -> bool {
    f.out_medium >= r.held_medium_min
}

/// `RATE_FAR_BEYOND` but for the contact book: the rate is far beyond and held, but
/// the SIM has sent no more than one "send to all" and its feed cannot show whether
/// it is a subscriber's (the near-miss reason `WITHIN_CONTACT_BOOK`).
#[inline]
pub(crate) fn far_within_contact_book(r: &SimRules, f: &SimFeatures) -> bool {
    far_held(r, f) && !past_contact_book(r, f)
}

/// The rate part of `RATE_FAR_BEYOND`: far beyond, held, and beyond the operator's
/// own population once its baseline is trusted.
#[inline]
fn far_held(r: &SimRules, f: &SimFeatures) -> bool {
    far_rate(r, f)
        && f.active_share >= r.far_active_share
        && !f.rate_seen_z.is_some_and(|z| z < r.far_robust_z)
}

/// The send rate of `RATE_FAR_BEYOND` (also the gate that lets a SIM without the
/// behaviour fields be evaluated at all).
#[inline]
pub(crate) fn far_rate(r: &SimRules, f: &SimFeatures) -> bool {
    f.rate_seen_per_hour >= r.far_rate_1h as f64
}

/// Whether the SIM has sent more than one message to every entry of a contact book
/// over the long window (≥ `far_rate_24h`), or need not have: a "send to all" (a
/// new-number announcement) is told from a spammer by the subscriber's life it shows
/// (`ONE_OFF_BURST`, contrary.rs: identity verified, an old SIM), so where the SIM's
/// records carry `sim_age_days` and `kyc_verified` that check judges it and the count
/// is not waited for. Only where the feed cannot carry them does the count stand in
/// for it: such a SIM is flagged once it has sent more than a contact book holds.
#[inline]
fn past_contact_book(r: &SimRules, f: &SimFeatures) -> bool {
    f.out_long >= r.far_rate_24h || f.carries_identity()
}

/// `NEW_RECIPIENT_RATIO`: `new / distinct` recipients over the medium window ≥
/// `new_recipient_ratio`, with at least `new_recipient_min` new recipients. Needs
/// `new_recipients`.
fn new_recipient_ratio(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    if !f.carries(field::NEW | field::DISTINCT) {
        return None;
    }
    new_share(f.new_medium, f.distinct_medium, r.new_min, r.new_ratio)
}

/// `new / distinct` when there are at least `min_new` new recipients and it reaches
/// `ratio` (the per-SIM and the farm `NEW_RECIPIENT_RATIO`).
#[inline]
pub(crate) fn new_share(new: u64, distinct: u64, min_new: u64, ratio: f64) -> Option<(f64, f64)> {
    if new < min_new || distinct == 0 {
        return None;
    }
    let share = new as f64 / distinct as f64;
    (share >= ratio).then_some((share, ratio))
}

/// `DISTINCT_RATIO`: `distinct / sms_out` over the medium window ≥ `distinct_ratio`
/// (one message per recipient), with at least `distinct_min_sms` SMS.
fn distinct_ratio(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    if !f.carries(field::DISTINCT) || f.out_medium < r.distinct_min.max(1) {
        return None;
    }
    let ratio = f.distinct_medium as f64 / f.out_medium as f64;
    (ratio >= r.distinct_ratio).then_some((ratio, r.distinct_ratio))
}

/// `NO_VOICE`: no call made or received over the long window while sending at least
/// `no_voice_min_sms` (value: the SMS sent).
fn no_voice(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    if !f.carries(field::CALLS) || f.voice_long != 0 {
        return None;
    }
    at_least(f.out_long, r.no_voice_min)
}

/// `OUT_IN_ASYMMETRY`: `sms_out / (sms_in + 1)` over the long window ≥ `out_in_ratio`.
fn out_in_asymmetry(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    if !f.carries(field::SMS_IN) || f.out_long < r.out_in_min {
        return None;
    }
    let ratio = f.out_long as f64 / (f.in_long as f64 + 1.0);
    (ratio >= r.out_in_ratio).then_some((ratio, r.out_in_ratio))
}

/// `YOUNG_UNVERIFIED`: identity not verified and SIM age ≤ `young_sim_days`
/// (value: the age in days; fires at or *below* the threshold).
fn young_unverified(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    match (f.age_days, f.kyc_verified) {
        (Some(age), Some(false)) if age <= r.young_days => {
            Some((f64::from(age), f64::from(r.young_days)))
        }
        _ => None,
    }
}

/// `GATEWAY_TAC`: the device is a GSM-gateway model, configured or learned
/// (value: the TAC, or 0 when the record carries none and the SIM's last reported
/// device was a gateway; threshold 1 = "listed").
fn gateway_tac(_r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    f.gateway_tac.map(|tac| (f64::from(tac), 1.0))
}

/// `STATIONARY`: consecutive sending records from one cell ≥ `stationary_records`.
fn stationary(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    (f.cell_streak >= r.stationary).then_some((f64::from(f.cell_streak), f64::from(r.stationary)))
}

/// `TEMPLATE_REPEAT`: copies of one fingerprint in a single record ≥ `template_repeat`.
fn template_repeat(r: &SimRules, f: &SimFeatures) -> Option<(f64, f64)> {
    (f.max_fp_count >= r.template_repeat)
        .then_some((f64::from(f.max_fp_count), f64::from(r.template_repeat)))
}

#[cfg(test)]
#[path = "tests_rules.rs"]
mod tests;
