//! The in-training monitor: after every N epochs, a cheap look at the backbone's representation
//! on fixed subsets, so collapse shows up while training and not only at the end.
//!
//! It embeds the first `queries` test images and the first `bank` training images (eval mode),
//! logs the spectrum's participation ratio, α, RankMe and collapsed dimensions of the query
//! embeddings, and a kNN accuracy on that small bank (lower than the final 60k-bank figure;
//! the metrics line records the sizes).

use anyhow::Result;
use serde_json::{json, Value};
use ssl_analysis::knn::{knn_accuracy, KnnConfig};
use ssl_analysis::report::{SpectrumOptions, SpectrumReport};
use ssl_data::{InMemoryDataset, PlainView};
use tch::Device;

use crate::config::Config;
use crate::model::{embed, Network};

/// Relative threshold below which an eigenvalue counts as a collapsed dimension.
pub const COLLAPSE_THRESHOLD: f64 = 1e-5;

/// Number of eigenvalues at or below `threshold` × the largest one (descending input).
pub fn collapsed_dims(eigenvalues: &[f64], threshold: f64) -> usize {
    let top = eigenvalues.first().copied().unwrap_or(0.0);
    eigenvalues.iter().filter(|&&v| v <= threshold * top).count()
}

/// The fixed subsets the monitor looks at.
pub struct Monitor {
    bank: InMemoryDataset,
    queries: InMemoryDataset,
    view: PlainView,
    knn: KnnConfig,
    batch: usize,
}

impl Monitor {
    /// Takes the first `cfg.monitor.bank` train and `cfg.monitor.queries` test images.
    pub fn new(cfg: &Config, train: &InMemoryDataset, test: &InMemoryDataset) -> Result<Monitor> {
        let first = |n: usize, ds: &InMemoryDataset| ds.subset(&(0..n.min(ssl_data::Dataset::len(ds))).collect::<Vec<_>>());
        let sv = cfg.view();
        Ok(Monitor {
            bank: first(cfg.monitor.bank, train)?,
            queries: first(cfg.monitor.queries, test)?,
            view: PlainView { mean: sv.mean, std: sv.std },
            knn: KnnConfig { k: cfg.eval.knn_k.min(cfg.monitor.bank.max(1)), temperature: cfg.eval.knn_temperature },
            batch: cfg.eval.batch_size,
        })
    }

    /// Measures the network now; returns the metrics line (`"kind": "monitor"`).
    pub fn measure(&self, net: &Network, device: Device, epoch: usize, step: usize) -> Result<Value> {
        let q = embed(&net.backbone, &self.queries, &self.view, self.batch, device)?;
        let b = embed(&net.backbone, &self.bank, &self.view, self.batch, device)?;
        let labels = |ds: &InMemoryDataset| ds.labels().unwrap_or_default().to_vec();
        let acc = knn_accuracy(b.view(), &labels(&self.bank), q.view(), &labels(&self.queries), self.knn)?;
        let s = SpectrumReport::compute(q.view(), SpectrumOptions::default())?;
        let collapsed = collapsed_dims(&s.covariance_eigenvalues, COLLAPSE_THRESHOLD);
        Ok(json!({
            "kind": "monitor", "epoch": epoch, "step": step,
            "knn_accuracy": acc, "knn_bank": self.bank_len(), "knn_queries": self.queries_len(), "knn_k": self.knn.k,
            "participation_ratio": s.participation_ratio, "alpha": s.alpha, "alpha_r2": s.alpha_r2, "rankme": s.rankme,
            "collapsed_dims": collapsed, "collapse_threshold": COLLAPSE_THRESHOLD, "dim": s.dim,
        }))
    }

    /// One line for the terminal from a metrics line made by [`Monitor::measure`].
    pub fn describe(&self, line: &Value) -> String {
        let f = |k: &str| line[k].as_f64().unwrap_or(f64::NAN);
        format!(
            "epoch {}: kNN {:.4} (bank {}, queries {}), PR {:.2}, alpha {:.3}, RankMe {:.1}, collapsed dims {}/{}",
            line["epoch"], f("knn_accuracy"), line["knn_bank"], line["knn_queries"], f("participation_ratio"), f("alpha"),
            f("rankme"), line["collapsed_dims"], line["dim"]
        )
    }

    fn bank_len(&self) -> usize {
        ssl_data::Dataset::len(&self.bank)
    }

    fn queries_len(&self) -> usize {
        ssl_data::Dataset::len(&self.queries)
    }
}
