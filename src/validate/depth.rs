//! The JSON nesting limit of a record (`pipeline.max_json_depth`), checked before
//! the record is parsed: fields cellwatch does not know are ignored (docs/contract.md),
//! so a producer may send any value in them, and a value nested thousands deep
//! would otherwise cost a parser's recursion. Records of the contract nest two deep
//! (`content_fps`: an array of objects); the default allows 32.

/// Whether `bytes` (any bytes; JSON or not) opens more than `max` nested arrays or
/// objects at once, brackets inside strings not counted. The depth never exceeds the
/// number of opening brackets, so a record opening at most `max` of them (every
/// record of the contract under the default) is answered by a vectorised count,
/// without the byte-by-byte scan.
pub(crate) fn deeper_than(bytes: &[u8], max: usize) -> bool {
    let mut openings = memchr::memchr2_iter(b'{', b'[', bytes);
    let Some(first) = openings.next() else {
        return false;
    };
    if max == 0 {
        return true;
    }
    if openings.nth(max - 1).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in &bytes[first..] {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::deeper_than;

    #[test]
    fn counts_open_brackets_outside_strings() {
        assert!(!deeper_than(b"", 0));
        assert!(!deeper_than(b"42", 0));
        assert!(deeper_than(b"{}", 0));
        assert!(!deeper_than(br#"{"a":1}"#, 1));
        assert!(!deeper_than(br#"{"a":[{"fp":"x","n":1}]}"#, 3));
        assert!(deeper_than(br#"{"a":[{"fp":"x","n":1}]}"#, 2));
        // Brackets in strings, escaped quotes included, do not count.
        assert!(!deeper_than(br#"{"a":"[[[{{{\"[[["}"#, 1));
        assert!(deeper_than(br#"{"a":"\\",  "b":[[1]]}"#, 2));
        // Siblings do not add up.
        assert!(!deeper_than(br#"{"a":[1],"b":[2],"c":{"d":3}}"#, 2));
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(deeper_than(deep.as_bytes(), 32));
        assert!(!deeper_than(deep.as_bytes(), 10_001));
    }

    #[test]
    fn a_record_nested_too_deep_is_a_dead_letter_before_parsing() {
        use crate::ingest::Origin;
        use crate::model::{Feed, InvalidReason, TimeBounds};
        use crate::validate::{Checked, SourceValidator};
        let bounds = TimeBounds::at(1_800_000_000_000);
        let mut v = SourceValidator::new(Feed::SmsVolume, bounds, 600_000).with_max_json_depth(4);
        let deep = format!(
            "{{\"sim\":{}1{}}}",
            "[".repeat(200_000),
            "]".repeat(200_000)
        );
        let origin = Origin::File {
            file: "t".into(),
            line: 1,
        };
        let Checked::Invalid(dead) = v.check(deep.as_bytes(), origin) else {
            panic!("a deep record is refused");
        };
        assert_eq!(dead.reason, InvalidReason::MalformedJson);
        assert!(
            dead.error.contains("pipeline.max_json_depth"),
            "{}",
            dead.error
        );
    }
}
