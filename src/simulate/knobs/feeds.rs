//! Per-operator feed profiles: how each operator's SMS-volume feed looks — its
//! reporting interval, which optional fields it sends, how it writes timestamps, and
//! its delivery habits (re-sent records, batches held back). Real operators differ
//! in all of these (docs/contract.md makes every field but five optional), so the
//! scenarios must too.

use serde::{Deserialize, Serialize};

/// The optional fields of an SMS-volume record (docs/contract.md, "SMS-volume records").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsField {
    SmsIn,
    DistinctRecipients,
    NewRecipients,
    OffnetOut,
    CallsOut,
    CallsIn,
    Device,
    ImeiTac,
    Cell,
    SimAgeDays,
    KycVerified,
    ContentFps,
}

impl SmsField {
    /// Every optional field, in the contract's order.
    pub const ALL: [SmsField; 12] = [
        SmsField::SmsIn,
        SmsField::DistinctRecipients,
        SmsField::NewRecipients,
        SmsField::OffnetOut,
        SmsField::CallsOut,
        SmsField::CallsIn,
        SmsField::Device,
        SmsField::ImeiTac,
        SmsField::Cell,
        SmsField::SimAgeDays,
        SmsField::KycVerified,
        SmsField::ContentFps,
    ];
}

/// Offset written in RFC 3339 timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextOffset {
    /// `2026-11-02T03:00:00Z`.
    Utc,
    /// `2026-11-02T10:00:00.000+07:00` (Vietnam).
    Local,
}

/// How one operator's SMS-volume feed looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedProfile {
    /// Reporting interval of every record, seconds: 60, or a multiple of 300 up to 3 600.
    pub window_secs: u32,
    /// Send only the contract's required fields (`operator`, `sim`, `window_start`,
    /// `window_secs`, `sms_out`); `omit` is then implied for every optional field.
    pub required_only: bool,
    /// Optional fields this operator leaves out of every record.
    pub omit: Vec<SmsField>,
    /// Share of records whose `window_start` is an RFC 3339 string (0..=1); the others
    /// carry integer milliseconds.
    pub rfc3339_share: f64,
    /// Offset written in those strings.
    pub rfc3339_offset: TextOffset,
    /// Share of records delivered a second time (0..=1): an at-least-once producer
    /// re-sending after a timeout. The contract counts such a copy twice.
    pub redeliver_share: f64,
    /// Delay of a re-sent copy after the original, seconds, `[min, max]`.
    pub redeliver_delay_secs: [u32; 2],
    /// One delivery batch (all the operator's records of one 5-minute step) in this
    /// many minutes is held back; 0 = never. A multiple of 5.
    pub late_batch_every_min: u32,
    /// How late such a batch arrives, minutes.
    pub late_batch_delay_min: u32,
}

impl FeedProfile {
    /// A profile sending every optional field but `omit`, with `rfc3339_share` of
    /// text timestamps, and no delivery faults.
    fn plain(window_secs: u32, omit: Vec<SmsField>, share: f64, offset: TextOffset) -> Self {
        FeedProfile {
            window_secs,
            required_only: false,
            omit,
            rfc3339_share: share,
            rfc3339_offset: offset,
            redeliver_share: 0.0,
            redeliver_delay_secs: [30, 300],
            late_batch_every_min: 0,
            late_batch_delay_min: 20,
        }
    }

    /// Whether records of this profile carry `field`.
    pub(crate) fn sends(&self, field: SmsField) -> bool {
        !self.required_only && !self.omit.contains(&field)
    }

    /// Problems of this profile; `key` is its path in the knobs (`feeds.45201`).
    pub(crate) fn problems(&self, key: &str, out: &mut Vec<String>) {
        let w = self.window_secs;
        if !(w == 60 || (w % 300 == 0 && (300..=3_600).contains(&w))) {
            out.push(format!(
                "{key}.window_secs = {w}: use 60 or a multiple of 300 up to 3600"
            ));
        }
        if self.sends(SmsField::NewRecipients) && !self.sends(SmsField::DistinctRecipients) {
            out.push(format!(
                "{key}.omit leaves out distinct_recipients but not new_recipients: the contract refuses new_recipients without distinct_recipients; omit both"
            ));
        }
        super::share_problem(&format!("{key}.rfc3339_share"), self.rfc3339_share, out);
        super::share_problem(&format!("{key}.redeliver_share"), self.redeliver_share, out);
        let [lo, hi] = self.redeliver_delay_secs;
        if lo > hi || hi > 3_600 {
            out.push(format!(
                "{key}.redeliver_delay_secs = [{lo}, {hi}]: need min <= max <= 3600"
            ));
        }
        if self.late_batch_every_min % 5 != 0 {
            out.push(format!(
                "{key}.late_batch_every_min = {}: use a multiple of 5 (the delivery step), or 0",
                self.late_batch_every_min
            ));
        }
        if self.late_batch_delay_min == 0 || self.late_batch_delay_min > 600 {
            out.push(format!(
                "{key}.late_batch_delay_min = {}: use 1..=600",
                self.late_batch_delay_min
            ));
        }
    }
}

/// The feed profile of each operator (keys are the operators' PLMN codes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feeds {
    /// MobiFone.
    #[serde(rename = "45201")]
    pub op45201: FeedProfile,
    /// VinaPhone.
    #[serde(rename = "45202")]
    pub op45202: FeedProfile,
    /// Viettel.
    #[serde(rename = "45204")]
    pub op45204: FeedProfile,
}

impl Default for Feeds {
    /// The default scenario's feeds: 45201 every 900 s without `offnet_out`, 45202
    /// every 60 s with 30 % local-time RFC 3339 timestamps, 45204 every 300 s.
    fn default() -> Self {
        Feeds {
            op45201: FeedProfile::plain(900, vec![SmsField::OffnetOut], 0.01, TextOffset::Utc),
            op45202: FeedProfile::plain(60, Vec::new(), 0.3, TextOffset::Local),
            op45204: FeedProfile::plain(300, Vec::new(), 0.01, TextOffset::Utc),
        }
    }
}

impl Feeds {
    /// The profile of operator index `op` (0 = 45201, 1 = 45202, 2 = 45204).
    pub(crate) fn of(&self, op: usize) -> &FeedProfile {
        match op {
            0 => &self.op45201,
            1 => &self.op45202,
            _ => &self.op45204,
        }
    }

    pub(crate) fn problems(&self, out: &mut Vec<String>) {
        self.op45201.problems("feeds.45201", out);
        self.op45202.problems("feeds.45202", out);
        self.op45204.problems("feeds.45204", out);
    }
}
