//! SIMs a scenario adds to the default population: SIM farms placed where the
//! default one never is (an operator that sends few fields, several sites), spam
//! campaigns that start slowly, campaigns that send in pulses or steadily just under
//! the rate a bare feed can judge, and more legitimate senders that look like spam
//! (docs/detection.md, "False-positive traps").

use serde::{Deserialize, Serialize};

/// Extra SIM farms, ramping campaigns and legitimate look-alikes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimKnobs {
    pub extra_farms: Vec<ExtraFarm>,
    pub ramp_campaigns: Vec<RampCampaign>,
    pub pulse_campaigns: Vec<PulseCampaign>,
    pub lookalikes: Vec<LookalikeGroup>,
}

/// A SIM farm (SIM boxes / GSM gateways) beyond the default scenario's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtraFarm {
    /// Operator of its SIMs: a PLMN code or `"random"`.
    pub operator: String,
    /// Member SIMs, `[min, max]`.
    pub sims: [u32; 2],
    /// Sites (serving cells) its gateways are spread over; members are dealt to the
    /// sites in turn.
    pub sites: u32,
    /// SIM slots per gateway device, `[min, max]`.
    pub sims_per_device: [u32; 2],
    /// Gateway models (TACs) used, dealt to the sites in turn.
    pub tacs: u32,
    /// SMS each member sends in an active 5-minute step, `[min, max]`.
    pub per_5min: [u32; 2],
    /// Start as a share of the scenario, `[min, max]`.
    pub start_share: [f64; 2],
}

impl Default for ExtraFarm {
    fn default() -> Self {
        ExtraFarm {
            operator: "random".into(),
            sims: [20, 60],
            sites: 1,
            sims_per_device: [8, 32],
            tacs: 1,
            per_5min: [5, 15],
            start_share: [0.1, 0.45],
        }
    }
}

/// A spam campaign whose SIMs start at a rate an ordinary heavy texter could have
/// and ramp up to blatant volume (testing the waters before going all out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RampCampaign {
    /// Operator of its SIMs: a PLMN code or `"random"` (each SIM drawn by share).
    pub operator: String,
    pub sims: u32,
    /// SMS per 5 minutes at the start, `[min, max]` (drawn per SIM).
    pub start_per_5min: [u32; 2],
    /// SMS per 5 minutes once ramped up, `[min, max]`.
    pub end_per_5min: [u32; 2],
    /// Minutes from a SIM's first message to its full rate.
    pub ramp_min: u32,
    /// Start of the campaign as a share of the scenario, `[min, max]`.
    pub start_share: [f64; 2],
    /// SIMs join over this many minutes after the campaign starts.
    pub stagger_min: u32,
}

impl Default for RampCampaign {
    fn default() -> Self {
        RampCampaign {
            operator: "random".into(),
            sims: 12,
            start_per_5min: [1, 3],
            end_per_5min: [40, 120],
            ramp_min: 120,
            start_share: [0.05, 0.3],
            stagger_min: 30,
        }
    }
}

/// A spam campaign whose SIMs send in pulses — `per_5min` SMS in each 5-minute step
/// of an `on_min` pulse every `period_min` minutes — for `duration_min`, then stop.
/// With `on_min` equal to `period_min` a SIM sends steadily: a spammer that keeps a
/// pace just under the rate a feed of required fields can judge
/// (docs/detection.md, "The contact-book floor"). Truth `kind` = `"pulse_spam"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PulseCampaign {
    /// Operator of its SIMs: a PLMN code or `"random"` (each SIM drawn by share).
    pub operator: String,
    pub sims: u32,
    /// SMS per 5-minute step while a pulse is on, `[min, max]` (drawn per step).
    pub per_5min: [u32; 2],
    /// Length of a pulse, minutes, `[min, max]` (drawn per SIM; whole steps).
    pub on_min: [u32; 2],
    /// Time from one pulse's start to the next, minutes, `[min, max]` (drawn per SIM).
    pub period_min: [u32; 2],
    /// How long each SIM keeps it up, minutes, `[min, max]`.
    pub duration_min: [u32; 2],
    /// Start of the campaign as a share of the scenario, `[min, max]`.
    pub start_share: [f64; 2],
    /// SIMs join over this many minutes after the campaign starts.
    pub stagger_min: u32,
}

