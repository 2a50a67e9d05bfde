//! Cost of one event in the event-time windows: watermark check + add + window sums.
//!
//! `single_ring`: one 12 × 5 min ring, events 20 s apart, every 8th one 3 min late.
//! `standard_windows_100k_keys`: 100 000 per-SIM sets of three `BucketRing<_, u16>`
//! (5 min / 1 h / 24 h, 96 bytes each), events on random keys — the spam detector's
//! access pattern, cache misses included. Throughput is per event, so `time / 10 000` is ns per event.

use cellwatch::window::{BucketRing, RingSpec, Watermark};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const BATCH: usize = 10_000;
const T0: i64 = 1_700_000_000_000;
const MINUTE_MS: i64 = 60_000;

/// One SIM's windows: 5 × 1 min, 12 × 5 min and 24 × 1 h.
#[derive(Clone, Copy)]
struct SimWindows {
    short: BucketRing<5, u16>,
    medium: BucketRing<12, u16>,
    long: BucketRing<24, u16>,
}

/// The bucket widths of [`SimWindows`], shared by every SIM.
struct SimSpec {
    short: RingSpec<5>,
    medium: RingSpec<12>,
    long: RingSpec<24>,
}

impl SimWindows {
    const fn new() -> Self {
        SimWindows {
            short: BucketRing::new(),
            medium: BucketRing::new(),
            long: BucketRing::new(),
        }
    }

    fn add(&mut self, spec: &SimSpec, ts_ms: i64, amount: u32) {
        self.short.add(&spec.short, ts_ms, amount);
        self.medium.add(&spec.medium, ts_ms, amount);
        self.long.add(&spec.long, ts_ms, amount);
    }

    fn sums(&self, spec: &SimSpec, now_ms: i64) -> [u64; 3] {
        [
            self.short.sum(&spec.short, now_ms),
            self.medium.sum(&spec.medium, now_ms),
            self.long.sum(&spec.long, now_ms),
        ]
    }
}

fn single_ring(c: &mut Criterion) {
    let spec = RingSpec::<12>::new(300_000).expect("valid spec");
    let events: Vec<i64> = (0..BATCH as i64)
        .map(|i| T0 + i * 20_000 - if i % 8 == 0 { 180_000 } else { 0 })
        .collect();
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("single_ring_add_sum", |b| {
        b.iter(|| {
            let mut ring: BucketRing<12, u16> = BucketRing::new();
            let mut acc = 0u64;
            for &t in &events {
                ring.add(&spec, t, 3);
                acc += ring.sum(&spec, t);
            }
            black_box(acc)
        })
    });
    group.finish();
}

fn standard_windows(c: &mut Criterion) {
    let spec = SimSpec {
        short: RingSpec::new(MINUTE_MS).expect("valid spec"),
        medium: RingSpec::new(5 * MINUTE_MS).expect("valid spec"),
        long: RingSpec::new(60 * MINUTE_MS).expect("valid spec"),
    };
    let keys = 100_000usize;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // 1 M events over ~2 days, roughly in order with up to 2 min jitter
    let events: Vec<(u32, i64)> = (0..1_000_000i64)
        .map(|i| {
            let key = rng.random_range(0..keys as u32);
            (key, T0 + i * 170 - rng.random_range(0..120_000))
        })
        .collect();
    let mut state: Vec<SimWindows> = vec![SimWindows::new(); keys];
    let mut watermark = Watermark::new(600_000);
    let mut cursor = 0usize;
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("standard_windows_100k_keys_observe_add_sums", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for _ in 0..BATCH {
                let (key, t) = events[cursor];
                cursor = (cursor + 1) % events.len();
                if cursor == 0 {
                    // wrapped around: start again with fresh state
                    state.iter_mut().for_each(|w| *w = SimWindows::new());
                    watermark = Watermark::new(600_000);
                }
                if watermark.observe(t).is_late() {
                    continue;
                }
                let w = &mut state[key as usize];
                w.add(&spec, t, 1);
                let [short, medium, long] = w.sums(&spec, t);
                acc += short + medium + long;
            }
            black_box(acc)
        })
    });
    group.finish();
}

criterion_group!(benches, single_ring, standard_windows);
criterion_main!(benches);
