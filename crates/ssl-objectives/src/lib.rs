//! # ssl-objectives
//!
//! Self-supervised objectives on `tch` tensors. Every objective implements [`Objective`]: the
//! embeddings of k views of B images come in as one `[k, B, d]` tensor (views-major, as
//! `ssl-data` lays out batches), a scalar loss plus named parts come out, so a runner can log
//! every part without knowing the method.
//!
//! * [`ntxent`]: NT-Xent / InfoNCE for 2 or k views (SimCLR, Chen et al. 2020, seed 001).
//!
//! ```no_run
//! use ssl_objectives::{NtXent, Objective};
//! use tch::{Device, Kind, Tensor};
//!
//! let z = Tensor::randn([2, 256, 128], (Kind::Float, Device::Cpu)); // 2 views of 256 images
//! let out = NtXent::new(0.2).unwrap().compute(&z).unwrap();
//! out.loss.backward();
//! for (name, value) in &out.parts { println!("{name} = {value}"); }
//! ```

pub mod error;
pub mod ntxent;
pub mod objective;

pub use error::ObjectiveError;
pub use ntxent::NtXent;
pub use objective::{check_views, LossOutput, Objective};
