//! Spectral metrics against numpy on committed fixtures (`scripts/make_fixtures.py`):
//! a rotated Gaussian with known covariance, an exact power law, a rank-deficient matrix.

use ndarray::Array2;
use ssl_analysis::spectrum::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn spectra_match_numpy_to_1e6_relative() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/spectra.json")).unwrap();
    let fx: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let list = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let shape: Vec<usize> = case["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let data: Vec<f32> = case["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let x = Array2::from_shape_vec((shape[0], shape[1]), data).unwrap();
        let window = (case["window"][0].as_u64().unwrap() as usize, case["window"][1].as_u64().unwrap() as usize);

        let ev = covariance_eigenvalues(x.view()).unwrap();
        let want = list(&case["covariance_eigenvalues"]);
        let top = want[0];
        for (k, (a, b)) in ev.iter().zip(&want).enumerate() {
            // Relative for the resolved part of the spectrum, relative to λ_max for the null space.
            let tol = if *b > 1e-9 * top { 1e-6 * b.abs() } else { 1e-9 * top };
            assert!((a - b).abs() <= tol, "{name} eigenvalue {k}: {a} vs numpy {b}");
        }
        let nev = normalized_covariance_eigenvalues(x.view()).unwrap();
        let nwant = list(&case["normalized_covariance_eigenvalues"]);
        for (k, (a, b)) in nev.iter().zip(&nwant).enumerate() {
            let tol = if *b > 1e-9 * nwant[0] { 1e-6 * b.abs() } else { 1e-9 * nwant[0] };
            assert!((a - b).abs() <= tol, "{name} normalised eigenvalue {k}: {a} vs numpy {b}");
        }
        assert!(rel(participation_ratio(&ev), f(&case["participation_ratio"])) < 1e-6, "{name} PR");
        let fit = power_law_fit(&ev, window).unwrap();
        assert!(rel(fit.alpha, f(&case["alpha"])) < 1e-6, "{name} alpha {} vs {}", fit.alpha, f(&case["alpha"]));
        assert!(rel(rankme(x.view()).unwrap(), f(&case["rankme"])) < 1e-6, "{name} RankMe");
        let sv = singular_values(x.view()).unwrap();
        assert!(rel(effective_rank_from_singular_values(&sv), f(&case["effective_rank"])) < 1e-6, "{name} effective rank");
        assert_eq!(collapsed_dims(&ev, 1e-5), case["collapsed_dims"].as_u64().unwrap() as usize, "{name} collapse count");
        // The report's shared centring/Gram path gives the same numbers.
        let r = ssl_analysis::report::SpectrumReport::compute(x.view(), ssl_analysis::report::SpectrumOptions { alpha_window: window }).unwrap();
        assert!(rel(r.participation_ratio, f(&case["participation_ratio"])) < 1e-6, "{name} report PR");
        assert!(rel(r.alpha, f(&case["alpha"])) < 1e-6, "{name} report alpha");
        assert!(rel(r.rankme, f(&case["rankme"])) < 1e-6, "{name} report RankMe {} vs {}", r.rankme, f(&case["rankme"]));
        if name == "power_law" {
            assert!((fit.alpha - 1.5).abs() < 0.01, "alpha {}", fit.alpha);
        }
        if name == "rank_deficient" {
            assert_eq!(collapsed_dims(&ev, 1e-5), 7);
        }
    }
}
