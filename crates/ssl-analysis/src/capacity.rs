//! Simulated manifold capacity (Cover 1965; Chung, Lee & Sompolinsky 2018; the MMCR paper's
//! "simulated capacity", seed 003; reference code awakhloo/correlated_capacity).
//!
//! P manifolds (point clouds sharing an id) are given random dichotomies — every point of a
//! manifold gets its manifold's label ±1 — and projected by a random Gaussian matrix to N
//! dimensions. A dichotomy counts as separable when some hyperplane *with bias* puts every point
//! strictly on its manifold's side; this is decided by a linear programme (maximum margin in a
//! box, see [`is_linearly_separable`]; solved by `microlp`). The separable fraction rises with N;
//! the critical dimension N_c is where it crosses ½ (found by bisection on N, linearly
//! interpolated between the two integers around ½), and the capacity is `α = P / N_c`.
//!
//! Sanity (Cover's function-counting theorem): P points in general position in N dimensions with
//! a bias have `C(P, N+1) = 2 Σ_{k<N+1} binom(P−1, k)` separable dichotomies of 2^P, so the
//! fraction is ½ at N + 1 = P/2 and single points give α ≈ 2 (exactly `P/(P/2 − 1)`).

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::AnalysisError;
use crate::spectrum::check_matrix;

/// How dichotomies are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dichotomies {
    /// Exactly ⌊P/2⌋ manifolds labelled +1 (the capacity literature's choice).
    Balanced,
    /// Each manifold's label drawn ±1 with probability ½ (Cover's counting).
    Uniform,
}

/// Settings of the capacity simulation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CapacityConfig {
    /// Random dichotomies (each with its own projection) per tested N.
    pub trials: usize,
    /// Seed of projections and dichotomies.
    pub seed: u64,
    /// How labels are drawn.
    pub dichotomies: Dichotomies,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig { trials: 50, seed: 0, dichotomies: Dichotomies::Balanced }
    }
}

/// The result of a capacity simulation (the `capacity` key of report.json).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    /// Number of manifolds P.
    pub manifolds: usize,
    /// Total number of points.
    pub points: usize,
    /// Ambient dimension (the largest N tried).
    pub ambient_dim: usize,
    /// Critical dimension N_c (fraction ½), interpolated; `None` when even the ambient dimension
    /// separates fewer than half of the dichotomies.
    pub critical_dim: Option<f64>,
    /// `P / N_c`; `None` when `critical_dim` is.
    pub alpha: Option<f64>,
    /// When fewer than half the dichotomies are separable even at the ambient dimension, the
    /// capacity is below `P / ambient_dim`: that bound; otherwise `None`.
    pub alpha_below: Option<f64>,
    /// `(N, separable fraction)` for every N evaluated, ascending in N.
    pub curve: Vec<(usize, f64)>,
    /// The settings used.
    pub config: CapacityConfig,
}

