//! Time values on the command line and in reports: epoch milliseconds, RFC 3339,
//! dates, and durations relative to now (`24h`, `7d`).

/// Format epoch milliseconds as RFC 3339 UTC with seconds (`2025-03-01T08:15:00Z`).
pub fn format_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => format!("{ms} ms"),
    }
}

/// Short form for terminal tables: `2025-03-01 08:15`.
pub(crate) fn format_ms_short(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => format!("{ms}"),
    }
}

/// Table form with seconds, UTC implied by the column header: `2025-03-01 08:15:00`.
pub(crate) fn format_ms_seconds(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => format!("{ms}"),
    }
}

/// A duration in milliseconds as `2h05m`, `3d04h`, `45s`.
pub(crate) fn format_duration_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{:02}s", s % 60)
    } else {
        format!("{s}s")
    }
}

/// Parse a point in time given on the command line, in epoch milliseconds.
///
/// Accepted: integer milliseconds; RFC 3339 (`2025-03-01T08:00:00Z`); a UTC date
/// (`2025-03-01`, midnight); a UTC date and time without zone (`2025-03-01 08:00`);
/// a duration before `now_ms` (`90m`, `24h`, `7d`, `2w`).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty time; give e.g. 2025-03-01, 2025-03-01T08:00:00Z, 24h or 7d".into());
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Some(ms) = crate::model::parse_timestamp_str(t) {
        return Ok(ms);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    if let Some(ms) = parse_relative(t) {
        return Ok(now_ms - ms);
    }
    Err(format!(
        "{t:?} is not a time; give epoch milliseconds, an RFC 3339 time (2025-03-01T08:00:00Z), a UTC date (2025-03-01) or a duration before now (90m, 24h, 7d)"
    ))
}

fn parse_relative(t: &str) -> Option<i64> {
    let unit_at = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(unit_at);
    let n: i64 = num.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("1699999999000", now).unwrap(), 1_699_999_999_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_time("2023-11-14", now).unwrap(), 1_699_920_000_000);
        assert_eq!(
            parse_time("2023-11-14 22:13", now).unwrap(),
            1_700_000_000_000 - 20_000
        );
        assert_eq!(parse_time("24h", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_time("7d", now).unwrap(), now - 7 * 86_400_000);
        let e = parse_time("yesterday", now).unwrap_err();
        assert!(e.contains("not a time") && e.contains("2025-03-01"));
        assert!(parse_time("5x", now).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_ms(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_ms_short(1_700_000_000_000), "2023-11-14 22:13");
        assert_eq!(format_duration_ms(7_500_000), "2h05m");
        assert_eq!(format_duration_ms(45_000), "45s");
        assert_eq!(format_duration_ms(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
    }
}
