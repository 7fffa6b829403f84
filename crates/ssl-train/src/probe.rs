//! solo-learn's online linear probe: a linear classifier on detached backbone features, trained
//! alongside the encoder (SGD, lr 0.1, momentum 0.9); its running accuracy is logged. A
//! diagnostic, not part of the model: it is not checkpointed and restarts on resume.

use anyhow::Result;
use ssl_models::{Optimizer, OptimizerConfig, OptimizerKind};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// The online probe.
pub struct OnlineProbe {
    vs: nn::VarStore,
    linear: nn::Linear,
    opt: Optimizer,
    correct: usize,
    seen: usize,
}

impl OnlineProbe {
    /// A probe from `dim` features to `classes`, its weights drawn from `seed`.
    pub fn new(dim: i64, classes: i64, device: Device, seed: u64) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let linear = ssl_models::seeded(seed, || nn::linear(vs.root() / "probe", dim, classes, Default::default()));
        let opt = Optimizer::new(&vs, OptimizerConfig::new(OptimizerKind::Sgd))?;
        Ok(OnlineProbe { vs, linear, opt, correct: 0, seen: 0 })
    }

    /// One SGD step on `feats` (detached) and their labels.
    pub fn step(&mut self, feats: &Tensor, labels: &[u32]) {
        let y = Tensor::from_slice(&labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>()).to_device(self.vs.device());
        let logits = self.linear.forward(&feats.to_kind(Kind::Float));
        let loss = logits.cross_entropy_for_logits(&y);
        self.opt.zero_grad();
        loss.backward();
        self.opt.step(0.1);
        self.correct += logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Int64).int64_value(&[]) as usize;
        self.seen += labels.len();
    }

    /// Accuracy since the last call.
    pub fn take_accuracy(&mut self) -> Option<f64> {
        let acc = (self.seen > 0).then(|| self.correct as f64 / self.seen as f64);
        self.correct = 0;
        self.seen = 0;
        acc
    }
}
