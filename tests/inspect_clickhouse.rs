//! The inspector surface against a real ClickHouse server (one database per test):
//! filters pushed down and finished in Rust, the latest snapshot per case, the
//! lifecycle in the append-only `case_status_log`, evidence from the `records` archive, the
//! CLI, and clear errors for a server that is down, silent or not migrated.

mod common;
mod inspect_support;

use cellwatch::config::ClickHouseConfig;
use cellwatch::inspect::evidence::{verify, write_package, PackageInput};
use cellwatch::inspect::{set_status, CaseFilter, CaseStore, ClickHouseStore, InspectError};
use cellwatch::model::{Case, CaseKind, CaseStatus};
use cellwatch::sink::clickhouse::RecordRow;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};
use inspect_support::*;
use std::time::Duration;

struct TestDb {
    config: ClickHouseConfig,
}

impl TestDb {
    async fn new() -> TestDb {
        let config = ClickHouseConfig {
            url: common::clickhouse_url(),
            database: common::unique_name("cw_inspect"),
            ..Default::default()
        };
        migrate(&ClickHouse::new(config.clone())).await.unwrap();
        TestDb { config }
    }

    async fn store(&self) -> ClickHouseStore {
        ClickHouseStore::connect(self.config.clone(), Duration::from_secs(20))
            .await
            .unwrap()
    }

    async fn drop(self) {
        ClickHouse::new(self.config.clone())
            .server_client()
            .query(&format!("DROP DATABASE IF EXISTS {}", self.config.database))
            .execute()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn list_filters_lifecycle_and_history() {
    let db = TestDb::new().await;
    let ch = ClickHouse::new(db.config.clone());
    // an older snapshot of the fake BTS case first: the later one must win
    let mut older = fake_bts_case();
    older.last_seen -= 30 * MIN;
    older.evidence_count = 5;
    older.score = 0.5;
    ch.insert_cases(&[older]).await.unwrap();
    ch.insert_cases(&all_cases()).await.unwrap();
    let store = db.store().await;

    let ids = |cases: Vec<Case>| cases.into_iter().map(|c| c.case_id).collect::<Vec<_>>();
    let all = store.list(&CaseFilter::default()).await.unwrap();
    assert_eq!(
        ids(all.clone()),
        ["spam-test-1", "bts-test-1", "farm-test-1"]
    );
    assert_eq!(all[1], fake_bts_case(), "the latest snapshot, whole");
    let f = |filter: CaseFilter| {
        let store = store.clone();
        async move { ids(store.list(&filter).await.unwrap()) }
    };
    assert_eq!(
        f(CaseFilter {
            kinds: vec![CaseKind::FakeBts, CaseKind::SimFarm],
            min_score: Some(0.95),
            ..Default::default()
        })
        .await,
        ["farm-test-1"]
    );
    assert_eq!(
        f(CaseFilter {
            since_ms: Some(T0 + 100 * MIN),
            until_ms: Some(T0 + 295 * MIN),
            ..Default::default()
        })
        .await,
        ["spam-test-1", "bts-test-1", "farm-test-1"]
    );
    assert_eq!(
        f(CaseFilter {
            until_ms: Some(T0 + 50 * MIN),
            ..Default::default()
        })
        .await,
        ["spam-test-1"]
    );
    assert_eq!(
        f(CaseFilter {
            operator: Some("45201".into()),
            ..Default::default()
        })
        .await,
        ["spam-test-1"]
    );
    assert_eq!(
        f(CaseFilter {
            bbox: Some(cellwatch::inspect::BoundingBox::parse("105.8,21.0,105.9,21.1").unwrap()),
            ..Default::default()
        })
        .await,
        ["bts-test-1"]
    );

    // lifecycle
    let e = set_status(&store, "spam-test-1", CaseStatus::Dismissed, "ana", "x", T0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("allowed next: handed_over"), "{e}");
    set_status(
        &store,
        "spam-test-1",
        CaseStatus::HandedOver,
        "ana",
        "sent to 45201",
        T0 + 1_000,
    )
    .await
    .unwrap();
    set_status(
        &store,
        "spam-test-1",
        CaseStatus::Dismissed,
        "binh",
        "school's bulk sender",
        T0 + 2_000,
    )
    .await
    .unwrap();
    let e = set_status(
        &store,
        "spam-test-1",
        CaseStatus::Confirmed,
        "ana",
        "x",
        T0 + 3_000,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, InspectError::Transition(_)), "{e}");
    let e = set_status(&store, "nope", CaseStatus::HandedOver, "ana", "x", T0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no case with id \"nope\""), "{e}");

