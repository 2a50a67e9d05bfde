//! Contract names of the model's enumerations (`spam_sim`, `handed_over`, `LTE`,
//! `sms_volume` …). Each type writes its names once, in its `as_str`; parsing goes
//! through [`parse_name`] over the type's `ALL`, so the two directions cannot disagree,
//! and a refusal lists the valid names.

/// A name that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {what}; use {expected}")]
pub struct UnknownName {
    /// What the name should have been ("case kind", "status").
    pub(crate) what: &'static str,
    /// The text given.
    pub(crate) value: String,
    /// The valid names, `a, b or c`.
    pub(crate) expected: String,
}

/// The value of `all` whose name is exactly `text`.
pub(crate) fn parse_name<T: Copy>(
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &'static str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .ok_or_else(|| UnknownName {
            what,
            value: text.to_string(),
            expected: name_list(all, name, " or "),
        })
}

/// The names of `all` separated by `, `, the last one by `last_separator`
/// (`a, b or c`; `a, b, c` with `", "`).
pub(crate) fn name_list<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    last_separator: &str,
) -> String {
    let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{}{last_separator}{last}", rest.join(", "))
        }
        _ => names.concat(),
    }
}

/// Parse a name as a person types it: surrounding spaces, letter case and `-` for `_`
/// do not matter (`Handed-Over` is `handed_over`). A refusal quotes the text as given.
pub fn parse_loosely<T>(text: &str) -> Result<T, UnknownName>
where
    T: std::str::FromStr<Err = UnknownName>,
{
    text.trim()
        .to_ascii_lowercase()
        .replace('-', "_")
        .parse()
        .map_err(|e: UnknownName| UnknownName {
            value: text.to_string(),
            ..e
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CaseStatus, Feed, InvalidReason, MeasurementEvent, Rat};
    use serde::Serialize;

    /// Every value's name is what serde writes, and parses back to the value.
    fn round_trip<T>(all: &[T], name: fn(T) -> &'static str)
    where
        T: Copy + Serialize + PartialEq + std::fmt::Debug + std::str::FromStr,
        T::Err: std::fmt::Debug,
    {
        for v in all.iter().copied() {
            assert_eq!(serde_json::to_value(v).unwrap(), name(v), "{v:?}");
            assert_eq!(name(v).parse::<T>().unwrap(), v);
        }
    }

    #[test]
    fn every_contract_enum_round_trips() {
        round_trip(&Feed::ALL, Feed::name);
        round_trip(&Rat::ALL, Rat::as_str);
        round_trip(&MeasurementEvent::ALL, MeasurementEvent::as_str);
        round_trip(&InvalidReason::ALL, InvalidReason::as_str);
        assert_eq!(
            "gsm".parse::<Rat>().unwrap_err().to_string(),
            "\"gsm\" is not a radio technology; use GSM, UMTS, LTE or NR"
        );
    }

    #[test]
    fn name_lists_and_loose_parsing() {
        assert_eq!(
            name_list(&Rat::ALL, Rat::as_str, ", "),
            "GSM, UMTS, LTE, NR"
        );
        assert_eq!(name_list(&[Rat::Nr], Rat::as_str, " or "), "NR");
        assert_eq!(
            parse_loosely::<CaseStatus>(" Handed-Over"),
            Ok(CaseStatus::HandedOver)
        );
        let e = parse_loosely::<CaseStatus>("Closed").unwrap_err();
        assert_eq!(e.value, "Closed", "the text as given");
    }
}
