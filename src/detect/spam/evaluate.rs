//! Rule evaluation for one SIM at one record: the measurements the per-SIM rules read
//! ([`SimFeatures`]), the population baseline that scores the SIM's volume, and the
//! gate that keeps the rules from running for SIMs that cannot open a case.

use super::cross::CrossSim;
use super::rules::{Fired, SimFeatures, SimRules};
use super::state::{field, flag, SimState, Specs, AGE_UNKNOWN};
use crate::config::SpamConfig;
use crate::model::SmsVolume;

/// The SIM's measurements at its newest event time (population evidence not yet
/// filled in, see [`CrossSim::evaluate_rules`]).
#[inline]
pub(super) fn sim_features(
    st: &SimState,
    specs: &Specs,
    r: &SmsVolume,
    gateway_tac: Option<u32>,
) -> SimFeatures {
    let now_ms = i64::from(st.last_seen_s) * 1000;
    let medium = st.medium.sum(&specs.medium, now_ms);
    let short = st
        .medium
        .sum_last(&specs.medium, now_ms, specs.short_buckets);
    let long = st.long.sum(&specs.long, now_ms);
    // the part of the medium window the SIM has been seen in, at least the short
    // window; the window reaches back to its oldest bucket's start, so on a feed of
    // records shorter than a bucket (the newest only partly elapsed) it covers less
    // than its width and a count over it is not diluted by the unfinished bucket
    let bucket_s = (specs.medium.bucket_ms() / 1000).max(1) as u32;
    let window_start_ms = specs.medium.start_of_last(now_ms, specs.medium.len());
    let covered_s = ((now_ms - window_start_ms) / 1000).max(1) as u32;
    let seen_s = st
        .last_seen_s
        .saturating_sub(st.first_seen_s)
        .min(covered_s)
        .max(bucket_s * specs.short_buckets as u32);
    let aux = st.aux.sum(&specs.aux, now_ms);
    let age = (st.age_days != AGE_UNKNOWN).then_some(u32::from(st.age_days));
    let top = r.content_fps.iter().max_by_key(|f| f.n);
    let kyc = st
        .has(flag::KYC_KNOWN)
        .then_some(st.has(flag::KYC_VERIFIED));
    SimFeatures {
        out_short: short[0],
        out_medium: medium[0],
        out_long: long,
        rate_seen_per_hour: medium[0] as f64 * 3600.0 / f64::from(seen_s.max(1)),
        distinct_medium: medium[1],
        new_medium: medium[2],
        voice_long: aux[0],
        in_long: aux[1],
        tail_log10: None,
        robust_z: None,
        rate_seen_z: None,
        active_share: 0.0,
        held_hours: 0,
        held_min_per_hour: 0.0,
        held_z: None,
        bursts: 0,
        steady_buckets: 0,
        steady_min_per_hour: 0.0,
        steady_z: None,
        age_days: age,
        kyc_verified: kyc,
        gateway_tac,
        cell_streak: u32::from(st.cell_streak),
        max_fp_count: top.map_or(0, |f| f.n),
        top_fp: top.map(|f| f.fp),
        fields: st.fields,
    }
}

/// Share of the medium-window buckets from the SIM's first record (within the window)
/// to its newest in which it sent: 1 for a SIM sending all the time, low for bursts.
#[inline]
pub(super) fn active_share(st: &SimState, specs: &Specs) -> f64 {
    let now_ms = i64::from(st.last_seen_s) * 1000;
    let spec = &specs.medium;
    let first = spec.bucket_of(i64::from(st.first_seen_s) * 1000 + 1);
    let seen = (spec.bucket_of(now_ms) - first + 1).clamp(1, 12) as usize;
    st.medium.active_last(spec, now_ms, seen) as f64 / seen as f64
}

/// The SIM's pace now, SMS per hour: what it sent over the short window back from its
/// newest record, divided by the time that covers. On a feed of records shorter than a
/// bucket the newest bucket is only partly elapsed (one 60 s record of a 5-minute
/// bucket): it is read together with the short window before it and divided by the
/// time actually covered, never by a whole bucket (read one minute into a bucket, a
/// school sending 20 SMS a minute showed 240 an hour). Time before the SIM's first
/// record is not counted.
#[inline]
pub(super) fn pace_per_hour(st: &SimState, specs: &Specs) -> f64 {
    let now_ms = i64::from(st.last_seen_s) * 1000;
    let spec = &specs.medium;
    // buckets are (k·w, (k+1)·w]: the newest is whole when `now` is its end, which
    // is where the last 0 buckets begin
    let newest_end_ms = spec.start_of_last(now_ms, 0);
    let partial = now_ms < newest_end_ms;
    let n = specs.short_buckets + usize::from(partial);
    let from_ms = spec
        .start_of_last(now_ms, n)
        .max(i64::from(st.first_seen_s) * 1000);
    let sent = st.medium.sum_last(spec, now_ms, n)[0];
    sent as f64 * 3_600_000.0 / (now_ms - from_ms).max(1) as f64
}

