//! Streaming rewrite of CSV and JSON Lines: one record in, one record out, constant
//! memory whatever the file size.

use super::columns::ColumnSpec;
use super::key::Pseudonymizer;
use super::PseudonymizeError;
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Jsonl,
}

impl InputFormat {
    pub fn parse(text: &str) -> Option<InputFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }

    /// By extension: `.csv`, `.jsonl` / `.ndjson` / `.json`.
    pub fn from_path(path: &std::path::Path) -> Option<InputFormat> {
        InputFormat::parse(path.extension()?.to_str()?)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamReport {
    pub records: u64,
    /// Values replaced by a pseudonym, per output column.
    pub pseudonymized: BTreeMap<String, u64>,
    /// Empty or null values left as they were.
    pub left_empty: u64,
}

fn value_error(line: u64, column: &str, message: String) -> PseudonymizeError {
    PseudonymizeError::Value {
        line,
        column: column.to_string(),
        message,
    }
}

/// The pseudonym of one non-empty value of column `c`, counted in the report.
fn replace(
    report: &mut StreamReport,
    p: &Pseudonymizer,
    c: &ColumnSpec,
    value: &str,
    line: u64,
) -> Result<String, PseudonymizeError> {
    let norm = c
        .kind
        .normalize(value)
        .map_err(|m| value_error(line, &c.source, m))?;
    *report.pseudonymized.entry(c.target.clone()).or_default() += 1;
    Ok(p.pseudonym(&norm))
}

/// `a, b`: the columns asked for, for "none of them found".
fn wanted(columns: &[ColumnSpec]) -> String {
    columns
        .iter()
        .map(|c| c.source.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pseudonymize the columns of a CSV file with a header row. With `explicit`, every
/// column of `columns` must exist; otherwise those present are used (at least one).
pub fn pseudonymize_csv<R: Read, W: Write>(
    input: R,
    output: W,
    p: &Pseudonymizer,
    columns: &[ColumnSpec],
    explicit: bool,
) -> Result<StreamReport, PseudonymizeError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| PseudonymizeError::Record {
            line: 1,
            message: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let (targets, new_headers) = csv_targets(&headers, columns, explicit)?;
    let mut wtr = csv::Writer::from_writer(output);
    wtr.write_record(&new_headers)
        .map_err(|e| PseudonymizeError::Write(e.into()))?;
    let mut report = StreamReport::default();
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record).map_err(csv_read_error)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        for (i, c) in &targets {
            let Some(v) = fields.get_mut(*i) else {
                continue;
            };
            if v.trim().is_empty() {
                report.left_empty += 1;
                continue;
            }
            *v = replace(&mut report, p, c, v, line)?;
        }
        wtr.write_record(&fields)
            .map_err(|e| PseudonymizeError::Write(e.into()))?;
        report.records += 1;
    }
    wtr.flush().map_err(PseudonymizeError::Write)?;
    Ok(report)
}

/// The columns to pseudonymize, each with its position in the CSV header.
type Targets<'c> = Vec<(usize, &'c ColumnSpec)>;

/// The header position of each column to pseudonymize (exact name, else ignoring
/// case) and the output header with the renamed columns.
fn csv_targets<'c>(
    headers: &csv::StringRecord,
    columns: &'c [ColumnSpec],
    explicit: bool,
) -> Result<(Targets<'c>, Vec<String>), PseudonymizeError> {
    let found = headers.iter().collect::<Vec<_>>().join(",");
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .or_else(|| headers.iter().position(|h| h.eq_ignore_ascii_case(name)))
    };
    let mut targets: Targets = Vec::new();
    for c in columns {
        match find(&c.source) {
            Some(i) => targets.push((i, c)),
            None if explicit => {
                return Err(PseudonymizeError::MissingColumn {
                    missing: c.source.clone(),
                    found,
                })
            }
            None => {}
        }
    }
    if targets.is_empty() {
        return Err(PseudonymizeError::NoColumns {
            wanted: wanted(columns),
            found,
        });
    }
    let mut new_headers: Vec<String> = headers.iter().map(str::to_string).collect();
    for (i, c) in &targets {
        if c.target != headers[*i] && find(&c.target).is_some() {
            return Err(PseudonymizeError::Columns(format!(
                "cannot rename {} to {}: the input already has a column {}",
                c.source, c.target, c.target
            )));
        }
        new_headers[*i] = c.target.clone();
    }
    Ok((targets, new_headers))
}

fn csv_read_error(e: csv::Error) -> PseudonymizeError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.kind() {
        csv::ErrorKind::Io(_) => PseudonymizeError::Read(std::io::Error::other(e.to_string())),
        _ => PseudonymizeError::Record {
            line,
            message: format!("not a valid CSV record: {}", csv_kind(&e)),
        },
    }
}

/// Describe a CSV error without the record's content.
fn csv_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        _ => "malformed".into(),
    }
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Pseudonymize top-level fields of JSON Lines objects. Strings and integers are
/// pseudonymized, null stays null, a missing field stays missing. At least one of the
/// columns must occur somewhere in the input.
pub fn pseudonymize_jsonl<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    p: &Pseudonymizer,
    columns: &[ColumnSpec],
) -> Result<StreamReport, PseudonymizeError> {
    let mut report = StreamReport::default();
    let mut seen_any = false;
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(PseudonymizeError::Read)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut obj = json_object(&buf, line_no)?;
        for c in columns {
            let Some(v) = obj.remove(&c.source) else {
                continue;
            };
            seen_any = true;
            let new_value = json_field(&mut report, p, c, v, &obj, line_no)?;
            obj.insert(c.target.clone(), new_value);
        }
        serde_json::to_writer(&mut output, &obj).map_err(|e| PseudonymizeError::Write(e.into()))?;
        output.write_all(b"\n").map_err(PseudonymizeError::Write)?;
        report.records += 1;
    }
    output.flush().map_err(PseudonymizeError::Write)?;
    if !seen_any && report.records > 0 {
        return Err(PseudonymizeError::NoColumns {
            wanted: wanted(columns),
            found: "fields of the JSON objects".into(),
        });
    }
    Ok(report)
}

