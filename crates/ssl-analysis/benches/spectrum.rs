//! The spectral report (covariance + normalised covariance eigenvalues, participation ratio,
//! power-law α, RankMe) on f32 embeddings of the sizes in `scripts/bench_spectrum.py`, read from
//! the `.npy` files that script writes (so Rust and numpy time the same matrices). Run the script:
//! `python3 crates/ssl-analysis/scripts/bench_spectrum.py` — it writes the data, times numpy, runs
//! this bench and prints the ratios. Without `SSL_BENCH_DATA` the bench generates its own data.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ndarray::Array2;
use ssl_analysis::{npy, SpectrumReport};

const SIZES: [(usize, usize); 2] = [(10_000, 512), (50_000, 2_048)];

fn data(n: usize, d: usize) -> Array2<f32> {
    if let Ok(dir) = std::env::var("SSL_BENCH_DATA") {
        let path = std::path::Path::new(&dir).join(format!("spectrum-{n}x{d}.npy"));
        return npy::read_matrix(&path).unwrap_or_else(|e| panic!("{e}"));
    }
    // Columns scaled to a k^-1/2 power law; entries from a cheap deterministic hash.
    Array2::from_shape_fn((n, d), |(i, j)| {
        let h = (i as u64).wrapping_mul(6364136223846793005).wrapping_add((j as u64).wrapping_mul(1442695040888963407));
        let u = ((h >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
        (u * ((j + 1) as f64).powf(-0.5)) as f32
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("spectrum_report");
    group.sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(20));
    for (n, d) in SIZES {
        let x = data(n, d);
        group.bench_function(BenchmarkId::new("rust", format!("{n}x{d}")), |b| {
            b.iter(|| SpectrumReport::compute(x.view(), Default::default()).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
