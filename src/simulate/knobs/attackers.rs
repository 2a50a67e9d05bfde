//! Rogue transmitters a scenario adds to the default three (stationary fake BTS,
//! new-identity blaster, low-power clone): the low-power IMSI catcher, the SMS blaster
//! that clones distant real cells while it drives, and the static fake BTS that copies
//! a nearby real cell. Their behaviour follows docs/detection.md ("Fake base
//! stations: the literature") and the cases seen in the field, not the detector.

use serde::{Deserialize, Serialize};

/// Extra rogue transmitters and how each kind behaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attackers {
    /// Number of low-power IMSI catchers.
    pub imsi_catchers: u32,
    pub imsi_catcher: ImsiCatcher,
    /// Number of identity-cloning SMS blasters (active at overlapping times).
    pub cloning_blasters: u32,
    pub cloning_blaster: CloningBlaster,
    /// Number of static fake BTS copying a nearby real cell.
    pub static_clones: u32,
    pub static_clone: StaticClone,
}

/// A low-power IMSI catcher: an unknown cell id in a LAC no real cell uses, so every
/// phone it catches attempts a location update, is rejected once and then bars that
/// location area (3GPP TS 24.008 "forbidden LAs") — one report per phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImsiCatcher {
    /// Target operator: a PLMN code or `"random"`.
    pub operator: String,
    /// EIRP, dBm, `[min, max]`.
    pub eirp_dbm: [f64; 2],
    /// How long it is on air, minutes, `[min, max]`.
    pub active_min: [u32; 2],
    /// Neighbour cells it announces.
    pub neighbors: u16,
    /// Cipher it reports; `""` = the field is absent (the phone is rejected before
    /// ciphering starts).
    pub cipher: String,
    /// How much weaker than the phone's best real cell it may be and still catch it
    /// (its reselection offset), dB.
    pub capture_margin_db: f64,
    /// Chance that a phone in reach is caught at one of its reports.
    pub capture_probability: f64,
    /// How many phones it catches over its time on air, `[min, max]`: captures are
    /// paced evenly over the window (at most `phones × elapsed share`, rounded up, so
    /// far), modelling a catcher in a quiet spot that sees a phone every 10-20 min.
    pub phones: [u32; 2],
    /// Largest distance of its site from the city centre, metres.
    pub max_offset_m: f64,
}

impl Default for ImsiCatcher {
    fn default() -> Self {
        ImsiCatcher {
            operator: "random".into(),
            eirp_dbm: [26.0, 29.0],
            active_min: [120, 180],
            neighbors: 2,
            cipher: String::new(),
            capture_margin_db: 12.0,
            capture_probability: 0.5,
            phones: [8, 12],
            max_offset_m: 2_500.0,
        }
    }
}

/// An SMS blaster in a car that, every few minutes, takes the identity of a real GSM
/// cell far from where it is (so no phone nearby knows the real one), stops now and
/// then, and catches phones briefly: downgrade, phishing SMS, release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloningBlaster {
    /// Target operator: a PLMN code or `"random"`.
    pub operator: String,
    pub eirp_dbm: f64,
    /// Start of activity as a share of the scenario, `[min, max]`.
    pub start_share: [f64; 2],
    /// How long it is on air, minutes, `[min, max]`.
    pub active_min: [u32; 2],
    /// Minutes between identity changes, `[min, max]`.
    pub identity_every_min: [u32; 2],
    /// A cloned cell's site is at least this far from the blaster when it takes the
    /// identity, metres.
    pub min_clone_distance_m: f64,
    /// Share of identity changes that invent an unregistered identity instead of
    /// cloning a real cell.
    pub new_identity_share: f64,
    /// Broadcast on the cloned cell's own channel (`true`) or keep the blaster's.
    pub copy_channel: bool,
    /// Cipher it reports; `""` = absent.
    pub cipher: String,
    /// Announce the cloned cell's neighbour count (copied system information);
    /// otherwise `neighbors`.
    pub copy_neighbors: bool,
    pub neighbors: u16,
    /// Driving speed between stops, km/h, `[min, max]`.
    pub speed_kmh: [f64; 2],
    /// Chance of a stop at each corner.
    pub stop_share: f64,
    /// Length of a stop, seconds, `[min, max]`.
    pub stop_secs: [u32; 2],
    pub capture_margin_db: f64,
    pub capture_probability: f64,
}

impl Default for CloningBlaster {
    fn default() -> Self {
        CloningBlaster {
            operator: "random".into(),
            eirp_dbm: 47.0,
            start_share: [0.15, 0.35],
            active_min: [150, 210],
            identity_every_min: [12, 18],
            min_clone_distance_m: 6_000.0,
            new_identity_share: 0.25,
            copy_channel: true,
            cipher: "A5/0".into(),
            copy_neighbors: true,
            neighbors: 0,
            speed_kmh: [15.0, 40.0],
            stop_share: 0.35,
            stop_secs: [60, 900],
            capture_margin_db: 10.0,
            capture_probability: 0.8,
        }
    }
}