/// One line as a JSON object; the error says what is wrong without quoting the line.
fn json_object(line: &[u8], line_no: u64) -> Result<JsonObject, PseudonymizeError> {
    serde_json::from_slice(line).map_err(|e| PseudonymizeError::Record {
        line: line_no,
        message: format!(
            "not a JSON object ({}, column {})",
            match e.classify() {
                serde_json::error::Category::Data => "not an object",
                serde_json::error::Category::Eof => "cut short",
                _ => "syntax error",
            },
            e.column()
        ),
    })
}

/// The new value of field `c` (taken out of `obj`): its pseudonym, or the value
/// itself when null or empty.
fn json_field(
    report: &mut StreamReport,
    p: &Pseudonymizer,
    c: &ColumnSpec,
    v: serde_json::Value,
    obj: &JsonObject,
    line_no: u64,
) -> Result<serde_json::Value, PseudonymizeError> {
    let text = match &v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.trim().is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => {
            return Err(value_error(
                line_no,
                &c.source,
                "value is neither a string nor a whole number".into(),
            ))
        }
    };
    if c.target != c.source && obj.contains_key(&c.target) {
        return Err(value_error(
            line_no,
            &c.source,
            format!(
                "cannot rename to {}: the record already has that field",
                c.target
            ),
        ));
    }
    Ok(match text {
        None => {
            report.left_empty += 1;
            v
        }
        Some(t) => serde_json::Value::String(replace(report, p, c, &t, line_no)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Pseudonymizer {
        Pseudonymizer::new(b"operator-secret", 32).unwrap()
    }

    #[test]
    fn csv_columns_are_replaced_and_renamed() {
        let input = "msisdn,imei,sms_out\n+84 912345678,490154203237518,12\n84912345678,,3\n";
        let mut out = Vec::new();
        let cols = ColumnSpec::parse_list("msisdn=sim,imei=device").unwrap();
        let r = pseudonymize_csv(input.as_bytes(), &mut out, &p(), &cols, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "sim,device,sms_out");
        let a: Vec<&str> = lines[1].split(',').collect();
        let b: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(a[0], p().pseudonym("84912345678"));
        assert_eq!(a[0], b[0], "same number, two spellings, one pseudonym");
        assert_eq!(a[1], p().pseudonym("490154203237518"));
        assert_eq!((a[2], b[1], b[2]), ("12", "", "3"));
        assert!(!text.contains("912345678"));
        assert_eq!(r.records, 2);
        assert_eq!(r.pseudonymized["sim"], 2);
        assert_eq!(r.left_empty, 1);
        crate::model::check_pseudonym("sim", a[0]).unwrap();
    }

    #[test]
    fn csv_refusals_name_line_and_column_not_value() {
        let cols = ColumnSpec::defaults();
        let e = pseudonymize_csv(
            "msisdn\n84912345678\nhello-secret\n".as_bytes(),
            Vec::new(),
            &p(),
            &cols,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 3, column msisdn") && !e.contains("hello-secret"),
            "{e}"
        );
        let e =
            pseudonymize_csv("a,b\n1,2\n".as_bytes(), Vec::new(), &p(), &cols, false).unwrap_err();
        assert!(matches!(e, PseudonymizeError::NoColumns { .. }));
        let explicit = ColumnSpec::parse_list("msisdn,imsi").unwrap();
        let e = pseudonymize_csv("msisdn\n1\n".as_bytes(), Vec::new(), &p(), &explicit, true)
            .unwrap_err();
        assert!(e.to_string().contains("no column imsi"), "{e}");
        let e = pseudonymize_csv(
            "msisdn,x\n84912345678\n".as_bytes(),
            Vec::new(),
            &p(),
            &cols,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn jsonl_strings_numbers_nulls() {
        let input =
            "{\"msisdn\":\"+84912345678\",\"imei\":null,\"n\":1}\n\n{\"msisdn\":84912345678}\n";
        let mut out = Vec::new();
        let cols = ColumnSpec::parse_list("msisdn=sim,imei=device").unwrap();
        let r = pseudonymize_jsonl(input.as_bytes(), &mut out, &p(), &cols).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["sim"], lines[1]["sim"]);
        assert_eq!(lines[0]["sim"], p().pseudonym("84912345678"));
        assert!(lines[0]["device"].is_null() && lines[0].get("msisdn").is_none());
        assert_eq!(lines[0]["n"], 1);
        assert_eq!(r.records, 2);
        let e = pseudonymize_jsonl("{\"msisdn\":true}\n".as_bytes(), Vec::new(), &p(), &cols)
            .unwrap_err();
        assert!(e.to_string().contains("line 1, column msisdn"), "{e}");
        let e = pseudonymize_jsonl("[1]\n".as_bytes(), Vec::new(), &p(), &cols).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = pseudonymize_jsonl("{\"x\":1}\n".as_bytes(), Vec::new(), &p(), &cols).unwrap_err();
        assert!(matches!(e, PseudonymizeError::NoColumns { .. }));
    }
}