impl Default for PulseCampaign {
    fn default() -> Self {
        PulseCampaign {
            operator: "random".into(),
            sims: 4,
            per_5min: [60, 90],
            on_min: [10, 10],
            period_min: [30, 30],
            duration_min: [150, 210],
            start_share: [0.05, 0.3],
            stagger_min: 60,
        }
    }
}

/// Kinds of legitimate senders that look like spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookalikeKind {
    Shop,
    School,
    TvVote,
    M2m,
    NewNormal,
    /// A subscriber announcing a new number to the whole contact book in one burst.
    NewNumberAnnouncement,
}

impl LookalikeKind {
    /// The truth's `kind` of such a SIM.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LookalikeKind::Shop => "shop",
            LookalikeKind::School => "school",
            LookalikeKind::TvVote => "tv_vote",
            LookalikeKind::M2m => "m2m",
            LookalikeKind::NewNormal => "new_normal",
            LookalikeKind::NewNumberAnnouncement => "new_number_announcement",
        }
    }
}

/// `count` more legitimate senders of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LookalikeGroup {
    pub kind: LookalikeKind,
    pub count: u32,
    /// Operator of the SIMs: a PLMN code or `"random"`.
    pub operator: String,
}

impl Default for LookalikeGroup {
    fn default() -> Self {
        LookalikeGroup {
            kind: LookalikeKind::Shop,
            count: 5,
            operator: "random".into(),
        }
    }
}

impl SimKnobs {
    pub(crate) fn problems(&self, out: &mut Vec<String>) {
        use super::{operator_problem, range_problem};
        let u = |[a, b]: [u32; 2]| [f64::from(a), f64::from(b)];
        for (i, f) in self.extra_farms.iter().enumerate() {
            let k = format!("sims.extra_farms[{i}]");
            operator_problem(&format!("{k}.operator"), &f.operator, out);
            range_problem(&format!("{k}.sims"), u(f.sims), 3.0, 500.0, out);
            range_problem(
                &format!("{k}.sims_per_device"),
                u(f.sims_per_device),
                1.0,
                128.0,
                out,
            );
            range_problem(&format!("{k}.per_5min"), u(f.per_5min), 1.0, 500.0, out);
            range_problem(&format!("{k}.start_share"), f.start_share, 0.0, 0.9, out);
            if !(1..=16).contains(&f.sites) || !(1..=8).contains(&f.tacs) {
                out.push(format!("{k}: sites must be 1..=16 and tacs 1..=8"));
            }
        }
        for (i, c) in self.ramp_campaigns.iter().enumerate() {
            let k = format!("sims.ramp_campaigns[{i}]");
            operator_problem(&format!("{k}.operator"), &c.operator, out);
            range_problem(
                &format!("{k}.start_per_5min"),
                u(c.start_per_5min),
                1.0,
                1_000.0,
                out,
            );
            range_problem(
                &format!("{k}.end_per_5min"),
                u(c.end_per_5min),
                1.0,
                1_000.0,
                out,
            );
            range_problem(&format!("{k}.start_share"), c.start_share, 0.0, 0.9, out);
            if c.sims == 0 || c.sims > 500 || c.ramp_min == 0 {
                out.push(format!("{k}: sims must be 1..=500 and ramp_min > 0"));
            }
        }
        for (i, c) in self.pulse_campaigns.iter().enumerate() {
            let k = format!("sims.pulse_campaigns[{i}]");
            operator_problem(&format!("{k}.operator"), &c.operator, out);
            range_problem(&format!("{k}.per_5min"), u(c.per_5min), 1.0, 1_000.0, out);
            range_problem(&format!("{k}.on_min"), u(c.on_min), 5.0, 1_440.0, out);
            range_problem(
                &format!("{k}.period_min"),
                u(c.period_min),
                5.0,
                1_440.0,
                out,
            );
            range_problem(
                &format!("{k}.duration_min"),
                u(c.duration_min),
                5.0,
                2_880.0,
                out,
            );
            range_problem(&format!("{k}.start_share"), c.start_share, 0.0, 0.9, out);
            if c.sims == 0 || c.sims > 500 || c.on_min[1] > c.period_min[0] {
                out.push(format!(
                    "{k}: sims must be 1..=500 and a pulse no longer than its period"
                ));
            }
        }
        for (i, g) in self.lookalikes.iter().enumerate() {
            operator_problem(&format!("sims.lookalikes[{i}].operator"), &g.operator, out);
            if g.count > 2_000 {
                out.push(format!(
                    "sims.lookalikes[{i}].count = {}: at most 2000",
                    g.count
                ));
            }
        }
    }
}