/// A static fake BTS broadcasting the identity of a real GSM cell a few hundred
/// metres away, holding the phones it catches (downgrade, some phishing SMS, rejects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticClone {
    /// Target operator: a PLMN code or `"random"`.
    pub operator: String,
    /// EIRP, dBm, `[min, max]`.
    pub eirp_dbm: [f64; 2],
    /// Distance from the copied cell's site, metres, `[min, max]`.
    pub clone_distance_m: [f64; 2],
    /// Broadcast on the copied cell's channel (`true`) or on another of the operator's.
    pub copy_channel: bool,
    /// Cipher it reports; `""` = absent.
    pub cipher: String,
    /// Announce the copied cell's neighbour count; otherwise `neighbors`.
    pub copy_neighbors: bool,
    pub neighbors: u16,
    /// How long it is on air, minutes, `[min, max]`.
    pub active_min: [u32; 2],
    pub capture_margin_db: f64,
    pub capture_probability: f64,
    /// The copied cell is never heard on its own channel (a GSM layer no phone camps
    /// on, or a site down for works that the inventory still lists): nothing shows the
    /// identity twice.
    pub victim_silent: bool,
}

impl Default for StaticClone {
    fn default() -> Self {
        StaticClone {
            operator: "random".into(),
            eirp_dbm: [37.0, 43.0],
            clone_distance_m: [300.0, 1_500.0],
            copy_channel: false,
            cipher: "A5/0".into(),
            copy_neighbors: true,
            neighbors: 0,
            active_min: [120, 240],
            capture_margin_db: 8.0,
            capture_probability: 0.7,
            victim_silent: false,
        }
    }
}

impl Attackers {
    pub(crate) fn problems(&self, out: &mut Vec<String>) {
        use super::{operator_problem, range_problem, share_problem};
        for (key, n) in [
            ("attackers.imsi_catchers", self.imsi_catchers),
            ("attackers.cloning_blasters", self.cloning_blasters),
            ("attackers.static_clones", self.static_clones),
        ] {
            if n > 4 {
                out.push(format!("{key} = {n}: at most 4"));
            }
        }
        let c = &self.imsi_catcher;
        operator_problem("attackers.imsi_catcher.operator", &c.operator, out);
        range_problem(
            "attackers.imsi_catcher.eirp_dbm",
            c.eirp_dbm,
            0.0,
            60.0,
            out,
        );
        let [lo, hi] = c.active_min;
        range_problem(
            "attackers.imsi_catcher.active_min",
            [f64::from(lo), f64::from(hi)],
            10.0,
            1_440.0,
            out,
        );
        share_problem(
            "attackers.imsi_catcher.capture_probability",
            c.capture_probability,
            out,
        );
        let [lo, hi] = c.phones;
        range_problem(
            "attackers.imsi_catcher.phones",
            [f64::from(lo), f64::from(hi)],
            1.0,
            10_000.0,
            out,
        );
        cipher_problem("attackers.imsi_catcher.cipher", &c.cipher, out);
        self.cloning_blaster.problems(out);
        self.static_clone.problems(out);
    }
}

impl CloningBlaster {
    fn problems(&self, out: &mut Vec<String>) {
        use super::{operator_problem, range_problem, share_problem};
        let b = self;
        operator_problem("attackers.cloning_blaster.operator", &b.operator, out);
        range_problem(
            "attackers.cloning_blaster.start_share",
            b.start_share,
            0.0,
            0.9,
            out,
        );
        let [lo, hi] = b.active_min;
        range_problem(
            "attackers.cloning_blaster.active_min",
            [f64::from(lo), f64::from(hi)],
            10.0,
            1_440.0,
            out,
        );
        let [lo, hi] = b.identity_every_min;
        range_problem(
            "attackers.cloning_blaster.identity_every_min",
            [f64::from(lo), f64::from(hi)],
            1.0,
            600.0,
            out,
        );
        range_problem(
            "attackers.cloning_blaster.speed_kmh",
            b.speed_kmh,
            1.0,
            120.0,
            out,
        );
        let [lo, hi] = b.stop_secs;
        range_problem(
            "attackers.cloning_blaster.stop_secs",
            [f64::from(lo), f64::from(hi)],
            0.0,
            7_200.0,
            out,
        );
        share_problem(
            "attackers.cloning_blaster.new_identity_share",
            b.new_identity_share,
            out,
        );
        share_problem("attackers.cloning_blaster.stop_share", b.stop_share, out);
        share_problem(
            "attackers.cloning_blaster.capture_probability",
            b.capture_probability,
            out,
        );
        cipher_problem("attackers.cloning_blaster.cipher", &b.cipher, out);
    }
}

impl StaticClone {
    fn problems(&self, out: &mut Vec<String>) {
        use super::{operator_problem, range_problem, share_problem};
        let s = self;
        operator_problem("attackers.static_clone.operator", &s.operator, out);
        range_problem(
            "attackers.static_clone.eirp_dbm",
            s.eirp_dbm,
            0.0,
            60.0,
            out,
        );
        range_problem(
            "attackers.static_clone.clone_distance_m",
            s.clone_distance_m,
            0.0,
            5_000.0,
            out,
        );
        let [lo, hi] = s.active_min;
        range_problem(
            "attackers.static_clone.active_min",
            [f64::from(lo), f64::from(hi)],
            10.0,
            1_440.0,
            out,
        );
        share_problem(
            "attackers.static_clone.capture_probability",
            s.capture_probability,
            out,
        );
        cipher_problem("attackers.static_clone.cipher", &s.cipher, out);
    }
}

/// A cipher string must fit the contract's 1–16 bytes (or be empty: absent).
fn cipher_problem(key: &str, cipher: &str, out: &mut Vec<String>) {
    if cipher.len() > 16 {
        out.push(format!(
            "{key} = {cipher:?}: at most 16 bytes, or \"\" for none"
        ));
    }
}
