//! # ssl-analysis-py
//!
//! Python bindings of [`ssl_analysis`]: diagnose embeddings where SSL researchers hold them, in
//! numpy arrays, with the same code (and the same `report.json` keys, and the same error
//! messages) as `cargo xtask analyze`. Built into a wheel by `cargo xtask wheel` (maturin).
//!
//! ```python
//! import numpy as np, ssl_analysis
//!
//! x = np.load("runs/demo/embeddings.npy")            # float32 or float64, C or Fortran order
//! y = np.load("runs/demo/labels.npy")
//! r = ssl_analysis.report(x, labels=y)               # the keys of report.json
//! print(r["participation_ratio"], r["alpha"], r["rankme"], r["linear_probe_accuracy"])
//! ssl_analysis.participation_ratio(x)                # or one measure at a time
//! ```
//!
//! * Inputs: embeddings as 2-D float32 (used in place, whatever the strides) or float64 (converted
//!   to float32, as the command line converts float64 files); labels and manifold ids as 1-D
//!   arrays of any integer dtype, ≥ 0. Other array-likes go through `numpy.asarray`.
//! * The interpreter lock is released while Rust computes, so Python threads keep running.
//! * Every bad input or setting raises `ValueError` naming the argument (`embeddings`, `labels`,
//!   `knn_k`, …) with the command line's message; nothing crashes the interpreter.

use ndarray::{Array2, ArrayView2};
use numpy::{IntoPyArray, PyArray1, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use ssl_analysis::analyze::{analyze, AnalyzeInput, AnalyzeOptions};
use ssl_analysis::capacity::{simulated_capacity, CapacityConfig};
use ssl_analysis::knn::{knn_accuracy as knn, KnnConfig};
use ssl_analysis::mft::{mft_analysis, MftConfig};
use ssl_analysis::probe::linear_probe_accuracy as ridge_accuracy;
use ssl_analysis::report::{EmbeddingReport, ReportOptions, SpectrumOptions, SpectrumReport};
use ssl_analysis::spectrum;
use ssl_analysis::AnalysisError;

/// `ValueError` with the analysis's own message.
fn value_error(e: AnalysisError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// An error for argument `name`.
fn bad_arg(name: &str, problem: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{name}: {problem}"))
}

/// Names a shape or non-finite error after the argument (the library names what it checked).
fn named(name: &str) -> impl Fn(AnalysisError) -> PyErr + '_ {
    move |e| match e {
        AnalysisError::NonFinite { row, col, .. } => value_error(AnalysisError::NonFinite { what: name.to_string(), row, col }),
        AnalysisError::Shape(s) if !s.starts_with(name) => bad_arg(name, s),
        other => value_error(other),
    }
}

/// `obj` as a numpy array (array-likes through `numpy.asarray`).
fn as_ndarray<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyUntypedArray>> {
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Ok(a.clone());
    }
    let np = obj.py().import("numpy")?;
    let converted = np.call_method1("asarray", (obj,)).map_err(|e| bad_arg(name, format!("cannot be read as a numpy array ({e})")))?;
    converted.cast_into::<PyUntypedArray>().map_err(|_| bad_arg(name, "cannot be read as a numpy array"))
}

/// A 2-D float32 matrix: borrowed from a float32 array (any strides), converted from float64.
enum Matrix<'py> {
    F32(numpy::PyReadonlyArray2<'py, f32>),
    F64(Array2<f32>),
}

impl Matrix<'_> {
    fn view(&self) -> ArrayView2<'_, f32> {
        match self {
            Matrix::F32(a) => a.as_array(),
            Matrix::F64(a) => a.view(),
        }
    }
}

fn matrix<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Matrix<'py>> {
    let a = as_ndarray(name, obj)?;
    if a.ndim() != 2 {
        return Err(bad_arg(name, format!("expected a 2-D array (samples x features), got {} dimension(s) of shape {:?}", a.ndim(), a.shape())));
    }
    let dtype = a.dtype();
    let py = obj.py();
    if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Ok(Matrix::F32(a.extract()?))
    } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        let x: numpy::PyReadonlyArray2<f64> = a.extract()?;
        Ok(Matrix::F64(x.as_array().mapv(|v| v as f32)))
    } else {
        Err(bad_arg(name, format!("expected float32 or float64, got dtype {}", dtype.str().map(|s| s.to_string()).unwrap_or_else(|_| "?".into()))))
    }
}

