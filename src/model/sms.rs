//! SMS-volume records (`cw.sms-volume.v1`): what one SIM did in one reporting interval.

use super::cell::CellKey;
use super::error::{required, ValidationError};
use super::pseudonym::pseudonym;
use super::sms_raw::{RawFp, RawSms};
use super::text::Text;
use super::timestamp::TimeBounds;
use super::{Event, InvalidReason, Pseudonym, ShortName};
use serde::{Deserialize, Serialize};

/// One content fingerprint: a 64-bit SimHash of a message body and how many were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentFingerprint {
    pub fp: u64,
    pub n: u32,
}

/// A validated SMS-volume record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsVolume {
    pub operator: ShortName,
    pub sim: Pseudonym,
    pub window_start_ms: i64,
    pub window_secs: u32,
    pub sms_out: u32,
    pub sms_in: Option<u32>,
    pub distinct_recipients: Option<u32>,
    pub new_recipients: Option<u32>,
    pub offnet_out: Option<u32>,
    pub calls_out: Option<u32>,
    pub calls_in: Option<u32>,
    pub device: Option<Pseudonym>,
    pub imei_tac: Option<u32>,
    pub cell: Option<CellKey>,
    pub sim_age_days: Option<u32>,
    pub kyc_verified: Option<bool>,
    pub content_fps: Vec<ContentFingerprint>,
}

/// Largest count accepted in one interval; far above any real SIM (a blaster sends
/// ~20 000 a day) but keeps arithmetic safe.
const MAX_COUNT: i64 = 10_000_000;

fn count(field: &str, v: i64) -> Result<u32, ValidationError> {
    if v < 0 {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            field,
            format!("count must be >= 0, got {v}"),
        ));
    }
    if v > MAX_COUNT {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            field,
            format!("count must be <= {MAX_COUNT}, got {v}"),
        ));
    }
    Ok(v as u32)
}

fn opt_count(field: &str, v: Option<i64>) -> Result<Option<u32>, ValidationError> {
    v.map(|v| count(field, v)).transpose()
}

fn short_string(field: &str, v: Text<'_>, max: usize) -> Result<ShortName, ValidationError> {
    if v.is_empty() || v.len() > max {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            field,
            format!("must be 1..={max} characters, got {}", v.len()),
        ));
    }
    Ok(ShortName::from(&*v))
}

impl SmsVolume {
    /// Parse one JSON line and check every rule of docs/contract.md ("SMS-volume records").
    pub(crate) fn parse(bytes: &[u8], bounds: &TimeBounds) -> Result<SmsVolume, ValidationError> {
        let raw: RawSms = super::error::deserialize_object(bytes)?;
        Self::from_raw(raw, bounds, std::convert::identity)
    }

    /// [`SmsVolume::parse`] of a line already known to be UTF-8, as an [`Event`]: the
    /// record is built where the caller keeps it (no copy of the ≈ 300-byte event on
    /// the way out).
    pub(crate) fn parse_event_str(
        text: &str,
        bounds: &TimeBounds,
    ) -> Result<Event, ValidationError> {
        let raw: RawSms = match super::sms_scan::scan(text) {
            Some(raw) => raw,
            None => super::error::deserialize_object_str(text)?,
        };
        Self::from_raw(raw, bounds, Event::Sms)
    }

    /// The checked record of `raw`, handed to `wrap` as the result is built.
    #[inline]
    fn from_raw<T>(
        raw: RawSms<'_>,
        bounds: &TimeBounds,
        wrap: impl FnOnce(SmsVolume) -> T,
    ) -> Result<T, ValidationError> {
        let operator = short_string("operator", required("operator", raw.operator)?, 32)?;
        let sim = pseudonym("sim", required("sim", raw.sim)?)?;
        let window_start_ms = bounds.check(
            "window_start",
            required("window_start", raw.window_start)?.0,
        )?;
        let window_secs = window_secs(required("window_secs", raw.window_secs)?)?;
        let sms_out = count("sms_out", required("sms_out", raw.sms_out)?)?;
        let sms_in = opt_count("sms_in", raw.sms_in)?;
        let distinct_recipients = opt_count("distinct_recipients", raw.distinct_recipients)?;
        let new_recipients = opt_count("new_recipients", raw.new_recipients)?;
        let offnet_out = opt_count("offnet_out", raw.offnet_out)?;
        let calls_out = opt_count("calls_out", raw.calls_out)?;
        let calls_in = opt_count("calls_in", raw.calls_in)?;
        let sim_age_days = opt_count("sim_age_days", raw.sim_age_days)?;
        check_recipients(sms_out, distinct_recipients, new_recipients, offnet_out)?;
        let device = raw.device.map(device).transpose()?;
        let imei_tac = raw.imei_tac.map(|t| imei_tac(&t)).transpose()?;
        let cell = raw.cell.map(|c| cell(&c)).transpose()?;
        let content_fps = raw
            .content_fps
            .map(content_fps)
            .transpose()?
            .unwrap_or_default();
        Ok(wrap(SmsVolume {
            operator,
            sim,
            window_start_ms,
            window_secs,
            sms_out,
            sms_in,
            distinct_recipients,
            new_recipients,
            offnet_out,
            calls_out,
            calls_in,
            device,
            imei_tac,
            cell,
            sim_age_days,
            kyc_verified: raw.kyc_verified,
            content_fps,
        }))
    }
}

