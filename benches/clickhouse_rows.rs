//! Cost of turning the service's output into ClickHouse rows, per row.
//!
//! `record_archive_push`: one valid record appended to the RowBinary `records`
//! archive (what the service does per consumed record), for an SMS-volume and a
//! measurement record. `record_row_from_event`: the owned-`String` row struct the
//! archive replaced, for comparison. `case_row_from_case`: one case snapshot to its
//! `cases` row (JSON of the case, claimed cell, track), for a spam and a fake-BTS
//! case. Throughput is per row: criterion's `time` is ns per row.

use cellwatch::ingest::{Origin, OriginRef};
use cellwatch::model::{
    parse_record, Case, CaseKind, CaseStatus, ClaimedCell, Event, Feed, Location, Rat, Reason,
    TimeBounds, TrackPoint,
};
use cellwatch::sink::clickhouse::{CaseRow, RecordArchive, RecordRow};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const SMS_LINE: &str = r#"{"operator":"45202","sim":"dfe69e35e3d34a46eb0adc4766cef09e","window_start":1793581200000,"window_secs":60,"sms_out":1,"sms_in":0,"distinct_recipients":1,"new_recipients":0,"offnet_out":0,"calls_out":0,"calls_in":0,"device":"96ed31ce3684361dd30949f1e06c2a9b","imei_tac":"35332510","cell":"452-2-12009-14017","sim_age_days":923,"kyc_verified":true,"content_fps":[{"fp":"9575a2388040e97a","n":1}]}"#;
const MEASUREMENT_LINE: &str = r#"{"source":"probe","reporter":"0cba7b2afff34ba05f1f49202dfb8b07","ts":1793581201000,"lat":20.974521,"lon":105.865814,"accuracy_m":4.2,"rat":"LTE","mcc":452,"mnc":2,"lac":12204,"cid":103929857,"arfcn":1450,"pci":101,"signal_dbm":-84.9,"ta":32,"neighbors":4,"cipher":"EEA1","event":"camped"}"#;

/// Rows appended per iteration (the archive is cleared, not freed, between them).
const ROWS: usize = 1_000;

fn events() -> Vec<(&'static str, Event, &'static str)> {
    let bounds = TimeBounds::at(1_793_581_200_000 + 86_400_000);
    [
        ("sms", Feed::SmsVolume, SMS_LINE),
        ("measurement", Feed::Measurements, MEASUREMENT_LINE),
    ]
    .into_iter()
    .map(|(name, feed, line)| {
        let event = parse_record(feed, line.as_bytes(), &bounds).expect("valid sample");
        (name, event, line)
    })
    .collect()
}

fn record_rows(c: &mut Criterion) {
    let origin = Origin::Kafka {
        topic: "cw.sms-volume.v1".into(),
        partition: 3,
        offset: 123_456_789,
    };
    let mut group = c.benchmark_group("clickhouse_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, event, line) in events() {
        let mut archive = RecordArchive::default();
        group.bench_function(format!("record_archive_push/{name}"), |b| {
            b.iter(|| {
                archive.clear();
                for _ in 0..ROWS {
                    archive.push(black_box(&event), OriginRef::from(&origin), line.as_bytes());
                }
                black_box(archive.byte_len())
            })
        });
        let mut rows = Vec::with_capacity(ROWS);
        group.bench_function(format!("record_row_from_event/{name}"), |b| {
            b.iter(|| {
                rows.clear();
                for _ in 0..ROWS {
                    rows.push(RecordRow::from_event(
                        black_box(&event),
                        &origin,
                        line.as_bytes(),
                    ));
                }
                black_box(rows.len())
            })
        });
    }
    group.finish();
}

fn case(kind: CaseKind) -> Case {
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
        case_id: "c5a1f0e2d3b4a5968778695a4b3c2d1e".into(),
        kind,
        status: CaseStatus::Open,
        opened_at: 1_795_000_000_000,
        first_seen: 1_794_999_000_000,
        last_seen: 1_795_000_600_000,
        score: 0.93,
        operator: (!fake).then(|| "45204".to_string()),
        sims: if fake {
            vec![]
        } else {
            vec!["9f86d081884c7d659f86d081884c7d65".into()]
        },
        claimed_cell: fake.then_some(cell),
        identities: if fake { vec![cell; 3] } else { vec![] },
        location: fake.then_some(Location {
            lat: 21.03,
            lon: 105.85,
            radius_m: 120.0,
        }),
        track: if fake {
            (0..20)
                .map(|i| TrackPoint {
                    ts: 1_795_000_000_000 + i * 30_000,
                    lat: 21.03 + i as f64 * 1e-4,
                    lon: 105.85,
                })
                .collect()
        } else {
            vec![]
        },
        reasons: (0..4)
            .map(|i| Reason {
                code: format!("RULE_{i}"),
                value: 3.0 + i as f64,
                threshold: 1.0,
            })
            .collect(),
        evidence_count: 240,
    }
}

fn case_rows(c: &mut Criterion) {
    let mut group = c.benchmark_group("clickhouse_rows");
    group.throughput(Throughput::Elements(1));
    for (name, kind) in [
        ("spam_sim", CaseKind::SpamSim),
        ("fake_bts", CaseKind::FakeBts),
    ] {
        let case = case(kind);
        group.bench_function(format!("case_row_from_case/{name}"), |b| {
            b.iter(|| black_box(CaseRow::from_case(black_box(&case))))
        });
    }
    group.finish();
}

criterion_group!(clickhouse_rows, record_rows, case_rows);
criterion_main!(clickhouse_rows);
