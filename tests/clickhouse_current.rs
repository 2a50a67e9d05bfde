//! The schema for a current ClickHouse, executed: `docker-compose.yml` runs ClickHouse
//! 25.3, for which `cellwatch migrate` writes `LowCardinality` columns and codecs
//! that Debian's 18.16 (the test server) never sees. Here the statements that
//! `cellwatch migrate --print-ddl --server-version V` prints for the version V of
//! chDB (PyPI's chdb-core, a current ClickHouse engine in-process; installed by
//! `scripts/ensure-chdb.sh`, which `scripts/test.sh` runs) create every table in chDB;
//! then one row per table, captured byte for byte as the sink sends it (the
//! `clickhouse` crate's `INSERT … FORMAT RowBinary` to a local HTTP capture), is
//! inserted and read back.
//!
//! The test fails (never skips) when chDB is not installed.

mod inspect_support;

use axum::body::Bytes;
use axum::http::Uri;
use cellwatch::config::ClickHouseConfig;
use cellwatch::ingest::{Origin, OriginRef};
use cellwatch::inspect::{CaseStore, ClickHouseStore, StatusChange};
use cellwatch::model::{parse_record, CaseStatus, Feed, TimeBounds};
use cellwatch::sink::clickhouse::{ClickHouse, DeadLetterRow, RecordArchive};
use inspect_support::spam_case;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SMS_LINE: &str = r#"{"operator":"45202","sim":"3e2494e516d67b458219297975cdb1b5","window_start":1793581200000,"window_secs":60,"sms_out":3,"sms_in":0,"distinct_recipients":3,"new_recipients":1,"offnet_out":0,"calls_out":0,"calls_in":1,"device":"8e08f74a4fdd31ace288e5a8c365481f","imei_tac":"86471503","cell":"452-2-12205-103932674","sim_age_days":248,"kyc_verified":true}"#;

/// The venv python of `scripts/ensure-chdb.sh`, or a failure that says what to run.
fn chdb_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("CW_CHDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".services/chdb-venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import chdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "chDB is not installed ({} cannot `import chdb`): run scripts/test.sh, or \
         scripts/ensure-chdb.sh and set CW_CHDB_PYTHON to the python it prints",
        python.display()
    );
    python
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chdb/load_rows.py")
}