/// True when a hyperplane with bias separates the rows of `points` by `labels` (±1) strictly.
///
/// Decided by the linear programme "maximise t subject to y_i (w·x_i + b) ≥ t, −1 ≤ w_j ≤ 1,
/// |b| ≤ d + 1, t ≤ 1" on points scaled to unit largest magnitude: it is feasible at w = b = t = 0
/// and bounded, and the points are strictly separable exactly when its optimum t* is positive
/// (any separating (w, b) rescaled to ‖w‖∞ = 1 needs |b| ≤ d). t* ≤ 1e-9 counts as touching. If
/// the simplex meets a numerical failure, the feasibility form y_i (w·x_i + b) ≥ 1 is tried.
pub fn is_linearly_separable(points: ArrayView2<f64>, labels: &[f64]) -> Result<bool, AnalysisError> {
    let (n, d) = points.dim();
    if labels.len() != n {
        return Err(AnalysisError::Shape(format!("{} labels for {n} points", labels.len())));
    }
    if labels.iter().all(|&y| y > 0.0) || labels.iter().all(|&y| y < 0.0) {
        return Ok(true); // one class: the bias alone separates.
    }
    let scale = points.iter().fold(0f64, |m, v| m.max(v.abs()));
    let scale = if scale > 0.0 { 1.0 / scale } else { 1.0 };
    let build = |max_margin: bool| {
        use microlp::{ComparisonOp, OptimizationDirection, Problem};
        let free = (f64::NEG_INFINITY, f64::INFINITY);
        let mut lp = Problem::new(if max_margin { OptimizationDirection::Maximize } else { OptimizationDirection::Minimize });
        let w: Vec<_> = (0..d).map(|_| lp.add_var(0.0, if max_margin { (-1.0, 1.0) } else { free })).collect();
        let bound = d as f64 + 1.0;
        let b = lp.add_var(0.0, if max_margin { (-bound, bound) } else { free });
        let t = max_margin.then(|| lp.add_var(1.0, (f64::NEG_INFINITY, 1.0)));
        for (row, &y) in points.rows().into_iter().zip(labels) {
            let mut terms: Vec<(microlp::Variable, f64)> = w.iter().zip(row.iter()).map(|(&v, &x)| (v, y * x * scale)).collect();
            terms.push((b, y));
            match t {
                Some(t) => {
                    terms.push((t, -1.0));
                    lp.add_constraint(terms.as_slice(), ComparisonOp::Ge, 0.0);
                }
                None => lp.add_constraint(terms.as_slice(), ComparisonOp::Ge, 1.0),
            }
        }
        lp
    };
    let first = match build(true).solve() {
        Ok(outcome) => match outcome.into_solution() {
            Ok(sol) => return Ok(sol.objective() > 1e-9),
            Err(_) => "the solve was interrupted".to_string(),
        },
        Err(e) => e.to_string(),
    };
    match build(false).solve() {
        Ok(_) => Ok(true),
        Err(microlp::Error::Infeasible) => Ok(false),
        Err(e) => Err(AnalysisError::Linalg(format!("separability LP failed: maximum-margin form: {first}; feasibility form: {e}"))),
    }
}

/// Groups the rows of `x` by id; returns the groups (ascending id) as f64 matrices.
fn group_rows(x: ArrayView2<f32>, ids: &[u32]) -> Vec<Array2<f64>> {
    let mut map: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        map.entry(id).or_default().push(i);
    }
    map.values().map(|rows| x.select(Axis(0), rows).mapv(f64::from)).collect()
}

/// Fraction of `trials` random dichotomies of the manifolds that are separable after a random
/// projection to `n_dims` dimensions (entries N(0, 1); the scale does not matter).
fn separable_fraction(manifolds: &[Array2<f64>], n_dims: usize, cfg: &CapacityConfig) -> Result<f64, AnalysisError> {
    let p = manifolds.len();
    let d = manifolds[0].ncols();
    let results: Result<Vec<bool>, AnalysisError> = (0..cfg.trials)
        .into_par_iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(((n_dims as u64) << 32) | t as u64);
            let proj = Array2::from_shape_simple_fn((d, n_dims), || rng.sample::<f64, _>(StandardNormal));
            let mut signs: Vec<f64> = match cfg.dichotomies {
                Dichotomies::Balanced => (0..p).map(|i| if i < p / 2 { 1.0 } else { -1.0 }).collect(),
                Dichotomies::Uniform => (0..p).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect(),
            };
            signs.shuffle(&mut rng);
            let projected: Vec<Array2<f64>> = manifolds.iter().map(|m| m.dot(&proj)).collect();
            let views: Vec<_> = projected.iter().map(|m| m.view()).collect();
            let points = ndarray::concatenate(Axis(0), &views).expect("same width");
            let labels: Vec<f64> = manifolds.iter().zip(&signs).flat_map(|(m, &s)| std::iter::repeat_n(s, m.nrows())).collect();
            is_linearly_separable(points.view(), &labels)
        })
        .collect();
    let ok = results?.iter().filter(|&&s| s).count();
    Ok(ok as f64 / cfg.trials as f64)
}

/// The separable fraction at each N in `dims` (for curves and tests).
pub fn separability_curve(x: ArrayView2<f32>, ids: &[u32], dims: &[usize], cfg: CapacityConfig) -> Result<Vec<(usize, f64)>, AnalysisError> {
    let manifolds = prepare(x, ids, &cfg)?;
    let d = x.ncols();
    dims.iter()
        .map(|&n| {
            if n == 0 || n > d {
                return Err(AnalysisError::Param { name: "dims", problem: format!("{n}: expected 1..={d}") });
            }
            Ok((n, separable_fraction(&manifolds, n, &cfg)?))
        })
        .collect()
}

