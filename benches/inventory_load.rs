//! Time to load a 1 000 000-row cell inventory CSV (goal: < 2 s on 2 cores).
//!
//! The file is generated once per run into a temporary directory: OpenCellID columns
//! plus `arfcn,pci,azimuth,eirp_dbm` (filled on half of the rows), a mix of GSM, UMTS,
//! LTE and NR cells around one country (random ids, so hardly any duplicate keys).
//! Each iteration loads the whole file from disk (page cache) into a fresh `Inventory`.
//!
//! Run: `cargo bench --bench inventory_load -- --warm-up-time 1 --measurement-time 10 --sample-size 10`

use cellwatch::inventory::Inventory;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;

const ROWS: u64 = 1_000_000;

fn generate(path: &Path) -> std::io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        w,
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal,arfcn,pci,azimuth,eirp_dbm"
    )?;
    for i in 0..ROWS {
        let (radio, cid) = match i % 10 {
            0..=2 => ("GSM", rng.random_range(1..65_535u64)),
            3..=4 => ("UMTS", rng.random_range(1..(1u64 << 28))),
            5..=8 => ("LTE", rng.random_range(1..(1u64 << 28))),
            _ => ("NR", rng.random_range(1..(1u64 << 36))),
        };
        let net = [1, 2, 4, 5, 7][rng.random_range(0..5)];
        let area = rng.random_range(1..65_535u32);
        let lon = rng.random_range(102.0..110.0f64);
        let lat = rng.random_range(8.0..23.0f64);
        let range = rng.random_range(100..20_000u32);
        let samples = rng.random_range(1..500u32);
        let created = 1_300_000_000 + rng.random_range(0..300_000_000i64);
        let updated = created + rng.random_range(0..100_000_000i64);
        let unit = if radio == "GSM" {
            String::new()
        } else {
            rng.random_range(0..504u32).to_string()
        };
        write!(
            w,
            "{radio},452,{net},{area},{cid},{unit},{lon:.6},{lat:.6},{range},{samples},1,{created},{updated},0"
        )?;
        if i % 2 == 0 {
            writeln!(
                w,
                ",{},{},{},{:.1}",
                rng.random_range(0..65_535u32),
                rng.random_range(0..504u32),
                rng.random_range(0..360u32),
                rng.random_range(40.0..65.0f64)
            )?;
        } else {
            writeln!(w, ",,,,")?;
        }
    }
    w.flush()
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 Hz).
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // fields after the name start at stat field 3; utime is field 14, stime 15
    (ticks(11) + ticks(12)) / 100.0
}

fn inventory_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("cells.csv");
    generate(&path).expect("write the generated inventory");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    // one load outside the timing: sanity of the generated file
    let (inv, report) = Inventory::load_csv(&path).expect("load");
    assert_eq!(report.rows_read, ROWS);
    assert_eq!(
        report.rejected_total,
        0,
        "{:?}",
        &report.rejected[..report.rejected.len().min(3)]
    );
    eprintln!(
        "generated {ROWS} rows, {:.1} MB, {} cells after {} duplicate keys",
        bytes as f64 / 1e6,
        inv.len(),
        report.duplicates_replaced
    );
    drop(inv);
    // wall and CPU time of a few loads, to read the criterion figure on a shared machine
    for _ in 0..3 {
        let (cpu0, wall0) = (process_cpu_s(), std::time::Instant::now());
        let (inv, _) = Inventory::load_csv(&path).expect("load");
        let (wall, cpu) = (wall0.elapsed().as_secs_f64(), process_cpu_s() - cpu0);
        drop(inv);
        eprintln!("one load: wall {wall:.3} s, cpu {cpu:.2} s (all threads)");
    }

    let mut group = c.benchmark_group("inventory");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    group.bench_function("load_csv_1m_rows", |b| {
        b.iter(|| {
            let (inv, report) = Inventory::load_csv(&path).expect("load");
            black_box((inv.len(), report.loaded))
        })
    });
    group.finish();
}

criterion_group!(benches, inventory_load);
criterion_main!(benches);