/// A 1-D integer array as `u32` labels (any integer dtype; negative values refused).
fn labels(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    let a = as_ndarray(name, obj)?;
    if a.ndim() != 1 {
        return Err(bad_arg(name, format!("expected a 1-D array of integer labels, got {} dimension(s) of shape {:?}", a.ndim(), a.shape())));
    }
    let kind = a.dtype().kind();
    if kind != b'i' && kind != b'u' && kind != b'b' {
        return Err(bad_arg(name, format!("expected integer labels, got dtype {}", a.dtype().str().map(|s| s.to_string()).unwrap_or_else(|_| "?".into()))));
    }
    let as_i64 = a.call_method1("astype", ("int64",))?;
    if kind == b'u' {
        // uint64 above i64::MAX would wrap: compare in the original dtype first.
        let too_big: bool = a.call_method0("max").and_then(|m| m.gt(u32::MAX)).unwrap_or(false) && a.len() > 0;
        if too_big {
            return Err(bad_arg(name, format!("labels above {} are not supported", u32::MAX)));
        }
    }
    let v: numpy::PyReadonlyArray1<i64> = as_i64.extract()?;
    v.as_array()
        .iter()
        .enumerate()
        .map(|(i, &l)| u32::try_from(l).map_err(|_| bad_arg(name, format!("label {l} at index {i}: expected integers from 0 to {}", u32::MAX))))
        .collect()
}

fn optional<'py, T>(name: &str, obj: Option<&Bound<'py, PyAny>>, f: impl Fn(&str, &Bound<'py, PyAny>) -> PyResult<T>) -> PyResult<Option<T>> {
    obj.filter(|o| !o.is_none()).map(|o| f(name, o)).transpose()
}

/// A serde value as the Python object `json.loads` makes of it (NaN is `None`, as in the file).
fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The whole `report.json` of `embeddings` as a dict (the same keys and values as `cargo xtask
/// analyze` writes, without `source`): the spectral keys always; with `labels` a ridge probe on a
/// held-out fifth (or, with `train_embeddings`/`train_labels`, kNN and ridge probes trained on
/// them); with `manifold_ids` the manifold geometry; with `manifold_ids` or else `labels` the
/// simulated and MFT capacities; with `factors` (n × 4: object class, background class, x, y) the
/// factor probes.
#[pyfunction]
#[pyo3(signature = (
    embeddings, labels=None, train_embeddings=None, train_labels=None, manifold_ids=None, factors=None, *,
    alpha_window=(11, 100), collapse_threshold=1e-5, probe_lambda=1.0, knn_k=200, knn_temperature=0.1,
    capacity_trials=40, capacity_manifolds=64, capacity_points=32,
    mft_n_t=200, mft_kappa=0.0, mft_reps=10, mft_seed=0
))]
#[allow(clippy::too_many_arguments)]
fn report<'py>(
    py: Python<'py>,
    embeddings: &Bound<'py, PyAny>,
    labels: Option<&Bound<'py, PyAny>>,
    train_embeddings: Option<&Bound<'py, PyAny>>,
    train_labels: Option<&Bound<'py, PyAny>>,
    manifold_ids: Option<&Bound<'py, PyAny>>,
    factors: Option<&Bound<'py, PyAny>>,
    alpha_window: (usize, usize),
    collapse_threshold: f64,
    probe_lambda: f64,
    knn_k: usize,
    knn_temperature: f64,
    capacity_trials: usize,
    capacity_manifolds: usize,
    capacity_points: usize,
    mft_n_t: usize,
    mft_kappa: f64,
    mft_reps: usize,
    mft_seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = AnalyzeOptions {
        alpha_window,
        collapse_threshold,
        probe_lambda,
        knn: KnnConfig { k: knn_k, temperature: knn_temperature },
        capacity_trials,
        capacity_manifolds,
        capacity_points,
        mft: (mft_n_t > 0).then_some(MftConfig { kappa: mft_kappa, n_t: mft_n_t, n_reps: mft_reps, seed: mft_seed }),
    };
    opts.check().map_err(value_error)?;
    let x = matrix("embeddings", embeddings)?;
    let y = optional("labels", labels, self::labels)?;
    let ids = optional("manifold_ids", manifold_ids, self::labels)?;
    let factor_rows = optional("factors", factors, matrix)?;
    let bank = match (optional("train_embeddings", train_embeddings, matrix)?, optional("train_labels", train_labels, self::labels)?) {
        (Some(bx), Some(by)) => Some((bx, by)),
        (None, None) => None,
        (Some(_), None) => return Err(bad_arg("train_labels", "required with train_embeddings")),
        (None, Some(_)) => return Err(bad_arg("train_embeddings", "required with train_labels")),
    };
    let input = AnalyzeInput {
        embeddings: ("embeddings", x.view()),
        labels: y.as_deref().map(|l| ("labels", l)),
        train: bank.as_ref().map(|(bx, by)| (("train_embeddings", bx.view()), ("train_labels", by.as_slice()))),
        manifold_ids: ids.as_deref().map(|m| ("manifold_ids", m)),
        factors: factor_rows.as_ref().map(|f| ("factors", f.view())),
    };
    let r = py.detach(|| analyze(&input, &opts, &mut |_| {})).map_err(value_error)?;
    to_python(py, &r)
}

