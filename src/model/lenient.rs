//! Numbers as real producers write them: `5.0` where the contract says int, `"452"`
//! where it says a number, `45204` where it says an operator code string.
//!
//! Many producers cannot tell the two apart (JavaScript numbers, a pandas column with
//! a gap turns into floats, some JSON encoders always print a decimal point, CSV
//! exports turned into JSON quote every column, a PLMN kept as a number). A float
//! with no fractional part, small enough to be exact (|v| <= 2^53), is that integer;
//! a string holding a decimal number is that number; an unsigned integer where a code
//! is expected is its decimal digits. Anything else stays a wrong type, so `5.5`,
//! `"5 SMS"` or `true` are still refused with a reason.

use super::text::Text;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The largest magnitude a double holds exactly as an integer.
const EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

/// `v` as an integer when it is one exactly.
pub(crate) fn integral(v: f64) -> Option<i64> {
    (v.fract() == 0.0 && v.abs() <= EXACT_F64_INT).then_some(v as i64)
}

/// `deserialize_with` for an optional integer field: null or absent is `None`, an
/// integer or an integral float is `Some`.
pub(crate) fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptInt)
}

struct OptInt;

impl<'de> Visitor<'de> for OptInt {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("i64")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i64>, E> {
        integral(v)
            .map(Some)
            .ok_or_else(|| E::invalid_type(Unexpected::Float(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
        int_str(v)
            .map(Some)
            .ok_or_else(|| E::invalid_type(Unexpected::Str(v), &self))
    }
}

/// A string holding an integer (`"452"`, `"04"`, `"12.0"`), surrounding spaces
/// allowed.
fn int_str(v: &str) -> Option<i64> {
    let t = v.trim();
    t.parse::<i64>().ok().or_else(|| integral(float_str(t)?))
}

/// A string holding a finite decimal number (`"21.0285"`, `"-95"`), surrounding
/// spaces allowed; `inf`, `NaN` and hex are not numbers here.
fn float_str(v: &str) -> Option<f64> {
    let t = v.trim();
    let plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    t.parse::<f64>().ok().filter(|f| plain && f.is_finite())
}

/// `deserialize_with` for an optional float field: null or absent is `None`, a number
/// or a string holding one is `Some`.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(OptF64)
}

struct OptF64;

impl<'de> Visitor<'de> for OptF64 {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("f64")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<f64>, E> {
        Ok(Some(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<f64>, E> {
        Ok(Some(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<f64>, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<f64>, E> {
        float_str(v)
            .map(Some)
            .ok_or_else(|| E::invalid_type(Unexpected::Str(v), &self))
    }
}

/// `deserialize_with` for an optional boolean field: `true`/`false`, and as SQL
/// exports write them, `1`/`0` and `"true"`/`"false"` in any letter case.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_option(OptBool)
}

struct OptBool;

impl<'de> Visitor<'de> for OptBool {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<bool>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<bool>, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<bool>, E> {
        match v {
            0 | 1 => Ok(Some(v == 1)),
            _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<bool>, E> {
        match v {
            0 | 1 => Ok(Some(v == 1)),
            _ => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<bool>, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(E::invalid_type(Unexpected::Str(v), &self)),
        }
    }
}

/// `deserialize_with` for an optional code field (`operator`, `source`): a string as
/// it is, or an unsigned integer as its decimal digits (`45204` is `"45204"`).
pub(crate) fn opt_code<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Text<'a>>, D::Error> {
    d.deserialize_option(OptCode(std::marker::PhantomData))
}

struct OptCode<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for OptCode<'a> {
    type Value = Option<Text<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v.to_string()))))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v))))
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct R {
        #[serde(default, deserialize_with = "super::opt_int")]
        n: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<R>(json)
            .map(|r| r.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_and_integral_floats_are_accepted() {
        assert_eq!(n(r#"{"n":5}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n":-3}"#), Ok(Some(-3)));
        assert_eq!(n(r#"{"n":5.0}"#), Ok(Some(5)));
        assert_eq!(n(r#"{"n":1.7935e12}"#), Ok(Some(1_793_500_000_000)));
        assert_eq!(n(r#"{"n":null}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
    }

    #[test]
    fn numbers_in_strings_are_those_numbers() {
        assert_eq!(n(r#"{"n":"452"}"#), Ok(Some(452)));
        assert_eq!(n(r#"{"n":"04"}"#), Ok(Some(4)));
        assert_eq!(n(r#"{"n":" -7 "}"#), Ok(Some(-7)));
        assert_eq!(n(r#"{"n":"12.0"}"#), Ok(Some(12)));
    }

    #[derive(serde::Deserialize)]
    struct F {
        #[serde(default, deserialize_with = "super::opt_f64")]
        f: Option<f64>,
    }

    fn f(json: &str) -> Result<Option<f64>, String> {
        serde_json::from_str::<F>(json)
            .map(|r| r.f)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn floats_are_read_from_numbers_and_strings() {
        assert_eq!(f(r#"{"f":21.0285}"#), Ok(Some(21.0285)));
        assert_eq!(f(r#"{"f":-95}"#), Ok(Some(-95.0)));
        assert_eq!(f(r#"{"f":"21.0285"}"#), Ok(Some(21.0285)));
        assert_eq!(f(r#"{"f":null}"#), Ok(None));
        assert_eq!(f(r#"{}"#), Ok(None));
        for bad in [
            r#"{"f":"NaN"}"#,
            r#"{"f":"inf"}"#,
            r#"{"f":"north"}"#,
            r#"{"f":true}"#,
        ] {
            assert!(f(bad).unwrap_err().contains("invalid type"), "{bad}");
        }
    }

    #[test]
    fn booleans_as_sql_exports_write_them() {
        #[derive(serde::Deserialize)]
        struct B {
            #[serde(default, deserialize_with = "super::opt_bool")]
            b: Option<bool>,
        }
        let b = |json: &str| serde_json::from_str::<B>(json).map(|r| r.b).ok();
        assert_eq!(b(r#"{"b":true}"#), Some(Some(true)));
        assert_eq!(b(r#"{"b":0}"#), Some(Some(false)));
        assert_eq!(b(r#"{"b":"TRUE"}"#), Some(Some(true)));
        assert_eq!(b(r#"{"b":null}"#), Some(None));
        assert_eq!(b(r#"{"b":"yes"}"#), None);
        assert_eq!(b(r#"{"b":2}"#), None);
    }

    #[derive(serde::Deserialize)]
    struct C<'a> {
        #[serde(borrow, default, deserialize_with = "super::opt_code")]
        c: Option<super::Text<'a>>,
    }

    #[test]
    fn codes_are_strings_or_their_digits() {
        let c = |json: &str| {
            serde_json::from_str::<C>(json)
                .map(|r| r.c.map(|t| t.0.into_owned()))
                .map_err(|e| e.to_string())
        };
        assert_eq!(c(r#"{"c":"45204"}"#), Ok(Some("45204".into())));
        assert_eq!(c(r#"{"c":45204}"#), Ok(Some("45204".into())));
        assert_eq!(c(r#"{"c":null}"#), Ok(None));
        for bad in [r#"{"c":-1}"#, r#"{"c":4.5}"#, r#"{"c":true}"#] {
            assert!(c(bad).unwrap_err().contains("invalid type"), "{bad}");
        }
    }

    #[test]
    fn fractions_and_other_types_are_refused() {
        for bad in [
            r#"{"n":5.5}"#,
            r#"{"n":"5.5"}"#,
            r#"{"n":"5 SMS"}"#,
            r#"{"n":"inf"}"#,
            r#"{"n":""}"#,
            r#"{"n":true}"#,
            r#"{"n":1e300}"#,
        ] {
            let e = n(bad).unwrap_err();
            assert!(e.contains("invalid type"), "{bad}: {e}");
        }
    }
}
