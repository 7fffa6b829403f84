//! Times the weighted cosine kNN probe at the final evaluation's size (bank 60,000, queries
//! 10,000, k = 200) for the representation width and the raw-pixel width:
//! `cargo run --release --example knn_time -p ssl-analysis -- [DIMS]` (default `128,784`).

use std::time::Instant;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use ssl_analysis::knn::{knn_accuracy, KnnConfig};

fn main() {
    let dims: Vec<usize> = std::env::args().nth(1).unwrap_or_else(|| "128,784".into()).split(',').map(|d| d.parse().expect("a width")).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for d in dims {
        let bank = Array2::from_shape_fn((60_000, d), |_| rng.random::<f32>());
        let queries = Array2::from_shape_fn((10_000, d), |_| rng.random::<f32>());
        let bank_labels: Vec<u32> = (0..60_000).map(|i| (i % 10) as u32).collect();
        let query_labels: Vec<u32> = (0..10_000).map(|i| (i % 10) as u32).collect();
        let t = Instant::now();
        let acc = knn_accuracy(bank.view(), &bank_labels, queries.view(), &query_labels, KnnConfig::default()).unwrap();
        println!("dim {d:4}: kNN of 10,000 queries on 60,000 in {:.2} s (accuracy {acc:.3} on random data)", t.elapsed().as_secs_f64());
    }
}
