//! The JSON shapes the simulator writes, borrowed from the population so a record
//! is serialized without copying identifiers (field names of docs/contract.md,
//! "SMS-volume records" and "Cell-measurement reports").

use serde::Serialize;

/// A contract timestamp: integer milliseconds or an RFC 3339 string.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Ts {
    Ms(i64),
    Text(String),
}

impl Ts {
    /// RFC 3339 text of `ms`, in UTC (`Z`) or in Vietnam local time (`+07:00`).
    pub fn rfc3339(ms: i64, local: bool) -> Ts {
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
pub struct FpCount {
    pub fp: String,
    pub n: u32,
}

impl FpCount {
    pub fn new(fp: u64, n: u32) -> Self {
        FpCount {
            fp: format!("{fp:016x}"),
            n,
        }
    }
}

/// An SMS-volume record (docs/contract.md, "SMS-volume records").
#[derive(Debug, Clone, Serialize)]
pub struct SmsLine<'a> {
    pub operator: &'a str,
    pub sim: &'a str,
    pub window_start: Ts,
    pub window_secs: u32,
    pub sms_out: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_recipients: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_recipients: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offnet_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_in: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imei_tac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_age_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kyc_verified: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_fps: Vec<FpCount>,
}

/// A cell-measurement report (docs/contract.md, "Cell-measurement reports").
#[derive(Debug, Clone, Serialize)]
pub struct MeasurementLine<'a> {
    pub source: &'a str,
    pub reporter: &'a str,
    pub ts: Ts,
    pub lat: f64,
    pub lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    pub rat: &'static str,
    pub mcc: u16,
    pub mnc: u16,
    pub lac: u32,
    pub cid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arfcn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_dbm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ta: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbors: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_sender: Option<&'static str>,
}
