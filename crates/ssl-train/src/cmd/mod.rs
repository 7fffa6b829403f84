//! The commands of `ssl-train` (reached through `cargo xtask <command>`), one file each; `train`
//! itself is [`crate::trainer::train`].

pub mod bench;
pub mod compare;
pub mod doctor;
pub mod eval;
pub mod export;
pub mod launch;
pub mod recipes;
pub mod views;
