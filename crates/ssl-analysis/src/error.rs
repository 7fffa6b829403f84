//! Errors with the file and the problem named.

use std::path::PathBuf;

/// An analysis cannot be run on the given input.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The embeddings or labels have the wrong shape.
    #[error("{0}")]
    Shape(String),
    /// NaN or infinite values.
    #[error("{what} holds a non-finite value (NaN or inf) at row {row}, column {col}")]
    NonFinite {
        /// What was checked.
        what: String,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
    /// A `.npy` file could not be read or written.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A parameter is out of range.
    #[error("invalid parameter `{name}`: {problem}")]
    Param {
        /// The parameter.
        name: &'static str,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// LAPACK failed.
    #[error("linear algebra: {0}")]
    Linalg(String),
    /// The output folder or file may not be written (a user's files are never overwritten).
    #[error(transparent)]
    Output(#[from] ssl_io::OutputError),
    /// Plotting failed.
    #[error("plot {path}: {problem}")]
    Plot {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

impl From<ssl_io::NpyError> for AnalysisError {
    fn from(e: ssl_io::NpyError) -> Self {
        match e {
            ssl_io::NpyError::Io { path, action, source } => AnalysisError::File { path, problem: format!("cannot {action}: {source}") },
            ssl_io::NpyError::Format { path, problem } => AnalysisError::File { path, problem },
        }
    }
}