/// Eigenvalues of the mean-centred covariance (ddof 1), descending; `normalized=True` gives
/// DirectCLR's form (each row L2-normalised first).
#[pyfunction]
#[pyo3(signature = (embeddings, *, normalized=false))]
fn covariance_eigenvalues<'py>(py: Python<'py>, embeddings: &Bound<'py, PyAny>, normalized: bool) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let x = matrix("embeddings", embeddings)?;
    let v = x.view();
    let eig = py
        .detach(|| {
            spectrum::check_embeddings(v, "embeddings")?;
            if normalized {
                spectrum::normalized_covariance_eigenvalues(v)
            } else {
                spectrum::covariance_eigenvalues(v)
            }
        })
        .map_err(named("embeddings"))?;
    Ok(eig.into_pyarray(py))
}

fn spectral(py: Python<'_>, embeddings: &Bound<'_, PyAny>, window: (usize, usize)) -> PyResult<SpectrumReport> {
    AnalyzeOptions { alpha_window: window, ..Default::default() }.check().map_err(value_error)?;
    let x = matrix("embeddings", embeddings)?;
    let v = x.view();
    py.detach(|| SpectrumReport::compute(v, SpectrumOptions { alpha_window: window })).map_err(named("embeddings"))
}

/// Participation ratio (Σλ)² / Σλ² of the covariance eigenvalues.
#[pyfunction]
fn participation_ratio(py: Python<'_>, embeddings: &Bound<'_, PyAny>) -> PyResult<f64> {
    let x = matrix("embeddings", embeddings)?;
    let v = x.view();
    let eig = py
        .detach(|| {
            spectrum::check_embeddings(v, "embeddings")?;
            spectrum::covariance_eigenvalues(v)
        })
        .map_err(named("embeddings"))?;
    Ok(spectrum::participation_ratio(&eig))
}

/// Power-law exponent α of the covariance spectrum (Stringer et al.'s weighted fit over the
/// 1-based rank window): `{"alpha", "r2", "ranks"}` (NaN when the window holds < 2 eigenvalues).
#[pyfunction]
#[pyo3(signature = (embeddings, *, alpha_window=(11, 100)))]
fn power_law_alpha<'py>(py: Python<'py>, embeddings: &Bound<'py, PyAny>, alpha_window: (usize, usize)) -> PyResult<Bound<'py, PyDict>> {
    let r = spectral(py, embeddings, alpha_window)?;
    let d = PyDict::new(py);
    d.set_item("alpha", r.alpha)?;
    d.set_item("r2", r.alpha_r2)?;
    d.set_item("ranks", (r.alpha_fit_ranks[0], r.alpha_fit_ranks[1]))?;
    Ok(d)
}

/// RankMe (Garrido et al. 2023): exp of the entropy of the normalised singular values.
#[pyfunction]
fn rankme(py: Python<'_>, embeddings: &Bound<'_, PyAny>) -> PyResult<f64> {
    Ok(spectral(py, embeddings, (11, 100))?.rankme)
}

