//! Cell-measurement reports (`cw.cell-measurements.v1`): one observation of a serving
//! cell by one reporting device.

use super::cell::{CellKey, Rat};
use super::error::{deserialize_object, required, ValidationError};
use super::names::{name_list, parse_name, UnknownName};
use super::pseudonym::pseudonym;
use super::text::Text;
use super::timestamp::{RawTs, TimeBounds};
use super::{Event, InvalidReason, Pseudonym, ShortName};
use serde::{Deserialize, Serialize};

/// What happened to the reporting device on this cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementEvent {
    #[default]
    Camped,
    Reselect,
    RatDowngrade,
    Reject,
    SmsReceived,
}

impl MeasurementEvent {
    pub(crate) const ALL: [MeasurementEvent; 5] = [
        MeasurementEvent::Camped,
        MeasurementEvent::Reselect,
        MeasurementEvent::RatDowngrade,
        MeasurementEvent::Reject,
        MeasurementEvent::SmsReceived,
    ];

    /// The contract name (`rat_downgrade`), as serde writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Camped => "camped",
            Self::Reselect => "reselect",
            Self::RatDowngrade => "rat_downgrade",
            Self::Reject => "reject",
            Self::SmsReceived => "sms_received",
        }
    }
}

impl std::str::FromStr for MeasurementEvent {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse_name(s, &Self::ALL, Self::as_str, "measurement event")
    }
}

impl std::fmt::Display for MeasurementEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated cell-measurement report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellMeasurement {
    pub source: ShortName,
    pub reporter: Pseudonym,
    pub ts_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f32>,
    pub rat: Rat,
    pub cell: CellKey,
    pub arfcn: Option<u32>,
    pub pci: Option<u16>,
    pub signal_dbm: Option<f32>,
    pub ta: Option<u16>,
    pub neighbors: Option<u16>,
    pub cipher: Option<ShortName>,
    pub event: MeasurementEvent,
    pub sms_sender: Option<String>,
}

impl CellMeasurement {
    /// Whether the serving cell announced no encryption (A5/0, EEA0, NEA0, UEA0).
    pub(crate) fn null_cipher(&self) -> bool {
        matches!(
            self.cipher.as_deref(),
            Some("A5/0" | "EEA0" | "NEA0" | "UEA0")
        )
    }
}

/// A measurement line as JSON gives it, before the contract's checks: what serde and
/// the fast scanner ([`super::measurement_scan`]) both build.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawMeasurement<'a> {
    #[serde(borrow, default, deserialize_with = "super::lenient::opt_code")]
    pub(super) source: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) reporter: Option<Text<'a>>,
    pub(super) ts: Option<RawTs>,
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub(super) lat: Option<f64>,
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub(super) lon: Option<f64>,
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub(super) accuracy_m: Option<f64>,
    #[serde(borrow)]
    pub(super) rat: Option<Text<'a>>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) mcc: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) mnc: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) lac: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) cid: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) arfcn: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) pci: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub(super) signal_dbm: Option<f64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) ta: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int")]
    pub(super) neighbors: Option<i64>,
    #[serde(borrow)]
    pub(super) cipher: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) event: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) sms_sender: Option<Text<'a>>,
}

/// Physical ranges accepted for the numeric fields (inclusive).
pub(crate) mod limits {
    pub(crate) const ACCURACY_M: (f64, f64) = (0.0, 100_000.0);
    pub(crate) const SIGNAL_DBM: (f64, f64) = (-160.0, 0.0);
    pub(crate) const ARFCN: (i64, i64) = (0, 3_279_165);
    pub(crate) const PCI: (i64, i64) = (0, 1007);
    pub(crate) const TA: (i64, i64) = (0, 4095);
    pub(crate) const NEIGHBORS: (i64, i64) = (0, 1024);
}

fn in_range_i(field: &str, v: i64, (lo, hi): (i64, i64)) -> Result<i64, ValidationError> {
    if v < lo || v > hi {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            field,
            format!("must be {lo}..={hi}, got {v}"),
        ));
    }
    Ok(v)
}

fn in_range_f(field: &str, v: f64, (lo, hi): (f64, f64)) -> Result<f64, ValidationError> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(ValidationError::new(
            InvalidReason::OutOfRange,
            field,
            format!("must be {lo}..={hi}, got {v}"),
        ));
    }
    Ok(v)
}

impl CellMeasurement {
    /// Parse one JSON line and check every rule of docs/contract.md ("Cell-measurement reports").
    pub(crate) fn parse(
        bytes: &[u8],
        bounds: &TimeBounds,
    ) -> Result<CellMeasurement, ValidationError> {
        let raw: RawMeasurement = deserialize_object(bytes)?;
        Self::from_raw(raw, bounds, std::convert::identity)
    }

