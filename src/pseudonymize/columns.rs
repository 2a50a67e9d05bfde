//! Which columns to pseudonymize, what to call them afterwards, and how each kind of
//! identifier is normalized before hashing (the same number written two ways must
//! give the same pseudonym).

use super::PseudonymizeError;

/// The columns looked for when `--columns` is not given.
pub(crate) const DEFAULT_COLUMNS: &[&str] = &["msisdn", "imsi", "imei"];

/// What kind of identifier a column holds, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// Phone number: `+`, spaces, `-`, `.`, `(`, `)` removed; 6..=15 digits (E.164).
    Msisdn,
    /// 6..=15 digits.
    Imsi,
    /// Separators removed; 14..=16 digits (IMEI without/with check digit, IMEISV).
    Imei,
    /// Any other column: surrounding white space removed, otherwise as it is.
    Other,
}

impl IdKind {
    pub(crate) fn of_column(name: &str) -> IdKind {
        let n = name.to_ascii_lowercase();
        if n.contains("msisdn") || n.contains("phone") {
            IdKind::Msisdn
        } else if n.contains("imsi") {
            IdKind::Imsi
        } else if n.contains("imei") {
            IdKind::Imei
        } else {
            IdKind::Other
        }
    }

    /// The canonical form that is hashed, or why the value is not such an identifier
    /// (the message never contains the value).
    pub(crate) fn normalize(self, raw: &str) -> Result<String, String> {
        let t = raw.trim();
        let digits_only = |s: &str, allowed: &[char]| -> String {
            s.chars().filter(|c| !allowed.contains(c)).collect()
        };
        let (v, range, what) = match self {
            IdKind::Other => {
                return if t.is_empty() {
                    Err("empty value".into())
                } else {
                    Ok(t.to_string())
                }
            }
            IdKind::Msisdn => (
                digits_only(t.strip_prefix('+').unwrap_or(t), &[' ', '-', '.', '(', ')']),
                6..=15,
                "a phone number (MSISDN, 6 to 15 digits, optional + and separators)",
            ),
            IdKind::Imsi => (digits_only(t, &[' ']), 6..=15, "an IMSI (6 to 15 digits)"),
            IdKind::Imei => (
                digits_only(t, &[' ', '-', '/', '.']),
                14..=16,
                "an IMEI (14 to 16 digits)",
            ),
        };
        if v.chars().all(|c| c.is_ascii_digit()) && range.contains(&v.len()) {
            Ok(v)
        } else {
            Err(format!("value is not {what}"))
        }
    }
}

/// One column to pseudonymize: `name` or `name=new_name` (e.g. `msisdn=sim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub(crate) source: String,
    pub(crate) target: String,
    pub(crate) kind: IdKind,
}

impl ColumnSpec {
    /// Parse `--columns msisdn=sim,imei=device,imsi`.
    pub fn parse_list(text: &str) -> Result<Vec<ColumnSpec>, PseudonymizeError> {
        let mut out: Vec<ColumnSpec> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (source, target) = match part.split_once('=') {
                Some((s, t)) => (s.trim(), t.trim()),
                None => (part, part),
            };
            if source.is_empty() || target.is_empty() {
                return Err(PseudonymizeError::Columns(format!(
                    "{part:?}: give NAME or NAME=NEW_NAME, e.g. msisdn=sim,imei=device"
                )));
            }
            if out.iter().any(|c| c.source == source) {
                return Err(PseudonymizeError::Columns(format!(
                    "{source:?} is named twice"
                )));
            }
            out.push(ColumnSpec {
                source: source.to_string(),
                target: target.to_string(),
                kind: IdKind::of_column(source),
            });
        }
        if out.is_empty() {
            return Err(PseudonymizeError::Columns(
                "no column named; give e.g. --columns msisdn=sim,imei=device".into(),
            ));
        }
        Ok(out)
    }

    /// The default columns, kept under their names.
    pub fn defaults() -> Vec<ColumnSpec> {
        DEFAULT_COLUMNS
            .iter()
            .map(|c| ColumnSpec {
                source: (*c).to_string(),
                target: (*c).to_string(),
                kind: IdKind::of_column(c),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_makes_one_form() {
        let m = IdKind::Msisdn;
        assert_eq!(m.normalize("+84 91-234.5678").unwrap(), "84912345678");
        assert_eq!(m.normalize("(84) 912345678").unwrap(), "84912345678");
        let e = m.normalize("call me").unwrap_err();
        assert!(!e.contains("call me"));
        assert!(IdKind::Imsi.normalize("452041234567890").is_ok());
        assert!(IdKind::Imsi.normalize("4520412345678901").is_err());
        assert_eq!(
            IdKind::Imei.normalize("49-015420-323751-8").unwrap(),
            "490154203237518"
        );
        assert!(IdKind::Imei.normalize("1234").is_err());
        assert_eq!(IdKind::Other.normalize(" x ").unwrap(), "x");
    }

    #[test]
    fn column_lists() {
        let c = ColumnSpec::parse_list("msisdn=sim, imei=device,imsi").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[0].source.as_str(), c[0].target.as_str(), c[0].kind),
            ("msisdn", "sim", IdKind::Msisdn)
        );
        assert_eq!(c[1].kind, IdKind::Imei);
        assert_eq!(c[2].target, "imsi");
        assert!(ColumnSpec::parse_list("msisdn=,x").is_err());
        assert!(ColumnSpec::parse_list("a,a").is_err());
        assert!(ColumnSpec::parse_list(" , ").is_err());
    }
}
