//! The two reference points of every final evaluation — the kNN accuracy and spectrum of the same
//! encoder at initialisation, and the kNN accuracy of raw pixels — cached, because they depend on
//! the data, the architecture and the seed, not on training.
//!
//! They are computed once and stored as JSON in `<runs root>/.cache/eval-baselines/<key>.json`.
//! The key is a hash of everything they depend on: the training and test images and labels
//! (their bytes), the model config, the seed, the evaluation view, the kNN parameters, the memory
//! format the encoder runs in, and libtorch's version. Change any of them and the key changes;
//! delete the folder to recompute. Each file also states its inputs in words.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::knn::{knn_accuracy, KnnConfig};
use ssl_analysis::report::{SpectrumOptions, SpectrumReport};
use ssl_data::{Dataset, InMemoryDataset};
use ssl_io::progress::Progress;
use ssl_models::MemoryFormat;
use tch::Device;

use crate::config::Config;
use crate::network::{embed_shown, raw_pixels, Network};
use crate::run::InitSpectrum;

/// Bumped when what is cached, or how it is computed, changes.
const CACHE_VERSION: u32 = 1;

/// The encoder at initialisation and raw pixels, as the final evaluation reports them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    /// kNN accuracy of the encoder at initialisation.
    pub knn_init: f64,
    /// kNN accuracy of raw pixels.
    pub knn_pixels: f64,
    /// Pixel dimension.
    pub pixel_dim: usize,
    /// Spectral numbers of the test embeddings at initialisation.
    pub init: InitSpectrum,
    /// Their covariance eigenvalues (the plot's second curve).
    pub init_eigenvalues: Vec<f64>,
}

/// A cache file: the inputs in words, then the numbers.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    inputs: String,
    baselines: Baselines,
}

/// Where the baselines of `cfg` on these sets live under `runs_root`, and the inputs in words.
pub fn cache_file(runs_root: &Path, cfg: &Config, train: &InMemoryDataset, test: &InMemoryDataset, format: MemoryFormat) -> Result<(PathBuf, String)> {
    let inputs = format!(
        "dataset {} (train {} images, test {}), model {}, seed {}, eval view {}, kNN {}, memory format {}, torch {}, cache version {}",
        serde_json::to_string(&cfg.data.dataset)?,
        train.len(),
        test.len(),
        serde_json::to_string(&cfg.model)?,
        cfg.seed,
        serde_json::to_string(cfg.views.eval_view())?,
        serde_json::to_string(&cfg.eval.knn())?,
        format,
        crate::run::torch_version(),
        CACHE_VERSION
    );
    let mut h = DefaultHasher::new();
    inputs.hash(&mut h);
    for ds in [train, test] {
        for i in 0..ds.len() {
            ds.image(i).data.hash(&mut h);
            ds.label(i).hash(&mut h);
        }
    }
    Ok((runs_root.join(".cache/eval-baselines").join(format!("{:016x}.json", h.finish())), inputs))
}

/// The baselines from the cache file `path` (from [`cache_file`], with its `inputs`) when it
/// holds them, else computed (`init` on `device`) and stored there; the flag says whether they
/// came from the cache. A cache that cannot be read or written is only a warning: the numbers
/// are computed.
pub fn baselines(
    cfg: &Config,
    init: &Network,
    (train, test): (&InMemoryDataset, &InMemoryDataset),
    device: Device,
    (path, inputs): (&Path, &str),
    progress: &Progress,
) -> Result<(Baselines, bool)> {
    if path.is_file() {
        match std::fs::read_to_string(path).map_err(anyhow::Error::from).and_then(|t| Ok(serde_json::from_str::<CacheFile>(&t)?)) {
            Ok(file) => return Ok((file.baselines, true)),
            Err(e) => eprintln!("warning: {} is not a readable baseline cache ({e}); recomputing it", path.display()),
        }
    }
    let b = compute(cfg, init, train, test, device, progress)?;
    let text = serde_json::to_string_pretty(&CacheFile { inputs: inputs.to_string(), baselines: b.clone() })?;
    let stored = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .context("cannot make the cache folder")
        .and_then(|()| ssl_io::write_atomic(path, |tmp| std::fs::write(tmp, &text)).map_err(|e| anyhow::anyhow!("{e}")));
    if let Err(e) = stored {
        eprintln!("warning: cannot store the evaluation baselines in {}: {e:#}", path.display());
    }
    Ok((b, false))
}

fn compute(cfg: &Config, init: &Network, train: &InMemoryDataset, test: &InMemoryDataset, device: Device, progress: &Progress) -> Result<Baselines> {
    let (view, knn, bs) = (cfg.views.eval_view(), cfg.eval.knn(), cfg.eval.batch_size);
    let train_labels = train.labels().unwrap_or_default();
    let test_labels = test.labels().unwrap_or_default();
    let tr0 = embed_shown(&init.backbone, train, view, bs, device, (progress, "final evaluation: the encoder at initialisation, training images"))?;
    let te0 = embed_shown(&init.backbone, test, view, bs, device, (progress, "final evaluation: the encoder at initialisation, test images"))?;
    progress.stage("final evaluation: kNN at initialisation and on raw pixels", 0);
    let knn_init = knn_of(&tr0, train_labels, &te0, test_labels, knn)?;
    drop(tr0);
    let (ptr, pte) = (raw_pixels(train), raw_pixels(test));
    let knn_pixels = knn_of(&ptr, train_labels, &pte, test_labels, knn)?;
    let spectrum0 = SpectrumReport::compute(te0.view(), SpectrumOptions::default())?;
    Ok(Baselines {
        knn_init,
        knn_pixels,
        pixel_dim: pte.ncols(),
        init: InitSpectrum {
            participation_ratio: spectrum0.participation_ratio,
            alpha: spectrum0.alpha,
            alpha_r2: spectrum0.alpha_r2,
            rankme: spectrum0.rankme,
        },
        init_eigenvalues: spectrum0.covariance_eigenvalues,
    })
}

fn knn_of(bank: &ndarray::Array2<f32>, bank_labels: &[u32], queries: &ndarray::Array2<f32>, query_labels: &[u32], knn: KnnConfig) -> Result<f64> {
    Ok(knn_accuracy(bank.view(), bank_labels, queries.view(), query_labels, knn)?)
}
