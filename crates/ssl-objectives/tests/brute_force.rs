//! Values computed by hand or by plain loops, and the edge cases.
#![allow(clippy::needless_range_loop)] // brute-force twins index the matrices on purpose

mod common;

use common::{randn, values};
use ssl_objectives::*;
use tch::{Device, Kind, Tensor};

fn cos(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn barlow_by_loops() {
    let (b, d) = (7usize, 3usize);
    let x = randn(&[2, b as i64, d as i64], 21);
    let v = values(&x);
    let at = |k: usize, i: usize, j: usize| v[(k * b + i) * d + j];
    let std = |k: usize| -> Vec<Vec<f64>> {
        (0..d)
            .map(|j| {
                let m = (0..b).map(|i| at(k, i, j)).sum::<f64>() / b as f64;
                let var = (0..b).map(|i| (at(k, i, j) - m).powi(2)).sum::<f64>() / b as f64;
                (0..b).map(|i| (at(k, i, j) - m) / (var + 1e-5).sqrt()).collect()
            })
            .collect()
    };
    let (z1, z2) = (std(0), std(1));
    let (mut on, mut off) = (0.0, 0.0);
    for i in 0..d {
        for j in 0..d {
            let c = (0..b).map(|n| z1[i][n] * z2[j][n]).sum::<f64>() / b as f64;
            if i == j {
                on += (1.0 - c).powi(2);
            } else {
                off += c * c;
            }
        }
    }
    let out = BarlowTwins::new(0.0051).unwrap().compute(&x).unwrap();
    assert!((out.loss.double_value(&[]) - (on + 0.0051 * off)).abs() < 1e-12);
    let parts: std::collections::HashMap<_, _> = out.parts.into_iter().collect();
    assert!((parts["on_diagonal"] - on).abs() < 1e-12 && (parts["off_diagonal"] - off).abs() < 1e-12);
}

#[test]
fn mmcr_hand_values() {
    // Views of image 0 along e1, of image 1 along e2 (any lengths): centroids e1, e2 → ‖C‖_* = 2.
    let x = Tensor::from_slice(&[3.0f64, 0.0, 0.0, 5.0, 1.0, 0.0, 0.0, 0.5]).reshape([2, 2, 2]);
    let out = Mmcr::default().compute(&x).unwrap();
    assert!((out.loss.double_value(&[]) + 2.0).abs() < 1e-12);
    // Orthogonal views of one image: centroid (½, ½) → ‖C‖_* = 1/√2; local Z = I₂ → ‖Z‖_* = 2.
    let y = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 1.0]).reshape([2, 1, 2]);
    let out = Mmcr::new(0.25, NuclearNormPath::Svd).unwrap().compute(&y).unwrap();
    assert!((out.loss.double_value(&[]) - (-(0.5f64).sqrt() + 0.25 * 2.0)).abs() < 1e-12);
    let parts: std::collections::HashMap<_, _> = out.parts.into_iter().collect();
    assert!((parts["local_nuclear_norm"] - 2.0).abs() < 1e-12);
}

#[test]
fn gram_and_svd_nuclear_norms_agree_on_many_shapes() {
    for (i, shape) in [[4i64, 9], [9, 4], [7, 7], [1, 5], [32, 128], [128, 32]].iter().enumerate() {
        let m = randn(shape, 30 + i as i64);
        let a = nuclear_norm(&m, NuclearNormPath::Svd).double_value(&[]);
        let b = nuclear_norm(&m, NuclearNormPath::Gram).double_value(&[]);
        assert!((a - b).abs() < 1e-10 * a, "{shape:?}: {a} vs {b}");
    }
    // Batched, in f32: equal to 1e-5 relative.
    let m = randn(&[6, 40, 128], 40).to_kind(Kind::Float);
    let a = values(&nuclear_norm(&m, NuclearNormPath::Svd));
    let b = values(&nuclear_norm(&m, NuclearNormPath::Gram));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5 * x, "{x} vs {y}");
    }
}

#[test]
fn predictor_losses_by_loops() {
    let (p, t) = (randn(&[3, 4, 5], 50), randn(&[3, 4, 5], 51));
    let (pv, tv) = (values(&p), values(&t));
    let row = |v: &[f64], k: usize, b: usize| v[(k * 4 + b) * 5..(k * 4 + b + 1) * 5].to_vec();
    let (mut byol, mut sims) = (0.0, 0.0);
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                let m = (0..4).map(|b| cos(&row(&pv, i, b), &row(&tv, j, b))).sum::<f64>() / 4.0;
                byol += 2.0 - 2.0 * m;
                sims += -m;
            }
        }
    }
    let got = PredictorLoss { kind: PredictorLossKind::Byol }.compute(&p, &t).unwrap().loss.double_value(&[]);
    assert!((got - byol).abs() < 1e-12);
    let got = PredictorLoss { kind: PredictorLossKind::SimSiam }.compute(&p, &t).unwrap().loss.double_value(&[]);
    assert!((got - sims / 6.0).abs() < 1e-12);
}

