//! The errors of this crate: each names the rank (or the launch variable) it concerns.

/// What went wrong in setting up or running a distributed job.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// A launch variable is missing, unparsable or out of range.
    #[error("{var}={value}: {expected}")]
    Launch {
        /// The environment variable.
        var: &'static str,
        /// Its value as found ("" when unset).
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A store or process-group call failed (timeout, a peer that died, an unreachable master).
    #[error("rank {rank}/{world}: {op} failed: {message}")]
    Collective {
        /// This process's rank.
        rank: usize,
        /// The world size.
        world: usize,
        /// The operation (`connect to the store at 10.0.0.1:29500`, `all_reduce`, ...).
        op: String,
        /// libtorch's message.
        message: String,
    },
    /// The ranks disagree on something that must be identical (e.g. the resolved config).
    #[error("rank {rank}/{world}: {what}")]
    Mismatch {
        /// This process's rank.
        rank: usize,
        /// The world size.
        world: usize,
        /// What differs, and where.
        what: String,
    },
    /// NCCL was asked for in a build without it.
    #[error("{0}")]
    Unsupported(String),
}
