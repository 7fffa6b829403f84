//! What the view studies read from a trained run: the frozen representation's kNN and linear
//! (ridge) accuracy on a labelled subset, and the InfoNCE estimate the training reached.

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::knn::knn_accuracy;
use ssl_analysis::probe::linear_probe_accuracy;
use ssl_data::{Dataset, Split};

use crate::config::Config;
use crate::dataset::load_split;
use crate::evaluate::RIDGE_LAMBDA;
use crate::network::{embed, Network};
use crate::run::{read_metrics, MetricLine};

/// Accuracy of the frozen representation (eval transform, eval mode).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Readout {
    /// Weighted cosine kNN (the run's `eval.knn_k`, `eval.knn_temperature`).
    pub knn: f64,
    /// Ridge classifier on standardised features, λ = [`RIDGE_LAMBDA`].
    pub linear: f64,
    /// Training images in the kNN bank and the probe's training set.
    pub bank: usize,
    /// Test images classified.
    pub queries: usize,
}

/// The readout of `net` on the first `bank` training and `queries` test images of `cfg`'s data.
pub fn readout(cfg: &Config, net: &Network, bank: usize, queries: usize) -> Result<Readout> {
    let train = load_split(cfg, Split::Train, bank)?;
    let test = load_split(cfg, Split::Test, queries)?;
    let (Some(train_labels), Some(test_labels)) = (train.labels(), test.labels()) else {
        bail!("the study's readout needs labelled images; {} has none", cfg.data.dataset);
    };
    let device = net.vs.device();
    let view = cfg.views.eval_view();
    let tr = embed(&net.backbone, &train, view, cfg.eval.batch_size, device)?;
    let te = embed(&net.backbone, &test, view, cfg.eval.batch_size, device)?;
    Ok(Readout {
        knn: knn_accuracy(tr.view(), train_labels, te.view(), test_labels, cfg.eval.knn())?,
        linear: linear_probe_accuracy(tr.view(), train_labels, te.view(), test_labels, RIDGE_LAMBDA)?,
        bank: train.len(),
        queries: test.len(),
    })
}

/// The InfoNCE estimate I_NCE = ln K − L (nats) the objective logged as `mi_lower_bound`,
/// averaged over the logged steps of the run's last epoch.
pub fn final_i_nce(run: &Path) -> Result<f64> {
    let lines = read_metrics(&run.join("metrics.jsonl"))?;
    let steps: Vec<(usize, f64)> = lines
        .iter()
        .filter_map(|l| match l {
            MetricLine::Step(s) => s.parts.get("mi_lower_bound").map(|&v| (s.epoch, v)),
            _ => None,
        })
        .collect();
    let Some(&(last, _)) = steps.last() else { bail!("{}: no step logged mi_lower_bound (a contrastive objective logs it)", run.display()) };
    let values: Vec<f64> = steps.iter().filter(|(e, _)| *e == last).map(|&(_, v)| v).collect();
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// The budget every run of a view-study part shares.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewStudyBudget {
    /// Training epochs.
    pub epochs: usize,
    /// Training images (0: the dataset's default).
    pub train_limit: usize,
    /// Training images in the readout's kNN bank and probe.
    pub bank: usize,
    /// Test images read out.
    pub queries: usize,
    /// Where Fashion-MNIST lives (`None`: the recipe's `data/fashion-mnist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<std::path::PathBuf>,
    /// Seed of every run (`None`: the recipe's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl ViewStudyBudget {
    /// The recipe overrides that give a run this budget.
    pub fn overrides(&self) -> Vec<String> {
        let mut sets =
            vec![format!("training.epochs={}", self.epochs), format!("data.train_limit={}", self.train_limit), format!("data.test_limit={}", self.queries)];
        if let Some(root) = &self.data_root {
            sets.push(format!("data.root=\"{}\"", root.display()));
        }
        if let Some(seed) = self.seed {
            sets.push(format!("seed={seed}"));
        }
        sets
    }
}

/// One trained run of a view study, read out.
pub struct ReadRun {
    /// The frozen representation's accuracies.
    pub readout: Readout,
    /// [`final_i_nce`] of the run.
    pub i_nce: f64,
    /// ln K of that estimate (K = 2B − 1 candidates per anchor for two views).
    pub ln_k: f64,
    /// Training wall time in seconds.
    pub train_seconds: f64,
}

/// Trains `cfg` into `DIR/runs/<name>` (no final evaluation: the readout replaces it), then
/// reads the frozen representation out on `budget`'s bank and queries.
pub fn train_and_read(
    out: &super::StudyOutput,
    cfg: &Config,
    name: &str,
    command: String,
    budget: &ViewStudyBudget,
    (device, threads): (ssl_models::DeviceChoice, Option<usize>),
) -> Result<ReadRun> {
    let opts = crate::trainer::RunOptions {
        device,
        threads,
        runs_root: out.dir().join("runs"),
        name: Some(name.into()),
        command,
        skip_eval: true,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let trained = crate::trainer::train(cfg, &opts)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let (cfg, net) = crate::run::load_network(&trained.dir, device)?;
    Ok(ReadRun {
        readout: readout(&cfg, &net, budget.bank, budget.queries)?,
        i_nce: final_i_nce(&trained.dir)?,
        ln_k: ((cfg.views.count * cfg.training.batch_size - 1) as f64 / (cfg.views.count - 1) as f64).ln(),
        train_seconds,
    })
}
