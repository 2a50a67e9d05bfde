//! Deliberately broken lines for the robustness mix: each kind breaks exactly one
//! rule of the contract (docs/contract.md) so the validator must refuse the line
//! and the dead-letter path can be tested on realistic garbage.

use super::util::SimRng;
use crate::model::Feed;
use rand::Rng;
use serde_json::{Map, Value};

/// One way of breaking a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MalformedKind {
    /// Cut in the middle (an interrupted write).
    Truncated,
    /// A number with its unit glued on (`"12 sms"`, `"21.02849N"`): text where a
    /// number belongs. (A bare number in quotes is read as that number.)
    WrongType,
    /// A required field left out.
    MissingField,
    /// A clear phone number / IMEI where a pseudonym belongs.
    ClearIdentifier,
    /// A negative count.
    NegativeCount,
    /// Fields that contradict each other (`distinct_recipients > sms_out`) or a
    /// value outside its enumeration (`rat`).
    Inconsistent,
    /// An unparseable or out-of-range timestamp.
    BadTimestamp,
}

const CYCLE: [MalformedKind; 7] = [
    MalformedKind::Truncated,
    MalformedKind::WrongType,
    MalformedKind::MissingField,
    MalformedKind::ClearIdentifier,
    MalformedKind::NegativeCount,
    MalformedKind::Inconsistent,
    MalformedKind::BadTimestamp,
];

impl MalformedKind {
    /// The `i`-th kind of a fixed rotation, so every file gets every kind.
    pub(crate) fn cycle(_feed: Feed, i: usize) -> MalformedKind {
        CYCLE[i % CYCLE.len()]
    }
}

/// Break a valid serialized record in the given way.
pub(crate) fn corrupt(feed: Feed, kind: MalformedKind, valid: &[u8], rng: &mut SimRng) -> Vec<u8> {
    if kind == MalformedKind::Truncated {
        let cut = (valid.len() / 3 + rng.random_range(0..valid.len() / 3 + 1))
            .min(valid.len().saturating_sub(2));
        return valid[..cut.max(1)].to_vec();
    }
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(valid) else {
        return valid[..valid.len() / 2].to_vec();
    };
    match feed {
        Feed::SmsVolume => break_sms(kind, &mut obj, rng),
        Feed::Measurements => break_measurement(kind, &mut obj, rng),
    }
    serde_json::to_vec(&Value::Object(obj)).unwrap_or_else(|_| b"{".to_vec())
}

fn break_sms(kind: MalformedKind, obj: &mut Map<String, Value>, rng: &mut SimRng) {
    let sms_out = obj.get("sms_out").and_then(Value::as_u64).unwrap_or(1);
    match kind {
        MalformedKind::WrongType => {
            obj.insert("sms_out".into(), Value::String(format!("{sms_out} sms")));
        }
        MalformedKind::MissingField => {
            let field = ["sim", "operator", "window_start", "sms_out", "window_secs"]
                [rng.random_range(0..5)];
            obj.remove(field);
        }
        MalformedKind::ClearIdentifier => {
            let msisdn = format!(
                "849{}{:07}",
                rng.random_range(0..10),
                rng.random_range(0..10_000_000)
            );
            obj.insert("sim".into(), Value::String(msisdn));
        }
        MalformedKind::NegativeCount => {
            let field = ["sms_out", "calls_out", "sms_in"][rng.random_range(0..3)];
            obj.insert(field.into(), Value::from(-(rng.random_range(1..20) as i64)));
        }
        MalformedKind::Inconsistent => {
            obj.insert(
                "distinct_recipients".into(),
                Value::from(sms_out + rng.random_range(1..5)),
            );
            obj.remove("new_recipients");
        }
        MalformedKind::BadTimestamp => {
            let v = match rng.random_range(0..3) {
                0 => Value::String("2026-13-45T25:61:00Z".into()),
                1 => Value::from(86_400_000i64),
                _ => Value::String("yesterday 14:00".into()),
            };
            obj.insert("window_start".into(), v);
        }
        MalformedKind::Truncated => {}
    }
}