    /// [`CellMeasurement::parse`] of a line already known to be UTF-8, as an
    /// [`Event`] built where the caller keeps it (no copy on the way out).
    pub(crate) fn parse_event_str(
        text: &str,
        bounds: &TimeBounds,
    ) -> Result<Event, ValidationError> {
        let raw: RawMeasurement = match super::measurement_scan::scan(text) {
            Some(raw) => raw,
            None => super::error::deserialize_object_str(text)?,
        };
        Self::from_raw(raw, bounds, Event::Measurement)
    }

    /// The checked report of `raw`, handed to `wrap` as the result is built.
    #[inline]
    fn from_raw<T>(
        raw: RawMeasurement<'_>,
        bounds: &TimeBounds,
        wrap: impl FnOnce(CellMeasurement) -> T,
    ) -> Result<T, ValidationError> {
        let source = required("source", raw.source)?;
        if source.is_empty() || source.len() > 32 {
            return Err(ValidationError::new(
                InvalidReason::OutOfRange,
                "source",
                format!("must be 1..=32 characters, got {}", source.len()),
            ));
        }
        let reporter = pseudonym("reporter", required("reporter", raw.reporter)?)?;
        let ts_ms = bounds.check("ts", required("ts", raw.ts)?.0)?;
        let lat = in_range_f("lat", required("lat", raw.lat)?, (-90.0, 90.0))?;
        let lon = in_range_f("lon", required("lon", raw.lon)?, (-180.0, 180.0))?;
        let accuracy_m = opt_in_range_f("accuracy_m", raw.accuracy_m, limits::ACCURACY_M)?;
        let (rat, cell) = identity(raw.rat, raw.mcc, raw.mnc, raw.lac, raw.cid)?;
        let arfcn = opt_in_range_i("arfcn", raw.arfcn, limits::ARFCN)?;
        let pci = opt_in_range_i("pci", raw.pci, limits::PCI)?;
        let signal_dbm = opt_in_range_f("signal_dbm", raw.signal_dbm, limits::SIGNAL_DBM)?;
        let ta = opt_in_range_i("ta", raw.ta, limits::TA)?;
        let neighbors = opt_in_range_i("neighbors", raw.neighbors, limits::NEIGHBORS)?;
        let cipher = short_text(
            "cipher",
            raw.cipher,
            16,
            "must be 1..=16 characters, e.g. A5/1, EEA2",
        )?
        .map(upper_case);
        let event = match raw.event {
            Some(e) => event(&e),
            None => MeasurementEvent::Camped,
        };
        let sms_sender = short_text(
            "sms_sender",
            raw.sms_sender,
            64,
            "must be 1..=64 characters",
        )?;
        Ok(wrap(CellMeasurement {
            source: ShortName::from(&*source),
            reporter,
            ts_ms,
            lat,
            lon,
            accuracy_m: accuracy_m.map(|a| a as f32),
            rat,
            cell,
            arfcn: arfcn.map(|v| v as u32),
            pci: pci.map(|v| v as u16),
            signal_dbm: signal_dbm.map(|v| v as f32),
            ta: ta.map(|v| v as u16),
            neighbors: neighbors.map(|v| v as u16),
            cipher,
            event,
            sms_sender,
        }))
    }
}

fn opt_in_range_i(
    field: &str,
    v: Option<i64>,
    range: (i64, i64),
) -> Result<Option<i64>, ValidationError> {
    v.map(|v| in_range_i(field, v, range)).transpose()
}

fn opt_in_range_f(
    field: &str,
    v: Option<f64>,
    range: (f64, f64),
) -> Result<Option<f64>, ValidationError> {
    v.map(|v| in_range_f(field, v, range)).transpose()
}

/// The serving cell's technology and `MCC-MNC-LAC-CID`, each part within what the
/// technology can carry.
fn identity(
    rat: Option<Text<'_>>,
    mcc: Option<i64>,
    mnc: Option<i64>,
    lac: Option<i64>,
    cid: Option<i64>,
) -> Result<(Rat, CellKey), ValidationError> {
    let rat_s = required("rat", rat)?;
    let rat = Rat::from_feed(&rat_s).ok_or_else(|| {
        ValidationError::new(
            InvalidReason::OutOfRange,
            "rat",
            format!(
                "must be one of {} (any letter case; 2G, 3G, WCDMA, 4G, 5G also read)",
                name_list(&Rat::ALL, Rat::as_str, ", ")
            ),
        )
    })?;
    let mcc = in_range_i("mcc", required("mcc", mcc)?, (0, 999))?;
    let mnc = in_range_i("mnc", required("mnc", mnc)?, (0, 999))?;
    let lac = in_range_i("lac", required("lac", lac)?, (0, i64::from(rat.max_lac())))?;
    let cid = in_range_i("cid", required("cid", cid)?, (0, rat.max_cid() as i64))?;
    let key = CellKey {
        mcc: mcc as u16,
        mnc: mnc as u16,
        lac: lac as u32,
        cid: cid as u64,
    };
    Ok((rat, key))
}

