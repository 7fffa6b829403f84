//! `.npy` input and output: embeddings as f32 (f64 files are converted), labels as integers.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, Ix2};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::error::AnalysisError;

fn file_err(path: &Path, problem: impl ToString) -> AnalysisError {
    AnalysisError::File { path: path.to_path_buf(), problem: problem.to_string() }
}

fn open(path: &Path) -> Result<BufReader<File>, AnalysisError> {
    File::open(path).map(BufReader::new).map_err(|e| file_err(path, format!("cannot open: {e}")))
}

fn describe(e: ReadNpyError) -> String {
    match e {
        ReadNpyError::WrongNdim(want, got) => format!("expected a {}-D array, found {got}-D", want.unwrap_or(0)),
        ReadNpyError::WrongDescriptor(d) => format!("unsupported dtype {d:?}"),
        ReadNpyError::ParseHeader(h) => format!("not a valid .npy file ({h})"),
        other => format!("not a readable .npy array: {other}"),
    }
}

/// Reads a 2-D `.npy` array of f32 or f64 (C or Fortran order) as f32.
pub fn read_matrix(path: impl AsRef<Path>) -> Result<Array2<f32>, AnalysisError> {
    let path = path.as_ref();
    let as_f32 = ArrayD::<f32>::read_npy(open(path)?);
    let any = match as_f32 {
        Ok(a) => a,
        Err(ReadNpyError::WrongDescriptor(_)) => {
            ArrayD::<f64>::read_npy(open(path)?).map_err(|e| file_err(path, describe(e)))?.mapv(|v| v as f32)
        }
        Err(e) => return Err(file_err(path, describe(e))),
    };
    let nd = any.ndim();
    any.into_dimensionality::<Ix2>()
        .map_err(|_| file_err(path, format!("expected a 2-D array (rows = samples, columns = features), found {nd}-D")))
}

/// Reads a 1-D `.npy` array of integer labels (i64, i32, u8, …) as u32.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u32>, AnalysisError> {
    let path = path.as_ref();
    macro_rules! try_kind {
        ($t:ty) => {
            match Array1::<$t>::read_npy(open(path)?) {
                Ok(a) => {
                    return a
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| u32::try_from(v).map_err(|_| file_err(path, format!("label {i} is {v}: expected 0..2^32"))))
                        .collect();
                }
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(file_err(path, describe(e))),
            }
        };
    }
    try_kind!(i64);
    try_kind!(i32);
    try_kind!(u32);
    try_kind!(u8);
    try_kind!(i16);
    Err(file_err(path, "labels must be a 1-D integer array (int64, int32, uint32, uint8 or int16)"))
}

/// Writes a 2-D f32 array as `.npy`.
pub fn write_matrix(path: impl AsRef<Path>, x: &Array2<f32>) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    let f = File::create(path).map_err(|e| file_err(path, format!("cannot create: {e}")))?;
    x.write_npy(std::io::BufWriter::new(f)).map_err(|e| file_err(path, e))
}

/// Writes labels as an int64 `.npy` vector.
pub fn write_labels(path: impl AsRef<Path>, labels: &[u32]) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    let a = Array1::from_iter(labels.iter().map(|&l| i64::from(l)));
    let f = File::create(path).map_err(|e| file_err(path, format!("cannot create: {e}")))?;
    a.write_npy(std::io::BufWriter::new(f)).map_err(|e| file_err(path, e))
}
