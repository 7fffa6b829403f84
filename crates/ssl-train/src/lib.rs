//! # ssl-train
//!
//! The one place that joins the crates: a recipe (TOML) → dataset → views → encoder →
//! objective → optimiser step → run folder with metrics, checkpoint, embeddings and diagnosis.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the recipe: parsed into [`config::RunConfig`], checked once into [`config::Config`] |
//! | [`recipes`] | the shipped recipes |
//! | [`dataset`], [`views`], [`network`], [`objective`] | the parts a recipe names, each with its config type |
//! | [`trainer`] | the [`trainer::Trainer`]: new / resume, step, end_epoch, finish |
//! | [`probe`], [`monitor`], [`evaluate`] | the online probe, the per-epoch collapse watch, the final evaluation |
//! | [`run`] | the run folder and every file in it, typed |
//! | [`cmd`] | one module per command of the CLI (`train` is [`trainer::train`]) |
//!
//! ```no_run
//! use ssl_train::config::{Config, Source};
//! let cfg = Config::load(&Source::Recipe("simclr-fmnist".into()), &["training.epochs=1".into()])?;
//! let run = ssl_train::trainer::train(&cfg, &ssl_train::trainer::RunOptions::default())?;
//! println!("kNN accuracy {:.4}", run.knn_trained);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod baselines;
pub mod cmd;
pub mod config;
pub mod dataset;
pub mod evaluate;
pub mod input;
pub mod monitor;
pub mod network;
pub mod objective;
pub mod parallel;
pub mod probe;
pub mod recipes;
pub mod run;
pub mod study;
pub mod track;
pub mod trainer;
pub mod views;