fn prepare(x: ArrayView2<f32>, ids: &[u32], cfg: &CapacityConfig) -> Result<Vec<Array2<f64>>, AnalysisError> {
    check_matrix(x, "embeddings", 2)?;
    if ids.len() != x.nrows() {
        return Err(AnalysisError::Shape(format!("{} manifold ids for {} embeddings", ids.len(), x.nrows())));
    }
    if cfg.trials == 0 {
        return Err(AnalysisError::Param { name: "trials", problem: "0: expected at least 1".into() });
    }
    let manifolds = group_rows(x, ids);
    if manifolds.len() < 2 {
        return Err(AnalysisError::Shape(format!("capacity needs at least 2 manifolds, got {}", manifolds.len())));
    }
    Ok(manifolds)
}

/// Simulated capacity of the manifolds of `x` (one id per row): α = P / N_c.
pub fn simulated_capacity(x: ArrayView2<f32>, ids: &[u32], cfg: CapacityConfig) -> Result<Capacity, AnalysisError> {
    let manifolds = prepare(x, ids, &cfg)?;
    let d = x.ncols();
    let mut curve: Vec<(usize, f64)> = Vec::new();
    let eval = |n: usize, curve: &mut Vec<(usize, f64)>| -> Result<f64, AnalysisError> {
        if let Some(&(_, f)) = curve.iter().find(|(m, _)| *m == n) {
            return Ok(f);
        }
        let f = separable_fraction(&manifolds, n, &cfg)?;
        curve.push((n, f));
        Ok(f)
    };
    // Bisection for the smallest N whose fraction reaches ½.
    let (mut lo, mut hi) = (1usize, d);
    let f_hi = eval(hi, &mut curve)?;
    let critical_dim = if f_hi < 0.5 {
        None
    } else if eval(lo, &mut curve)? >= 0.5 {
        Some(1.0)
    } else {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if eval(mid, &mut curve)? >= 0.5 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let (f_lo, f_hi) = (eval(lo, &mut curve)?, eval(hi, &mut curve)?);
        Some(lo as f64 + (0.5 - f_lo) / (f_hi - f_lo))
    };
    curve.sort_by_key(|&(n, _)| n);
    let p = manifolds.len();
    Ok(Capacity {
        manifolds: p,
        points: x.nrows(),
        ambient_dim: d,
        alpha: critical_dim.map(|n| p as f64 / n),
        alpha_below: critical_dim.is_none().then(|| p as f64 / d as f64),
        critical_dim,
        curve,
        config: cfg,
    })
}

/// Cover's fraction of separable dichotomies (with bias) of `p` points in general position in
/// `n` dimensions: `2 Σ_{k=0}^{n} binom(p−1, k) / 2^p`.
pub fn cover_fraction(p: usize, n: usize) -> f64 {
    // binom(p-1, k) / 2^(p-1) summed, in logs for large p.
    let m = p - 1;
    let ln_binom = |k: usize| -> f64 { ln_factorial(m) - ln_factorial(k) - ln_factorial(m - k) };
    (0..=n.min(m)).map(|k| (ln_binom(k) - m as f64 * std::f64::consts::LN_2).exp()).sum::<f64>().min(1.0)
}

fn ln_factorial(n: usize) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

/// Rows to use for a capacity simulation: at most `max_manifolds` manifolds (the first ids in
/// ascending order) and at most `max_points` points of each (evenly strided), so the LPs stay
/// small on large embedding sets. Returns the chosen row indices.
pub fn subsample_rows(ids: &[u32], max_manifolds: usize, max_points: usize) -> Vec<usize> {
    let mut map: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        map.entry(id).or_default().push(i);
    }
    let mut rows = Vec::new();
    for members in map.values().take(max_manifolds) {
        let m = members.len();
        let keep = m.min(max_points.max(1));
        rows.extend((0..keep).map(|j| members[j * m / keep]));
    }
    rows.sort_unstable();
    rows
}
