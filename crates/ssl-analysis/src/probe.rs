//! Linear probes on frozen embeddings: a ridge classifier (one-hot targets, argmax) and a ridge
//! regression probe for continuous targets (e.g. object positions in the toy dataset).
//!
//! Features are standardised with the training rows' mean and standard deviation; the intercept
//! is not penalised (targets are centred); `W = (XᵀX + λI)⁻¹ XᵀY` by a symmetric factorisation.
//! When no separate training set is given, [`holdout_split`] keeps every fifth row for testing.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::{FactorizeHInto, SolveH};

use crate::error::AnalysisError;
use crate::spectrum::check_matrix;

/// A fitted ridge model on standardised features.
#[derive(Clone, Debug)]
pub struct Ridge {
    mean: Array1<f64>,
    scale: Array1<f64>,
    weights: Array2<f64>,
    intercept: Array1<f64>,
}

impl Ridge {
    /// Fits `targets` (n × t) from `x` (n × d) with penalty `lambda > 0`.
    pub fn fit(x: ArrayView2<f32>, targets: ArrayView2<f64>, lambda: f64) -> Result<Ridge, AnalysisError> {
        check_matrix(x, "probe training embeddings", 2)?;
        if targets.nrows() != x.nrows() {
            return Err(AnalysisError::Shape(format!("{} targets for {} training embeddings", targets.nrows(), x.nrows())));
        }
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(AnalysisError::Param { name: "ridge lambda", problem: format!("{lambda}: must be > 0") });
        }
        let xf = x.mapv(f64::from);
        let mean = xf.mean_axis(Axis(0)).expect("n >= 2");
        let scale = xf.std_axis(Axis(0), 0.0).mapv(|s| if s > 1e-12 { s } else { 1.0 });
        let z = (&xf - &mean) / &scale;
        let tmean = targets.mean_axis(Axis(0)).expect("n >= 2");
        let tc = &targets - &tmean;
        let mut a = z.t().dot(&z);
        a.diag_mut().mapv_inplace(|v| v + lambda);
        let rhs = z.t().dot(&tc);
        let fac = a.factorizeh_into().map_err(|e| AnalysisError::Linalg(e.to_string()))?;
        let mut weights = Array2::<f64>::zeros((x.ncols(), targets.ncols()));
        for (j, col) in rhs.axis_iter(Axis(1)).enumerate() {
            let w = fac.solveh(&col.to_owned()).map_err(|e| AnalysisError::Linalg(e.to_string()))?;
            weights.column_mut(j).assign(&w);
        }
        Ok(Ridge { mean, scale, weights, intercept: tmean })
    }

    /// Predictions (n × t).
    pub fn predict(&self, x: ArrayView2<f32>) -> Array2<f64> {
        let z = (&x.mapv(f64::from) - &self.mean) / &self.scale;
        z.dot(&self.weights) + &self.intercept
    }
}

/// Rows for training and testing: every fifth row (index % 5 == 4) is held out.
pub fn holdout_split(n: usize) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|i| i % 5 != 4)
}

fn one_hot(labels: &[u32]) -> Array2<f64> {
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut y = Array2::zeros((labels.len(), classes));
    for (i, &l) in labels.iter().enumerate() {
        y[[i, l as usize]] = 1.0;
    }
    y
}

/// How reports name the probe of [`linear_probe_accuracy`].
pub const RIDGE_PROBE: &str = "ridge classifier on standardised features";

/// Accuracy of a ridge classifier trained on (train_x, train_labels), tested on (test_x, test_labels).
pub fn linear_probe_accuracy(
    train_x: ArrayView2<f32>,
    train_labels: &[u32],
    test_x: ArrayView2<f32>,
    test_labels: &[u32],
    lambda: f64,
) -> Result<f64, AnalysisError> {
    check_matrix(test_x, "probe test embeddings", 1)?;
    if test_x.ncols() != train_x.ncols() || test_labels.len() != test_x.nrows() {
        return Err(AnalysisError::Shape(format!(
            "probe test set: {} × {} embeddings with {} labels, training dim {}",
            test_x.nrows(),
            test_x.ncols(),
            test_labels.len(),
            train_x.ncols()
        )));
    }
    let model = Ridge::fit(train_x, one_hot(train_labels).view(), lambda)?;
    let scores = model.predict(test_x);
    let hits = scores
        .axis_iter(Axis(0))
        .zip(test_labels)
        .filter(|(row, &l)| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32) == Some(l))
        .count();
    Ok(hits as f64 / test_labels.len().max(1) as f64)
}

/// Mean coefficient of determination R² over the target columns of a ridge regression probe.
pub fn regression_probe_r2(
    train_x: ArrayView2<f32>,
    train_t: ArrayView2<f64>,
    test_x: ArrayView2<f32>,
    test_t: ArrayView2<f64>,
    lambda: f64,
) -> Result<f64, AnalysisError> {
    if test_t.nrows() != test_x.nrows() || test_t.ncols() != train_t.ncols() {
        return Err(AnalysisError::Shape("regression probe: test targets do not match the test embeddings".into()));
    }
    let pred = Ridge::fit(train_x, train_t, lambda)?.predict(test_x);
    Ok(mean_r2(&pred, test_t))
}

/// Mean over columns of R² = 1 − SS_res / SS_tot of `pred` against `truth` (0 for a constant column).
pub fn mean_r2(pred: &Array2<f64>, truth: ArrayView2<f64>) -> f64 {
    let mut total = 0.0;
    for j in 0..truth.ncols() {
        let t = truth.column(j);
        let m = t.mean().unwrap_or(0.0);
        let ss_tot: f64 = t.iter().map(|v| (v - m).powi(2)).sum();
        let ss_res: f64 = t.iter().zip(pred.column(j)).map(|(a, b)| (a - b).powi(2)).sum();
        total += if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 0.0 };
    }
    total / truth.ncols().max(1) as f64
}