fn break_measurement(kind: MalformedKind, obj: &mut Map<String, Value>, rng: &mut SimRng) {
    match kind {
        MalformedKind::WrongType => {
            let lat = obj.get("lat").and_then(Value::as_f64).unwrap_or(21.0);
            obj.insert("lat".into(), Value::String(format!("{lat:.5}N")));
        }
        MalformedKind::MissingField => {
            let field = ["reporter", "ts", "rat", "lac", "lon", "source"][rng.random_range(0..6)];
            obj.remove(field);
        }
        MalformedKind::ClearIdentifier => {
            let imei = super::pseudonym::synthetic_imei("35332510", rng.random_range(0..1_000_000));
            obj.insert("reporter".into(), Value::String(imei));
        }
        MalformedKind::NegativeCount => {
            obj.insert(
                "neighbors".into(),
                Value::from(-(rng.random_range(1..5) as i64)),
            );
        }
        MalformedKind::Inconsistent => {
            if rng.random_bool(0.5) {
                obj.insert("rat".into(), Value::String("5G-SA".into()));
            } else {
                obj.insert("signal_dbm".into(), Value::from(12.5));
            }
        }
        MalformedKind::BadTimestamp => {
            let v = match rng.random_range(0..3) {
                0 => Value::String("2026-11-31T10:00:00".into()),
                1 => Value::from(-5i64),
                _ => Value::from(99_999_999_999_999i64),
            };
            obj.insert("ts".into(), v);
        }
        MalformedKind::Truncated => {}
    }
}

/// A valid line with two bytes that are not UTF-8 put inside its first string value.
pub(crate) fn invalid_utf8(valid: &[u8]) -> Vec<u8> {
    // `{"` + first key + `":"` ... insert right after the first value's opening quote.
    let mut quotes = 0;
    for (i, b) in valid.iter().enumerate() {
        if *b == b'"' {
            quotes += 1;
            if quotes == 3 {
                let mut out = valid[..=i].to_vec();
                out.extend_from_slice(&[0xC3, 0x28, 0xFF]);
                out.extend_from_slice(&valid[i + 1..]);
                return out;
            }
        }
    }
    let mut out = valid.to_vec();
    out.push(0xFF);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_record, TimeBounds};
    use rand::SeedableRng;

    const SMS: &str = r#"{"operator":"45204","sim":"0123456789abcdef0123456789abcdef","window_start":1793577600000,"window_secs":300,"sms_out":3,"sms_in":0,"distinct_recipients":2,"new_recipients":1,"offnet_out":1,"calls_out":0,"calls_in":0,"cell":"452-4-14001-2001"}"#;
    const MEAS: &str = r#"{"source":"app","reporter":"0123456789abcdef0123456789abcdef","ts":1793577600000,"lat":21.03,"lon":105.85,"accuracy_m":12.0,"rat":"GSM","mcc":452,"mnc":4,"lac":14001,"cid":2001,"signal_dbm":-71.5,"neighbors":6}"#;

    #[test]
    fn every_kind_is_refused_by_the_validator() {
        let bounds = TimeBounds::at(1_793_577_600_000 + 86_400_000);
        let mut rng = SimRng::seed_from_u64(1);
        for (feed, valid) in [(Feed::SmsVolume, SMS), (Feed::Measurements, MEAS)] {
            parse_record(feed, valid.as_bytes(), &bounds).expect("the base record is valid");
            for round in 0..5 {
                for i in 0..CYCLE.len() {
                    let kind = MalformedKind::cycle(feed, i);
                    let broken = corrupt(feed, kind, valid.as_bytes(), &mut rng);
                    assert!(
                        parse_record(feed, &broken, &bounds).is_err(),
                        "{kind:?} (round {round}) must be refused: {}",
                        String::from_utf8_lossy(&broken)
                    );
                }
            }
            assert!(parse_record(feed, &invalid_utf8(valid.as_bytes()), &bounds).is_err());
            assert!(parse_record(feed, b"", &bounds).is_err());
        }
    }
}
