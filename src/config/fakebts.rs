//! `[fakebts]`: every threshold, weight and window of the fake-BTS detector, with
//! defaults grounded in docs/detection.md, so a deployment changes behaviour in its
//! TOML file, never in code. The detector (`detect::fakebts`) builds its radio model
//! and solver parameters from these plain values; nothing here knows the detector.

use super::fakebts_regions::RegionConfig;
use super::fakebts_weights::RuleWeights;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Thresholds of the fake base station (IMSI catcher, SMS blaster) detector
/// (docs/detection.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FakeBtsConfig {
    // ---- radio model (docs/detection.md: log-distance n ≈ 3–3.5, shadowing σ ≈ 6–8 dB) ----
    /// Path-loss exponent `n`. Default 3.2 (urban, docs/detection.md: n ≈ 3–3.5).
    pub(crate) path_loss_exponent: f64,
    /// Log-normal shadowing σ, dB. Default 7 (docs/detection.md: σ ≈ 6–8 dB).
    pub shadowing_sigma_db: f64,
    /// Path loss at the reference distance, dB. Default 78 (free space over 100 m at
    /// ≈ 1.8 GHz: 20·log10(4π·100 m / 0.167 m) ≈ 77.5 dB).
    pub(crate) reference_loss_db: f64,
    /// Reference distance of the log-distance model, metres. Default 100 (beyond it
    /// the urban exponent applies).
    pub(crate) reference_distance_m: f64,
    /// Distances are floored at this (antenna height / near field), metres. Default 10.
    pub(crate) min_distance_m: f64,
    /// EIRP assumed for a registered cell whose row has no `eirp_dbm`, dBm. Default 55
    /// (macro cell: 43 dBm transmitter + ≈ 15 dBi antenna, minus feeder losses).
    pub(crate) default_eirp_dbm: f64,
    /// What phones report relative to total received power: LTE/NR RSRP is per
    /// resource element, ≈ total − 10·log10(1200 subcarriers): LTE and NR reports are
    /// this many dB below the total received power. Default 30.8 (GSM RxLev is the
    /// total, no offset).
    pub(crate) lte_rsrp_offset_db: f64,
    /// UMTS RSCP is the pilot channel's power, ≈ 10 dB below the total: UMTS reports
    /// are this many dB below the total received power. Default 10.
    pub(crate) umts_rscp_offset_db: f64,

    // ---- per-report rules ----
    /// SIGNAL_TOO_STRONG fires when the signal exceeds the path-loss prediction for the
    /// claimed site by more than this many shadowing σ. Default 3 (≈ 0.1 % of legitimate
    /// reports under log-normal shadowing).
    pub(crate) signal_excess_sigmas: f64,
    /// BEYOND_REACH (CellGuard): distance − registered range − position accuracy must
    /// exceed this speed/uncertainty margin, metres. Default 2 000 (a reporter moving
    /// at 30 m/s for a minute between fix and cell observation, plus row imprecision).
    pub(crate) reach_margin_m: f64,
    /// Registered ranges below this are raised to it, metres. Default 500.
    pub(crate) min_range_m: f64,
    /// Position accuracy assumed for a report without `accuracy_m`, metres: an absent
    /// accuracy is not read as a perfect fix. Default 50 (phone GPS in a city: 5–50 m).
    pub(crate) missing_accuracy_m: f64,
    /// TA_INCONSISTENT tolerance beyond one TA step and the position accuracy, metres.
    /// Default 500 (inventory coordinates are rounded to a site, not an antenna).
    pub(crate) ta_tolerance_m: f64,
    /// NO_NEIGHBOURS fires at or below this many announced neighbours. Default 1
    /// (docs/detection.md: "no or one neighbour announced").
    pub(crate) max_neighbours_suspicious: u16,
    /// Radius in which the registered cells define which PLMNs, LACs and channels are
    /// plausible, metres. Default 6 000 (LAC clusters are a few km across).
    pub(crate) neighbourhood_radius_m: f64,
    /// At most this many registered cells are consulted for the neighbourhood rules.
    pub(crate) neighbourhood_max_cells: usize,

    // ---- evidence aggregation and score (additive, à la Crocodile Hunter / SnoopSnitch) ----
    /// Points per rule that holds for a candidate transmitter.
    pub(crate) weights: RuleWeights,
    /// Tiles of the transmitter stage (`[fakebts.regions]`).
    pub(crate) regions: RegionConfig,
    /// A rule holds for a transmitter when it fired in at least this share of the
    /// transmitter's reports in the evidence window (events: at least once). Default 0.3.
    pub(crate) min_rule_fraction: f64,
    /// An event rule (RAT_DOWNGRADE, LU_REJECT, SMS_WHILE_CAMPED) holds for a
    /// transmitter when it happened in at least this share of its reports in the
    /// evidence window. Default 0.2: a rogue cell downgrades, rejects or messages a
    /// good part of the phones it catches; a legacy cell missing from the inventory
    /// sees a circuit-switched fallback now and then (a few per cent of its reports).
    /// RAT_DOWNGRADE and LU_REJECT also need `min_reporters` distinct phones with one
    /// in the window (one phone's fallback among a handful of reports is a share too).
    pub(crate) min_event_fraction: f64,
    /// Points needed to open a case. Default 6: one sign that the identity itself is
    /// forged plus one independent corroboration.
    pub(crate) case_threshold: f64,
    /// Of those, points from signs that the broadcast itself is forged (null cipher,
    /// no neighbours, the identity on a channel other than its registered one or on two
    /// channels at once). Inventory and placement mismatches alone (a missing row, a row
    /// at wrong coordinates) never open a case: they become inventory findings.
    /// Default 3.
    pub(crate) min_rogue_points: f64,
    /// DUPLICATE_IDENTITY: the same identity heard on another channel within this much
    /// event time, seconds. Default 3 600.
    pub(crate) duplicate_window_secs: u64,
    /// Distinct reporting devices needed before a case opens (single-device noise is
    /// not a case; docs/detection.md: "requiring several independent reporters"), and
    /// for RAT_DOWNGRADE or LU_REJECT to hold. Default 2.
    pub(crate) min_reporters: usize,
    /// Evidence window: rule counts are summed over this much event time, seconds.
    /// Default 1 800 (30 min, six buckets of 5 min).
    pub(crate) evidence_window_secs: u64,

    // ---- IMSI catcher (REJECTS_EVERY_PHONE, over a longer horizon) ----
    /// Horizon over which the phones a transmitter rejected or downgraded are counted,
    /// seconds. Default 10 800 (3 h: a low-power IMSI catcher rejects each phone once,
    /// after which the phone bars the location area, so it is reported about once a
    /// quarter of an hour). Over the same horizon every phone that heard a forged
    /// identity (ARFCN_INCONSISTENT or DUPLICATE_IDENTITY holding) counts towards
    /// `min_reporters`, and a candidate transmitter with forged signs or rejects waits
    /// this long (not `idle_evict_secs`) for its next phone: a low-power clone is
    /// heard by one passer-by every hour or so.
    pub(crate) catcher_horizon_secs: u64,
    /// REJECTS_EVERY_PHONE needs at least this many distinct phones rejected or
    /// downgraded over the horizon, by an identity whose LAC or PLMN no registered cell
    /// around uses (independent reporters: one faulty phone is not a catcher; a new
    /// cell missing from the inventory uses a LAC of its area). Default 2: a catcher
    /// catches a phone every quarter of an hour or so, and the target is a case within
    /// 20 minutes.
    pub(crate) catcher_min_phones: usize,
    /// …and at least this share of all the phones that reported the transmitter over
    /// the horizon. A legitimate cell accepts nearly every phone (roaming rejects are a
    /// few per cent); a catcher rejects all of them. Default 0.8.
    pub(crate) catcher_min_share: f64,
    /// A registered identity heard in place and without ciphering (a legacy cell's
    /// configuration, otherwise not counted) holds REJECTS_EVERY_PHONE when at least
    /// this many distinct phones heard on it in place were downgraded or rejected over
    /// `catcher_horizon_secs`, and they are at least `catcher_min_share` of the phones
    /// heard on it in place then (docs/detection.md, "Legacy 2G configuration"): a clone
    /// of a cell nearby with ciphering off forces every phone it catches down to 2G,
    /// while a real legacy cell serves 2G-only phones and the odd circuit-switched
    /// fallback (in the matrix at most a third of such a cell's phones). Default 3:
    /// more phones than a catcher needs, since the identity itself is plausible.
    pub(crate) forced_min_phones: usize,
    /// A registered identity heard on two channels at once while its inventory row
    /// carries no channel: a report, or a transmitter's reports, whose timing advance
    /// fits the registered site (present, no `TA_INCONSISTENT` or
    /// `KNOWN_CELL_FAR_FROM_SITE`; the signal does not decide, real cells are often
    /// heard stronger than the model says) is the real cell's side and never gets
    /// `DUPLICATE_IDENTITY`; the other side (a clone next to its phones) still does.
    /// Default true: in the matrix (`static_clone_quiet` seed 8) the real cell of a
    /// low-power clone's identity, heard 8.4 km beyond its site with the timing
    /// advance of that distance, was otherwise a false case. false: either side of
    /// such an identity counts as forged.
    pub(crate) duplicate_site_fit: bool,
    /// Independent sign families (docs/detection.md, "Independent signs": an
    /// implausible identity, a foreign channel, a transmitter next to the phone while the
    /// site is far, every phone rejected or downgraded) that open a case while fewer
    /// than `min_reporters` phones heard it; the identity family is always required.
    /// Default 3: a low-power catcher or clone is heard by one passer-by every quarter
    /// of an hour to two hours, and a report wrong in three unrelated ways is not one
    /// faulty phone or one stale inventory row. 5 or more turns this off.
    pub(crate) single_phone_min_signs: usize,
    /// A sign counts towards `single_phone_min_signs` when its rule fired on at least
    /// this share of the transmitter's reports in the window that could evaluate it
    /// (consistent evidence), and the reject/downgrade sign when at least this share of
    /// the phones heard over `catcher_horizon_secs` were rejected or downgraded.
    /// Default 0.8: a LAC unused around a few of the places a new cell is heard from is
    /// the edge of its LAC area, and a cell that accepts most phones is no catcher.
    pub(crate) single_phone_min_share: f64,
    /// Sign families the reject sign counts for when the transmitter refused location
    /// updates into a location area its network does not have around: the identity
    /// sign is `LAC_INCONSISTENT` and a `reject` (not a downgrade) came on at least
    /// `min_event_fraction` of its reports, every phone heard turned away. A phone
    /// entering a LAC it does not know makes a location update; the network accepts
    /// one into its own LAC, a catcher rejects it to harvest the IMSI. So a report
    /// with an invented LAC and a reject carries the catcher's whole signature, and one
    /// passer-by every quarter of an hour cannot wait for a second phone (target 20
    /// min). Default 2 (with `single_phone_min_signs` 3: the first rejected phone opens
    /// the case); 1 counts the reject once like any other sign.
    pub(crate) single_phone_lac_reject_signs: usize,
    /// The identity sign (required for a case on one phone) also holds for a
    /// registered identity whose inventory row carries no channel when
    /// `DUPLICATE_IDENTITY` holds (the identity on air on another channel at the same
    /// time, this side not fitting the site: `duplicate_site_fit`) and
    /// `TA_INCONSISTENT` is a consistent sign (a transmitter next to the phone while
    /// the site is far; a signal too strong alone is not): with a channel in the row,
    /// the same report gives `ARFCN_INCONSISTENT`. Default true: in the matrix
    /// (`static_clone_quiet` seed 5) a low-power clone of a cell of an operator whose
    /// inventory has no channels was heard by one phone once and not found. false: the
    /// identity sign needs `LAC_INCONSISTENT`, `PLMN_INCONSISTENT` or
    /// `ARFCN_INCONSISTENT`.
    pub(crate) single_phone_duplicate_identity: bool,
    /// `CLONES_DISTANT_CELLS` (forged, `[fakebts.weights]`): a transmitter broadcast this
    /// many registered identities in succession, each `KNOWN_CELL_FAR_FROM_SITE` (none
    /// heard `unlink_after_secs` after the next came on air, each next one heard over
    /// `link_coexist_secs`). A real cell keeps its identity; a misplaced row is one.
    /// Default 2; 0 off (1 is refused: one identity is what a misplaced row shows).
    pub(crate) far_clone_min_identities: usize,
    // ---- identity linking ----
    /// A report joins a candidate transmitter of its identity when it is within this
    /// distance of the transmitter's current position estimate, metres. Default 4 000
    /// (blaster range 1–2 km on either side, docs/detection.md).
    pub(crate) association_radius_m: f64,
    /// …or this multiple of the distance at which the transmitter is currently heard
    /// (its recent reporters around its position), whichever is larger. Default 1.5.
    pub(crate) association_spread_factor: f64,
    /// …or when it is within `association_radius_m` (plus `max_speed_mps` times the
    /// age) of one of the transmitter's last this many reports (its current footprint:
    /// two phones hearing one transmitter are at most twice its range apart). Default
    /// 48 (a few minutes of a blaster's captures; bounds the work per report).
    pub(crate) association_footprint_reports: usize,
    /// A new identity is linked to an existing transmitter seen at most this long ago
    /// (TAC hopping every few minutes), seconds. Default 900.
    pub(crate) link_gap_secs: u64,
    /// A cloning blaster with a case takes its next copy heard far from its site from
    /// next to the phone after a silence of at most this long, seconds, not only
    /// `link_gap_secs`: it stops at corners, and apps and MDT hear it seldom (17-22 min
    /// silences in the outside radio scenario). Default 1 800; at most
    /// `case_idle_evict_secs`; `link_gap_secs` or less turns it off.
    pub(crate) far_clone_gap_secs: u64,
    /// An invented identity already on air for longer than this before a transmitter
    /// would take it is another transmitter's, not its next identity, seconds.
    /// Default 120.
    pub(crate) link_coexist_secs: u64,
    /// A linked identity is unlinked (with its reports, a candidate of its own) when
    /// the transmitter's older identity is still heard, by a few reports, more than
    /// this long after the new one appeared: two transmitters side by side, not one
    /// that changed identity, seconds. Default 45 (a blaster's captured phones report
    /// the old identity for up to about half a minute after a change; two cloning
    /// blasters on the road at once take each other's next identities, and every
    /// minute more mixes their tracks).
    pub(crate) unlink_after_secs: u64,
    /// Speed allowed for a moving transmitter when widening the association radius
    /// over a gap, m/s. Default 20 (a car in a city).
    pub(crate) max_speed_mps: f64,
    // ---- localisation and tracking ----
    /// Localisation runs at most once per this much event time per transmitter, s.
    /// Default 60.
    pub(crate) locate_interval_secs: u64,
    /// A localisation refits the fix over all kept reports only when the reports
    /// heard since the last such fit are at least this share of the kept reports
    /// (the short-window fixes of the track are refitted every time); otherwise the
    /// transmitter keeps its fix. A stationary transmitter heard five times a minute
    /// with 400 kept reports is refitted every four minutes instead of every minute:
    /// its evidence barely changed, and that fit over a few hundred binned reports
    /// was the largest part of the detector's work. Final snapshots always refit.
    /// 0 refits every time. Default 0.05.
    pub(crate) locate_refit_share: f64,
    /// Observations of the short window used for tracking, seconds; two displaced
    /// short-window fixes confirm movement only this far apart (closer, their windows
    /// share most reports). Default 180.
    pub(crate) track_window_secs: u64,
    /// At most this many reports are kept per transmitter, the most recent (a
    /// stationary one is located from all of them, binned by `locate_bin_m`); at
    /// least 8. Bounds the memory per transmitter (24 bytes a report). Default 400.
    pub(crate) max_observations: usize,
    /// Of those, at most this many (the most recent, at least 8) while it has no case:
    /// candidates are most transmitters and reports (real cells unlisted or misplaced,
    /// heard for hours; a `missing_cell` finding is located from these). Default 128.
    pub(crate) max_candidate_observations: usize,
    /// At most this many reports (with a signal) are kept per registered cell heard out
    /// of place, to locate it for a `misplaced_cell` inventory finding (the most recent
    /// ones; the finding needs the site within `finding_min_offset_m`, not metres); at
    /// least 8. Default 100.
    pub(crate) max_profile_observations: usize,
    /// Most claimed identities a `fake_bts` case lists (the first ones seen). A
    /// transmitter that hops through more carries the reason `IDENTITIES_UNLISTED`,
    /// whose value is how many it used; a warning is logged. Bounds the size of a
    /// case on the topic and in ClickHouse. At least 1. Default 256.
    pub max_case_identities: usize,
    /// Most `fake_bts` cases kept open in memory. When one more opens, the open case
    /// whose transmitter was heard the longest ago is closed first, with its final
    /// snapshot, as if it had gone quiet: nothing is dropped, and a warning is logged
    /// and counted (metric `cellwatch_open_cases_closed_by_cap`). At least 1.
    /// Default 10 000.
    pub max_open_cases: usize,
    /// Observations are aggregated into square cells of this size (mean position and
    /// signal, count as weight) before a fit, metres; 0 fits every report. Default 25:
    /// within the GPS accuracy of phone reports (5–50 m) and below the shadowing
    /// decorrelation distance (tens of metres in cities), so one cell's reports share
    /// a position and a shadowing draw; bounds the fit's work by the footprint.
    pub locate_bin_m: f64,
    /// Huber threshold of the robust fit, in σ. Default 2.
    pub(crate) huber_k: f64,
    /// σ of a distance just outside its timing-advance interval, metres. The interval
    /// already covers the quantisation (553.5 m GSM steps); what remains is timing
    /// jitter and multipath excess delay. Default 30; the Huber loss bounds the pull of
    /// a grossly wrong TA.
    pub ta_sigma_m: f64,
    /// σ of a signal residual in the position fit, dB. Larger than the shadowing σ:
    /// a rogue cell is only reported by the phones it captured, i.e. those with
    /// favourable fading, so its reports are biased upwards at the edge of its reach,
    /// and the reporters' GPS errors add to it. Default 12.
    pub(crate) locate_rss_sigma_db: f64,
    /// Weak prior pulling a fix towards the signal-weighted centroid, σ metres.
    /// Default 3 000.
    pub(crate) prior_sigma_m: f64,
    /// Smallest reported uncertainty radius, metres. Default 30.
    pub(crate) min_radius_m: f64,
    /// Up to this many reports, a transmitter's position is the posterior mean of the
    /// fit's cost over a grid around the least-squares optimum, and its uncertainty
    /// the posterior's (docs/detection.md, "Localisation"): with a handful of phones
    /// (a low-power transmitter, an IMSI catcher that rejects each phone once) the
    /// optimum is only one point of the region the evidence allows. 0 turns it off.
    /// Default 40 (the grid costs 289 to 1 089 evaluations of the cost per
    /// localisation: `locate_posterior_coarse_side`, `locate_posterior_refine_levels`,
    /// `locate_posterior_refine_margin`).
    pub locate_posterior_max_reports: usize,
    /// Points a side of the posterior grid's coarse pass. Default 17, 2 to 65.
    pub(crate) locate_posterior_coarse_side: usize,
    /// Times the posterior grid's step is halved after the coarse pass, each time only
    /// where the posterior has mass (`locate_posterior_refine_margin`). Default 1: a
    /// 33 × 33 grid, its step a sixteenth of the farthest reporter's distance (60–80 m
    /// for a low-power transmitter heard 1–1.3 km away; 17 × 17 alone moved a
    /// low-power clone's fix by ≈ 50 m with where its points fell). At most 4.
    pub(crate) locate_posterior_refine_levels: usize,
    /// A finer level's point is evaluated only when one of the coarser points around
    /// it has a log-weight within this margin of the largest so far (natural-log
    /// units); the points left out weigh nothing. Default 24 (e^−24 ≈ 4·10⁻¹¹ of the
    /// peak); 800 evaluates the whole grid, bit for bit as a full grid.
    pub(crate) locate_posterior_refine_margin: f64,
    /// Kalman acceleration noise spectral density, m²/s³. Default 0.5 (city driving).
    pub(crate) track_accel_noise: f64,
    /// A moving transmitter's position at its last report (its case's `location`) is
    /// the filter's prediction from its last short-window fix, the velocity
    /// extrapolated over at most this much event time, s; its radius covers the
    /// whole time since the fix, and the extrapolation left out. Default 0 (the last
    /// filtered position): the velocity of fixes a few hundred metres and a minute or
    /// so apart is mostly noise, and a road vehicle turns and stops at corners
    /// (outside radio scenario: 486-857 m off at 180).
    pub(crate) track_predict_max_secs: u64,
    /// A moving transmitter's last filtered position is then moved, report by report
    /// over the reports of at most this much event time before its last report and
    /// after its last short-window fix, to the nearest point within each report's
    /// phone's reach (its timing advance's outer bound): the phones that heard it
    /// since bound where it went. A report whose phone is
    /// farther from the position than the filter's radius plus that reach contradicts
    /// the filter (the real cell behind a cloned identity) and is skipped; only
    /// reports with a timing advance count, and only while the filter's radius is
    /// within `association_radius_m`. Default 60 (outside radio scenario seed 1: 772
    /// m off → 377; docs/detection.md, "Tracking"); 0 turns it off.
    pub(crate) track_since_fix_secs: u64,
    /// A short-window fix feeds the track only when its reports come from at least
    /// this many places `track_place_m` apart: a position, a distance and a power
    /// are three unknowns, and one or two phones (each reporting a few times from
    /// where it stands) give a ring, not a point. The track coasts across such
    /// stretches instead. Default 3.
    pub(crate) track_min_places: usize,
    /// Distance between two reporter positions that counts them as two places for
    /// `track_min_places`, metres. Default 100.
    pub(crate) track_place_m: f64,
    /// A transmitter is treated as moving once two recent short-window fixes,
    /// `track_window_secs` apart, lie more than this from the whole-window fix, beyond
    /// their combined uncertainty (two such fixes at any interval let identity linking
    /// treat it as possibly moving); a fix whose own ≈ 95 % radius exceeds this cannot
    /// show it (a few reports from one or two places fit anywhere along a line),
    /// metres. Default 800.
    pub(crate) moving_min_displacement_m: f64,
    /// Minimum event time between two case snapshots caused by the track alone, s.
    /// Default 300.
    pub(crate) snapshot_interval_secs: u64,
    /// Idle candidate transmitters are dropped after this much event time, seconds
    /// (those with forged signs or rejects after `catcher_horizon_secs` if longer).
    /// Default 3 600.
    pub(crate) idle_evict_secs: u64,
    /// A transmitter with an open case is kept this long without reports before its
    /// case is closed (a transmitter back on air within it, with the same identity or
    /// a linked one, continues its case instead of opening a new one), seconds.
    /// Default 10 800 (3 h: a suitcase blaster's operator pausing between sessions;
    /// a low-power clone heard by few passers-by goes unreported for over an hour).
    pub(crate) case_idle_evict_secs: u64,
    // ---- inventory findings ----
    /// Distinct reporters needed before an inventory discrepancy is reported. Default 3.
    pub(crate) finding_min_reporters: usize,
    /// Reports needed before an inventory discrepancy is reported. Default 10.
    pub(crate) finding_min_reports: u64,
    /// Share of a registered cell's reports (once it was first heard out of place)
    /// that must be beyond reach or off their timing advance for a "misplaced"
    /// finding. Default 0.3.
    pub(crate) misplaced_min_fraction: f64,
    /// A "misplaced" finding needs the estimated site this far from the listed one
    /// (and beyond twice the estimate's uncertainty), metres. Default 1 000
    /// (site-level inventory precision).
    pub(crate) finding_min_offset_m: f64,
}

