//! The weighted cosine kNN against a hand-worked example and a brute-force twin.

use ndarray::{array, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ssl_analysis::knn::{knn_accuracy, knn_predict, KnnConfig};

#[test]
fn hand_worked_votes() {
    // Bank: two class-0 points near (1,0), one class-1 point at (0,1).
    let bank = array![[1.0f32, 0.1], [1.0, -0.1], [0.0, 1.0]];
    let labels = [0u32, 0, 1];
    // Query at 45°: cos to bank ≈ 0.774, 0.633, 0.707. With k = 2 the neighbours are bank 0
    // (class 0) and bank 2 (class 1); class 0 wins by the larger similarity.
    let q = array![[1.0f32, 1.0]];
    let p = knn_predict(bank.view(), &labels, q.view(), KnnConfig { k: 2, temperature: 0.1 }).unwrap();
    assert_eq!(p, vec![0]);
    // With k = 3 two class-0 votes beat one class-1 vote.
    let p = knn_predict(bank.view(), &labels, array![[0.2f32, 1.0]].view(), KnnConfig { k: 3, temperature: 10.0 }).unwrap();
    assert_eq!(p, vec![0]);
    // With a sharp temperature the single nearest (class 1) dominates.
    let p = knn_predict(bank.view(), &labels, array![[0.2f32, 1.0]].view(), KnnConfig { k: 3, temperature: 0.01 }).unwrap();
    assert_eq!(p, vec![1]);
}

fn brute(bank: &Array2<f32>, labels: &[u32], q: &Array2<f32>, k: usize, t: f64) -> Vec<u32> {
    let norm = |r: ndarray::ArrayView1<f32>| r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
    q.rows()
        .into_iter()
        .map(|qr| {
            let mut sims: Vec<(f64, u32)> = bank
                .rows()
                .into_iter()
                .zip(labels)
                .map(|(br, &l)| (qr.iter().zip(br).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / (norm(qr) * norm(br)), l))
                .collect();
            sims.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut votes = [0f64; 4];
            for &(s, l) in &sims[..k] {
                votes[l as usize] += (s / t).exp();
            }
            votes.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32
        })
        .collect()
}

#[test]
fn matches_brute_force_on_random_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let bank = Array2::from_shape_fn((300, 6), |_| rng.random::<f32>() - 0.5);
    let labels: Vec<u32> = (0..300).map(|_| rng.random_range(0..4)).collect();
    let q = Array2::from_shape_fn((700, 6), |_| rng.random::<f32>() - 0.5);
    let got = knn_predict(bank.view(), &labels, q.view(), KnnConfig { k: 15, temperature: 0.1 }).unwrap();
    assert_eq!(got, brute(&bank, &labels, &q, 15, 0.1));
    let acc = knn_accuracy(bank.view(), &labels, q.view(), &got, KnnConfig { k: 15, temperature: 0.1 }).unwrap();
    assert_eq!(acc, 1.0);
}

#[test]
fn bad_inputs_are_errors() {
    let bank = array![[1.0f32, 0.0], [0.0, 1.0]];
    assert!(knn_predict(bank.view(), &[0], bank.view(), KnnConfig::default()).is_err());
    assert!(knn_predict(bank.view(), &[0, 1], array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0]].view(), KnnConfig::default()).is_err());
    assert!(knn_accuracy(bank.view(), &[0, 1], bank.view(), &[0], KnnConfig::default()).is_err());
    assert!(knn_predict(bank.view(), &[0, 1], bank.view(), KnnConfig { k: 0, temperature: 0.1 }).is_err());
}
