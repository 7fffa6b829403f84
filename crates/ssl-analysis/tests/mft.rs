//! The MFT manifold analysis against known answers (points, L2 balls) and against the reference
//! implementation (schung039/neural_manifolds_replicaMFT) on a committed fixture
//! (`tests/fixtures/mft/make_fixture.py` wrote `mft.json`).

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use ssl_analysis::mft::{anchor_analysis, anchor_stats, mft_analysis, mft_of_manifolds, Draws, MftConfig};
use ssl_analysis::AnalysisError;

fn gaussian(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((rows, cols), || rng.sample::<f64, _>(StandardNormal))
}

fn matrix(v: &serde_json::Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((r, c), rows.into_iter().flatten().collect()).unwrap()
}

fn fixture() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mft/mft.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Single points (a manifold that is its centre): α → 2 at κ = 0, and ∫_{-κ}^∞ (t0 + κ)² Dt0
/// in general (Gardner's capacity of points with margin).
#[test]
fn points_have_gardner_capacity() {
    let sd1 = Array2::<f64>::ones((1, 1));
    let sd1 = ndarray::concatenate![ndarray::Axis(0), Array2::<f64>::zeros((1, 1)), sd1];
    let t = gaussian(2, 40_000, 1);
    let a = anchor_analysis(sd1.view(), t.view(), 0.0);
    assert!((a.capacity - 2.0).abs() < 0.03, "capacity {}", a.capacity);
    assert!(a.radius.abs() < 1e-12, "radius {}", a.radius);
    // κ = 1: ∫_{-1}^∞ (t + 1)² φ(t) dt = 2Φ(1) + φ(1) ≈ 1.92462, so α ≈ 0.51958.
    let a1 = anchor_analysis(sd1.view(), t.view(), 1.0);
    assert!((a1.capacity - 1.0 / 1.924_62).abs() < 0.01, "capacity at kappa 1: {}", a1.capacity);
}

/// The theory's capacity of a D-dimensional L2 ball of radius R (PRX 2018, eq. for balls): with
/// r ~ χ_D the norm of t's manifold part and t0 its centre part,
/// α⁻¹ = E[ (R r + t0 + κ)² / (1 + R²) on −R r < t0 + κ < r/R ;  r² + (t0 + κ)² above ].
fn ball_capacity(d: usize, r_ball: f64, kappa: f64) -> f64 {
    let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    // χ_D density up to normalisation, normalised numerically.
    let chi = |r: f64| r.powi(d as i32 - 1) * (-0.5 * r * r).exp();
    let (nr, nt) = (3000, 3000);
    let (rmax, tmin, tmax) = (10.0, -10.0, 10.0);
    let (dr, dt) = (rmax / nr as f64, (tmax - tmin) / nt as f64);
    let (mut num, mut norm) = (0.0, 0.0);
    for i in 0..nr {
        let r = (i as f64 + 0.5) * dr;
        let w = chi(r);
        norm += w;
        let mut inner = 0.0;
        for j in 0..nt {
            let t0 = tmin + (j as f64 + 0.5) * dt;
            let u = t0 + kappa;
            let f = if u <= -r_ball * r {
                0.0
            } else if u < r / r_ball {
                (r_ball * r + u).powi(2) / (1.0 + r_ball * r_ball)
            } else {
                r * r + u * u
            };
            inner += f * phi(t0) * dt;
        }
        num += w * inner;
    }
    norm / num
}

/// A circle (D = 2) sampled by 360 points, and a 3-ball's sphere by 600 points, against the
/// closed form; the Monte-Carlo error at 20 000 vectors is about 1 %.
#[test]
fn balls_match_the_closed_form() {
    for (d, r_ball, kappa, points) in [(2usize, 1.0, 0.0, 360usize), (2, 0.5, 0.2, 360), (3, 1.5, 0.0, 600)] {
        let dirs = if d == 2 {
            Array2::from_shape_fn((2, points), |(i, j)| {
                let a = 2.0 * std::f64::consts::PI * j as f64 / points as f64;
                if i == 0 {
                    a.cos()
                } else {
                    a.sin()
                }
            })
        } else {
            // Fibonacci sphere.
            let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
            Array2::from_shape_fn((3, points), |(i, j)| {
                let z = 1.0 - 2.0 * (j as f64 + 0.5) / points as f64;
                let rr = (1.0 - z * z).sqrt();
                let a = golden * j as f64;
                [rr * a.cos(), rr * a.sin(), z][i]
            })
        };
        let mut sd1 = Array2::<f64>::ones((d + 1, points));
        sd1.slice_mut(ndarray::s![..d, ..]).assign(&(dirs * r_ball));
        let t = gaussian(d + 1, 20_000, 7);
        let got = anchor_analysis(sd1.view(), t.view(), kappa).capacity;
        let want = ball_capacity(d, r_ball, kappa);
        assert!((got - want).abs() / want < 0.03, "D = {d}, R = {r_ball}, kappa = {kappa}: {got} vs theory {want}");
    }
}

