//! Cost of record parsing + validation per feed: the first stage every record goes
//! through (UTF-8, JSON, every contract rule of docs/contract.md, watermark and lateness check), on the
//! simulator's own lines (valid ones and its planted malformed ones, as replayed).
//!
//! Throughput is per record, so criterion's time per iteration / `BATCH` is the cost
//! of one record.

use cellwatch::ingest::OriginRef;
use cellwatch::model::{Feed, TimeBounds};
use cellwatch::simulate::{write_scenario, Scale, SimConfig, Truth};
use cellwatch::validate::{Checked, SourceValidator};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;

const BATCH: usize = 20_000;

fn first_lines(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("scenario file");
    std::io::BufReader::new(file)
        .split(b'\n')
        .take(n)
        .map(|l| l.expect("readable line"))
        .collect()
}

fn parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_scenario(
        &SimConfig {
            seed: 1,
            scale: Scale::Small,
        },
        dir.path(),
    )
    .expect("scenario");
    let truth = Truth::load(dir.path().join("truth.json")).expect("truth");
    let bounds = TimeBounds::at(truth.end_ms + 86_400_000);
    let mut group = c.benchmark_group("parse_validate");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (feed, file) in [
        (Feed::SmsVolume, "sms_volume.jsonl"),
        (Feed::Measurements, "measurements.jsonl"),
    ] {
        let lines = first_lines(&dir.path().join(file), BATCH);
        let name = format!("{feed:?}");
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let mut validator = SourceValidator::new(feed, bounds, 600_000);
                let mut valid = 0usize;
                for (i, line) in lines.iter().enumerate() {
                    let origin = OriginRef::File {
                        file: "bench",
                        line: i as u64 + 1,
                    };
                    if let Checked::Valid(e) = validator.check_ref(line, origin) {
                        valid += 1;
                        black_box(e);
                    }
                }
                valid
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