impl Default for FakeBtsConfig {
    fn default() -> Self {
        FakeBtsConfig {
            path_loss_exponent: 3.2,
            shadowing_sigma_db: 7.0,
            reference_loss_db: 78.0,
            reference_distance_m: 100.0,
            min_distance_m: 10.0,
            default_eirp_dbm: 55.0,
            lte_rsrp_offset_db: 30.8,
            umts_rscp_offset_db: 10.0,
            signal_excess_sigmas: 3.0,
            reach_margin_m: 2_000.0,
            min_range_m: 500.0,
            missing_accuracy_m: 50.0,
            ta_tolerance_m: 500.0,
            max_neighbours_suspicious: 1,
            neighbourhood_radius_m: 6_000.0,
            neighbourhood_max_cells: 64,
            weights: RuleWeights::default(),
            regions: RegionConfig::default(),
            min_rule_fraction: 0.3,
            min_event_fraction: 0.2,
            case_threshold: 6.0,
            min_rogue_points: 3.0,
            duplicate_window_secs: 3_600,
            min_reporters: 2,
            evidence_window_secs: 1_800,
            catcher_horizon_secs: 10_800,
            catcher_min_phones: 2,
            catcher_min_share: 0.8,
            forced_min_phones: 3,
            duplicate_site_fit: true,
            single_phone_min_signs: 3,
            single_phone_min_share: 0.8,
            single_phone_lac_reject_signs: 2,
            single_phone_duplicate_identity: true,
            far_clone_min_identities: 2,
            association_radius_m: 4_000.0,
            association_spread_factor: 1.5,
            association_footprint_reports: 48,
            link_gap_secs: 900,
            far_clone_gap_secs: 1_800,
            link_coexist_secs: 120,
            unlink_after_secs: 45,
            max_speed_mps: 20.0,
            locate_interval_secs: 60,
            locate_refit_share: 0.05,
            track_window_secs: 180,
            max_observations: 400,
            max_candidate_observations: 128,
            max_profile_observations: 100,
            max_case_identities: 256,
            max_open_cases: 10_000,
            locate_bin_m: 25.0,
            huber_k: 2.0,
            ta_sigma_m: 30.0,
            locate_rss_sigma_db: 12.0,
            prior_sigma_m: 3_000.0,
            min_radius_m: 30.0,
            locate_posterior_max_reports: 40,
            locate_posterior_coarse_side: 17,
            locate_posterior_refine_levels: 1,
            locate_posterior_refine_margin: 24.0,
            track_accel_noise: 0.5,
            track_predict_max_secs: 0,
            track_since_fix_secs: 60,
            track_min_places: 3,
            track_place_m: 100.0,
            moving_min_displacement_m: 800.0,
            snapshot_interval_secs: 300,
            idle_evict_secs: 3_600,
            case_idle_evict_secs: 10_800,
            finding_min_reporters: 3,
            finding_min_reports: 10,
            misplaced_min_fraction: 0.3,
            finding_min_offset_m: 1_000.0,
        }
    }
}

