//! The in-training monitor: after every N epochs, a cheap look at the backbone's representation
//! on fixed subsets, so collapse shows up while training and not only at the end.
//!
//! It embeds the first `queries` test images and the first `bank` training images (eval mode),
//! logs the spectrum's participation ratio, α, RankMe and collapsed dimensions of the query
//! embeddings, and a kNN accuracy on that small bank (lower than the final 60k-bank figure;
//! the metrics line records the sizes).

use anyhow::Result;
use ssl_analysis::knn::{knn_accuracy, KnnConfig};
use ssl_analysis::report::{EmbeddingReport, ReportOptions};
use ssl_data::pipeline::Pipeline;
use ssl_data::InMemoryDataset;
use tch::Device;

use crate::config::Config;
use crate::network::{embed, Network};
use crate::run::MonitorLine;

/// The fixed subsets the monitor looks at.
pub struct Monitor {
    bank: InMemoryDataset,
    queries: InMemoryDataset,
    view: Pipeline,
    knn: KnnConfig,
    batch: usize,
}

impl Monitor {
    /// Takes the first `cfg.monitor.bank` train and `cfg.monitor.queries` test images.
    pub fn new(cfg: &Config, train: &InMemoryDataset, test: &InMemoryDataset) -> Result<Monitor> {
        let first = |n: usize, ds: &InMemoryDataset| ds.subset(&(0..n.min(ssl_data::Dataset::len(ds))).collect::<Vec<_>>());
        Ok(Monitor {
            bank: first(cfg.monitor.bank, train)?,
            queries: first(cfg.monitor.queries, test)?,
            view: cfg.views.eval_view().clone(),
            knn: KnnConfig { k: cfg.eval.knn_k.min(cfg.monitor.bank.max(1)), temperature: cfg.eval.knn_temperature },
            batch: cfg.eval.batch_size,
        })
    }

    /// Measures the network now.
    pub fn measure(&self, net: &Network, device: Device, epoch: usize, step: usize) -> Result<MonitorLine> {
        let started = std::time::Instant::now();
        let q = embed(&net.backbone, &self.queries, &self.view, self.batch, device)?;
        let b = embed(&net.backbone, &self.bank, &self.view, self.batch, device)?;
        let labels = |ds: &InMemoryDataset| ds.labels().unwrap_or_default().to_vec();
        let acc = knn_accuracy(b.view(), &labels(&self.bank), q.view(), &labels(&self.queries), self.knn)?;
        let r = EmbeddingReport::compute(q.view(), ReportOptions::default())?;
        let s = &r.spectrum;
        Ok(MonitorLine {
            epoch,
            step,
            knn_accuracy: acc,
            knn_bank: ssl_data::Dataset::len(&self.bank),
            knn_queries: ssl_data::Dataset::len(&self.queries),
            knn_k: self.knn.k,
            participation_ratio: s.participation_ratio,
            alpha: s.alpha,
            alpha_r2: s.alpha_r2,
            rankme: s.rankme,
            collapsed_dims: r.collapsed_dims,
            collapse_threshold: r.collapse_threshold,
            dim: s.dim,
            eigenvalues: s.covariance_eigenvalues.clone(),
            seconds: Some(started.elapsed().as_secs_f64()),
        })
    }
}
