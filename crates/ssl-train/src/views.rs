//! The run's views, in one language: `ssl_data::pipeline` ops. Training views are one pipeline
//! per view (cycled over the k views: SimCLR's symmetric pair is one pipeline, BYOL's asymmetric
//! pair two); the evaluation transform (the whole image, normalised — and any deterministic
//! op a recipe needs) is a pipeline of its own, used by the final evaluation, the monitor,
//! export and every probe. The named recipes of the papers are `ssl_data::pipeline::{simclr,
//! byol, mmcr}`.
//!
//! ```toml
//! [views]
//! count = 2
//! [[views.train]]
//! ops = [
//!   { op = "random_resized_crop", size = 28, scale = [0.3, 1.0] },
//!   { op = "horizontal_flip", p = 0.5 },
//!   { op = "color_jitter", brightness = 0.4, contrast = 0.4, p = 0.8 },
//!   { op = "normalize", mean = [0.286], std = [0.353] },
//! ]
//! [views.eval]
//! ops = [{ op = "normalize", mean = [0.286], std = [0.353] }]
//! ```

use std::sync::Arc;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ssl_data::pipeline::{Op, Pipeline};
use ssl_data::toy::ToyFactor;
use ssl_data::{PerView, Shape, ViewTransform};

/// The views of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsConfig {
    /// Views per image (k).
    pub count: usize,
    /// Training view pipelines, one per view, cycled over the k views.
    pub train: Vec<Pipeline>,
    /// The evaluation transform: deterministic ops only (no crop, flip or random op).
    pub eval: Pipeline,
    /// Toy dataset only (InMemory §3.1): the factors the views of a sample share (`["object"]`,
    /// `["position", "background"]`, …; the others are redrawn to differ). View 0 is the sample,
    /// each further view a fresh rendering per epoch; the training pipelines apply on top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<Vec<ToyFactor>>,
    /// Toy dataset with `shared` and a `model.split`, InfoMin's own setting: v1 is the sample's
    /// `frames` past frames and v2 the frame sharing `shared` with the sample's, one image of
    /// `3·(frames + 1)` channels (`model.in_channels`) split by the encoder (e.g. frames = 3:
    /// `groups = [[0, …, 8], [9, 10, 11]]`). Evaluation reads each sample's past frames and its
    /// own frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<usize>,
}

impl ViewsConfig {
    /// Checks what does not depend on the images: at least one training pipeline, each op's
    /// parameters, and an evaluation pipeline without randomness.
    pub fn check(&self) -> Result<()> {
        if self.train.is_empty() {
            bail!("views.train: give at least one pipeline ([[views.train]] ops = [...])");
        }
        for (i, p) in self.train.iter().enumerate() {
            p.validate().map_err(|e| anyhow::anyhow!("views.train[{i}]: {e}"))?;
        }
        self.eval.validate().map_err(|e| anyhow::anyhow!("views.eval: {e}"))?;
        for (i, op) in self.eval.ops.iter().enumerate() {
            if !matches!(op, Op::Normalize { .. } | Op::ColorSpace { .. } | Op::Sobel) {
                bail!("views.eval.ops[{i}]: the evaluation transform must be deterministic (normalize, color_space, sobel); found {op:?}");
            }
        }
        Ok(())
    }

    /// Checks the pipelines against the images' shape: every training pipeline must run on it
    /// and give one shape with `in_channels` channels, and the evaluation pipeline one with
    /// `eval_channels` (the same, except for a split with a shared encoder: one group's width).
    pub fn check_shape(&self, input: Shape, in_channels: i64, eval_channels: i64) -> Result<()> {
        for (i, p) in self.train.iter().enumerate() {
            let s = p.checked_shape(input).map_err(|e| anyhow::anyhow!("views.train[{i}]: {e}"))?;
            if s.channels as i64 != in_channels {
                bail!("views.train[{i}] gives {}x{}x{} views; the model expects model.in_channels = {in_channels}", s.channels, s.height, s.width);
            }
        }
        self.per_view().check(input).map_err(|e| anyhow::anyhow!("views.train: {e}"))?;
        let s = self.eval.checked_shape(input).map_err(|e| anyhow::anyhow!("views.eval: {e}"))?;
        if s.channels as i64 != eval_channels {
            let expects = if eval_channels == in_channels {
                format!("model.in_channels = {in_channels}")
            } else {
                format!("{eval_channels} (the width of one group of model.split, whose shared encoder takes the evaluation images)")
            };
            bail!("views.eval gives {}-channel images; the model expects {expects}", s.channels);
        }
        Ok(())
    }

    /// The training view transform: the pipeline, or the pipelines cycled over the views.
    pub fn train_view(&self) -> Arc<dyn ViewTransform> {
        match self.train.as_slice() {
            [one] => Arc::new(one.clone()),
            _ => Arc::new(self.per_view()),
        }
    }

    /// The training pipelines cycled over the views.
    fn per_view(&self) -> PerView {
        PerView { transforms: self.train.iter().map(|p| Arc::new(p.clone()) as Arc<dyn ViewTransform>).collect() }
    }

    /// The evaluation transform.
    pub fn eval_view(&self) -> &Pipeline {
        &self.eval
    }

    /// The supervised training view of the probes: the first training pipeline's crop and flip
    /// (no colour changes), then the evaluation transform.
    pub fn supervised_view(&self) -> Pipeline {
        let mut ops: Vec<Op> = self.train[0].ops.iter().filter(|op| matches!(op, Op::RandomResizedCrop { .. } | Op::HorizontalFlip { .. })).cloned().collect();
        ops.extend(self.eval.ops.iter().cloned());
        Pipeline { ops }
    }

    /// The mean and std of the last `normalize` of the evaluation transform (for showing views).
    pub fn eval_normalization(&self) -> Option<(&[f32], &[f32])> {
        self.eval.ops.iter().rev().find_map(|op| match op {
            Op::Normalize { mean, std } => Some((mean.as_slice(), std.as_slice())),
            _ => None,
        })
    }
}
