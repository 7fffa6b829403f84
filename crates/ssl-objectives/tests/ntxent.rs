//! NT-Xent against a brute-force loop, a hand value, finite differences, and bad input.

use ssl_objectives::{NtXent, Objective};
use tch::{Device, Kind, Tensor};

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

/// Plain-Rust NT-Xent for k views, mean over anchors.
fn brute_force(z: &[f64], k: usize, b: usize, d: usize, tau: f64) -> f64 {
    let n = k * b;
    let row = |r: usize| {
        let v = &z[r * d..(r + 1) * d];
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter().map(|x| x / norm).collect::<Vec<_>>()
    };
    let rows: Vec<Vec<f64>> = (0..n).map(row).collect();
    let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(x, y)| x * y).sum::<f64>();
    let mut total = 0.0;
    for i in 0..n {
        let (mut pos, mut all) = (0.0, 0.0);
        for j in 0..n {
            if j == i {
                continue;
            }
            let e = (dot(&rows[i], &rows[j]) / tau).exp();
            all += e;
            if j % b == i % b {
                pos += e;
            }
        }
        total += -(pos / all).ln();
    }
    total / n as f64
}

#[test]
fn matches_brute_force_for_two_and_five_views() {
    tch::manual_seed(0);
    for &(k, b, d, tau) in &[(2usize, 4usize, 3usize, 0.5f64), (5, 3, 4, 0.1), (2, 1, 2, 0.2)] {
        let z = Tensor::randn([k as i64, b as i64, d as i64], (Kind::Double, Device::Cpu));
        let got = NtXent::new(tau).unwrap().compute(&z).unwrap().loss.double_value(&[]);
        let want = brute_force(&to_vec(&z), k, b, d, tau);
        assert!((got - want).abs() < 1e-10, "k={k} b={b}: {got} vs {want}");
    }
}

#[test]
fn hand_value_for_orthogonal_pairs() {
    // Two images, two identical views each, the images orthogonal: for every anchor the
    // positive has cos 1, the two negatives cos 0: loss = -ln(e^{1/τ} / (e^{1/τ} + 2)).
    let z = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]).reshape([2, 2, 2]);
    let tau = 0.5;
    let out = NtXent::new(tau).unwrap().compute(&z).unwrap();
    let e = (1.0f64 / tau).exp();
    let want = -(e / (e + 2.0)).ln();
    assert!((out.loss.double_value(&[]) - want).abs() < 1e-12, "{} vs {want}", out.loss.double_value(&[]));
    let parts: std::collections::HashMap<_, _> = out.parts.into_iter().collect();
    assert!(parts["alignment"].abs() < 1e-12);
    // uniformity: 4 points, 12 ordered pairs: 4 identical (sq 0), 8 orthogonal (sq 2).
    let want_u = ((4.0 + 8.0 * (-4.0f64).exp()) / 12.0).ln();
    assert!((parts["uniformity"] - want_u).abs() < 1e-12);
    // InfoNCE: each anchor scores its positive among the other 3 views: I ≥ ln 3 − L.
    assert!((parts["mi_lower_bound"] - (3f64.ln() - want)).abs() < 1e-12);
}

#[test]
fn gradient_matches_finite_differences() {
    tch::manual_seed(1);
    let z = Tensor::randn([3, 4, 5], (Kind::Double, Device::Cpu)).set_requires_grad(true);
    let loss_fn = NtXent::new(0.3).unwrap();
    let loss = loss_fn.compute(&z).unwrap().loss;
    loss.backward();
    let grad = to_vec(&z.grad());
    let base = to_vec(&z.detach());
    let h = 1e-6;
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += h;
        let mut minus = base.clone();
        minus[i] -= h;
        let f = |v: &[f64]| loss_fn.compute(&Tensor::from_slice(v).reshape([3, 4, 5])).unwrap().loss.double_value(&[]);
        let fd = (f(&plus) - f(&minus)) / (2.0 * h);
        assert!((fd - grad[i]).abs() < 1e-7, "coordinate {i}: fd {fd} vs autograd {}", grad[i]);
    }
}

#[test]
fn zero_embeddings_and_huge_temperature_stay_finite() {
    let z = Tensor::zeros([2, 3, 4], (Kind::Float, Device::Cpu));
    let l = NtXent::new(0.1).unwrap().compute(&z).unwrap().loss.double_value(&[]);
    assert!((l - (5.0f64).ln()).abs() < 1e-5, "all logits equal: ln(2B-1) = ln 5, got {l}");
    let z = Tensor::randn([2, 3, 4], (Kind::Float, Device::Cpu));
    let l = NtXent::new(1e12).unwrap().compute(&z).unwrap().loss.double_value(&[]);
    assert!((l - (5.0f64).ln()).abs() < 1e-5);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let t = NtXent::new(0.5).unwrap();
    assert!(t.compute(&Tensor::zeros([4, 8], (Kind::Float, Device::Cpu))).is_err());
    assert!(t.compute(&Tensor::zeros([1, 4, 8], (Kind::Float, Device::Cpu))).is_err());
    assert!(t.compute(&Tensor::zeros([2, 4, 8], (Kind::Int64, Device::Cpu))).is_err());
    assert!(NtXent::new(0.0).is_err());
    assert!(NtXent::new(f64::NAN).is_err());
}
