//! The case contract round-trips through a real ClickHouse server: `migrate` creates
//! the tables on whatever version runs, inserts are acknowledged, re-inserted
//! snapshots do not show twice and the latest snapshot wins.

mod common;

use cellwatch::config::ClickHouseConfig;
use cellwatch::model::*;
use cellwatch::sink::clickhouse::{migrate, ClickHouse};

fn case(id: &str, kind: CaseKind, last_seen: i64, evidence: u64) -> Case {
    let cell = ClaimedCell {
        rat: Rat::Gsm,
        mcc: 452,
        mnc: 4,
        lac: 10231,
        cid: 5501,
        arfcn: Some(62),
    };
    let fake = kind == CaseKind::FakeBts;
    Case {
        case_id: id.into(),
        kind,
        status: CaseStatus::Open,
        opened_at: 1_795_000_000_000,
        first_seen: 1_794_999_000_000,
        last_seen,
        score: 0.9,
        operator: (!fake).then(|| "45204".to_string()),
        sims: if fake {
            vec![]
        } else {
            vec!["9f86d081884c7d659f86d081884c7d65".into()]
        },
        claimed_cell: fake.then_some(cell),
        identities: if fake { vec![cell] } else { vec![] },
        location: fake.then_some(Location {
            lat: 21.03,
            lon: 105.85,
            radius_m: 120.0,
        }),
        track: if fake {
            vec![TrackPoint {
                ts: last_seen,
                lat: 21.03,
                lon: 105.85,
            }]
        } else {
            vec![]
        },
        reasons: vec![Reason {
            code: "TEST_RULE".into(),
            value: 3.0,
            threshold: 1.0,
        }],
        evidence_count: evidence,
    }
}

#[tokio::test]
async fn cases_round_trip_and_replacing_keeps_the_latest_snapshot() {
    let ch = ClickHouse::new(ClickHouseConfig {
        url: common::clickhouse_url(),
        database: common::unique_name("cw_test"),
        ..Default::default()
    });
    let report = migrate(&ch).await.expect("migrate");
    assert_eq!(report.applied.len(), 4);
    // Idempotent.
    migrate(&ch).await.expect("migrate twice");

    let spam_v1 = case("spam-a", CaseKind::SpamSim, 1_795_000_100_000, 3);
    let spam_v2 = case("spam-a", CaseKind::SpamSim, 1_795_000_200_000, 7);
    let fbts = case("fbts-b", CaseKind::FakeBts, 1_795_000_300_000, 40);
    ch.insert_cases(&[spam_v1.clone(), fbts.clone()])
        .await
        .unwrap();
    ch.insert_cases(std::slice::from_ref(&spam_v2))
        .await
        .unwrap();
    // A re-delivered older snapshot must not win over the newer one.
    ch.insert_cases(&[spam_v1.clone(), fbts.clone()])
        .await
        .unwrap();

    let got = ch.fetch_cases().await.unwrap();
    assert_eq!(got.len(), 2, "one row per case after FINAL: {got:?}");
    let spam = got.iter().find(|c| c.case_id == "spam-a").unwrap();
    assert_eq!(spam, &spam_v2);
    let b = got.iter().find(|c| c.case_id == "fbts-b").unwrap();
    assert_eq!(b, &fbts);

    ch.server_client()
        .query(&format!("DROP DATABASE {}", ch.config().database))
        .execute()
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    let ch = ClickHouse::new(ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..Default::default()
    });
    let err = migrate(&ch).await.unwrap_err().to_string();
    assert!(
        err.contains("did not answer") && err.contains("127.0.0.1:1"),
        "{err}"
    );
}

const SMS_LINE: &str = r#"{"operator":"45202","sim":"dfe69e35e3d34a46eb0adc4766cef09e","window_start":1793581200000,"window_secs":60,"sms_out":1,"sms_in":0,"distinct_recipients":1,"new_recipients":0,"offnet_out":0,"calls_out":0,"calls_in":0,"device":"96ed31ce3684361dd30949f1e06c2a9b","imei_tac":"35332510","cell":"452-2-12009-14017","sim_age_days":923,"kyc_verified":true,"content_fps":[{"fp":"9575a2388040e97a","n":1}]}"#;
const MEASUREMENT_LINE: &str = r#"{"source":"probe","reporter":"0cba7b2afff34ba05f1f49202dfb8b07","ts":1793581201000,"lat":20.974521,"lon":105.865814,"accuracy_m":4.2,"rat":"LTE","mcc":452,"mnc":2,"lac":12204,"cid":103929857,"arfcn":1450,"pci":101,"signal_dbm":-84.9,"ta":32,"neighbors":4,"cipher":"EEA1","event":"camped"}"#;

/// The service's RowBinary archive encoder writes exactly the rows the serde row
/// struct describes: the server accepts them and reads them back equal.
#[tokio::test]
async fn record_archive_round_trips_as_record_rows() {
    use cellwatch::ingest::{Origin, OriginRef};
    use cellwatch::sink::clickhouse::{DeadLetterRow, RecordArchive, RecordRow};
    let ch = ClickHouse::new(ClickHouseConfig {
        url: common::clickhouse_url(),
        database: common::unique_name("cw_test"),
        ..Default::default()
    });
    migrate(&ch).await.expect("migrate");
    let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
    // Small chunks: the 1 000 rows span a hundred of them, the last one unsealed
    // (copied into the body), the others shared.
    let mut archive = RecordArchive::with_chunk_bytes(4096);
    let mut expected = Vec::new();
    for i in 0..1_000i64 {
        if i == 500 {
            archive.seal();
        }
        let (feed, line) = if i % 3 == 0 {
            (Feed::Measurements, MEASUREMENT_LINE)
        } else {
            (Feed::SmsVolume, SMS_LINE)
        };
        let event = parse_record(feed, line.as_bytes(), &bounds).expect("valid sample");
        let origin = Origin::Kafka {
            topic: format!("cw.topic-{}", i % 2),
            partition: (i % 4) as i32,
            offset: 10_000 + i,
        };
        archive.push(&event, OriginRef::from(&origin), line.as_bytes());
        expected.push(RecordRow::from_event(&event, &origin, line.as_bytes()));
    }
    ch.insert_archive(&archive).await.expect("insert archive");
    let got: Vec<RecordRow> = ch
        .db_client()
        .query("SELECT ?fields FROM records ORDER BY offset")
        .fetch_all::<RecordRow>()
        .await
        .unwrap();
    assert_eq!(got, expected);

    // The generic insert serves the other tables.
    let dead = DeadLetterRow {
        received_at: 1_795_000_000_000,
        feed: "sms_volume".into(),
        reason: "bad_json".into(),
        field: String::new(),
        error: "expected value".into(),
        topic: "cw.sms-volume.v1".into(),
        partition: 1,
        offset: 7,
        raw: "{".into(),
    };
    ch.insert_dead_letters(&[dead.clone(), dead]).await.unwrap();
    let n: u64 = ch
        .db_client()
        .query("SELECT count() FROM dead_letters")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, 2);

    ch.server_client()
        .query(&format!("DROP DATABASE {}", ch.config().database))
        .execute()
        .await
        .unwrap();
}