/// How long the SIM has kept `RATE_HELD_HOURS`'s pace: the full buckets of the long
/// window, back from the one before the bucket of its newest record, in which it sent
/// at least `rate_per_hour` (at most `max` of them), and the smallest hourly rate
/// among them (0 when there are none).
#[inline]
pub(super) fn held_hours(st: &SimState, specs: &Specs, rate_per_hour: u64, max: u32) -> (u32, f64) {
    let now_ms = i64::from(st.last_seen_s) * 1000;
    let bucket_ms = specs.long.bucket_ms();
    let per_bucket = (rate_per_hour as f64 * bucket_ms as f64 / 3_600_000.0).ceil() as u64;
    let mut held = 0;
    let mut least = u64::MAX;
    while held < max {
        let at = now_ms - (i64::from(held) + 1) * bucket_ms;
        let sent = st.long.sum_last(&specs.long, at, 1);
        if sent < per_bucket.max(1) {
            break;
        }
        least = least.min(sent);
        held += 1;
    }
    (held, least_per_hour(held, least, bucket_ms))
}

/// The smallest count of `held` buckets of `bucket_ms` as an hourly rate (0 when
/// none was held).
fn least_per_hour(held: u32, least: u64, bucket_ms: i64) -> f64 {
    if held == 0 {
        0.0
    } else {
        least as f64 * 3_600_000.0 / bucket_ms as f64
    }
}

/// How steadily the SIM has kept `rate_per_hour` (`RATE_STEADY_HOUR`): the buckets of
/// the medium window, back from the newest, in which it sent at least that rate's
/// share of a bucket (at most `max`), and the smallest of their counts as an hourly
/// rate (0 when there are none). The newest bucket is read pro rata when it has only
/// partly elapsed (a record that ends inside it): at least the rate's share of the
/// time elapsed in it, its pace over that time (a feed whose records never end on a
/// 5-minute boundary of the epoch would otherwise never show the ring's twelve
/// buckets whole). Only on records no longer than a bucket (`record_secs`): a longer
/// record is spread evenly over its buckets, which then show its average, not each
/// bucket's own count.
#[inline]
pub(super) fn steady_buckets(
    st: &SimState,
    specs: &Specs,
    record_secs: u32,
    rate_per_hour: u64,
    max: u32,
    longest_record_secs: u32,
) -> (u32, f64) {
    let spec = &specs.medium;
    let bucket_ms = spec.bucket_ms();
    let record_ms = i64::from(record_secs) * 1000;
    if record_ms > bucket_ms {
        return steady_records(
            st,
            specs,
            record_ms,
            rate_per_hour,
            max,
            longest_record_secs,
        );
    }
    let now_ms = i64::from(st.last_seen_s) * 1000;
    // time before the SIM's first record is no bucket it kept the pace in
    let first_ms = i64::from(st.first_seen_s) * 1000;
    let mut held = 0;
    let mut least = f64::INFINITY;
    // buckets are (k·w, (k+1)·w]: the newest ends at `now` when it is whole
    let newest_end = spec.start_of_last(now_ms, 0);
    let mut end = newest_end;
    if now_ms < newest_end {
        let elapsed_ms = now_ms - (newest_end - bucket_ms);
        let sent = st.medium.sum_last(spec, now_ms, 1)[0];
        let pace = sent as f64 * 3_600_000.0 / elapsed_ms as f64;
        if max == 0 || pace < rate_per_hour.max(1) as f64 {
            return (0, 0.0);
        }
        held = 1;
        least = pace;
        end -= bucket_ms;
    }
    let per_bucket = (rate_per_hour as f64 * bucket_ms as f64 / 3_600_000.0).ceil() as u64;
    while held < max {
        if end - bucket_ms < first_ms || now_ms - end >= spec.len() as i64 * bucket_ms {
            break;
        }
        let sent = st.medium.sum_last(spec, end, 1)[0];
        if sent < per_bucket.max(1) {
            break;
        }
        least = least.min(sent as f64 * 3_600_000.0 / bucket_ms as f64);
        held += 1;
        end -= bucket_ms;
    }
    (held, if held == 0 { 0.0 } else { least })
}