/// The reference's per-manifold analysis (quadratic programme per vector) on the same points and
/// vectors: deterministic, so the agreement is to the solvers' precision.
#[test]
fn anchor_analysis_matches_the_reference() {
    let f = fixture();
    let sd1 = matrix(&f["each"]["sD1"]);
    let t = matrix(&f["each"]["t"]);
    for case in f["each"]["results"].as_array().unwrap() {
        let kappa = case["kappa"].as_f64().unwrap();
        let a = anchor_analysis(sd1.view(), t.view(), kappa);
        for (name, got) in [("capacity", a.capacity), ("radius", a.radius), ("dimension", a.dimension)] {
            let want = case[name].as_f64().unwrap();
            assert!((got - want).abs() < 1e-6 * (1.0 + want.abs()), "kappa {kappa}, {name}: {got} vs reference {want}");
        }
    }
}

struct Full {
    manifolds: Vec<Array2<f64>>,
    t: Vec<Array2<f64>>,
    restarts: Vec<Array1<f64>>,
    cfg: MftConfig,
    json: serde_json::Value,
}

fn full_case() -> Full {
    let json = fixture()["full"].clone();
    let x = matrix(&json["x"]);
    let m = json["points_per_manifold"].as_u64().unwrap() as usize;
    let manifolds = (0..x.nrows() / m).map(|i| x.slice(ndarray::s![i * m..(i + 1) * m, ..]).t().to_owned()).collect();
    let t: Vec<Array2<f64>> = json["t"].as_array().unwrap().iter().map(matrix).collect();
    let restarts = serde_json::from_value::<Vec<Vec<f64>>>(json["restarts"].clone()).unwrap().into_iter().map(Array1::from).collect();
    let n_reps = json["n_reps"].as_u64().unwrap() as usize;
    let cfg = MftConfig { kappa: json["kappa"].as_f64().unwrap(), n_t: t[0].ncols(), n_reps, ..Default::default() };
    Full { manifolds, t, restarts, cfg, json }
}

fn reference_vec(json: &serde_json::Value, key: &str) -> Vec<f64> {
    serde_json::from_value(json[key].clone()).unwrap()
}

/// Steps 2 and 3 (normalisation, anchor points, α_M, R_M, D_M) given the reference's removed
/// subspace and Gaussian vectors: deterministic, so they agree to the solvers' precision.
#[test]
fn per_manifold_analysis_matches_the_reference_given_its_subspace() {
    let f = full_case();
    let subspace = matrix(&f.json["subspace"]);
    let stats = anchor_stats(&f.manifolds, Some(&subspace), f.cfg, Some(&f.t)).unwrap();
    let (cap, rad, dim) = (reference_vec(&f.json, "capacity"), reference_vec(&f.json, "radius"), reference_vec(&f.json, "dimension"));
    for (i, s) in stats.iter().enumerate() {
        for (name, got, want) in [("capacity", s.capacity, cap[i]), ("radius", s.radius, rad[i]), ("dimension", s.dimension, dim[i])] {
            assert!((got - want).abs() < 1e-6 * want.abs(), "manifold {i} {name}: {got} vs reference {want}");
        }
    }
}

