//! `cellwatch pseudonymize` end to end: CSV and JSON Lines streamed through the
//! binary, pseudonyms equal to an independent HMAC-SHA256, output that passes the
//! feed contract, the key never in any output, and bad input refused with nothing
//! written.

mod inspect_support;

use cellwatch::model::{parse_record, Feed, TimeBounds};
use hmac::{Hmac, Mac};
use inspect_support::*;
use sha2::Sha256;
use std::io::Write;
use std::process::{Command, Stdio};

const KEY: &str = "op-45204-secret-Zq8v!key";

fn hmac_hex(key: &str, msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("operator.key");
    std::fs::write(&p, format!("{KEY}\n")).unwrap();
    p
}

#[test]
fn csv_file_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let input = dir.path().join("subscribers.csv");
    std::fs::write(
        &input,
        "msisdn,imsi,imei,plan\n+84 912 345 678,452041234567890,490154203237518,prepaid\n84987654321,,35-332510-123456-7,\"m2m, meters\"\n",
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let (ok, stdout, stderr) = cellwatch(&[
        "pseudonymize",
        "--key-file",
        key.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("pseudonymized 2 record(s)") && stderr.contains("1 empty value"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rdr.headers().unwrap(),
        vec!["msisdn", "imsi", "imei", "plan"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][0], hmac_hex(KEY, "84912345678"));
    assert_eq!(&rows[0][1], hmac_hex(KEY, "452041234567890"));
    assert_eq!(&rows[0][2], hmac_hex(KEY, "490154203237518"));
    assert_eq!(&rows[1][1], "");
    assert_eq!(
        &rows[1][2],
        hmac_hex(KEY, "353325101234567"),
        "separators removed before hashing"
    );
    assert_eq!(&rows[1][3], "m2m, meters", "other columns untouched");
    for out in [&text, &stdout, &stderr] {
        assert!(!out.contains(KEY), "the key never appears");
        assert!(
            !out.contains("912345678") && !out.contains("987654321"),
            "no clear number left"
        );
    }
}

#[test]
fn jsonl_stdin_to_stdout_builds_a_conforming_feed() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let lines = [
        r#"{"operator":"45204","msisdn":"+84912345678","imei":"490154203237518","window_start":"2026-11-05T01:00:00Z","window_secs":300,"sms_out":42,"new_recipients":40,"distinct_recipients":41}"#,
        r#"{"operator":"45204","msisdn":84987654321,"imei":null,"window_start":1793840400000,"window_secs":300,"sms_out":1}"#,
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellwatch"))
        .args([
            "pseudonymize",
            "--key-file",
            key.to_str().unwrap(),
            "--format",
            "jsonl",
            "--columns",
            "msisdn=sim,imei=device",
            "--length",
            "32",
        ])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains(KEY) && !stderr.contains(KEY),
        "not even in debug logs"
    );
    let bounds = TimeBounds::at(T0 + 86_400_000);
    let recs: Vec<_> = stdout
        .lines()
        .map(
            |l| match parse_record(Feed::SmsVolume, l.as_bytes(), &bounds).unwrap() {
                cellwatch::model::Event::Sms(r) => r,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].sim, hmac_hex(KEY, "84912345678")[..32]);
    assert_eq!(
        recs[0].device.as_deref(),
        Some(&hmac_hex(KEY, "490154203237518")[..32])
    );
    assert_eq!(recs[1].sim, hmac_hex(KEY, "84987654321")[..32]);
    assert_eq!(recs[1].device, None);
}

#[test]
fn bad_input_writes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let k = key.to_str().unwrap();
    let good = dir.path().join("in.csv");
    std::fs::write(&good, "msisdn\n84912345678\n").unwrap();
    let bad_value = dir.path().join("bad.csv");
    std::fs::write(
        &bad_value,
        "msisdn\n84912345678\nnot-a-number-SECRETVALUE\n",
    )
    .unwrap();
    let no_cols = dir.path().join("nocols.csv");
    std::fs::write(&no_cols, "a,b\n1,2\n").unwrap();
    let out = dir.path().join("out.csv");
    let o = out.to_str().unwrap();
    let unreadable = dir.path().join("no-such.key");
    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    for (args, needle) in [
        (
            vec![
                "pseudonymize",
                "--key-file",
                unreadable.to_str().unwrap(),
                "--input",
                good.to_str().unwrap(),
                "--output",
                o,
            ],
            "cannot read key file",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                empty.to_str().unwrap(),
                "--input",
                good.to_str().unwrap(),
                "--output",
                o,
            ],
            "is empty",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                bad_value.to_str().unwrap(),
                "--output",
                o,
            ],
            "line 3, column msisdn",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                no_cols.to_str().unwrap(),
                "--output",
                o,
            ],
            "--columns",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                good.to_str().unwrap(),
                "--output",
                o,
                "--columns",
                "imei",
            ],
            "no column imei",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                good.to_str().unwrap(),
                "--output",
                o,
                "--length",
                "8",
            ],
            "--length",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                "-",
                "--output",
                "-",
            ],
            "--format",
        ),
        (
            vec![
                "pseudonymize",
                "--key-file",
                k,
                "--input",
                good.to_str().unwrap(),
                "--output",
                good.to_str().unwrap(),
            ],
            "same file",
        ),
    ] {
        let (ok, stdout, stderr) = cellwatch(&args);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains(KEY) && !stdout.contains(KEY));
        assert!(
            !stderr.contains("SECRETVALUE"),
            "a refused value is not echoed: {stderr}"
        );
        assert!(!out.exists(), "{args:?} left an output file");
    }
    assert_eq!(
        std::fs::read_to_string(&good).unwrap(),
        "msisdn\n84912345678\n"
    );
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count();
    assert_eq!(leftovers, 0);
}