fn window_secs(v: i64) -> Result<u32, ValidationError> {
    if !(1..=86_400).contains(&v) {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            "window_secs",
            format!("must be 1..=86400, got {v}"),
        ));
    }
    Ok(v as u32)
}

/// The rules between the counts: recipients and off-net messages are among those
/// sent, new recipients among the distinct ones (which must then be given).
fn check_recipients(
    sms_out: u32,
    distinct_recipients: Option<u32>,
    new_recipients: Option<u32>,
    offnet_out: Option<u32>,
) -> Result<(), ValidationError> {
    if let Some(d) = distinct_recipients {
        if d > sms_out {
            return Err(ValidationError::new(
                InvalidReason::Inconsistent,
                "distinct_recipients",
                format!("distinct_recipients ({d}) must be <= sms_out ({sms_out})"),
            ));
        }
    }
    if let Some(n) = new_recipients {
        let Some(d) = distinct_recipients else {
            return Err(ValidationError::new(
                InvalidReason::Inconsistent,
                "new_recipients",
                "new_recipients needs distinct_recipients (new_recipients <= distinct_recipients)",
            ));
        };
        if n > d {
            return Err(ValidationError::new(
                InvalidReason::Inconsistent,
                "new_recipients",
                format!("new_recipients ({n}) must be <= distinct_recipients ({d})"),
            ));
        }
    }
    if let Some(o) = offnet_out {
        if o > sms_out {
            return Err(ValidationError::new(
                InvalidReason::Inconsistent,
                "offnet_out",
                format!("offnet_out ({o}) must be <= sms_out ({sms_out})"),
            ));
        }
    }
    Ok(())
}

fn device(d: Text<'_>) -> Result<Pseudonym, ValidationError> {
    pseudonym("device", d)
}

/// The Type Allocation Code: exactly 8 decimal digits.
fn imei_tac(t: &str) -> Result<u32, ValidationError> {
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationError::new(
            InvalidReason::BadFormat,
            "imei_tac",
            "must be exactly 8 decimal digits (Type Allocation Code)",
        ));
    }
    Ok(t.parse().expect("8 digits fit u32"))
}

fn cell(c: &str) -> Result<CellKey, ValidationError> {
    CellKey::parse(c).ok_or_else(|| {
        ValidationError::new(
            InvalidReason::BadFormat,
            "cell",
            "must be MCC-MNC-LAC-CID with decimal parts",
        )
    })
}

