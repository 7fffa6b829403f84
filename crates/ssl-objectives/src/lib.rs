//! # ssl-objectives
//!
//! Self-supervised objectives on `tch` tensors, each computing exactly what its paper's reference
//! code computes, with the conventions pinned (see `docs/methods.md`). Every view-based objective
//! implements [`Objective`]: the embeddings of k views of B images come in as one `[k, B, d]`
//! tensor (views-major, as `ssl-data` lays out batches), a scalar loss plus named parts come out,
//! so a runner can log every part without knowing the method.
//!
//! | objective | paper | parts |
//! |---|---|---|
//! | [`NtXent`] | SimCLR (Chen et al. 2020), k views | `alignment`, `uniformity` |
//! | [`DirectClr`] | DirectCLR (Jing et al. 2022); cross-view InfoNCE without `d0` | `mi_lower_bound` |
//! | [`MarginContrastive`] | Hadsell et al. 2006 | `positive` |
//! | [`BarlowTwins`] | Zbontar et al. 2021 | `on_diagonal`, `off_diagonal` |
//! | [`Vicreg`] | Bardes et al. 2022 | `invariance`, `variance`, `covariance` |
//! | [`Mmcr`], [`MmcrMomentum`] | Yerxa et al. 2023 | `global_nuclear_norm`, `local_nuclear_norm` |
//! | [`PredictorLoss`] | BYOL (Grill et al. 2020), SimSiam (Chen & He 2021) | `mean_cosine` |
//!
//! Inputs in fp16/bf16 are computed in fp32; f64 stays f64 (the gradient checks run in f64).
//! Bad shapes and parameters are [`ObjectiveError`]s, never panics or NaN.
//!
//! ```no_run
//! use ssl_objectives::{Mmcr, NtXent, Objective};
//! use tch::{Device, Kind, Tensor};
//!
//! let z = Tensor::randn([2, 256, 128], (Kind::Float, Device::Cpu)); // 2 views of 256 images
//! let out = NtXent::new(0.2).unwrap().compute(&z).unwrap();
//! out.loss.backward();
//! for (name, value) in &out.parts { println!("{name} = {value}"); }
//! let views = Tensor::randn([40, 32, 128], (Kind::Float, Device::Cpu)); // MMCR: 40 views of 32 images
//! let mmcr = Mmcr::default().compute(&views).unwrap();
//! ```

pub mod barlow;
pub mod byol;
pub mod directclr;
pub mod error;
pub mod margin;
pub mod mmcr;
pub mod ntxent;
pub mod objective;
pub mod util;
pub mod vicreg;

pub use barlow::BarlowTwins;
pub use byol::{PredictorLoss, PredictorLossKind};
pub use directclr::{mutual_information_lower_bound, DirectClr};
pub use error::ObjectiveError;
pub use margin::MarginContrastive;
pub use mmcr::{nuclear_norm, Mmcr, MmcrMomentum, NuclearNormPath};
pub use ntxent::NtXent;
pub use objective::{check_positive, check_two_views, check_views, LossOutput, Objective};
pub use vicreg::Vicreg;
