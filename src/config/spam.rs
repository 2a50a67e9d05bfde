//! `[spam]`: every threshold of the spam-SIM and SIM-farm detector, with the
//! literature-based defaults documented key by key (docs/detection.md). The detector
//! (`detect::spam`) builds its rule tables from these plain values; nothing here
//! knows the detector.

use super::check::{at_least, within, Problems};
use super::confidence::RuleConfidence;
use super::error::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Thresholds of the spam-SIM and SIM-farm detector (docs/detection.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpamConfig {
    /// Short sliding window, seconds (5 min; docs/detection.md: "sliding-window send
    /// rate (5 min, 1 h, 24 h)"). It is read from the last buckets of the medium
    /// window, so it must be a multiple of `medium_window_secs / 12`.
    pub(crate) short_window_secs: u32,
    /// Medium sliding window, seconds (1 h): 12 buckets, so a multiple of 12.
    pub(crate) medium_window_secs: u32,
    /// Long sliding window, seconds (24 h): 24 buckets, so a multiple of 24. A SIM idle
    /// for longer starts a fresh state.
    pub(crate) long_window_secs: u32,
    /// How often (event time, seconds) idle SIMs are swept out; a SIM is evicted once
    /// it has been idle for longer than the long window. The sweep only reclaims
    /// memory (a record after a longer gap restarts the state anyway), so an hourly
    /// scan is enough.
    pub(crate) eviction_sweep_secs: u32,

    /// SMS sent in the short window (5 min) that fires `SMS_RATE_5M`. A person types at
    /// most a few SMS a minute; 30 in 5 min is ten times the operators' same-content
    /// limit of 3 per 5 min (docs/detection.md, operator anti-spam limits).
    pub(crate) rate_5m: u32,
    /// SMS sent in the medium window (1 h) that fires `SMS_RATE_1H` (operator limit
    /// 10 same-content SMS per hour, times the 5 distinct templates a campaign rotates).
    pub rate_1h: u32,
    /// SMS sent in the long window (24 h) that fires `SMS_RATE_24H`: one network's
    /// published rule, not more than 100 SMS in 24 h (docs/detection.md).
    pub(crate) rate_24h: u32,
    /// Tail probability under the population model at or below which
    /// `POPULATION_TAIL` fires (value reported as `−log10 p`); 1e-6 ≈ "one SIM in a
    /// million would send this much by chance".
    pub(crate) population_tail_p: f64,
    /// Robust z-score of the hourly rate (median/MAD of `ln(1+rate)`) that fires
    /// `RATE_ROBUST_Z`; 3.5 is the usual outlier cut of the modified z-score
    /// (Iglewicz & Hoaglin 1993).
    pub(crate) robust_z: f64,
    /// Send rate, SMS per hour, from which `RATE_FAR_BEYOND` may fire, measured over
    /// the part of the medium window (1 h) the SIM has been seen in (at least the
    /// short window), so a SIM that started sending 20 minutes ago is judged on its
    /// rate, not on a third of an hour's count: beyond what a legitimate sender keeps
    /// up (a TV voter, a shop), and hundreds of times an ordinary subscriber's rate.
    /// With `far_rate_24h` and `far_robust_z` it is the one rule that needs nothing
    /// but `sms_out`, so it holds on feeds that omit every optional field.
    pub(crate) far_rate_1h: u32,
    /// SMS in the long window (24 h) `RATE_FAR_BEYOND` also needs where the SIM's
    /// records do not carry `sim_age_days` and `kyc_verified`: more than one message
    /// to every entry of a contact book (`one_off_max_sms`), the one thing that tells
    /// a "send to all" (a new-number announcement, a school's notice) from a spammer
    /// when the feed carries nothing but `sms_out`. Where it carries them,
    /// `ONE_OFF_BURST` judges the burst by the SIM's life instead. A SIM below it is a
    /// near miss `WITHIN_CONTACT_BOOK`.
    pub(crate) far_rate_24h: u32,
    /// Robust z-score of the hourly rate against the SIM's own operator's population
    /// (one baseline per operator and reporting interval) that `RATE_FAR_BEYOND` also
    /// needs once that baseline is trusted (`baseline_min_samples`). The robust z
    /// (median and MAD of `ln(1 + rate)`) is used rather than the gamma tail because
    /// it does not weaken when the population itself is heavy-tailed. 4, just past
    /// the usual outlier cut of 3.5: the volume floors above carry the "far"; this
    /// keeps a population whose ordinary subscribers all send that much from being
    /// flagged wholesale.
    pub(crate) far_robust_z: f64,
    /// Share of the 5-minute buckets of the medium window, from the SIM's first record
    /// there to its newest, in which it sent, that `RATE_FAR_BEYOND` also needs
    /// (0..=1): the rate is held, as a spammer's is, not a school's or a shop's
    /// notices with pauses between them. 0.6 leaves room for a spammer's pauses.
    pub(crate) far_active_share: f64,
    /// Send rate, SMS per hour, that `RATE_HELD_HOURS` needs in each of
    /// `held_hours` full hours (buckets of the long window) and over the last hour
    /// (the medium window): a pace held for hours, which a subscriber's one-off burst
    /// (minutes), a TV vote (the hour or two of a show) and a school's notices (bursts
    /// with pauses) do not keep up. 250 is half `far_rate_1h`, 2.5 times the 100 SMS a
    /// day one network publishes as its limit every hour, and above the 100–220 an
    /// hour a busy shop texting its customers sends.
    pub(crate) held_rate_1h: u32,
    /// Consecutive full hours (buckets of the long window, before the current one) at
    /// `held_rate_1h` or more that fire `RATE_HELD_HOURS`: 3, longer than a TV show's
    /// vote; with the last hour the SIM has kept the pace for 3–4 hours (750 SMS or
    /// more, past a contact book). At most the long window's buckets less one.
    pub(crate) held_hours: u32,
    /// SMS within `burst_within_secs` that make one burst for `REPEATED_BURSTS`: 100,
    /// the smallest contact book a "send to all" reaches and a school notice's size.
    pub(crate) burst_min_sms: u32,
    /// The span a burst's `burst_min_sms` must fit in, seconds (a multiple of the
    /// medium window's buckets; 900: a phone's "send to all" or a script's pulse, not
    /// a shop's day).
    pub(crate) burst_within_secs: u32,
    /// A new burst is counted only after a pause: the SIM sent fewer than
    /// `burst_quiet_sms` in the `burst_gap_secs` before a record (600 and 10: one
    /// burst of a sender that never pauses, a TV voter's or a spammer's steady pace,
    /// is one burst, however long).
    pub(crate) burst_gap_secs: u32,
    /// SMS below which the `burst_gap_secs` before a record count as a pause: 10, a
    /// tenth of `burst_min_sms` (a subscriber's own texts in ten minutes, not a
    /// pulse).
    pub(crate) burst_quiet_sms: u32,
    /// Bursts separated by pauses, within the long window, that fire
    /// `REPEATED_BURSTS`: 4, one more than the 2–3 notices a day a school sends. A
    /// subscriber's "send to all" is one burst; a SIM that sends a contact book's
    /// worth again and again is sending more than one contact book. Enough on its own
    /// to open a case, held back by the contrary evidence that holds back
    /// `RATE_FAR_BEYOND`. Within 2..=31 (the count is kept in 5 bits).
    pub(crate) burst_repeats: u32,
    /// Pace, SMS per hour, that `RATE_STEADY_HOUR` needs in every bucket of the
    /// medium window (twelve 5-minute buckets: the last hour; the newest, when a record
    /// ends inside it, pro rata to the time elapsed in it; on longer records, see
    /// `steady_record_secs`, in each record): 348, 29 in every 5 minutes. A script sends at its set
    /// pace in every 5 minutes; a TV voter's or a subscriber's pace rises, falls and
    /// pauses (the simulator's TV voters, averaging 320 an hour for up to two hours,
    /// never kept more than 24 in every 5 minutes of an hour; its steady spammers at
    /// about 470 an hour never fewer than 34: 29 lies between). Enough on its own to
    /// open a case, held back by the contrary evidence that holds back
    /// `RATE_FAR_BEYOND`. At least `held_rate_1h` (it is read only for SIMs at that
    /// pace).
    pub(crate) steady_rate_1h: u32,
    /// Longest reporting interval, seconds, on which `RATE_STEADY_HOUR` is read: 900.
    /// On records of a 5-minute bucket or less it reads every bucket of the hour; on
    /// longer records (a whole number of buckets) only each record's own count, and
    /// only where the SIM's records carry `distinct_recipients`: a TV voter's
    /// 15-minute sums are as steady as a script's and only its few recipients
    /// (`FEW_RECIPIENTS`) tell it apart. 300 reads it on records of a bucket or less
    /// only (as until stop 32).
    pub(crate) steady_record_secs: u32,
    /// `distinct_recipients / sms_out` over the medium window below which a SIM's
    /// volume is explained by few recipients (TV votes, M2M servers): the near-miss
    /// reason `FEW_RECIPIENTS`, which keeps `RATE_FAR_BEYOND` from opening a case.
    /// Evaluated only when the feed carries `distinct_recipients`.
    pub(crate) few_recipients_ratio: f64,
    /// A SIM that shows a subscriber's life (identity verified, older than
    /// `young_sim_days`, calls, or replies of at least `reply_share` of what it sent)
    /// and has sent at most this many SMS over the long window is held as a possible
    /// one-off burst to its own contacts (a new-number announcement, an invitation):
    /// near-miss reason `ONE_OFF_BURST`. A contact book holds a few hundred numbers;
    /// a spammer passes this within the hour.
    pub(crate) one_off_max_sms: u32,
    /// `sms_in / sms_out` over the long window that counts as replies for
    /// `one_off_max_sms` (a conversation, not a broadcast).
    pub(crate) reply_share: f64,
    /// Most near misses (SIMs held back by contrary evidence) kept for the findings;
    /// later ones are counted only.
    pub(crate) near_miss_max: u32,
    /// Share of distinct recipients that are "no relationship" numbers, over the medium
    /// window, that fires `NEW_RECIPIENT_RATIO` (Decree 91/2020 behaviour criterion;
    /// Greystar scores senders by the share of such recipients).
    pub(crate) new_recipient_ratio: f64,
    /// Minimum "no relationship" recipients in the medium window before the ratio
    /// means anything: every first message of a brand-new subscriber goes to a "new"
    /// number (docs/detection.md, trap: new but normal subscribers), but a person
    /// does not text 20 numbers for the first time within an hour.
    pub(crate) new_recipient_min: u32,
    /// `distinct_recipients / sms_out` over the medium window that fires
    /// `DISTINCT_RATIO` (one message per recipient: a broadcast, not a conversation).
    pub(crate) distinct_ratio: f64,
    /// Minimum SMS in the medium window before `DISTINCT_RATIO` is evaluated.
    pub(crate) distinct_min_sms: u32,
    /// SMS sent in the long window with no call at all that fires `NO_VOICE`
    /// (Decree 91: "mostly sends SMS, makes and receives few calls").
    pub(crate) no_voice_min_sms: u32,
    /// `sms_out / (sms_in + 1)` over the long window that fires `OUT_IN_ASYMMETRY`
    /// (SIM-box literature: disproportionate outgoing volume).
    pub(crate) out_in_ratio: f64,
    /// Minimum SMS in the long window before `OUT_IN_ASYMMETRY` is evaluated.
    pub(crate) out_in_min_sms: u32,
    /// `YOUNG_UNVERIFIED`: SIM at most this many days old and identity not verified
    /// (Murynets & Jover 2012: spammers use fresh prepaid SIMs).
    pub(crate) young_sim_days: u32,
    /// Type Allocation Codes of GSM gateways / SIM-box modems (8 digits each) that fire
    /// `GATEWAY_TAC`. Fill from the GSMA TAC database (device type "Modem"/"WLAN
    /// Router" of gateway vendors). Empty by default: gateway models are also learned
    /// from devices seen with many SIMs (`gateway_learn_sims`).
    pub(crate) gateway_tacs: Vec<String>,
    /// Consecutive records from one cell while sending that fire `STATIONARY`
    /// (SIM boxes never move, INFOCOM 2014); 12 five-minute records = 1 h.
    pub(crate) stationary_records: u32,
    /// Copies of one fingerprint in a single record that fire `TEMPLATE_REPEAT`:
    /// more than the operators' "3 same-content SMS in 5 min".
    pub(crate) template_repeat: u32,

    /// Noisy-OR score at or above which a `spam_sim` case opens (0..=1).
    pub(crate) open_score: f64,
    /// Extra requirement for a `spam_sim` case: at least one volume rule
    /// (`SMS_RATE_*`, `POPULATION_TAIL`, `RATE_ROBUST_Z`) **and** `NEW_RECIPIENT_RATIO`
    /// fired. Volume-only detectors collapse on legitimate bulk senders (23.8 %
    /// precision, docs/detection.md), so volume alone never opens a case.
    pub(crate) require_behaviour: bool,
    /// Most `spam_sim` cases kept open in memory. When a case must open and this many
    /// are open, the open case idle the longest (earliest last sighting) is closed
    /// first, with its final snapshot, as if its SIM had gone idle: nothing is
    /// dropped, and a warning is logged and counted (metric
    /// `cellwatch_open_cases_closed_by_cap`). A case holds about 1 KiB.
    pub max_open_cases: usize,
    /// Most `sim_farm` cases kept open in memory, apart from `max_open_cases`. When a
    /// farm case must open and this many are open, the open farm case whose group was
    /// idle the longest is closed first with its final snapshot (its SIMs stay
    /// candidates: the group may open a new case later); a warning is logged and
    /// counted (metric `cellwatch_open_cases_closed_by_cap{detector="farm"}`). A case
    /// holds about 1 KiB plus 20 bytes per SIM listed.
    pub max_open_farm_cases: usize,
    /// Most SIMs a `sim_farm` case lists. A larger farm lists its first SIMs (in
    /// order of pseudonym) and carries the reason `FARM_MEMBERS_UNLISTED`, whose value
    /// is how many members the farm is known to have; a warning is logged. Bounds the
    /// size of a case on the topic and in ClickHouse.
    pub max_farm_sims_listed: usize,

    /// Population samples needed before its baseline is trusted: one per SIM and
    /// medium window in which it reports, however many records it sends there (a SIM
    /// reporting every minute weighs no more than one reporting hourly).
    pub(crate) baseline_min_samples: u32,
    /// Quantile above which senders are left out of the population fit (0..=1).
    pub(crate) baseline_trim_quantile: f64,
    /// Floor of the population's mean hourly rate, SMS per hour.
    pub(crate) baseline_min_rate_per_hour: f64,
    /// Floor of the MAD of `ln(1 + hourly rate)`.
    pub(crate) baseline_min_log_mad: f64,
    /// Half-life of the population histogram (event time, seconds).
    pub(crate) baseline_half_life_secs: u32,
    /// How often (event time, seconds) the population model is refit.
    pub(crate) baseline_refresh_secs: u32,

    /// A SIM becomes a farm candidate (indexed for grouping) when it shows at least
    /// this many weak markers: gateway TAC, young and unverified, no voice, high
    /// new-recipient share, one-message-per-recipient pattern. Normal subscribers
    /// show none, so grouping costs nothing for them.
    pub(crate) farm_candidate_markers: u32,
    /// Markers of a farm candidate, at the level of a single slow member: new
    /// recipients in the medium window for the new-recipient marker (with a share of at
    /// least `new_recipient_ratio`)...
    pub(crate) candidate_min_new: u32,
    /// ... SMS in the medium window for the one-message-per-recipient marker (share at
    /// least `distinct_ratio`)...
    pub(crate) candidate_min_sms: u32,
    /// ... and SMS in the long window without any call for the no-voice marker.
    pub(crate) candidate_no_voice_min_sms: u32,
    /// Distinct candidate SIMs seen on one device that link them (`SIMS_PER_DEVICE`);
    /// SIM-box generators use ~50 numbers per IMEI, a person swapping SIMs 1–2.
    pub(crate) sims_per_device: u32,
    /// Maximum Hamming distance between two SimHash fingerprints for "same template"
    /// (docs/detection.md: 3–6 bits; Manku et al. use 3 of 64; at most 64). The upper
    /// end is safe here because fingerprints are only compared within one cell and
    /// campaign window and among farm candidates: two unrelated 64-bit hashes are ≤ 6 bits apart with
    /// probability ~4·10⁻¹².
    pub(crate) fp_hamming: u32,
    /// Candidate SIMs in one cell, within the campaign window, sending near-duplicate
    /// fingerprints that link them (`TEMPLATE_CAMPAIGN`; Jiang et al. 2013: related
    /// spam numbers share pattern, location and time window). Also the SIMs (any
    /// cell) whose broadcasts of one template make a `spam_sim` case's
    /// `TEMPLATE_CAMPAIGN`, which no one-off burst to a contact book shows.
    pub(crate) campaign_min_sims: u32,
    /// Time window of a campaign in one cell, and of the templates of broadcasting
    /// SIMs remembered for `spam_sim` cases (event time, seconds).
    pub(crate) campaign_window_secs: u32,
    /// Candidate SIMs with a gateway TAC in one cell that link them (`GATEWAY_TAC_CELL`).
    pub(crate) gateway_cell_min_sims: u32,
    /// A device seen with at least this many distinct SIMs marks its TAC as a gateway
    /// model (learned `GATEWAY_TAC`): SIM boxes hold 8–64 SIMs, generators use ~50
    /// numbers per IMEI (docs/detection.md), no handset carries 8.
    pub(crate) gateway_learn_sims: u32,
    /// A SIM whose records carry none of `device`, `imei_tac`, `cell` and
    /// `content_fps` (so no device, cell or content link can ever find it) becomes a
    /// farm candidate once it sends at least this many SMS in the medium window: far
    /// above an ordinary subscriber, within a farm member's "low and slow" rate.
    pub(crate) candidate_bare_min_sms: u32,
    /// Such candidates of one operator whose first records began within this many
    /// seconds of each other are linked by their common onset (`SYNCHRONIZED_ONSET`):
    /// a farm's SIMs start together, legitimate heavy senders have a history. SIMs
    /// first seen within this long of the feed's first record have no known onset.
    /// A record tells a SIM's onset only to within its interval, so the slots are at
    /// least two of the record's intervals wide (30 min on a feed of 900 s records).
    pub(crate) onset_window_secs: u32,
    /// ... and only when the SIM became a candidate within this many seconds of its
    /// first record (plus the record's interval: counts arrive at a record's end): a
    /// farm SIM sends from its first minutes; a SIM that texted once by chance at
    /// that time and turned heavy hours later did not start then.
    pub(crate) onset_heavy_within_secs: u32,
    /// ... and only once the SIM has kept sending for at least this many seconds
    /// since its first record, in at least `far_active_share` of the medium window's
    /// buckets since then: a farm SIM sends for hours, while a new SIM announcing
    /// itself, a school notice or a vote is a burst of minutes. On a feed of 300 s
    /// records that is the SIM's second record; on one of 900 s records its first
    /// (one record cannot show a pause). When the slot's SIMs are united, those that
    /// went quiet (no record within the record's interval or the short window) and
    /// those that began a whole interval before the others are left out, and so are
    /// those at another pace (`onset_rate_spread`).
    pub(crate) onset_hold_secs: u32,
    /// A latecomer to a slot already united joins only once it has kept sending this
    /// long since its first record, and still does: the farm is found by its
    /// founders, a legitimate sender that starts after it must prove more (a new
    /// subscriber's first two busy records pass `onset_hold_secs`, not this).
    pub(crate) onset_late_hold_secs: u32,
    /// When the SIM's records carry `distinct_recipients` / `new_recipients`, the
    /// onset link also needs one message per recipient (`distinct_ratio`) and at least
    /// this share of new recipients: farms broadcast to strangers, while shops,
    /// schools and TV voters that happen to start with a farm text known or few
    /// numbers.
    pub(crate) onset_min_new_share: f64,
    /// When an onset slot's SIMs are united, only those sending within this factor
    /// of the slot's median pace (SMS per hour over the short window, either way)
    /// are linked, and a latecomer joins only within it: one farm's SIMs run one
    /// program at one pace, while a new number announced to a contact book, a school
    /// notice or a vote that starts with a farm sends at many times its rate, and a
    /// new subscriber's few texts at a fraction of it. 0 turns the check off.
    pub(crate) onset_rate_spread: f64,
    /// A proven latecomer (see `onset_late_hold_secs`) joins a united onset slot of its
    /// operator whose farm started up to this many seconds before the SIM's first
    /// record, not only the slot of its own start: a farm's SIMs that are switched on
    /// in batches or skip their first steps start minutes after the others.
    pub(crate) onset_late_join_secs: u32,
    /// Candidates with a common onset that link them (`SYNCHRONIZED_ONSET`); later
    /// newcomers join the first. Farms hold tens of SIMs; a handful of legitimate
    /// heavy senders starting within minutes of each other is ordinary.
    pub(crate) onset_min_sims: u32,
    /// One farm at several sites (`FARM_SITES`): a site (a group tied by hardware,
    /// `SIMS_PER_DEVICE` or `GATEWAY_TAC_CELL`, and by one template in its cell,
    /// `TEMPLATE_CAMPAIGN`) without a case joins the open farm case of another site
    /// of the same operator when a member's fingerprint lies within `fp_hamming` bits
    /// of a case member's and their first records began within this many seconds of
    /// each other: the gateways of one farm start together and send one template,
    /// whatever cell they stand in. 0 turns the link off. Independent spammers share
    /// no device, and a phone shared by spam SIMs scattered over cells shows no
    /// template campaign in a cell, so a campaign of them is never merged into a farm.
    pub(crate) farm_site_onset_secs: u32,
    /// Members a group needs before it can become a `sim_farm` case.
    pub(crate) farm_min_members: u32,
    /// Share of a group's members (0..=1) needed for the farm's member-share rules
    /// (`NO_VOICE`, `YOUNG_UNVERIFIED`, `GATEWAY_TAC`, `STATIONARY`).
    pub(crate) farm_member_share: f64,
    /// Farm score (noisy-OR, 0..=1) at or above which a `sim_farm` case opens.
    pub(crate) farm_open_score: f64,
    /// Confidence of each rule in the noisy-OR score, by rule code.
    pub(crate) confidence: RuleConfidence,
}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            short_window_secs: 300,
            medium_window_secs: 3_600,
            long_window_secs: 86_400,
            eviction_sweep_secs: 3_600,
            rate_5m: 30,
            rate_1h: 50,
            rate_24h: 100,
            population_tail_p: 1e-6,
            robust_z: 3.5,
            far_rate_1h: 480,
            far_rate_24h: 500,
            far_robust_z: 4.0,
            far_active_share: 0.6,
            held_rate_1h: 250,
            held_hours: 3,
            burst_min_sms: 100,
            burst_within_secs: 900,
            burst_gap_secs: 600,
            burst_quiet_sms: 10,
            burst_repeats: 4,
            steady_rate_1h: 348,
            steady_record_secs: 900,
            few_recipients_ratio: 0.5,
            one_off_max_sms: 500,
            reply_share: 0.1,
            near_miss_max: 10_000,
            new_recipient_ratio: 0.8,
            new_recipient_min: 20,
            distinct_ratio: 0.9,
            distinct_min_sms: 10,
            no_voice_min_sms: 20,
            out_in_ratio: 10.0,
            out_in_min_sms: 20,
            young_sim_days: 30,
            gateway_tacs: Vec::new(),
            stationary_records: 12,
            template_repeat: 4,
            open_score: 0.9,
            require_behaviour: true,
            max_open_cases: 200_000,
            max_open_farm_cases: 20_000,
            max_farm_sims_listed: 1_000,
            baseline_min_samples: 200,
            baseline_trim_quantile: 0.95,
            baseline_min_rate_per_hour: 0.5,
            baseline_min_log_mad: 0.25,
            baseline_half_life_secs: 6 * 3_600,
            baseline_refresh_secs: 300,
            farm_candidate_markers: 2,
            candidate_min_new: 2,
            candidate_min_sms: 3,
            candidate_no_voice_min_sms: 10,
            sims_per_device: 3,
            fp_hamming: 6,
            campaign_min_sims: 3,
            campaign_window_secs: 3_600,
            gateway_cell_min_sims: 3,
            gateway_learn_sims: 8,
            candidate_bare_min_sms: 20,
            onset_window_secs: 600,
            onset_heavy_within_secs: 2_400,
            onset_hold_secs: 600,
            onset_late_hold_secs: 2_400,
            onset_min_new_share: 0.5,
            onset_min_sims: 10,
            onset_rate_spread: 3.0,
            onset_late_join_secs: 1_800,
            farm_site_onset_secs: 1_800,
            farm_min_members: 3,
            farm_member_share: 0.6,
            farm_open_score: 0.9,
            confidence: RuleConfidence::default(),
        }
    }
}