fn content_fps(fps: Vec<RawFp<'_>>) -> Result<Vec<ContentFingerprint>, ValidationError> {
    let mut content_fps = Vec::with_capacity(fps.len());
    for (i, f) in fps.into_iter().enumerate() {
        let fp_s =
            f.fp.ok_or_else(|| ValidationError::missing(&format!("content_fps[{i}].fp")))?;
        if fp_s.len() != 16 || !fp_s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValidationError::new(
                InvalidReason::BadFormat,
                format!("content_fps[{i}].fp"),
                "must be 16 hex characters (64-bit SimHash)",
            ));
        }
        let fp = u64::from_str_radix(&fp_s, 16).expect("16 hex digits fit u64");
        let n =
            f.n.ok_or_else(|| ValidationError::missing(&format!("content_fps[{i}].n")))?;
        // the field's name is formatted only for a refusal (not once per record)
        let n = match n {
            0..=MAX_COUNT => n as u32,
            _ => count(&format!("content_fps[{i}].n"), n)?,
        };
        content_fps.push(ContentFingerprint { fp, n });
    }
    Ok(content_fps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> TimeBounds {
        TimeBounds::at(1_800_000_000_000)
    }
    const SIM: &str = "9f86d081884c7d65";

    fn parse(s: &str) -> Result<SmsVolume, ValidationError> {
        SmsVolume::parse(s.as_bytes(), &bounds())
    }

    #[test]
    fn full_record_parses() {
        let r = parse(&format!(
            r#"{{"operator":"45204","sim":"{SIM}","window_start":"2026-11-28T00:00:00Z","window_secs":300,
            "sms_out":40,"sms_in":1,"distinct_recipients":38,"new_recipients":37,"offnet_out":10,
            "calls_out":0,"calls_in":0,"device":"{SIM}aa","imei_tac":"35332510","cell":"452-4-100-2001",
            "sim_age_days":2,"kyc_verified":false,"content_fps":[{{"fp":"00ff00ff00ff00ff","n":40}}],"extra":"ok"}}"#
        ))
        .unwrap();
        assert_eq!(r.sms_out, 40);
        assert_eq!(r.imei_tac, Some(35332510));
        assert_eq!(r.content_fps[0].fp, 0x00ff00ff00ff00ff);
        assert_eq!(r.cell.unwrap().cid, 2001);
    }

    #[test]
    fn pseudonyms_and_names_of_any_valid_length_are_kept_whole() {
        // 64 hex (HMAC-SHA256) fits inline, 128 (the contract's bound) and an
        // operator longer than 16 go to the heap: both are kept, compared and
        // serialized as the strings they are.
        for (sim, operator) in [
            ("ab".repeat(32), "45204".to_string()),
            ("0f".repeat(64), "x".repeat(32)),
        ] {
            let line = format!(
                r#"{{"operator":"{operator}","sim":"{sim}","window_start":1764288000000,"window_secs":300,"sms_out":1,"device":"{sim}"}}"#
            );
            let r = parse(&line).unwrap();
            assert_eq!(r.sim, sim.as_str());
            assert_eq!(r.operator, operator.as_str());
            assert_eq!(r.device.as_deref(), Some(sim.as_str()));
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["sim"], sim.as_str());
            let back: SmsVolume = serde_json::from_value(json).unwrap();
            assert_eq!(back, r);
        }
        let a = parse(&format!(
            r#"{{"operator":"45204","sim":"{}","window_start":1764288000000,"window_secs":300,"sms_out":1}}"#,
            "f".repeat(65)
        ))
        .unwrap();
        let b = parse(&format!(
            r#"{{"operator":"45204","sim":"{}","window_start":1764288000000,"window_secs":300,"sms_out":1}}"#,
            "f".repeat(64)
        ))
        .unwrap();
        assert_eq!(a.sim.cmp(&b.sim), a.sim.as_str().cmp(b.sim.as_str()));
        assert!(parse(&format!(
            r#"{{"operator":"45204","sim":"{}","window_start":1764288000000,"window_secs":300,"sms_out":1}}"#,
            "f".repeat(129)
        ))
        .is_err());
    }

    #[test]
    fn errors_name_field_and_rule() {
        let base = |extra: &str| {
            format!(
                r#"{{"operator":"45204","sim":"{SIM}","window_start":1764288000000,"window_secs":300{extra}}}"#
            )
        };
        let e = parse(&base("")).unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::MissingField, Some("sms_out"))
        );
        let e = parse(&base(r#","sms_out":"ten""#)).unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::WrongType, Some("sms_out"))
        );
        let e = parse(&base(r#","sms_out":-1"#)).unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::OutOfRange, Some("sms_out"))
        );
        let e = parse(&base(r#","sms_out":3,"distinct_recipients":4"#)).unwrap_err();
        assert_eq!(e.reason, InvalidReason::Inconsistent);
        let e = parse(&base(r#","sms_out":3,"content_fps":[{"fp":"zz","n":1}]"#)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("content_fps[0].fp"));
        let e = parse(r#"{"operator":"45204","sim":"84912345678","window_start":1764288000000,"window_secs":300,"sms_out":1}"#)
            .unwrap_err();
        assert_eq!(e.reason, InvalidReason::NotPseudonymized);
        let e = parse(r#"{"operator":"45204","sim":"9f86d081884c7d65","window_start":"noon","window_secs":300,"sms_out":1}"#)
            .unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::BadTimestamp, Some("window_start"))
        );
        let e = parse("[1,2]").unwrap_err();
        assert_eq!(e.reason, InvalidReason::MalformedJson);
        let e = parse(r#"{"operator":"45204""#).unwrap_err();
        assert_eq!(e.reason, InvalidReason::MalformedJson);
    }
}
