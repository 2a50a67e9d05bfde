//! A string field of a raw record, borrowed from the input line when it has no JSON
//! escapes (the usual case) and owned only when unescaping had to build a new string.
//!
//! serde borrows a `Cow<str>` only when it is the field's type itself; inside an
//! `Option` (every contract field is optional at the JSON level, so a missing field
//! can be named) it always allocates. This type borrows wherever it sits, which saves
//! one allocation and copy per string field per record.

use serde::de::{self, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// A raw string field: borrowed from the input when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct R<'a> {
        #[serde(borrow)]
        a: Option<Text<'a>>,
    }

    #[test]
    fn borrows_without_escapes_and_unescapes_otherwise() {
        let r: R = serde_json::from_str(r#"{"a":"plain"}"#).unwrap();
        assert!(matches!(r.a.unwrap().0, Cow::Borrowed("plain")));
        let r: R = serde_json::from_str(r#"{"a":"x\"y"}"#).unwrap();
        let a = r.a.unwrap();
        assert!(matches!(a.0, Cow::Owned(_)));
        assert_eq!(&*a, "x\"y");
        let r: R = serde_json::from_str(r#"{"a":null}"#).unwrap();
        assert!(r.a.is_none());
        assert!(serde_json::from_str::<R>(r#"{"a":3}"#).is_err());
    }
}