/// Cipher names in the contract's spelling (`a5/0` is `A5/0`), so the null-cipher
/// check and the evidence see one name.
fn upper_case(mut text: ShortName) -> ShortName {
    text.make_ascii_uppercase();
    text
}

/// An optional text of 1..=`max` bytes.
fn short_text<T: for<'s> From<&'s str>>(
    field: &str,
    v: Option<Text<'_>>,
    max: usize,
    rule: &'static str,
) -> Result<Option<T>, ValidationError> {
    match v {
        Some(t) if t.is_empty() || t.len() > max => {
            Err(ValidationError::new(InvalidReason::OutOfRange, field, rule))
        }
        t => Ok(t.map(|t| T::from(&*t))),
    }
}

/// The event, its name in any letter case (`REJECT` is `reject`). A value the
/// contract does not name is a compatible extension a producer may add (a new kind
/// of event): it is read as no event (`camped`), so the report still counts as an
/// observation of its cell and no event-based rule reads it as evidence.
fn event(e: &str) -> MeasurementEvent {
    e.parse()
        .or_else(|_| e.to_ascii_lowercase().parse())
        .unwrap_or(MeasurementEvent::Camped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CellMeasurement, ValidationError> {
        CellMeasurement::parse(s.as_bytes(), &TimeBounds::at(1_800_000_000_000))
    }
    const OK: &str = r#"{"source":"probe","reporter":"00112233445566778899","ts":"2026-11-28T01:00:00Z","lat":21.03,"lon":105.85,"rat":"GSM","mcc":452,"mnc":4,"lac":10231,"cid":5501"#;

    #[test]
    fn minimal_report_parses() {
        let m = parse(&format!("{OK}}}")).unwrap();
        assert_eq!(m.event, MeasurementEvent::Camped);
        assert_eq!(m.cell.to_string(), "452-4-10231-5501");
    }

    #[test]
    fn other_feeds_spellings_are_read() {
        for (given, rat) in [
            ("lte", Rat::Lte),
            ("4G", Rat::Lte),
            ("WCDMA", Rat::Umts),
            ("gsm", Rat::Gsm),
            ("5g", Rat::Nr),
        ] {
            let line = OK.replace(r#""GSM""#, &format!("{given:?}"));
            assert_eq!(parse(&format!("{line}}}")).unwrap().rat, rat, "{given}");
        }
        let line = OK.replace("00112233445566778899", "00112233445566778899AABB");
        let m = parse(&format!(r#"{line},"event":"REJECT","cipher":"a5/0"}}"#)).unwrap();
        assert_eq!(m.event, MeasurementEvent::Reject);
        assert!(m.null_cipher());
        assert_eq!(m.reporter, "00112233445566778899aabb");
        assert!(parse(&format!("{}}}", OK.replace(r#""GSM""#, r#""6G""#))).is_err());
    }

    #[test]
    fn rat_dependent_cid_limit() {
        let e = parse(&format!("{}}}", OK.replace("5501", "70000"))).unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::OutOfRange, Some("cid"))
        );
        parse(&format!(
            "{}}}",
            OK.replace("5501", "70000").replace("GSM", "LTE")
        ))
        .unwrap();
    }

    #[test]
    fn an_event_the_contract_does_not_name_is_no_event() {
        let m = parse(&format!(r#"{OK},"event":"handover_attempt"}}"#)).unwrap();
        assert_eq!(m.event, MeasurementEvent::Camped);
    }

    #[test]
    fn numbers_and_codes_as_producers_write_them() {
        let quoted = OK
            .replace(r#""lat":21.03"#, r#""lat":"21.03""#)
            .replace(r#""mnc":4"#, r#""mnc":"04""#)
            .replace(r#""source":"probe""#, r#""source":45204"#)
            .replace(r#""ts":"2026-11-28T01:00:00Z""#, r#""ts":"1795827600000""#);
        let m = parse(&format!("{quoted}}}")).unwrap();
        let plain = OK
            .replace(r#""source":"probe""#, r#""source":"45204""#)
            .replace(r#""ts":"2026-11-28T01:00:00Z""#, "\"ts\":1795827600000");
        assert_eq!(Ok(m), parse(&format!("{plain}}}")));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = parse(&format!(r#"{OK},"signal_dbm":12}}"#)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("signal_dbm"));
        let e = parse(OK).unwrap_err();
        assert_eq!(e.reason, InvalidReason::MalformedJson, "truncated line");
        let e = parse(&format!(
            "{}}}",
            OK.replace(r#""lat":21.03"#, r#""lat":"x""#)
        ))
        .unwrap_err();
        assert_eq!(
            (e.reason, e.field.as_deref()),
            (InvalidReason::WrongType, Some("lat"))
        );
    }
}