#[test]
fn margin_loss_by_hand() {
    // Similar pair at distance 3 → ½·9; dissimilar pair at distance 1 with m = 2 → ½·1.
    let m = MarginContrastive::new(2.0).unwrap();
    let x1 = Tensor::from_slice(&[0.0f64, 0.0, 0.0, 0.0]).reshape([2, 2]);
    let x2 = Tensor::from_slice(&[3.0f64, 0.0, 0.0, 1.0]).reshape([2, 2]);
    let y = Tensor::from_slice(&[0.0f64, 1.0]);
    assert!((m.pairs(&x1, &x2, &y).unwrap().double_value(&[]) - (4.5 + 0.5) / 2.0).abs() < 1e-12);
}

#[test]
fn infonce_bound_and_directclr_cut() {
    assert!((mutual_information_lower_bound(1.0, 256) - (256f64.ln() - 1.0)).abs() < 1e-15);
    // DirectCLR ignores everything past d0.
    let x = randn(&[2, 5, 6], 60);
    let mut noisy = values(&x);
    for (i, v) in noisy.iter_mut().enumerate() {
        if i % 6 >= 3 {
            *v += 10.0 * ((i * 7) % 5) as f64;
        }
    }
    let y = Tensor::from_slice(&noisy).reshape([2, 5, 6]);
    let o = DirectClr::new(Some(3), 0.1).unwrap();
    assert!((o.compute(&x).unwrap().loss.double_value(&[]) - o.compute(&y).unwrap().loss.double_value(&[])).abs() < 1e-12);
}

#[test]
fn edge_cases_are_errors_or_finite() {
    let f32z = |s: &[i64]| Tensor::zeros(s, (Kind::Float, Device::Cpu));
    // Batch of 1 and 2.
    assert!(NtXent::new(0.1).unwrap().compute(&randn(&[2, 1, 4], 1)).unwrap().loss.double_value(&[]).abs() < 1e-12);
    assert!(BarlowTwins::default().compute(&randn(&[2, 1, 4], 1)).is_err());
    assert!(BarlowTwins::default().compute(&randn(&[2, 2, 4], 1)).unwrap().loss.double_value(&[]).is_finite());
    assert!(Vicreg::default().compute(&randn(&[2, 1, 4], 1)).is_err());
    assert!(Mmcr::default().compute(&randn(&[2, 1, 4], 1)).unwrap().loss.double_value(&[]).is_finite());
    // MMCR with one view is an error, not NaN.
    let e = Mmcr::default().compute(&randn(&[1, 8, 4], 1)).unwrap_err().to_string();
    assert!(e.contains("at least 2"), "{e}");
    // Zero embeddings: finite losses and gradients.
    for o in [
        &Mmcr::default() as &dyn Objective,
        &Mmcr::new(0.0, NuclearNormPath::Gram).unwrap(),
        &NtXent::new(0.5).unwrap(),
        &BarlowTwins::default(),
        &Vicreg::default(),
    ] {
        let x = f32z(&[2, 4, 3]).set_requires_grad(true);
        let out = o.compute(&x).unwrap();
        assert!(out.loss.double_value(&[]).is_finite(), "{}", o.name());
        out.loss.backward();
        assert!(values(&x.grad()).iter().all(|g| g.is_finite()), "{}", o.name());
    }
    // Huge temperatures.
    assert!(DirectClr::new(None, 1e9).unwrap().compute(&randn(&[2, 4, 3], 2)).unwrap().loss.double_value(&[]).is_finite());
    // Mismatched shapes and bad parameters.
    assert!(PredictorLoss { kind: PredictorLossKind::Byol }.compute(&randn(&[2, 4, 3], 1), &randn(&[2, 5, 3], 1)).is_err());
    assert!(MmcrMomentum::default().compute(&randn(&[2, 4, 3], 1), &randn(&[2, 4, 5], 1)).is_err());
    assert!(DirectClr::new(Some(7), 0.1).unwrap().compute(&randn(&[2, 4, 6], 1)).is_err());
    assert!(BarlowTwins::default().compute(&randn(&[3, 4, 6], 1)).is_err());
    assert!(BarlowTwins::new(-1.0).is_err() && Mmcr::new(f64::NAN, NuclearNormPath::Auto).is_err() && MarginContrastive::new(0.0).is_err());
    assert!(MarginContrastive::new(1.0).unwrap().pairs(&randn(&[3, 2], 1), &randn(&[3, 3], 1), &randn(&[3], 1)).is_err());
    // Half precision is computed in fp32.
    let h = randn(&[3, 6, 8], 3).to_kind(Kind::Half);
    let out = Mmcr::default().compute(&h).unwrap();
    assert_eq!(out.loss.kind(), Kind::Float);
}
