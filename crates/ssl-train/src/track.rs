//! Weight and representation tracking, as DirectCLR's figures follow training (Jing et al. 2022,
//! Fig. 3–5; seed 000): every `track.every_steps` steps, the singular values of chosen weight
//! matrices (by their variable names, e.g. `projector.0.weight`; a convolution's kernel is read
//! as `out × (in·kh·kw)`) and the covariance eigenvalues of the backbone's embeddings of the first
//! `track.images` test images (eval mode, the eval view), logged as [`TrackLine`]s in
//! `metrics.jsonl`. At the end of a run, [`plot_tracks`] draws each trajectory — log σ against
//! step, one line per index — as `track-<name>.svg/png`.
//!
//! ```toml
//! [track]
//! every_steps = 50
//! weights = ["projector.0.weight", "projector.1.weight"]
//! embedding = true
//! images = 512
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::plot::trajectory_plot;
use ssl_analysis::spectrum::covariance_eigenvalues;
use ssl_data::pipeline::Pipeline;
use ssl_data::{Dataset, InMemoryDataset};
use tch::{Device, Kind};

use crate::network::{embed, Network};
use crate::run::{MetricLine, TrackLine};

/// What to track and how often (off unless `every_steps` > 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    /// Measure every N steps (0 = never) and before the first step.
    #[serde(default)]
    pub every_steps: usize,
    /// Variable names of the weight matrices whose singular values are tracked.
    #[serde(default)]
    pub weights: Vec<String>,
    /// Track the covariance spectrum of the backbone's embeddings of `images` test images.
    #[serde(default)]
    pub embedding: bool,
    /// Test images embedded for the spectrum (default 512).
    #[serde(default = "default_images")]
    pub images: usize,
}

fn default_images() -> usize {
    512
}

impl TrackConfig {
    /// Checks ranges (the weight names are checked against the network by [`Tracker::new`]).
    pub fn check(&self) -> Result<()> {
        if self.every_steps > 0 && self.weights.is_empty() && !self.embedding {
            bail!("track.every_steps = {}: nothing to track; give track.weights = [\"name\", ...] or track.embedding = true", self.every_steps);
        }
        if self.embedding && self.images < 2 {
            bail!("track.images = {}: expected at least 2 images for a covariance spectrum", self.images);
        }
        Ok(())
    }
}

/// Measures what a run's `[track]` asks for.
pub struct Tracker {
    every: usize,
    weights: Vec<String>,
    images: Option<InMemoryDataset>,
    view: Pipeline,
    batch: usize,
}

/// The names of a network's weight matrices (variables of two or more dimensions), sorted.
pub fn weight_names(net: &Network) -> Vec<String> {
    let mut names: Vec<String> = net.vs.variables().into_iter().filter(|(_, t)| t.dim() >= 2).map(|(n, _)| n).collect();
    names.sort();
    names
}

/// Checks that every `track.weights` name is a weight matrix of `net`; the error lists the
/// network's weight matrices.
pub fn check_weight_names(t: &TrackConfig, net: &Network) -> Result<()> {
    let names = weight_names(net);
    if let Some(bad) = t.weights.iter().find(|w| !names.contains(w)) {
        let heads = names.iter().filter(|n| !n.starts_with("backbone."));
        let shown: Vec<&str> = heads.chain(names.iter().filter(|n| n.starts_with("backbone.")).take(6)).map(String::as_str).collect();
        bail!("track.weights: `{bad}` is not a weight matrix of this network; its weights include {} ({} in all)", shown.join(", "), names.len());
    }
    Ok(())
}

impl Tracker {
    /// A tracker for `net`, or `None` when tracking is off; an unknown weight name is an error
    /// that lists the network's weight matrices.
    pub fn new(cfg: &crate::config::Config, net: &Network, test: &InMemoryDataset) -> Result<Option<Tracker>> {
        let t = &cfg.track;
        if t.every_steps == 0 {
            return Ok(None);
        }
        check_weight_names(t, net)?;
        let images = if t.embedding {
            let n = t.images.min(test.len());
            if n < 2 {
                bail!("track.embedding: the test set has {} images; at least 2 are needed", test.len());
            }
            Some(test.subset(&(0..n).collect::<Vec<_>>())?)
        } else {
            None
        };
        Ok(Some(Tracker { every: t.every_steps, weights: t.weights.clone(), images, view: cfg.views.eval_view().clone(), batch: cfg.eval.batch_size }))
    }

    /// Whether `step` (steps done) is a tracking step.
    pub fn due(&self, step: usize) -> bool {
        step.is_multiple_of(self.every)
    }

    /// Measures the network now.
    pub fn measure(&self, net: &Network, device: Device, epoch: usize, step: usize) -> Result<TrackLine> {
        let vars = net.vs.variables();
        let mut weights = BTreeMap::new();
        for name in &self.weights {
            let w = vars.get(name).expect("checked by Tracker::new");
            weights.insert(name.clone(), singular_values(w));
        }
        let embedding = match &self.images {
            Some(ds) => Some(covariance_eigenvalues(embed(&net.backbone, ds, &self.view, self.batch, device)?.view())?),
            None => None,
        };
        Ok(TrackLine { epoch, step, weights, embedding })
    }
}

/// Singular values of a weight read as a matrix `out × (everything else)`, descending.
pub fn singular_values(w: &tch::Tensor) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let m = w.detach().to_kind(Kind::Double).flatten(1, -1);
    let (_, s, _) = m.svd(true, false);
    Vec::<f64>::try_from(s.to_device(Device::Cpu)).expect("a double vector converts")
}

/// Draws `track-<name>.svg` and `.png` for every tracked weight and the embedding spectrum found
/// in `lines`, into `dir`; returns the files written.
pub fn plot_tracks(dir: &Path, lines: &[MetricLine]) -> Result<Vec<std::path::PathBuf>> {
    let tracks: Vec<&TrackLine> = lines.iter().filter_map(|l| if let MetricLine::Track(t) = l { Some(t) } else { None }).collect();
    let mut written = Vec::new();
    if tracks.is_empty() {
        return Ok(written);
    }
    let steps: Vec<f64> = tracks.iter().map(|t| t.step as f64).collect();
    let mut series: Vec<(String, String, Vec<Vec<f64>>)> = Vec::new();
    for name in tracks[0].weights.keys() {
        let values = tracks.iter().map(|t| t.weights.get(name).cloned().unwrap_or_default()).collect();
        series.push((format!("track-{}", name.replace('.', "-")), format!("singular values of {name}"), values));
    }
    if tracks[0].embedding.is_some() {
        series.push((
            "track-embedding".into(),
            "embedding covariance eigenvalues".into(),
            tracks.iter().map(|t| t.embedding.clone().unwrap_or_default()).collect(),
        ));
    }
    for (stem, title, values) in series {
        let y = if stem == "track-embedding" { "log10 eigenvalue" } else { "log10 singular value" };
        for ext in ["svg", "png"] {
            let dest = dir.join(format!("{stem}.{ext}"));
            ssl_io::write_atomic(&dest, |tmp| trajectory_plot(tmp, &title, y, &steps, &values).map_err(anyhow::Error::from))
                .map_err(crate::run::atomic_error)?;
            written.push(dest);
        }
    }
    Ok(written)
}
