//! An SMS-volume line as JSON gives it, before the contract's checks: what serde and
//! the fast scanner ([`super::sms_scan`]) both build, and [`super::sms`] checks.

use super::text::Text;
use super::timestamp::RawTs;
use serde::Deserialize;

/// One entry of `content_fps` as JSON gives it.
#[derive(Debug, PartialEq, Deserialize)]
pub(crate) struct RawFp<'a> {
    #[serde(borrow)]
    pub(crate) fp: Option<Text<'a>>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) n: Option<i64>,
}

/// An SMS-volume line as JSON gives it, before the contract's checks.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct RawSms<'a> {
    #[serde(borrow, default, deserialize_with = "super::lenient::opt_code")]
    pub(crate) operator: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) sim: Option<Text<'a>>,
    pub(crate) window_start: Option<RawTs>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) window_secs: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) sms_out: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) sms_in: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) distinct_recipients: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) new_recipients: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) offnet_out: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) calls_out: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) calls_in: Option<i64>,
    #[serde(borrow)]
    pub(crate) device: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) imei_tac: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) cell: Option<Text<'a>>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(crate) sim_age_days: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_bool")]
    pub(crate) kyc_verified: Option<bool>,
    #[serde(borrow)]
    pub(crate) content_fps: Option<Vec<RawFp<'a>>>,
}