/// [`steady_buckets`] on records longer than a bucket: each record is spread evenly
/// over its buckets, so only whole records tell a pace, read as groups of a record's
/// buckets back from the newest record's end (which must end a bucket), each at least
/// `rate_per_hour`'s share of a record (the count in buckets, at most `max`). Only
/// for records of a whole number of buckets up to `longest_record_secs`, and only
/// where the SIM's records carry `distinct_recipients`: a TV voter's 15-minute sums
/// are as steady as a script's, and only its few recipients (`FEW_RECIPIENTS`) tell
/// it apart.
fn steady_records(
    st: &SimState,
    specs: &Specs,
    record_ms: i64,
    rate_per_hour: u64,
    max: u32,
    longest_record_secs: u32,
) -> (u32, f64) {
    let spec = &specs.medium;
    let bucket_ms = spec.bucket_ms();
    let now_ms = i64::from(st.last_seen_s) * 1000;
    if record_ms > i64::from(longest_record_secs) * 1000
        || record_ms % bucket_ms != 0
        || st.fields & field::DISTINCT == 0
        || spec.start_of_last(now_ms, 0) != now_ms
    {
        return (0, 0.0);
    }
    let group = (record_ms / bucket_ms) as usize;
    let per_record = (rate_per_hour as f64 * record_ms as f64 / 3_600_000.0).ceil() as u64;
    let first_ms = i64::from(st.first_seen_s) * 1000;
    let ring_ms = spec.len() as i64 * bucket_ms;
    let (mut held, mut least, mut end) = (0u32, u64::MAX, now_ms);
    while held + group as u32 <= max {
        if end - record_ms < first_ms || now_ms - end + record_ms > ring_ms {
            break;
        }
        let sent = st.medium.sum_last(spec, end, group)[0];
        if sent < per_record.max(1) {
            break;
        }
        least = least.min(sent);
        held += group as u32;
        end -= record_ms;
    }
    let pace = if held == 0 {
        0.0
    } else {
        least as f64 * 3_600_000.0 / record_ms as f64
    };
    (held, pace)
}

/// Whether a SIM without an open case could open one (or be a near miss): its
/// behaviour rule (or, on a feed without `new_recipients`, a broadcast of a
/// template) fires, its rate reaches `RATE_FAR_BEYOND`'s or its pace
/// `RATE_HELD_HOURS`'s, it repeated its bursts (`REPEATED_BURSTS`), or behaviour is
/// not required.
#[inline]
pub(super) fn may_open_case(rules: &SimRules, config: &SpamConfig, f: &SimFeatures) -> bool {
    super::rules::far_rate(rules, f)
        || super::rules::held_pace(rules, f)
        || f.bursts >= rules.burst_repeats
        || rules.new_recipient_ratio(f).is_some()
        || rules.template_broadcast(f)
        || !config.require_behaviour
}

impl CrossSim {
    /// Feed the SIM's hourly rate over the medium window (`hours` long) to the
    /// population baseline: one sample per SIM and medium window in which it reports
    /// (`sample`), however many records it sends there, so SIMs that report every
    /// minute because they send all the time (spammers, a farm) weigh no more than
    /// the subscribers who text now and then. Weighting by records let a busy farm
    /// become the population on a feed of 60 s records. The first fit happens as
    /// soon as there are enough samples.
    #[inline]
    pub(super) fn observe_population(
        &mut self,
        population: usize,
        out_medium: u64,
        sample: bool,
        hours: f64,
    ) {
        if !sample {
            return;
        }
        let min = f64::from(self.config.baseline_min_samples);
        let baseline = self.baselines.get_mut(population);
        baseline.observe_weighted(out_medium as f64 / hours, 1.0);
        if baseline.fit().is_none() && baseline.samples() >= min {
            baseline.refit();
        }
    }

    /// Complete the features with the evidence of the SIM's operator's population
    /// (`population`, a baseline index) and run every per-SIM rule.
    pub(super) fn evaluate_rules(
        &self,
        population: usize,
        f: &mut SimFeatures,
        hours: f64,
    ) -> Fired {
        self.population_evidence(population, f, hours);
        self.rules.evaluate(f)
    }

    /// Tail probability and robust z of the SIM's medium-window count under the
    /// population model (only for SIMs that may open or update a case).
    ///
    /// The exact negative-binomial tail is computed only above mean + 3 standard
    /// deviations of the model: below that the tail of a negative binomial is well
    /// above 10⁻³ (Poisson-like shapes ≈ the normal tail at 3σ, dispersed shapes
    /// heavier), so the rule cannot fire at its default 10⁻⁶ and the value is reported
    /// as 0. With a configured tail probability above 10⁻³ the tail is always computed.
    fn population_evidence(&self, population: usize, f: &mut SimFeatures, hours: f64) {
        let Some(fit) = self.baselines.get(population).fit() else {
            return;
        };
        let count = f.out_medium;
        let mean = fit.shape * fit.scale_per_hour * hours;
        let var = mean + mean * mean / fit.shape;
        let gate = if self.config.population_tail_p <= 1e-3 {
            mean + 3.0 * var.sqrt()
        } else {
            0.0
        };
        f.tail_log10 = Some(if count > 0 && count as f64 > gate {
            -fit.tail_probability(count, hours).max(1e-300).log10()
        } else {
            0.0
        });
        f.robust_z = Some(fit.robust_z(count as f64 / hours));
        f.rate_seen_z = Some(fit.robust_z(f.rate_seen_per_hour));
        f.held_z = (f.held_hours > 0).then(|| fit.robust_z(f.held_min_per_hour));
        f.steady_z = (f.steady_buckets > 0).then(|| fit.robust_z(f.steady_min_per_hour));
    }
}
