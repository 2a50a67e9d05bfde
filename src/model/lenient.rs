//! Integer fields written as floats: `5.0` where the contract says int.
//!
//! Many producers cannot tell the two apart (JavaScript numbers, a pandas column with
//! a gap turns into floats, some JSON encoders always print a decimal point). A float
//! with no fractional part, small enough to be exact (|v| <= 2^53), is that integer;
//! anything else stays a wrong type, so `5.5` is still refused with a reason.

use serde::de::{self, Deserializer, Unexpected, Visitor};
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
    fn fractions_and_other_types_are_refused() {
        for bad in [
            r#"{"n":5.5}"#,
            r#"{"n":"5"}"#,
            r#"{"n":true}"#,
            r#"{"n":1e300}"#,
        ] {
            let e = n(bad).unwrap_err();
            assert!(e.contains("invalid type"), "{bad}: {e}");
        }
    }
}
