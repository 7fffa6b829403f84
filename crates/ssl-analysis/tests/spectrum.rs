//! Spectral metrics against hand computations and brute-force twins.

use ndarray::{array, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ssl_analysis::report::{SpectrumOptions, SpectrumReport};
use ssl_analysis::spectrum::*;

fn gaussian(n: usize, d: usize, scales: &[f64], seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |(_, j)| {
        // Box-Muller
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * scales[j]) as f32
    })
}

#[test]
fn covariance_matches_a_brute_force_loop() {
    let x = gaussian(50, 4, &[1.0, 2.0, 0.5, 3.0], 1);
    let c = covariance(x.view());
    let n = x.nrows();
    for a in 0..4 {
        for b in 0..4 {
            let ma = x.column(a).iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let mb = x.column(b).iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let s: f64 = (0..n).map(|i| (x[[i, a]] as f64 - ma) * (x[[i, b]] as f64 - mb)).sum::<f64>() / (n as f64 - 1.0);
            assert!((c[[a, b]] - s).abs() < 1e-9 * s.abs().max(1.0));
        }
    }
}

#[test]
fn eigenvalues_of_a_hand_matrix() {
    // Rows ±(1,0), ±(0,2) (mean 0): covariance diag(2/3, 8/3) with ddof 1 over 4 rows.
    let x = array![[1.0f32, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]];
    let ev = covariance_eigenvalues(x.view()).unwrap();
    assert!((ev[0] - 8.0 / 3.0).abs() < 1e-12 && (ev[1] - 2.0 / 3.0).abs() < 1e-12, "{ev:?}");
    // PR = (10/3)^2 / (64/9 + 4/9) = 100/68
    assert!((participation_ratio(&ev) - 100.0 / 68.0).abs() < 1e-12);
}

#[test]
fn known_covariance_is_recovered() {
    let scales = [3.0, 2.0, 1.0, 0.5];
    let x = gaussian(40_000, 4, &scales, 7);
    let ev = covariance_eigenvalues(x.view()).unwrap();
    for (e, s) in ev.iter().zip(scales) {
        assert!((e / (s * s) - 1.0).abs() < 0.03, "{e} vs {}", s * s);
    }
}

#[test]
fn exact_power_law_gives_alpha() {
    for alpha in [0.5, 1.0, 1.7] {
        let ev: Vec<f64> = (1..=300).map(|k| 5.0 * (k as f64).powf(-alpha)).collect();
        let fit = power_law_fit(&ev, (11, 100)).unwrap();
        assert!((fit.alpha - alpha).abs() < 1e-10, "{} vs {alpha}", fit.alpha);
        assert!((fit.log_scale - 5f64.ln()).abs() < 1e-9);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        assert_eq!((fit.first, fit.last), (11, 100));
    }
}

#[test]
fn alpha_window_is_clipped_to_positive_eigenvalues() {
    let mut ev: Vec<f64> = (1..=40).map(|k| (k as f64).powf(-1.0)).collect();
    ev.extend([0.0; 10]);
    let fit = power_law_fit(&ev, (11, 100)).unwrap();
    assert_eq!(fit.last, 40);
    assert!(power_law_fit(&ev[..11], (11, 100)).is_err());
    assert!(power_law_fit(&ev, (0, 5)).is_err());
}

#[test]
fn rank_deficient_matrix_has_exact_rank() {
    // 3 independent directions embedded in 8 dims.
    let base = gaussian(200, 3, &[1.0, 1.0, 1.0], 3);
    let mix = gaussian(3, 8, &[1.0; 8], 4);
    let x = base.dot(&mix);
    let ev = covariance_eigenvalues(x.view()).unwrap();
    let big = ev.iter().filter(|&&v| v > 1e-6 * ev[0]).count();
    assert_eq!(big, 3, "{ev:?}");
}

#[test]
fn rankme_of_equal_singular_values_is_the_rank() {
    // Orthogonal rows with equal norms: σ all equal → p = 1/d + 1e-7 → RankMe ≈ d.
    let x = array![[2.0f32, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]];
    let r = rankme(x.view()).unwrap();
    let p = 1.0 / 3.0 + 1e-7;
    assert!((r - (-3.0 * p * f64::ln(p)).exp()).abs() < 1e-9, "{r}");
    let sv = singular_values(array![[3.0f32, 0.0], [0.0, 4.0], [0.0, 0.0]].view()).unwrap();
    assert!((sv[0] - 4.0).abs() < 1e-12 && (sv[1] - 3.0).abs() < 1e-12);
}

#[test]
fn normalized_spectrum_uses_unit_rows() {
    let x = array![[3.0f32, 0.0], [0.0, 5.0], [-2.0, 0.0], [0.0, -0.5]];
    let unit = array![[1.0f32, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
    let a = normalized_covariance_eigenvalues(x.view()).unwrap();
    let b = covariance_eigenvalues(unit.view()).unwrap();
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() < 1e-12);
    }
}

#[test]
fn report_rejects_bad_input() {
    let one_row = Array2::<f32>::zeros((1, 4));
    assert!(SpectrumReport::compute(one_row.view(), SpectrumOptions::default()).is_err());
    let mut nan = Array2::<f32>::zeros((3, 2));
    nan[[2, 1]] = f32::NAN;
    let e = SpectrumReport::compute(nan.view(), SpectrumOptions::default()).unwrap_err().to_string();
    assert!(e.contains("row 2, column 1"), "{e}");
}

#[test]
fn collapse_count_and_effective_rank_by_hand() {
    assert_eq!(collapsed_dims(&[4.0, 1.0, 1e-6, 0.0], 1e-5), 2);
    assert_eq!(collapsed_dims(&[4.0, 1.0, 1e-6, 0.0], 1e-7), 1);
    // Equal singular values → effective rank = their number; zeros are ignored.
    assert!((effective_rank_from_singular_values(&[2.0, 2.0, 2.0, 0.0]) - 3.0).abs() < 1e-12);
    // p = (3/4, 1/4): exp(−(¾ ln ¾ + ¼ ln ¼)).
    let want = (-(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln())).exp();
    assert!((effective_rank_from_singular_values(&[3.0, 1.0]) - want).abs() < 1e-12);
}

#[test]
fn two_stage_eigensolver_matches_one_stage() {
    use ssl_analysis::spectrum::{eigvalsh_desc, eigvalsh_desc_one_stage};
    // Sizes below and above the two-stage solver's block size, and a rank-deficient matrix.
    for (n, rank) in [(1usize, 1usize), (7, 7), (64, 64), (300, 300), (300, 40)] {
        let b = Array2::from_shape_fn((n, rank), |(i, j)| (((i * 7919 + j * 104729) % 1009) as f64 / 1009.0) - 0.5);
        let m = b.dot(&b.t());
        let two = eigvalsh_desc(&m).unwrap();
        let one = eigvalsh_desc_one_stage(&m).unwrap();
        let scale = one[0].abs().max(1e-300);
        for (a, b) in two.iter().zip(&one) {
            assert!((a - b).abs() <= 1e-12 * scale * n as f64, "n = {n}: {a} vs {b}");
        }
    }
    assert!(eigvalsh_desc(&Array2::zeros((2, 3))).is_err());
}
