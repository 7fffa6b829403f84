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
