//! Times each part of the spectral report on an `.npy` of embeddings:
//! `cargo run --release -p ssl-analysis --example spectrum_parts -- X.npy`.

use std::time::Instant;

use ssl_analysis::spectrum::{covariance_and_gram, eigvalsh_desc, normalized_covariance};
use ssl_analysis::{npy, SpectrumReport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: spectrum_parts X.npy")?;
    let x = npy::read_matrix(&path)?;
    println!("{path}: {} x {}, BLAS {}", x.nrows(), x.ncols(), ssl_analysis::blas_info());
    let t = Instant::now();
    let (cov, gram) = covariance_and_gram(x.view());
    println!("covariance + gram (one dsyrk): {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let e = eigvalsh_desc(&cov)?;
    println!("eigvalsh covariance: {:.2} s (largest {:.4})", t.elapsed().as_secs_f64(), e[0]);
    let t = Instant::now();
    let _ = eigvalsh_desc(&gram)?;
    println!("eigvalsh gram: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let _ = normalized_covariance(x.view());
    println!("normalised covariance: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let r = SpectrumReport::compute(x.view(), Default::default())?;
    println!("whole report: {:.2} s (PR {:.3}, alpha {:.3}, RankMe {:.2})", t.elapsed().as_secs_f64(), r.participation_ratio, r.alpha, r.rankme);
    Ok(())
}
