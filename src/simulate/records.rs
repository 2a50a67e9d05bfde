//! The JSON shapes the simulator writes, borrowed from the population so a record
//! is serialized without copying identifiers (field names of docs/contract.md,
//! "SMS-volume records" and "Cell-measurement reports").

use serde::Serialize;

/// A contract timestamp: integer milliseconds or an RFC 3339 string.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Ts {
    Ms(i64),
    Text(String),
}

impl Ts {
    /// RFC 3339 text of `ms`, in UTC (`Z`) or in Vietnam local time (`+07:00`).
    pub(crate) fn rfc3339(ms: i64, local: bool) -> Ts {
        let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        if local {
            let offset = chrono::FixedOffset::east_opt(7 * 3600).expect("utc+7 is a valid offset");
            Ts::Text(
                utc.with_timezone(&offset)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            )
        } else {
            Ts::Text(utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
    }
}

/// One content fingerprint, `{ "fp": hex64, "n": count }`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FpCount {
    pub(crate) fp: String,
    pub(crate) n: u32,
}

impl FpCount {
    pub(crate) fn new(fp: u64, n: u32) -> Self {
        FpCount {
            fp: format!("{fp:016x}"),
            n,
        }
    }
}

/// An SMS-volume record (docs/contract.md, "SMS-volume records").
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SmsLine<'a> {
    pub(crate) operator: &'a str,
    pub(crate) sim: &'a str,
    pub(crate) window_start: Ts,
    pub(crate) window_secs: u32,
    pub(crate) sms_out: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sms_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) distinct_recipients: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new_recipients: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) offnet_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) calls_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) calls_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) imei_tac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cell: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sim_age_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kyc_verified: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) content_fps: Vec<FpCount>,
}

/// A cell-measurement report (docs/contract.md, "Cell-measurement reports").
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MeasurementLine<'a> {
    pub(crate) source: &'a str,
    pub(crate) reporter: &'a str,
    pub(crate) ts: Ts,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) accuracy_m: Option<f64>,
    pub(crate) rat: &'static str,
    pub(crate) mcc: u16,
    pub(crate) mnc: u16,
    pub(crate) lac: u32,
    pub(crate) cid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arfcn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pci: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signal_dbm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ta: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) neighbors: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cipher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sms_sender: Option<&'static str>,
}
