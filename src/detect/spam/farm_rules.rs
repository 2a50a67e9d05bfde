//! The farm rules: what a candidate group's members show together (`FarmFeatures`),
//! each rule a small named unit like the per-SIM ones in `rules.rs`, sharing their
//! codes, confidences and noisy-OR score.

use super::rules::{fire, new_share, Fired, RuleId};
use crate::config::SpamConfig;

/// Aggregates of one candidate farm (a connected group of linked SIMs).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FarmFeatures {
    pub(crate) members: u32,
    /// Most distinct member SIMs seen on one device.
    pub(crate) max_sims_per_device: u32,
    /// Members linked by near-duplicate fingerprints in one cell and window.
    pub(crate) campaign_members: u32,
    /// Most members sharing one gateway TAC in one cell.
    pub(crate) gateway_cell_members: u32,
    /// Most members linked by a common onset.
    pub(crate) onset_members: u32,
    /// Members whose records carry `new_recipients`.
    pub(crate) members_with_new: u32,
    pub(crate) new_medium: u64,
    pub(crate) distinct_medium: u64,
    /// Members with sending and no call over the long window.
    pub(crate) no_voice_members: u32,
    pub(crate) young_unverified_members: u32,
    pub(crate) gateway_members: u32,
    /// Members whose last cell is the group's most common cell.
    pub(crate) same_cell_members: u32,
    /// Device-linked groups (sites) joined into this one by `FARM_SITES` (1: none).
    pub(crate) sites: u32,
}

/// Thresholds of the farm rules.
#[derive(Debug, Clone)]
pub(crate) struct FarmRules {
    pub(crate) min_members: u32,
    pub(crate) sims_per_device: u32,
    pub(crate) campaign_min: u32,
    pub(crate) gateway_cell_min: u32,
    pub(crate) onset_min: u32,
    pub(crate) new_ratio: f64,
    pub(crate) new_min: u64,
    /// Share of members needed for the member-share rules (no voice, young, gateway, cell).
    pub(crate) member_share: f64,
}

impl FarmRules {
    pub(crate) fn from_config(c: &SpamConfig) -> FarmRules {
        FarmRules {
            min_members: c.farm_min_members,
            sims_per_device: c.sims_per_device,
            campaign_min: c.campaign_min_sims,
            gateway_cell_min: c.gateway_cell_min_sims,
            onset_min: c.onset_min_sims,
            new_ratio: c.new_recipient_ratio,
            new_min: u64::from(c.new_recipient_min),
            member_share: c.farm_member_share,
        }
    }

    /// Evaluate every farm rule of [`FARM_RULES`].
    pub(crate) fn evaluate(&self, f: &FarmFeatures) -> Fired {
        fire(&FARM_RULES, self, f)
    }

    fn share(&self, k: u32, f: &FarmFeatures) -> Option<(f64, f64)> {
        let share = f64::from(k) / f64::from(f.members.max(1));
        (share >= self.member_share).then_some((share, self.member_share))
    }
}

/// A farm rule: `Some((measured value, threshold))` when it fires.
pub(crate) type FarmRuleFn = fn(&FarmRules, &FarmFeatures) -> Option<(f64, f64)>;

/// The farm rules, each a small named unit, in the order of a case's reasons.
pub(crate) const FARM_RULES: [(RuleId, FarmRuleFn); 11] = [
    (RuleId::NewRecipientRatio, farm_new_recipient_ratio),
    (RuleId::NoVoice, farm_no_voice),
    (RuleId::YoungUnverified, farm_young_unverified),
    (RuleId::GatewayTac, farm_gateway_tac),
    (RuleId::Stationary, farm_one_cell),
    (RuleId::FarmSize, farm_size),
    (RuleId::SimsPerDevice, sims_per_device),
    (RuleId::TemplateCampaign, template_campaign),
    (RuleId::GatewayTacCell, gateway_tac_cell),
    (RuleId::SynchronizedOnset, synchronized_onset),
    (RuleId::FarmSites, farm_sites),
];

/// Sites (groups tied by device and by a template in their cell) one farm needs for `FARM_SITES`.
pub(crate) const FARM_SITES_MIN: u32 = 2;

/// `FARM_SITES`: sites at several cells joined as one farm (value: the
/// groups joined, threshold 2); see [`crate::config::SpamConfig::farm_site_onset_secs`].
fn farm_sites(_: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.sites >= FARM_SITES_MIN).then_some((f64::from(f.sites), f64::from(FARM_SITES_MIN)))
}

/// `SYNCHRONIZED_ONSET`: members linked by a common onset ≥ `onset_min_sims`.
fn synchronized_onset(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.onset_members >= r.onset_min).then_some((f64::from(f.onset_members), f64::from(r.onset_min)))
}

/// `FARM_SIZE`: linked members ≥ `farm_min_members`.
fn farm_size(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.members >= r.min_members).then_some((f64::from(f.members), f64::from(r.min_members)))
}

/// `SIMS_PER_DEVICE`: most distinct member SIMs on one device ≥ `sims_per_device`.
fn sims_per_device(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.max_sims_per_device >= r.sims_per_device).then_some((
        f64::from(f.max_sims_per_device),
        f64::from(r.sims_per_device),
    ))
}

/// `TEMPLATE_CAMPAIGN`: members linked by near-duplicate fingerprints in one cell and
/// window ≥ `campaign_min_sims`.
fn template_campaign(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.campaign_members >= r.campaign_min)
        .then_some((f64::from(f.campaign_members), f64::from(r.campaign_min)))
}

/// `GATEWAY_TAC_CELL`: members sharing one gateway TAC in one cell ≥ `gateway_cell_min_sims`.
fn gateway_tac_cell(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    (f.gateway_cell_members >= r.gateway_cell_min).then_some((
        f64::from(f.gateway_cell_members),
        f64::from(r.gateway_cell_min),
    ))
}

/// `NEW_RECIPIENT_RATIO` of the whole group: Σ new / Σ distinct over the members'
/// medium windows, with at least `new_recipient_min` new recipients in total — members
/// may each stay below the per-SIM minimum (low and slow).
fn farm_new_recipient_ratio(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    new_share(f.new_medium, f.distinct_medium, r.new_min, r.new_ratio)
}

/// `NO_VOICE`: share of members that sent without any call ≥ `farm_member_share`.
fn farm_no_voice(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    r.share(f.no_voice_members, f)
}

/// `YOUNG_UNVERIFIED`: share of young unverified members ≥ `farm_member_share`.
fn farm_young_unverified(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    r.share(f.young_unverified_members, f)
}

/// `GATEWAY_TAC`: share of members on gateway models ≥ `farm_member_share`.
fn farm_gateway_tac(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    r.share(f.gateway_members, f)
}

/// `STATIONARY`: share of members in the group's most common cell ≥ `farm_member_share`.
fn farm_one_cell(r: &FarmRules, f: &FarmFeatures) -> Option<(f64, f64)> {
    r.share(f.same_cell_members, f)
}