impl FakeBtsConfig {
    pub(crate) fn duplicate_window_ms(&self) -> i64 {
        secs_ms(self.duplicate_window_secs)
    }
    pub(crate) fn catcher_horizon_ms(&self) -> i64 {
        secs_ms(self.catcher_horizon_secs)
    }
    pub(crate) fn evidence_window_ms(&self) -> i64 {
        secs_ms(self.evidence_window_secs)
    }
    pub(crate) fn link_coexist_ms(&self) -> i64 {
        secs_ms(self.link_coexist_secs)
    }
    pub(crate) fn unlink_after_ms(&self) -> i64 {
        secs_ms(self.unlink_after_secs)
    }
    pub(crate) fn link_gap_ms(&self) -> i64 {
        secs_ms(self.link_gap_secs)
    }
    pub(crate) fn far_clone_gap_ms(&self) -> i64 {
        secs_ms(self.far_clone_gap_secs)
    }
    pub(crate) fn locate_interval_ms(&self) -> i64 {
        secs_ms(self.locate_interval_secs)
    }
    pub(crate) fn track_window_ms(&self) -> i64 {
        secs_ms(self.track_window_secs)
    }
    pub(crate) fn track_predict_max_ms(&self) -> i64 {
        secs_ms(self.track_predict_max_secs)
    }

    pub(crate) fn track_since_fix_ms(&self) -> i64 {
        secs_ms(self.track_since_fix_secs)
    }
    /// The tracking filter's acceleration noise and the σ of its initial speed (half
    /// the fastest plausible transmitter).
    pub(crate) fn track_filter(&self) -> (f64, f64) {
        (self.track_accel_noise, self.max_speed_mps / 2.0)
    }
    pub(crate) fn snapshot_interval_ms(&self) -> i64 {
        secs_ms(self.snapshot_interval_secs)
    }
    pub(crate) fn idle_evict_ms(&self) -> i64 {
        secs_ms(self.idle_evict_secs)
    }
    pub(crate) fn case_idle_evict_ms(&self) -> i64 {
        secs_ms(self.case_idle_evict_secs)
    }
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}
