//! Shared test helpers: f64 tensors, finite differences.

#![allow(dead_code)]

use tch::{Device, Kind, Tensor};

/// A seeded standard-normal f64 tensor.
pub fn randn(shape: &[i64], seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn(shape, (Kind::Double, Device::Cpu))
}

/// The values of a tensor as f64.
pub fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

/// Checks autograd's gradient of `f` at `x` against central differences (step 1e-6).
pub fn check_gradient(x: &Tensor, f: impl Fn(&Tensor) -> Tensor, tol: f64) {
    let shape = x.size();
    let x = x.detach().to_kind(Kind::Double).set_requires_grad(true);
    let loss = f(&x);
    assert!(loss.double_value(&[]).is_finite(), "loss is not finite");
    loss.backward();
    let grad = values(&x.grad());
    assert!(grad.iter().all(|g| g.is_finite()), "autograd gave a non-finite gradient: {grad:?}");
    let base = values(&x);
    let h = 1e-6;
    for i in 0..base.len() {
        let eval = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            tch::no_grad(|| f(&Tensor::from_slice(&v).reshape(&shape)).double_value(&[]))
        };
        let fd = (eval(h) - eval(-h)) / (2.0 * h);
        let scale = fd.abs().max(grad[i].abs()).max(1.0);
        assert!((fd - grad[i]).abs() <= tol * scale, "coordinate {i}: finite difference {fd} vs autograd {}", grad[i]);
    }
}
