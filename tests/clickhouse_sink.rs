//! The case contract round-trips through a real ClickHouse server: `migrate` creates
//! the tables on whatever version runs, inserts are acknowledged, re-inserted
//! snapshots do not show twice and the latest snapshot wins.

mod common;

use cellwatch::model::*;
use cellwatch::sink::clickhouse::{migrate, ClickHouse, ClickHouseConfig};

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
