//! Validation errors: which field broke which rule, with a stable reason code.

use std::fmt;

/// Stable, machine-readable reason a record was refused; the dead-letter `reason`
/// and the summary's `invalid_by_reason` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Bytes are not UTF-8.
    InvalidUtf8,
    /// Line longer than the configured maximum.
    TooLarge,
    /// Not a JSON object (syntax error, truncated line, array, scalar).
    MalformedJson,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A number outside its allowed range, or a string outside its enumeration.
    OutOfRange,
    /// A string that does not have the required format.
    BadFormat,
    /// An identifier of a person that is not a pseudonym (e.g. a clear phone number).
    NotPseudonymized,
    /// A timestamp that cannot be parsed or lies outside 2000-01-01 .. now + 1 day.
    BadTimestamp,
    /// A rule relating several fields (e.g. `distinct_recipients <= sms_out`).
    Inconsistent,
    /// Older than the watermark allows (event-time lateness).
    Late,
}

impl InvalidReason {
    pub(crate) const ALL: [InvalidReason; 11] = [
        InvalidReason::InvalidUtf8,
        InvalidReason::TooLarge,
        InvalidReason::MalformedJson,
        InvalidReason::MissingField,
        InvalidReason::WrongType,
        InvalidReason::OutOfRange,
        InvalidReason::BadFormat,
        InvalidReason::NotPseudonymized,
        InvalidReason::BadTimestamp,
        InvalidReason::Inconsistent,
        InvalidReason::Late,
    ];

    /// The contract name (`bad_timestamp`), as serde writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InvalidReason::InvalidUtf8 => "invalid_utf8",
            InvalidReason::TooLarge => "too_large",
            InvalidReason::MalformedJson => "malformed_json",
            InvalidReason::MissingField => "missing_field",
            InvalidReason::WrongType => "wrong_type",
            InvalidReason::OutOfRange => "out_of_range",
            InvalidReason::BadFormat => "bad_format",
            InvalidReason::NotPseudonymized => "not_pseudonymized",
            InvalidReason::BadTimestamp => "bad_timestamp",
            InvalidReason::Inconsistent => "inconsistent",
            InvalidReason::Late => "late",
        }
    }
}

impl std::str::FromStr for InvalidReason {
    type Err = super::names::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::names::parse_name(s, &Self::ALL, Self::as_str, "dead-letter reason")
    }
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record refused by validation: the field (if one is to blame), the reason code
/// and a lowercase human message saying which rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ValidationError {
    pub reason: InvalidReason,
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

impl ValidationError {
    pub(crate) fn new(
        reason: InvalidReason,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            reason,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub(crate) fn record(reason: InvalidReason, message: impl Into<String>) -> Self {
        ValidationError {
            reason,
            field: None,
            message: message.into(),
        }
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(
            InvalidReason::MissingField,
            field,
            "required field is missing",
        )
    }

    fn render(&self) -> String {
        match &self.field {
            Some(f) => format!("{}: field `{}`: {}", self.reason, f, self.message),
            None => format!("{}: {}", self.reason, self.message),
        }
    }

    /// Turn a serde_json error into a validation error, naming the field where
    /// serde_path_to_error found it.
    pub(crate) fn from_json(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = if path == "." || path.is_empty() {
            None
        } else {
            Some(path)
        };
        let msg = strip_position(&inner.to_string());
        let reason = match inner.classify() {
            serde_json::error::Category::Data => {
                if let Some(custom) = CustomReason::decode(&msg) {
                    return ValidationError {
                        reason: custom.0,
                        field,
                        message: custom.1,
                    };
                }
                if field.is_some() {
                    InvalidReason::WrongType
                } else {
                    InvalidReason::MalformedJson
                }
            }
            _ => InvalidReason::MalformedJson,
        };
        ValidationError {
            reason,
            field,
            message: msg,
        }
    }
}

/// A required field's value, or the missing-field error naming it.
pub(crate) fn required<T>(field: &str, v: Option<T>) -> Result<T, ValidationError> {
    v.ok_or_else(|| ValidationError::missing(field))
}

/// Carries a specific reason through serde's string-only custom errors.
pub(crate) struct CustomReason(pub(crate) InvalidReason, pub(crate) String);

impl CustomReason {
    const TAG: &'static str = "\u{1}cw:";

    pub(crate) fn encode(reason: InvalidReason, message: &str) -> String {
        format!("{}{}:{}", Self::TAG, reason.as_str(), message)
    }

    fn decode(msg: &str) -> Option<CustomReason> {
        let rest = msg.strip_prefix(Self::TAG)?;
        let (code, message) = rest.split_once(':')?;
        let reason = code.parse().unwrap_or(InvalidReason::WrongType);
        Some(CustomReason(reason, message.to_string()))
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Deserialize one JSON object (and nothing else) from a line, naming the field of
/// any type error. Arrays and scalars are refused: serde would otherwise accept a
/// struct written as an array.
///
/// Fast path first: valid UTF-8 is parsed as `str` (no second UTF-8 check of every
/// string) without path tracking (which allocates a `String` per key). Only a record
/// that fails there is parsed again by [`deserialize_object_slow`], which names the
/// field; so a refusal says exactly what it said before, and a valid record costs
/// a single plain parse.
pub(crate) fn deserialize_object<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, ValidationError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => deserialize_object_str(text),
        Err(_) => deserialize_object_slow(bytes),
    }
}

/// [`deserialize_object`] of a line already known to be UTF-8.
pub(crate) fn deserialize_object_str<'a, T: serde::Deserialize<'a>>(
    text: &'a str,
) -> Result<T, ValidationError> {
    if text.as_bytes().first() == Some(&b'{') {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(value) = T::deserialize(&mut de) {
            if de.end().is_ok() {
                return Ok(value);
            }
        }
    }
    deserialize_object_slow(text.as_bytes())
}

/// The path-tracking parse that turns any failure into a precise refusal.
fn deserialize_object_slow<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, ValidationError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(ValidationError::record(
                InvalidReason::MalformedJson,
                "record must be a JSON object",
            ))
        }
        None => {
            return Err(ValidationError::record(
                InvalidReason::MalformedJson,
                "empty line",
            ))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(ValidationError::from_json)?;
    de.end().map_err(|e| {
        ValidationError::record(
            InvalidReason::MalformedJson,
            format!(
                "trailing characters after the object: {}",
                strip_position(&e.to_string())
            ),
        )
    })?;
    Ok(value)
}
