//! `.npy` input and output: embeddings as f32 (f64 files are converted), labels as integers.
//! The format itself is `ssl_io::npy` (the workspace's one implementation); this module converts
//! to and from ndarray.

use std::path::Path;

use ndarray::Array2;

use crate::error::AnalysisError;

/// Reads a 2-D `.npy` array of f32 or f64 (C or Fortran order, either byte order) as f32.
pub fn read_matrix(path: impl AsRef<Path>) -> Result<Array2<f32>, AnalysisError> {
    let m = ssl_io::npy::read_matrix(path)?;
    Ok(Array2::from_shape_vec((m.rows, m.cols), m.data).expect("ssl_io returns rows * cols values"))
}

/// Reads a 1-D `.npy` array of integer labels (i64, i32, u8, … in either byte order) as u32.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u32>, AnalysisError> {
    Ok(ssl_io::npy::read_labels(path)?)
}

/// Writes a 2-D f32 array as `.npy` (float32, C order), replacing the file atomically.
pub fn write_matrix(path: impl AsRef<Path>, x: &Array2<f32>) -> Result<(), AnalysisError> {
    let (rows, cols) = x.dim();
    match x.as_slice() {
        Some(data) => ssl_io::npy::write_matrix(path, rows, cols, data)?,
        None => ssl_io::npy::write_matrix(path, rows, cols, &x.iter().copied().collect::<Vec<_>>())?,
    }
    Ok(())
}

/// Writes labels as an int64 `.npy` vector, replacing the file atomically.
pub fn write_labels(path: impl AsRef<Path>, labels: &[u32]) -> Result<(), AnalysisError> {
    Ok(ssl_io::npy::write_labels(path, labels)?)
}
