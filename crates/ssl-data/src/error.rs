//! Typed errors: every one names the file or parameter and what was expected.

use std::path::PathBuf;

/// An error reading a dataset or building a view pipeline.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but its contents are not what the format requires.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected.
        problem: String,
    },
    /// A `.npy` file is not the array that was expected (from [`ssl_io::npy`]; the message names
    /// the file).
    #[error(transparent)]
    Npy(#[from] ssl_io::NpyError),
    /// Two files that belong together disagree (e.g. 60000 images but 59999 labels).
    #[error("{problem}")]
    Mismatch {
        /// What disagrees.
        problem: String,
    },
    /// A parameter is out of its valid range.
    #[error("invalid parameter `{name}`: {problem}")]
    Param {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong, and what was expected.
        problem: String,
    },
}

impl DataError {
    /// Shorthand for a [`DataError::Param`].
    pub fn param(name: &'static str, problem: impl Into<String>) -> Self {
        DataError::Param { name, problem: problem.into() }
    }
}
