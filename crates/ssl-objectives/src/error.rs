//! Errors an objective reports instead of producing NaN or panicking.

/// An objective cannot be computed on the given input or configuration.
#[derive(Debug, thiserror::Error)]
pub enum ObjectiveError {
    /// The views tensor has the wrong rank or sizes.
    #[error("views: {0}")]
    Shape(String),
    /// A hyper-parameter is out of range.
    #[error("invalid parameter `{name}`: {problem}")]
    Param {
        /// The parameter.
        name: &'static str,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