/// The whole analysis from the reference's own restart vectors and Gaussian vectors. The centre
/// correlation is deterministic (exact). The removal is a non-convex optimisation: from the same
/// start both conjugate-gradient runs reach the same optimum at ranks 1 and 2 but different
/// local optima at rank 3 of this fixture after hundreds of iterations (floating-point order),
/// so the removed subspaces differ a little and so do the manifolds normalised by what is left
/// of their centres. Measured: both choose K = 4; capacity −2.7 %, radius +3.1 %, dimension
/// +0.5 % from the reference's; our residual correlation is lower (a better optimum).
#[test]
fn full_analysis_agrees_with_the_reference() {
    let f = full_case();
    let mft = mft_of_manifolds(&f.manifolds, f.cfg, Some(Draws { t: &f.t, restarts: &f.restarts })).unwrap();
    let want_r0 = f.json["center_correlation"].as_f64().unwrap();
    assert!((mft.center_correlation - want_r0).abs() < 1e-10, "{} vs {want_r0}", mft.center_correlation);
    assert_eq!(mft.low_rank_dims as u64, f.json["low_rank_dims"].as_u64().unwrap());
    let res = reference_vec(&f.json, "residual_correlations");
    assert!(mft.residual_correlation <= res[mft.low_rank_dims - 1] + 1e-9, "{} vs reference {:?}", mft.residual_correlation, res);
    let overall = |v: &[f64], harmonic: bool| {
        let n = v.len() as f64;
        if harmonic {
            n / v.iter().map(|a| 1.0 / a).sum::<f64>()
        } else {
            v.iter().sum::<f64>() / n
        }
    };
    let want = [
        ("capacity", mft.capacity, overall(&reference_vec(&f.json, "capacity"), true)),
        ("radius", mft.radius, overall(&reference_vec(&f.json, "radius"), false)),
        ("dimension", mft.dimension, overall(&reference_vec(&f.json, "dimension"), false)),
    ];
    for (name, got, want) in want {
        eprintln!("{name}: {got} vs reference {want} ({:+.2} %)", 100.0 * (got / want - 1.0));
        assert!((got / want - 1.0).abs() < 0.05, "{name}: {got} vs reference {want}");
    }
}

/// Through the public entry point: tiny clouds around random centres behave as points (α ≈ 2).
#[test]
fn tight_clouds_have_capacity_near_two() {
    let (p, m, n) = (40, 4, 300);
    let centres = gaussian(p, n, 3);
    let noise = gaussian(p * m, n, 4);
    let x = Array2::from_shape_fn((p * m, n), |(r, c)| (centres[[r / m, c]] + 1e-4 * noise[[r, c]]) as f32);
    let ids: Vec<u32> = (0..p * m).map(|r| (r / m) as u32).collect();
    let mft = mft_analysis(x.view(), &ids, MftConfig { n_t: 400, n_reps: 2, ..Default::default() }).unwrap();
    assert_eq!(mft.manifolds, p);
    assert!((mft.capacity - 2.0).abs() < 0.1, "capacity {}", mft.capacity);
    assert!(mft.radius < 1e-2, "radius {}", mft.radius);
    // Same seed, same numbers.
    let again = mft_analysis(x.view(), &ids, MftConfig { n_t: 400, n_reps: 2, ..Default::default() }).unwrap();
    assert_eq!(mft, again);
}

#[test]
fn bad_input_is_named() {
    let x = Array2::<f32>::from_shape_fn((6, 4), |(i, j)| (i * 4 + j) as f32);
    let err = |ids: &[u32], cfg: MftConfig| mft_analysis(x.view(), ids, cfg).unwrap_err().to_string();
    assert!(err(&[0, 0, 1, 1, 2], MftConfig::default()).contains("5 manifold ids for 6 embeddings"));
    assert!(err(&[0, 0, 1, 1, 1, 2], MftConfig::default()).contains("manifold 2 has 1 point"));
    assert!(err(&[0; 6], MftConfig::default()).contains("at least 2"));
    let e = mft_analysis(x.view(), &[0, 0, 0, 1, 1, 1], MftConfig { n_t: 0, ..Default::default() }).unwrap_err();
    assert!(matches!(e, AnalysisError::Param { name: "n_t", .. }), "{e}");
    let e = mft_analysis(x.view(), &[0, 0, 0, 1, 1, 1], MftConfig { kappa: -1.0, ..Default::default() }).unwrap_err();
    assert!(matches!(e, AnalysisError::Param { name: "kappa", .. }), "{e}");
}
