//! Finite-difference gradient checks (f64) for every loss, MMCR included, also at repeated
//! singular values.

mod common;

use common::{check_gradient, randn};
use ssl_objectives::*;
use tch::{Kind, Tensor};

fn loss(o: &dyn Objective) -> impl Fn(&Tensor) -> Tensor + '_ {
    move |x| o.compute(x).unwrap().loss
}

#[test]
fn contrastive_losses() {
    check_gradient(&randn(&[2, 4, 5], 1), loss(&NtXent::new(0.2).unwrap()), 1e-6);
    check_gradient(&randn(&[3, 3, 4], 2), loss(&DirectClr::new(Some(2), 0.1).unwrap()), 1e-6);
    check_gradient(&randn(&[2, 4, 3], 3), loss(&DirectClr::new(None, 0.5).unwrap()), 1e-6);
    check_gradient(&randn(&[2, 5, 3], 4), loss(&MarginContrastive::new(2.0).unwrap()), 1e-6);
}

#[test]
fn redundancy_reduction_losses() {
    check_gradient(&randn(&[2, 6, 4], 5), loss(&BarlowTwins::new(0.0051).unwrap()), 1e-6);
    check_gradient(&randn(&[2, 6, 4], 6), loss(&Vicreg::default()), 1e-6);
}

#[test]
fn mmcr_on_both_paths() {
    for path in [NuclearNormPath::Svd, NuclearNormPath::Gram] {
        check_gradient(&randn(&[4, 5, 6], 7), loss(&Mmcr::new(0.0, path).unwrap()), 1e-6);
        check_gradient(&randn(&[3, 4, 7], 8), loss(&Mmcr::new(0.3, path).unwrap()), 1e-6);
        check_gradient(&randn(&[3, 8, 3], 9), loss(&Mmcr::new(0.0, path).unwrap()), 1e-6);
    }
}

#[test]
fn mmcr_with_repeated_singular_values_has_finite_exact_gradients() {
    // Two images whose views all point along e1 and e2: centroids e1, e2 — singular values (1, 1).
    let mut v = vec![0f64; 3 * 2 * 4];
    for k in 0..3 {
        v[(k * 2) * 4] = 1.0 + 0.1 * k as f64;
        v[(k * 2 + 1) * 4 + 1] = 2.0;
    }
    let x = Tensor::from_slice(&v).reshape([3, 2, 4]);
    for path in [NuclearNormPath::Svd, NuclearNormPath::Gram] {
        check_gradient(&x, loss(&Mmcr::new(0.0, path).unwrap()), 1e-6);
    }
    // Rank-deficient centroids (two identical images): no NaN on either path.
    let y = randn(&[3, 1, 5], 10).repeat([1, 2, 1]);
    for path in [NuclearNormPath::Svd, NuclearNormPath::Gram] {
        let x = y.detach().set_requires_grad(true);
        Mmcr::new(0.0, path).unwrap().compute(&x).unwrap().loss.backward();
        let g = common::values(&x.grad());
        assert!(g.iter().all(|v| v.is_finite()), "{path:?}: {g:?}");
    }
}

#[test]
fn predictor_losses_and_momentum_mmcr() {
    let t = randn(&[2, 4, 3], 11);
    check_gradient(&randn(&[2, 4, 3], 12), |p| PredictorLoss { kind: PredictorLossKind::Byol }.compute(p, &t).unwrap().loss, 1e-6);
    check_gradient(&randn(&[2, 4, 3], 13), |p| PredictorLoss { kind: PredictorLossKind::SimSiam }.compute(p, &t).unwrap().loss, 1e-6);
    let target = randn(&[2, 5, 6], 14);
    check_gradient(&randn(&[2, 5, 6], 15), |x| MmcrMomentum::default().compute(x, &target).unwrap().loss, 1e-6);
    let _ = Kind::Double;
}

/// The default nuclear-norm path gives the official gradient U·Vᵀ — unit size along every
/// singular direction — even where σ is 1e-5 of the largest, with f32 inputs (the anti-collapse
/// push of MMCR on a near-collapsed representation). A 256 × 128 matrix takes the Gram path.
#[test]
fn nuclear_norm_gradient_reaches_every_singular_direction_in_f32() {
    let (r, c) = (256i64, 128i64);
    let (u, _) = Tensor::linalg_qr(&randn(&[r, c], 21), "reduced");
    let (v, _) = Tensor::linalg_qr(&randn(&[c, c], 22), "reduced");
    // σ log-uniform from 1 down to 1e-5, all distinct.
    let sigma: Vec<f64> = (0..c).map(|i| 10f64.powf(-5.0 * i as f64 / (c - 1) as f64)).collect();
    let m = u.matmul(&Tensor::from_slice(&sigma).diag(0)).matmul(&v.transpose(0, 1)).to_kind(Kind::Float);
    let grad = |path: NuclearNormPath| {
        let x = m.detach().set_requires_grad(true);
        nuclear_norm(&x, path).backward();
        x.grad().to_kind(Kind::Double)
    };
    // The singular directions of the f32 matrix itself, in f64: u_iᵀ·G·v_i is G's component along
    // direction i (1 for U·Vᵀ).
    let (uu, _, vv) = m.to_kind(Kind::Double).svd(true, true);
    let along = |g: &Tensor| common::values(&uu.transpose(0, 1).matmul(g).matmul(&vv).diagonal(0, 0, 1));
    let (svd, auto) = (along(&grad(NuclearNormPath::Svd)), along(&grad(NuclearNormPath::Auto)));
    for i in 0..c as usize {
        assert!((svd[i] - 1.0).abs() < 0.05, "SVD path, direction {i} (σ = {:.1e}): {}", sigma[i], svd[i]);
        assert!((auto[i] - svd[i]).abs() < 0.05, "default path, direction {i} (σ = {:.1e}): {} (SVD {})", sigma[i], auto[i], svd[i]);
    }
    let small: Vec<f64> = (0..c as usize).filter(|&i| sigma[i] < 1e-3).map(|i| auto[i]).collect();
    println!("mean component along the {} directions with σ < 1e-3: default {:.4}", small.len(), small.iter().sum::<f64>() / small.len() as f64);
}
