//! Exact top-10 search over 100,000 vectors of 384 `f32` (cosine): `MemoryVectorStore` against a naive
//! baseline (`Vec<Vec<f32>>`, cosine computed row by row with norms on the fly, full sort, take 10).
//!
//! Run: `cargo bench --bench vector_memory` (about a minute). Criterion's throughput line is the
//! effective scan rate: the bytes of vectors a query covers (100,000 × 384 × 4 = 153.6 MB) per second.
//! After criterion, the bench prints queries per second and the naive / ours ratio.
//!
//! Under `cargo test --benches` (criterion's test mode) it runs each routine once on 2,000 vectors.

use std::cmp::Ordering;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use twelve_factor_ai::vector::{
    Document, MemoryVectorStore, Metric, SearchHit, VectorQuery, VectorStore,
};

const DIM: usize = 384;
const K: usize = 10;
const QUERIES: usize = 16;

/// xorshift64*: deterministic data with no `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next_f32()).collect()
    }
}

/// What a first implementation looks like: score every row (norms computed on the fly), sort them all.
fn naive_top_k(rows: &[Vec<f32>], query: &[f32], k: usize) -> Vec<(f32, usize)> {
    let qn = query.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut scored: Vec<(f32, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let dot: f32 = query.iter().zip(row).map(|(a, b)| a * b).sum();
            let rn = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            (dot / (qn * rn), i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
    scored.truncate(k);
    scored
}

struct Fixture {
    n: usize,
    rt: tokio::runtime::Runtime,
    store: MemoryVectorStore,
    rows: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
}

impl Fixture {
    fn new(n: usize) -> Self {
        let mut rng = XorShift(0x5eed_1234_abcd_ef01);
        let rows: Vec<Vec<f32>> = (0..n).map(|_| rng.vec(DIM)).collect();
        let queries = (0..QUERIES).map(|_| rng.vec(DIM)).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let store = MemoryVectorStore::new(DIM, Metric::Cosine).expect("store");
        for (chunk_index, chunk) in rows.chunks(10_000).enumerate() {
            let docs = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| Document::new(format!("{}", chunk_index * 10_000 + i), v.clone()))
                .collect();
            rt.block_on(store.upsert(docs)).expect("upsert");
        }
        Fixture {
            n,
            rt,
            store,
            rows,
            queries,
        }
    }

    fn ours(&self, q: usize) -> Vec<SearchHit> {
        let query = VectorQuery::new(self.queries[q % QUERIES].clone(), K);
        self.rt.block_on(self.store.search(query)).expect("search")
    }

    fn naive(&self, q: usize) -> Vec<(f32, usize)> {
        naive_top_k(&self.rows, &self.queries[q % QUERIES], K)
    }

    /// Both find the same ten documents.
    fn check_agreement(&self) {
        for q in 0..4 {
            let ours: Vec<String> = self.ours(q).into_iter().map(|h| h.id).collect();
            let naive: Vec<String> = self
                .naive(q)
                .into_iter()
                .map(|(_, i)| i.to_string())
                .collect();
            assert_eq!(
                ours, naive,
                "query {q}: the store and the naive baseline disagree"
            );
        }
    }
}

fn bench(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group(format!("top{K}_of_{}x{DIM}_cosine", fx.n));
    group.throughput(Throughput::Bytes((fx.n * DIM * 4) as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    let mut q = 0;
    group.bench_function("memory_vector_store", |b| {
        b.iter(|| {
            q += 1;
            black_box(fx.ours(q))
        })
    });
    let mut q = 0;
    group.bench_function("naive_full_sort", |b| {
        b.iter(|| {
            q += 1;
            black_box(fx.naive(q))
        })
    });
    group.finish();
}

/// Queries per second by plain wall-clock timing, printed after criterion's own report.
fn summary(fx: &Fixture) {
    let time = |runs: usize, f: &dyn Fn(usize)| {
        let start = Instant::now();
        for q in 0..runs {
            f(q);
        }
        start.elapsed() / runs as u32
    };
    let ours = time(40, &|q| {
        black_box(fx.ours(q));
    });
    let naive = time(8, &|q| {
        black_box(fx.naive(q));
    });
    let bytes = (fx.n * DIM * 4) as f64;
    println!();
    println!("summary: exact top-{K} over {} x {DIM} f32, cosine", fx.n);
    for (name, t) in [("memory_vector_store", ours), ("naive_full_sort", naive)] {
        let secs = t.as_secs_f64();
        println!(
            "  {name:<20} {:>9.3} ms/query  {:>8.1} queries/s  {:>6.2} GB/s scanned",
            secs * 1e3,
            1.0 / secs,
            bytes / secs / 1e9
        );
    }
    println!(
        "  naive / ours: {:.1}x",
        naive.as_secs_f64() / ours.as_secs_f64()
    );
}

fn main() {
    // Criterion passes `--bench` under `cargo bench`; without it (cargo test) it runs each routine once.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let fx = Fixture::new(if bench_mode { 100_000 } else { 2_000 });
    fx.check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &fx);
    c.final_summary();
    if bench_mode {
        summary(&fx);
    }
}