/// Effective rank (Roy & Vetterli) and the number of collapsed dimensions (covariance eigenvalues
/// at or below `collapse_threshold` × the largest): `{"effective_rank", "collapsed_dims"}`.
#[pyfunction]
#[pyo3(signature = (embeddings, *, collapse_threshold=1e-5))]
fn collapse<'py>(py: Python<'py>, embeddings: &Bound<'py, PyAny>, collapse_threshold: f64) -> PyResult<Bound<'py, PyDict>> {
    AnalyzeOptions { collapse_threshold, ..Default::default() }.check().map_err(value_error)?;
    let x = matrix("embeddings", embeddings)?;
    let v = x.view();
    let opts = ReportOptions { collapse_threshold, ..Default::default() };
    let r = py.detach(|| EmbeddingReport::compute(v, opts)).map_err(named("embeddings"))?;
    let d = PyDict::new(py);
    d.set_item("effective_rank", r.effective_rank)?;
    d.set_item("collapsed_dims", r.collapsed_dims)?;
    Ok(d)
}

/// Checks a labelled set: as many labels as rows.
fn labelled<'py>(x_name: &str, x: &Bound<'py, PyAny>, y_name: &str, y: &Bound<'py, PyAny>) -> PyResult<(Matrix<'py>, Vec<u32>)> {
    let m = matrix(x_name, x)?;
    let l = labels(y_name, y)?;
    if l.len() != m.view().nrows() {
        return Err(bad_arg(y_name, format!("{} labels for {} embeddings", l.len(), m.view().nrows())));
    }
    Ok((m, l))
}

/// Weighted cosine kNN accuracy of `embeddings` (with `labels`) against the bank
/// `train_embeddings` / `train_labels` (Wu et al. 2018: votes exp(s/T) over the k nearest).
#[pyfunction]
#[pyo3(signature = (train_embeddings, train_labels, embeddings, labels, *, k=200, temperature=0.1))]
fn knn_accuracy(
    py: Python<'_>,
    train_embeddings: &Bound<'_, PyAny>,
    train_labels: &Bound<'_, PyAny>,
    embeddings: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    k: usize,
    temperature: f64,
) -> PyResult<f64> {
    if k == 0 {
        return Err(bad_arg("k", "0: expected at least 1 neighbour"));
    }
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(bad_arg("temperature", format!("{temperature}: expected a finite T > 0")));
    }
    let (bx, by) = labelled("train_embeddings", train_embeddings, "train_labels", train_labels)?;
    let (x, y) = labelled("embeddings", embeddings, "labels", labels)?;
    let (bv, v) = (bx.view(), x.view());
    py.detach(|| knn(bv, &by, v, &y, KnnConfig { k, temperature })).map_err(named("embeddings"))
}

/// Accuracy of a ridge classifier on standardised features, trained on `train_*`, tested on
/// `embeddings` / `labels`.
#[pyfunction]
#[pyo3(signature = (train_embeddings, train_labels, embeddings, labels, *, probe_lambda=1.0))]
fn linear_probe_accuracy(
    py: Python<'_>,
    train_embeddings: &Bound<'_, PyAny>,
    train_labels: &Bound<'_, PyAny>,
    embeddings: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    probe_lambda: f64,
) -> PyResult<f64> {
    AnalyzeOptions { probe_lambda, ..Default::default() }.check().map_err(value_error)?;
    let (bx, by) = labelled("train_embeddings", train_embeddings, "train_labels", train_labels)?;
    let (x, y) = labelled("embeddings", embeddings, "labels", labels)?;
    if bx.view().ncols() != x.view().ncols() {
        return Err(bad_arg("embeddings", format!("{} columns, train_embeddings have {}", x.view().ncols(), bx.view().ncols())));
    }
    let (bv, v) = (bx.view(), x.view());
    py.detach(|| ridge_accuracy(bv, &by, v, &y, probe_lambda)).map_err(named("embeddings"))
}