/// What the capture server received: (INSERT statement, RowBinary body).
type Captured = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RowBinary of strings (LEB128 length + bytes): the answers to the store's probes.
fn rowbinary_strings(values: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let mut n = v.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n > 0 { byte | 0x80 } else { byte });
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// A stand-in ClickHouse HTTP interface that keeps every insert and answers the two
/// probes the inspector's store makes (`version()`, its tables).
async fn capture_server(captured: Captured) -> String {
    let app = axum::Router::new().fallback(move |uri: Uri, body: Bytes| {
        let captured = captured.clone();
        async move {
            let query = uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("query="))
                .map(percent_decode);
            if let Some(q) = query.filter(|q| q.starts_with("INSERT INTO")) {
                captured.lock().unwrap().push((q, body.to_vec()));
                return Vec::new();
            }
            let text = String::from_utf8_lossy(&body);
            if text.contains("version()") {
                rowbinary_strings(&["26.1.1.1"])
            } else if text.contains("system.tables") {
                rowbinary_strings(&["cases", "case_status_log", "records", "dead_letters"])
            } else {
                Vec::new()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// One row of each table, sent by the sink's own code paths.
async fn send_one_row_each() -> Vec<(String, Vec<u8>)> {
    let captured: Captured = Arc::default();
    let url = capture_server(captured.clone()).await;
    let config = ClickHouseConfig {
        url,
        database: "cw".into(),
        ..Default::default()
    };
    let ch = ClickHouse::new(config.clone());
    ch.insert_cases(&[spam_case()]).await.unwrap();
    let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
    let event = parse_record(Feed::SmsVolume, SMS_LINE.as_bytes(), &bounds).unwrap();
    let origin = Origin::Kafka {
        topic: "cw.sms-volume.v1".into(),
        partition: 2,
        offset: 41,
    };
    let mut archive = RecordArchive::default();
    archive.push(&event, OriginRef::from(&origin), SMS_LINE.as_bytes());
    ch.insert_archive(&archive).await.unwrap();
    ch.insert_dead_letters(&[DeadLetterRow {
        received_at: 1_795_000_000_000,
        feed: "sms_volume".into(),
        reason: "malformed_json".into(),
        field: String::new(),
        error: "expected value".into(),
        topic: "cw.sms-volume.v1".into(),
        partition: 1,
        offset: 7,
        raw: "{".into(),
    }])
    .await
    .unwrap();
    let store = ClickHouseStore::connect(config, Duration::from_secs(10))
        .await
        .unwrap();
    store
        .append_status(&StatusChange {
            case_id: spam_case().case_id,
            from_status: CaseStatus::Open,
            to_status: CaseStatus::HandedOver,
            actor: "dung".into(),
            note: "to the monitoring van".into(),
            changed_at: 1_795_000_100_000,
        })
        .await
        .unwrap();
    let got = captured.lock().unwrap().clone();
    got
}

#[test]
fn the_current_server_schema_takes_the_sinks_rows_in_chdb() {
    let python = chdb_python();
    let version = Command::new(&python)
        .arg(script())
        .arg("version")
        .output()
        .unwrap();
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );
    let version = String::from_utf8(version.stdout)
        .unwrap()
        .trim()
        .to_string();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert!(major >= 25, "chDB {version} is not a current ClickHouse");

    let dir = tempfile::tempdir().unwrap();
    let ddl = Command::new(env!("CARGO_BIN_EXE_cellwatch"))
        .args([
            "migrate",
            "--print-ddl",
            "--server-version",
            &version,
            "--database",
            "cw",
        ])
        .output()
        .unwrap();
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    let ddl_text = String::from_utf8(ddl.stdout).unwrap();
    assert!(
        ddl_text.contains("LowCardinality(String)") && ddl_text.contains("CODEC(Delta, ZSTD)"),
        "the current server's DDL uses its features:\n{ddl_text}"
    );
    std::fs::write(dir.path().join("ddl.sql"), &ddl_text).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let inserts = rt.block_on(send_one_row_each());
    let tables: Vec<String> = inserts
        .iter()
        .map(|(q, _)| {
            q["INSERT INTO ".len()..]
                .split('(')
                .next()
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_string()
        })
        .collect();
    assert_eq!(
        tables,
        ["cases", "records", "dead_letters", "case_status_log"]
    );
    for (i, (sql, body)) in inserts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:02}_{}.sql", tables[i])), sql).unwrap();
        std::fs::write(dir.path().join(format!("{i:02}_{}.bin", tables[i])), body).unwrap();
    }

    let out = Command::new(&python)
        .arg(script())
        .arg("load")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chDB {version} refused the DDL or a row: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut read: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        read.insert(
            v["table"].as_str().unwrap().to_string(),
            v["rows"].as_array().unwrap().clone(),
        );
    }
    for t in &tables {
        assert_eq!(read[t].len(), 1, "{t}: one row read back: {:?}", read[t]);
    }
    let case = &read["cases"][0];
    let expected = spam_case();
    assert_eq!(case["case_id"], expected.case_id.as_str());
    assert_eq!(case["kind"], "spam_sim");
    assert_eq!(case["sims"], serde_json::json!(expected.sims));
    let back: cellwatch::model::Case =
        serde_json::from_str(case["case_json"].as_str().unwrap()).unwrap();
    assert_eq!(back, expected, "the case survives the current schema whole");
    let record = &read["records"][0];
    assert_eq!(record["record"], SMS_LINE, "{record}");
    assert_eq!(record["partition"], 2);
    assert_eq!(record["offset"], 41);
    assert_eq!(record["feed"], "sms_volume");
    assert_eq!(read["dead_letters"][0]["reason"], "malformed_json");
    assert_eq!(read["case_status_log"][0]["to_status"], "handed_over");
    assert_eq!(read["case_status_log"][0]["note"], "to the monitoring van");
}