    // the detector re-emits the case as open: the audit trail still decides
    ch.insert_cases(&[spam_case()]).await.unwrap();
    let c = store.get("spam-test-1").await.unwrap();
    assert_eq!(c.status, CaseStatus::Dismissed);
    let h = store.history("spam-test-1").await.unwrap();
    assert_eq!(h.len(), 2, "refused changes are not stored");
    assert_eq!(
        (h[0].actor.as_str(), h[0].to_status),
        ("ana", CaseStatus::HandedOver)
    );
    assert_eq!(
        (h[1].actor.as_str(), h[1].note.as_str()),
        ("binh", "school's bulk sender")
    );
    assert_eq!(h[1].changed_at, T0 + 2_000);
    assert_eq!(
        f(CaseFilter {
            statuses: vec![CaseStatus::Dismissed],
            ..Default::default()
        })
        .await,
        ["spam-test-1"]
    );
    assert_eq!(
        f(CaseFilter {
            statuses: vec![CaseStatus::Open],
            ..Default::default()
        })
        .await,
        ["bts-test-1", "farm-test-1"]
    );
    db.drop().await;
}

#[tokio::test]
async fn evidence_package_from_archived_records() {
    let db = TestDb::new().await;
    ClickHouse::new(db.config.clone())
        .insert_cases(&all_cases())
        .await
        .unwrap();
    let store = db.store().await;
    let rows: Vec<RecordRow> = measurement_lines(12)
        .into_iter()
        .take(12)
        .enumerate()
        .map(|(i, line)| {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            RecordRow {
                feed: "measurements".into(),
                record_key: format!("{}-{}-{}-{}", v["mcc"], v["mnc"], v["lac"], v["cid"]),
                event_time: v["ts"].as_i64().unwrap(),
                topic: "cw.cell-measurements.v1".into(),
                partition: 0,
                offset: i as i64,
                record: line,
            }
        })
        .collect();
    let ch = ClickHouse::new(db.config.clone());
    ch.insert_records(&rows).await.unwrap();
    ch.insert_records(&rows[..3]).await.unwrap(); // re-delivery
    let ev = store
        .evidence(&[fake_bts_case(), farm_case()])
        .await
        .unwrap();
    assert_eq!(ev["bts-test-1"].len(), 12, "re-delivered rows show once");
    assert!(ev["farm-test-1"].is_empty());
    assert!(ev["bts-test-1"][0].observation().is_some());

    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    let case = store.get("bts-test-1").await.unwrap();
    let report = write_package(
        &pkg,
        &PackageInput {
            case: &case,
            history: &[],
            records: &ev["bts-test-1"],
            sites: None,
            sites_source: None,
            source: store.describe(),
            generated_at_ms: T0,
        },
    )
    .unwrap();
    assert_eq!(report.observations, 12);
    assert!(verify(&pkg).unwrap().is_intact());
    db.drop().await;
}

#[test]
fn cli_against_clickhouse() {
    let rt = runtime();
    let db = rt.block_on(TestDb::new());
    rt.block_on(ClickHouse::new(db.config.clone()).insert_cases(&all_cases()))
        .unwrap();
    let url = db.config.url.clone();
    let name = db.config.database.clone();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--clickhouse-url".into(),
            url.clone(),
            "--database".into(),
            name.clone(),
        ]);
        v
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cellwatch(&refs)
    };
    let (ok, out, err) = run(base(&["cases", "list", "--json", "--kind", "spam_sim"]));
    assert!(ok, "{err}");
    let cases: Vec<Case> = serde_json::from_str(&out).unwrap();
    assert_eq!(cases, vec![spam_case()]);
    let (ok, out, err) = run(base(&[
        "cases",
        "set-status",
        "bts-test-1",
        "handed_over",
        "--note",
        "to the monitoring van",
        "--actor",
        "dung",
    ]));
    assert!(ok, "{err}");
    assert!(out.contains("open → handed_over by dung"), "{out}");
    let (ok, out, err) = run(base(&["cases", "show", "bts-test-1"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("status      handed_over") && out.contains("to the monitoring van"),
        "{out}"
    );
    let (ok, _, err) = run(base(&[
        "cases",
        "set-status",
        "bts-test-1",
        "open",
        "--note",
        "x",
    ]));
    assert!(
        !ok && err.contains("cannot go from handed_over to open"),
        "{err}"
    );
    let (ok, _, err) = run(base(&["cases", "show", "missing-id"]));
    assert!(
        !ok && err.contains("no case with id \"missing-id\""),
        "{err}"
    );

    // a database that was never migrated
    let (ok, _, err) = cellwatch(&[
        "cases",
        "list",
        "--clickhouse-url",
        &url,
        "--database",
        "cw_never_migrated_db",
    ]);
    assert!(!ok && err.contains("run `cellwatch migrate`"), "{err}");
    rt.block_on(db.drop());
}

#[test]
fn a_server_that_is_down_or_silent_gives_a_clear_error() {
    // nothing listens here
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let (ok, out, err) = cellwatch(&[
        "cases",
        "list",
        "--clickhouse-url",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(!ok && out.is_empty());
    assert!(
        err.contains("did not answer") && err.contains("--from DIR"),
        "{err}"
    );

    // accepts connections, never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let t = std::time::Instant::now();
    let (ok, _, err) = cellwatch(&[
        "cases",
        "list",
        "--clickhouse-url",
        &url,
        "--timeout-secs",
        "1",
    ]);
    assert!(!ok);
    assert!(err.contains("did not answer within 1 s"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20));
    drop(silent);
}
