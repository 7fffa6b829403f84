//! # ssl-analysis
//!
//! Diagnoses what a self-supervised encoder learned, from its embeddings alone — so it works on
//! embeddings exported from any framework (`.npy` from numpy, PyTorch or JAX). It depends on
//! ndarray and a LAPACK, not on libtorch.
//!
//! * [`spectrum`]: covariance eigenvalue spectrum (raw, and DirectCLR's L2-normalised form),
//!   participation ratio, power-law α (Stringer et al. 2019) with R², RankMe (Garrido et al. 2023).
//! * [`knn`]: the weighted cosine k-nearest-neighbour probe (Wu et al. 2018; lightly / solo-learn).
//! * [`probe`]: ridge linear probe (classification) and ridge regression probe (continuous targets).
//! * [`factors`]: factor probes — object / background classes and position read out of frozen
//!   features (InfoMin §3.1, Table 2).
//! * [`geometry`]: manifold radius, dimension and centroid similarity (MMCR, seed 003).
//! * [`capacity`]: simulated manifold capacity α = P/N_c by exact LP separability of random
//!   dichotomies under random projections (Cover's α ≈ 2 for points is a test).
//! * [`mft`]: mean-field-theory manifold capacity α_M, anchor radius R_M and dimension D_M
//!   (Chung et al. 2018; as MMCR measures it), agreeing with the reference implementation.
//! * [`alignment`]: DirectCLR's alignment matrix |V₂ᵀU₁| and its off-diagonal mass.
//! * [`npy`]: reading and writing `.npy` embeddings and labels (ndarray over `ssl_io::npy`) with errors that name the file.
//! * [`plot`]: PNG or SVG plots — spectra (several runs overlaid, α fits drawn) and heat maps.
//! * [`report`]: the `report.json` keys and their types.
//! * [`blas`]: which OpenBLAS runs, its thread count inside rayon loops, and its kernels on CPUs
//!   it does not recognise.
//! * [`analyze`]: the whole `report.json` of one embedding matrix in one call (`cargo xtask
//!   analyze` and the Python bindings both use it).
//!
//! ```no_run
//! use ssl_analysis::{npy, report::SpectrumReport};
//!
//! let x = npy::read_matrix("runs/demo/embeddings.npy")?;
//! let r = SpectrumReport::compute(x.view(), Default::default())?;
//! println!("PR = {:.2}, alpha = {:.3} (R² {:.3}), RankMe = {:.1}", r.participation_ratio, r.alpha, r.alpha_r2, r.rankme);
//! # Ok::<(), ssl_analysis::AnalysisError>(())
//! ```

pub mod alignment;
pub mod analyze;
pub mod blas;
pub mod capacity;
pub mod error;
pub mod factors;
pub mod geometry;
pub mod knn;
pub mod mft;
pub mod npy;
pub mod plot;
pub mod probe;
pub mod report;
pub mod spectrum;

pub use error::AnalysisError;
pub use knn::{knn_accuracy, KnnConfig};
pub use report::{EmbeddingReport, SpectrumReport};

pub(crate) use blas::SingleThreadedBlas;
pub use blas::{blas_info, use_fast_openblas_kernels};
