//! Simulated capacity against Cover's function-counting theorem, and the LP separability test
//! against hand-made configurations.

use ndarray::{array, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ssl_analysis::capacity::{cover_fraction, is_linearly_separable, separability_curve, simulated_capacity, CapacityConfig, Dichotomies};

fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Sum of uniforms is enough for general position; exact Gaussianity does not matter here.
    Array2::from_shape_simple_fn((n, d), || (0..4).map(|_| rng.random::<f32>() - 0.5).sum())
}

#[test]
fn xor_is_not_separable_and_and_is() {
    let pts = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    assert!(!is_linearly_separable(pts.view(), &[-1.0, 1.0, 1.0, -1.0]).unwrap());
    assert!(is_linearly_separable(pts.view(), &[-1.0, -1.0, -1.0, 1.0]).unwrap());
    // A bias is needed: all points on one side of the origin, split by x.
    let shifted = array![[10.0, 1.0], [11.0, 1.0], [12.0, 1.0]];
    assert!(is_linearly_separable(shifted.view(), &[-1.0, -1.0, 1.0]).unwrap());
    // Touching points with opposite labels: not strictly separable.
    let same = array![[1.0, 2.0], [1.0, 2.0]];
    assert!(!is_linearly_separable(same.view(), &[1.0, -1.0]).unwrap());
    // One class is always separable.
    assert!(is_linearly_separable(same.view(), &[1.0, 1.0]).unwrap());
}

#[test]
fn cover_formula_hand_values() {
    // P = 4 points in the plane (N = 2, with bias): C(4,3) = 2(1+3+3) = 14 of 16.
    assert!((cover_fraction(4, 2) - 14.0 / 16.0).abs() < 1e-12);
    // Half at N + 1 = P/2.
    assert!((cover_fraction(40, 19) - 0.5).abs() < 1e-12);
    assert!((cover_fraction(10, 9) - 1.0).abs() < 1e-12);
}

#[test]
fn separable_fraction_follows_cover() {
    // P = 30 single points in 40 dimensions, uniform dichotomies: the fraction separable after a
    // random projection to N dimensions must match Cover's count within sampling error.
    let p = 30;
    let x = gaussian(p, 40, 1);
    let ids: Vec<u32> = (0..p as u32).collect();
    let trials = 400;
    let cfg = CapacityConfig { trials, seed: 7, dichotomies: Dichotomies::Uniform };
    let dims = [8, 12, 14, 16, 20];
    for (n, f) in separability_curve(x.view(), &ids, &dims, cfg).unwrap() {
        let expect = cover_fraction(p, n);
        let se = (expect * (1.0 - expect) / trials as f64).sqrt().max(1.0 / trials as f64);
        println!("N = {n}: simulated {f:.4}, Cover {expect:.4}");
        assert!((f - expect).abs() <= 4.0 * se + 1e-9, "N = {n}: simulated {f}, Cover {expect}");
    }
}

#[test]
fn single_points_have_capacity_two() {
    let p = 40;
    let x = gaussian(p, 60, 2);
    let ids: Vec<u32> = (0..p as u32).collect();
    let c = simulated_capacity(x.view(), &ids, CapacityConfig { trials: 200, seed: 3, dichotomies: Dichotomies::Uniform }).unwrap();
    let alpha = c.alpha.unwrap();
    // Exact value P / (P/2 − 1) = 2.105; the bisection's interpolation adds sampling noise.
    println!("alpha = {alpha:.3}, N_c = {:?}, curve = {:?}", c.critical_dim, c.curve);
    assert!((alpha - 40.0 / 19.0).abs() < 0.15, "alpha {alpha}");
}

/// 200 single points (the scale the MMCR analyses use): Cover's α ≈ 2 still comes out, so the
/// simulation is not capped at a few dozen manifolds.
#[test]
fn two_hundred_manifolds() {
    let p = 200;
    let x = gaussian(p, 240, 6);
    let ids: Vec<u32> = (0..p as u32).collect();
    let c = simulated_capacity(x.view(), &ids, CapacityConfig { trials: 20, seed: 4, dichotomies: Dichotomies::Balanced }).unwrap();
    let alpha = c.alpha.unwrap();
    println!("200 points: alpha = {alpha:.3}, N_c = {:?}", c.critical_dim);
    // Balanced dichotomies of P points: N_c ≈ P/2 − 1, so α ≈ 200/99.
    assert_eq!(c.manifolds, 200);
    assert!((alpha - 200.0 / 99.0).abs() < 0.15, "alpha {alpha}");
}

#[test]
fn extended_manifolds_have_lower_capacity_than_points() {
    // 20 manifolds of 8 points each, spread around their centres: capacity below that of points.
    let p = 20;
    let centres = gaussian(p, 40, 4);
    let noise = gaussian(p * 8, 40, 5);
    let mut x = Array2::<f32>::zeros((p * 8, 40));
    let mut ids = Vec::new();
    for i in 0..p * 8 {
        let row = &centres.row(i / 8) + &(&noise.row(i) * 0.5);
        x.row_mut(i).assign(&row);
        ids.push((i / 8) as u32);
    }
    let cfg = CapacityConfig { trials: 60, seed: 9, dichotomies: Dichotomies::Balanced };
    let m = simulated_capacity(x.view(), &ids, cfg).unwrap();
    let pts = simulated_capacity(centres.view(), &(0..p as u32).collect::<Vec<_>>(), cfg).unwrap();
    println!("manifolds alpha {:?}, points alpha {:?}", m.alpha, pts.alpha);
    assert!(m.alpha.unwrap() < pts.alpha.unwrap());
    assert!(m.curve.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn bad_input_is_an_error() {
    let x = gaussian(6, 3, 1);
    assert!(simulated_capacity(x.view(), &[0, 0, 0, 0, 0, 0], CapacityConfig::default()).is_err()); // one manifold
    assert!(simulated_capacity(x.view(), &[0, 1], CapacityConfig::default()).is_err()); // wrong length
    assert!(simulated_capacity(x.view(), &[0, 1, 2, 3, 4, 5], CapacityConfig { trials: 0, ..Default::default() }).is_err());
    assert!(separability_curve(x.view(), &[0, 1, 2, 3, 4, 5], &[4], CapacityConfig::default()).is_err());
    // N > d
}
