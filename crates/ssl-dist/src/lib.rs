//! # ssl-dist
//!
//! Data-parallel training over PyTorch's own distributed engine, c10d, which libtorch ships and
//! tch does not expose (tch-rs #936): a small C++ shim (`cpp/dist.cpp`, compiled by `build.rs`
//! against the pinned wheel) gives Rust
//! - [`Store`]: the TCP store (rank 0 or torchrun's agent hosts it) and the file store;
//! - [`ProcessGroup`]: Gloo (CPU) or NCCL (CUDA, `--features nccl`) with broadcast, all-reduce
//!   (sum, or mean in flat buckets as DDP does), an all-gather that carries gradients (a C++
//!   autograd function whose backward sums over ranks and waits for it), and a barrier;
//! - [`Launch`]: a process's rank and world from torchrun's, `env://`'s, a PyTorchJob's or
//!   SLURM's environment.
//!
//! Every failure (a timeout, a peer that died, an unreachable master, a bad variable) is a
//! [`DistError`] naming the rank or the variable; C++ exceptions never cross into Rust.
//!
//! ```no_run
//! use std::time::Duration;
//! use ssl_dist::{Backend, Launch};
//! if let Some(launch) = Launch::from_env()? {
//!     let group = launch.connect(Backend::Gloo, launch.local_rank, Duration::from_secs(300))?;
//!     let x = tch::Tensor::from_slice(&[group.rank() as f32]).set_requires_grad(true);
//!     let all = group.all_gather(&x)?; // [world], differentiable
//!     all.sum(tch::Kind::Float).backward(); // x.grad() = world (the sum over ranks)
//! }
//! # Ok::<(), ssl_dist::DistError>(())
//! ```
//!
//! The facts this rests on (headers, symbols, ABI, the traps) are in the workspace's
//! `docs/distributed.md`.

mod error;
mod ffi;
mod group;
mod launch;
mod store;

pub use error::DistError;
pub use group::{has_nccl, Backend, ProcessGroup, BUCKET_BYTES};
pub use launch::{Launch, Launcher};
pub use store::Store;
