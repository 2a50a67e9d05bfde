//! An SMS-volume line as JSON gives it, before the contract's checks: what serde and
//! the fast scanner ([`super::sms_scan`]) both build, and [`super::sms`] checks.

use super::text::Text;
use super::timestamp::RawTs;
use serde::Deserialize;

/// One entry of `content_fps` as JSON gives it.
#[derive(Debug, PartialEq, Deserialize)]
pub(crate) struct RawFp<'a> {
    #[serde(borrow)]
    pub fp: Option<Text<'a>>,
    pub n: Option<i64>,
}

/// An SMS-volume line as JSON gives it, before the contract's checks.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct RawSms<'a> {
    #[serde(borrow)]
    pub operator: Option<Text<'a>>,
    #[serde(borrow)]
    pub sim: Option<Text<'a>>,
    pub window_start: Option<RawTs>,
    pub window_secs: Option<i64>,
    pub sms_out: Option<i64>,
    pub sms_in: Option<i64>,
    pub distinct_recipients: Option<i64>,
    pub new_recipients: Option<i64>,
    pub offnet_out: Option<i64>,
    pub calls_out: Option<i64>,
    pub calls_in: Option<i64>,
    #[serde(borrow)]
    pub device: Option<Text<'a>>,
    #[serde(borrow)]
    pub imei_tac: Option<Text<'a>>,
    #[serde(borrow)]
    pub cell: Option<Text<'a>>,
    pub sim_age_days: Option<i64>,
    pub kyc_verified: Option<bool>,
    #[serde(borrow)]
    pub content_fps: Option<Vec<RawFp<'a>>>,
}
