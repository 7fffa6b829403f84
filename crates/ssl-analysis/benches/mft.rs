//! The MFT manifold analysis at 100 manifolds × 50 points × 512 dimensions (κ = 0, n_t = 200,
//! 10 restarts), on the input `scripts/bench_mft.py` writes (`SSL_BENCH_DATA=DIR` with
//! `DIR/x.npy` and `DIR/ids.npy`) so that it times the same numbers as the reference; without it,
//! on generated manifolds of the same shape. Parts: the whole analysis, and the anchor points
//! alone (the quadratic programmes: 100 × 200 Lawson–Hanson solves).

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use ssl_analysis::mft::{anchor_stats, mft_analysis, MftConfig};
use ssl_analysis::npy;

const P: usize = 100;
const M: usize = 50;
const N: usize = 512;

fn data() -> (Array2<f32>, Vec<u32>) {
    if let Ok(dir) = std::env::var("SSL_BENCH_DATA") {
        let dir = std::path::Path::new(&dir);
        let x = npy::read_matrix(dir.join("x.npy")).unwrap_or_else(|e| panic!("{e}"));
        let ids = npy::read_labels(dir.join("ids.npy")).unwrap_or_else(|e| panic!("{e}"));
        return (x, ids);
    }
    let hash = |i: usize, j: usize| {
        let h = (i as u64).wrapping_mul(6364136223846793005).wrapping_add((j as u64).wrapping_mul(1442695040888963407));
        ((h >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    // Centre of manifold p plus a 10-dimensional spread of amplitude ½.
    let x = Array2::from_shape_fn((P * M, N), |(r, j)| {
        let p = r / M;
        let spread: f64 = (0..10).map(|a| hash(p * 10 + a, j + 7) * hash(r, a + 1000)).sum();
        (4.0 * hash(p, j) + 0.5 * spread) as f32
    });
    (x, (0..P * M).map(|r| (r / M) as u32).collect())
}

fn bench(c: &mut Criterion) {
    let (x, ids) = data();
    let cfg = MftConfig::default();
    let mut group = c.benchmark_group("mft_100x50x512");
    group.sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(30));
    group.bench_function("whole analysis", |b| b.iter(|| mft_analysis(x.view(), &ids, cfg).unwrap()));
    let manifolds: Vec<Array2<f64>> = (0..P).map(|p| x.slice(ndarray::s![p * M..(p + 1) * M, ..]).t().mapv(f64::from)).collect();
    group.bench_function("anchor points only", |b| b.iter(|| anchor_stats(&manifolds, None, cfg, None).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
