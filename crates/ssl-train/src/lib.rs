//! # ssl-train
//!
//! The one place that joins the crates: a recipe (TOML) → dataset → views → encoder →
//! objective → optimiser step → run folder with metrics, checkpoint, embeddings and diagnosis.
//!
//! A run writes `runs/<name>/`:
//!
//! | file | content |
//! |---|---|
//! | `config.toml` | the resolved config (recipe + overrides) |
//! | `run.json` | seed, git revision, torch version, device, command line, wall time |
//! | `metrics.jsonl` | one JSON line per logged step (`"kind": "step"`), per epoch (`"kind": "epoch"`) and per monitor pass (`"kind": "monitor"`: PR, α, RankMe, collapsed dims, small-bank kNN) |
//! | `checkpoint.safetensors`, `checkpoint.json` | the weights (backbone and projector, torchvision names), rewritten atomically every `checkpoint.every_epochs`, on Ctrl-C and at the end; the JSON says at which epoch/step and whether training finished |
//! | `embeddings.npy`, `labels.npy` | test-set backbone embeddings (f32, n × d) and labels (int64) |
//! | `report.json` | spectrum keys of `ssl_analysis::report` plus the kNN accuracies |
//! | `spectrum.png` | log eigenvalue against rank, trained and initial encoder |
//!
//! ```no_run
//! use ssl_train::config::{Config, Source};
//! let cfg = Config::load(&Source::Recipe("simclr-fmnist".into()), &["optimizer.epochs=1".into()])?;
//! let run = ssl_train::train::train(&cfg, &ssl_train::train::RunOptions::default())?;
//! println!("kNN accuracy {:.4}", run.knn_trained);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod compare;
pub mod config;
pub mod data;
pub mod doctor;
pub mod evaluate;
pub mod export;
pub mod model;
pub mod monitor;
pub mod preview;
pub mod protocols;
pub mod run_dir;
pub mod train;
