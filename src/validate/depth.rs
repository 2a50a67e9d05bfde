//! The JSON nesting limit of a record (`pipeline.max_json_depth`), checked before
//! the record is parsed: fields cellwatch does not know are ignored (docs/contract.md),
//! so a producer may send any value in them, and a value nested thousands deep
//! would otherwise cost a parser's recursion. Records of the contract nest two deep
//! (`content_fps`: an array of objects); the default allows 32.

/// Whether `bytes` (any bytes; JSON or not) opens more than `max` nested arrays or
/// objects at once, brackets inside strings not counted. A flat record (no bracket
/// after the first `{`) is answered without a full scan.
pub(crate) fn deeper_than(bytes: &[u8], max: usize) -> bool {
    let Some(first) = memchr::memchr2(b'{', b'[', bytes) else {
        return false;
    };
    if memchr::memchr2(b'{', b'[', &bytes[first + 1..]).is_none() {
        return max == 0;
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
}