/// Simulated manifold capacity α = P/N_c: the fraction of random dichotomies of the manifolds
/// (`manifold_ids` groups) that stay linearly separable under random projections to N
/// dimensions, and the N where it crosses one half (the `capacity` key of report.json).
#[pyfunction]
#[pyo3(signature = (embeddings, manifold_ids, *, trials=40, seed=0))]
fn simulated_manifold_capacity<'py>(
    py: Python<'py>,
    embeddings: &Bound<'py, PyAny>,
    manifold_ids: &Bound<'py, PyAny>,
    trials: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    if trials == 0 {
        return Err(bad_arg("trials", "0: expected at least 1 dichotomy per tested dimension"));
    }
    let (x, ids) = labelled("embeddings", embeddings, "manifold_ids", manifold_ids)?;
    let v = x.view();
    let cfg = CapacityConfig { trials, seed, ..Default::default() };
    let c = py.detach(|| simulated_capacity(v, &ids, cfg)).map_err(named("manifold_ids"))?;
    to_python(py, &c)
}

/// Mean-field-theory manifold capacity (Chung et al. 2018, as MMCR measures it): capacity
/// 1/mean(1/α_M), anchor radius and dimension, centre correlations, per-manifold values (the
/// `mft` key of report.json).
#[pyfunction]
#[pyo3(signature = (embeddings, manifold_ids, *, kappa=0.0, n_t=200, n_reps=10, seed=0))]
fn mft_capacity<'py>(
    py: Python<'py>,
    embeddings: &Bound<'py, PyAny>,
    manifold_ids: &Bound<'py, PyAny>,
    kappa: f64,
    n_t: usize,
    n_reps: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = MftConfig { kappa, n_t, n_reps, seed };
    cfg.check().map_err(value_error)?;
    let (x, ids) = labelled("embeddings", embeddings, "manifold_ids", manifold_ids)?;
    let v = x.view();
    let m = py.detach(|| mft_analysis(v, &ids, cfg)).map_err(named("manifold_ids"))?;
    to_python(py, &m)
}

/// Linear readouts of each factor from frozen `embeddings` (InfoMin §3.1, Table 2): `factors`
/// is n × 4 (object class, background class, x, y), split of its own (every fifth row held out);
/// the `factors` key of report.json.
#[pyfunction]
#[pyo3(signature = (embeddings, factors, *, probe_lambda=1.0))]
fn factor_probes<'py>(py: Python<'py>, embeddings: &Bound<'py, PyAny>, factors: &Bound<'py, PyAny>, probe_lambda: f64) -> PyResult<Bound<'py, PyAny>> {
    AnalyzeOptions { probe_lambda, ..Default::default() }.check().map_err(value_error)?;
    let x = matrix("embeddings", embeddings)?;
    let f = matrix("factors", factors)?;
    if f.view().nrows() != x.view().nrows() {
        return Err(bad_arg("factors", format!("{} factor rows for {} embeddings", f.view().nrows(), x.view().nrows())));
    }
    let table = ssl_analysis::factors::FactorTable::from_matrix(f.view()).map_err(named("factors"))?;
    let v = x.view();
    let p = py.detach(|| ssl_analysis::factors::factor_probes(v, &table, probe_lambda)).map_err(named("embeddings"))?;
    to_python(py, &p)
}

/// The BLAS/LAPACK the analysis calls (OpenBLAS's configuration string, ending with its kernels).
#[pyfunction]
fn blas_info() -> String {
    ssl_analysis::blas_info()
}

/// `import ssl_analysis`.
#[pymodule(name = "ssl_analysis")]
fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Before any BLAS work: OpenBLAS's best kernels for this CPU where it fell back to generic ones.
    ssl_analysis::use_fast_openblas_kernels();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(covariance_eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(participation_ratio, m)?)?;
    m.add_function(wrap_pyfunction!(power_law_alpha, m)?)?;
    m.add_function(wrap_pyfunction!(rankme, m)?)?;
    m.add_function(wrap_pyfunction!(collapse, m)?)?;
    m.add_function(wrap_pyfunction!(knn_accuracy, m)?)?;
    m.add_function(wrap_pyfunction!(linear_probe_accuracy, m)?)?;
    m.add_function(wrap_pyfunction!(simulated_manifold_capacity, m)?)?;
    m.add_function(wrap_pyfunction!(mft_capacity, m)?)?;
    m.add_function(wrap_pyfunction!(factor_probes, m)?)?;
    m.add_function(wrap_pyfunction!(blas_info, m)?)?;
    Ok(())
}