impl SpamConfig {
    /// This section alone, checked as `Config::validate` checks it: detectors built
    /// from a section call it, so an invalid section is refused, never replaced.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        self.check(&mut p);
        p.into_result()
    }

    /// Record the combinations serde cannot check (keys named in full).
    pub(crate) fn check(&self, p: &mut Problems) {
        self.check_windows(p);
        at_least(p, "spam.max_open_cases", self.max_open_cases as u64, 1);
        at_least(
            p,
            "spam.max_open_farm_cases",
            self.max_open_farm_cases as u64,
            1,
        );
        at_least(
            p,
            "spam.max_farm_sims_listed",
            self.max_farm_sims_listed as u64,
            2,
        );
        at_least(p, "spam.held_hours", u64::from(self.held_hours), 1);
        if self.held_hours > 23 {
            p.push(
                "spam.held_hours",
                format!(
                    "must be within 1..=23 (full hours of the long window's 24 buckets), got {}",
                    self.held_hours
                ),
            );
        }
        at_least(p, "spam.burst_min_sms", u64::from(self.burst_min_sms), 1);
        at_least(
            p,
            "spam.steady_rate_1h",
            u64::from(self.steady_rate_1h),
            u64::from(self.held_rate_1h),
        );
        at_least(p, "spam.burst_repeats", u64::from(self.burst_repeats), 2);
        if self.burst_repeats > 31 {
            p.push(
                "spam.burst_repeats",
                format!("must be within 2..=31, got {}", self.burst_repeats),
            );
        }
        for (key, secs) in [
            ("spam.burst_within_secs", self.burst_within_secs),
            ("spam.burst_gap_secs", self.burst_gap_secs),
        ] {
            let bucket = (self.medium_window_secs / 12).max(1);
            if secs == 0 || secs % bucket != 0 || secs > self.medium_window_secs / 2 {
                p.push(
                    key,
                    format!(
                        "must be a multiple of the medium window's bucket ({bucket} s) up to half the medium window, got {secs}"
                    ),
                );
            }
        }
        for tac in &self.gateway_tacs {
            if tac.len() != 8 || !tac.bytes().all(|b| b.is_ascii_digit()) {
                p.push(
                    "spam.gateway_tacs",
                    format!(
                        "entries must be 8 decimal digits (a type allocation code), got {tac:?}"
                    ),
                );
            }
        }
        for (key, value) in [
            ("spam.open_score", self.open_score),
            ("spam.farm_open_score", self.farm_open_score),
            ("spam.new_recipient_ratio", self.new_recipient_ratio),
            ("spam.distinct_ratio", self.distinct_ratio),
            ("spam.baseline_trim_quantile", self.baseline_trim_quantile),
            ("spam.population_tail_p", self.population_tail_p),
            ("spam.few_recipients_ratio", self.few_recipients_ratio),
            ("spam.far_active_share", self.far_active_share),
            ("spam.onset_min_new_share", self.onset_min_new_share),
            ("spam.farm_member_share", self.farm_member_share),
        ] {
            within(p, key, value, 0.0, 1.0);
        }
        if !(self.onset_rate_spread == 0.0 || self.onset_rate_spread >= 1.0)
            || !self.onset_rate_spread.is_finite()
        {
            p.push(
                "spam.onset_rate_spread",
                format!(
                    "must be 0 (off) or at least 1 (a factor), got {}",
                    self.onset_rate_spread
                ),
            );
        }
        self.confidence.check(p);
        if self.fp_hamming > 64 {
            p.push(
                "spam.fp_hamming",
                format!(
                    "must be within 0..=64 (bits of a fingerprint), got {}",
                    self.fp_hamming
                ),
            );
        }
    }

    /// The windows' ring layout: 0 < short <= medium <= long, medium 12 buckets,
    /// long 24 buckets, short a whole number of medium buckets.
    fn check_windows(&self, p: &mut Problems) {
        let (short, medium, long) = (
            self.short_window_secs,
            self.medium_window_secs,
            self.long_window_secs,
        );
        at_least(p, "spam.short_window_secs", u64::from(short), 1);
        if medium == 0 || medium % 12 != 0 {
            p.push(
                "spam.medium_window_secs",
                format!("must be a positive multiple of 12 (12 buckets), got {medium}"),
            );
        }
        if long == 0 || long % 24 != 0 {
            p.push(
                "spam.long_window_secs",
                format!("must be a positive multiple of 24 (24 buckets), got {long}"),
            );
        }
        if short > medium {
            p.push(
                "spam.short_window_secs",
                format!("must not exceed spam.medium_window_secs ({medium}), got {short}"),
            );
        }
        if medium > long {
            p.push(
                "spam.medium_window_secs",
                format!("must not exceed spam.long_window_secs ({long}), got {medium}"),
            );
        }
        let bucket = medium / 12;
        if short > 0 && bucket > 0 && medium % 12 == 0 && short % bucket != 0 {
            p.push(
                "spam.short_window_secs",
                format!("must be a multiple of the medium bucket (spam.medium_window_secs / 12 = {bucket} s), got {short}"),
            );
        }
    }

    /// The configured gateway TACs as numbers (entries are checked to be 8 digits).
    pub(crate) fn gateway_tac_values(&self) -> Vec<u32> {
        self.gateway_tacs
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect()
    }
}
