//! Projector and predictor heads: an MLP of n linear layers with optional BatchNorm and ReLU
//! between them (SimCLR v1: 2 layers; v2: 3 layers; Barlow Twins: 3 × 8192; MMCR 2048→512→128).

use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

use crate::norm::{BatchNorm, ReplicaSync};

use crate::error::{ModelError, Result};

/// Shape of an MLP head.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Layer widths including input and output: `[in, hidden…, out]` (at least 2 entries).
    pub dims: Vec<i64>,
    /// BatchNorm after each hidden linear layer.
    #[serde(default)]
    pub batch_norm: bool,
    /// A bias in the output layer (torch's default; MMCR's and Barlow Twins' official heads
    /// have none).
    #[serde(default = "yes")]
    pub output_bias: bool,
}

fn yes() -> bool {
    true
}

impl MlpConfig {
    /// SimCLR v1's head: Linear → ReLU → Linear, no BatchNorm.
    pub fn simclr_v1(input: i64, hidden: i64, output: i64) -> Self {
        MlpConfig { dims: vec![input, hidden, output], batch_norm: false, output_bias: true }
    }

    /// SimCLR v2's 3-layer head with BatchNorm (Chen et al. 2020b): in → hidden → hidden → out.
    pub fn simclr_v2(input: i64, hidden: i64, output: i64) -> Self {
        MlpConfig { dims: vec![input, hidden, hidden, output], batch_norm: true, output_bias: true }
    }

    /// A single linear layer (the DirectCLR paper's linear-projector ablation).
    pub fn linear(input: i64, output: i64) -> Self {
        MlpConfig { dims: vec![input, output], batch_norm: false, output_bias: true }
    }

    /// Barlow Twins' projector: three linear layers of `width` (8192 in the paper), BN + ReLU
    /// between them.
    pub fn barlow(input: i64, width: i64) -> Self {
        MlpConfig { dims: vec![input, width, width, width], batch_norm: true, output_bias: true }
    }

    /// MMCR's projector (CIFAR): in → 512 → 128 with BN (seed 003).
    pub fn mmcr(input: i64) -> Self {
        MlpConfig { dims: vec![input, 512, 128], batch_norm: true, output_bias: true }
    }

    /// BYOL's / SimSiam's predictor: d → hidden → d with BN (BYOL: 4096 hidden; CIFAR 512…4096).
    pub fn predictor(dim: i64, hidden: i64) -> Self {
        MlpConfig { dims: vec![dim, hidden, dim], batch_norm: true, output_bias: true }
    }

    /// Number of linear layers.
    pub fn layers(&self) -> usize {
        self.dims.len().saturating_sub(1)
    }

    /// Checks the shape; the message names the field.
    pub fn validate(&self) -> Result<()> {
        if self.dims.len() < 2 {
            return Err(ModelError::HeadTooShallow { dims: self.dims.clone() });
        }
        if let Some(&width) = self.dims.iter().find(|&&d| d < 1) {
            return Err(ModelError::HeadWidth { dims: self.dims.clone(), width });
        }
        Ok(())
    }
}

/// An MLP: Linear (→ BN) → ReLU … → Linear. Variables are named like a torch `Sequential`
/// (`0.weight`, `1.weight` for BN, …).
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<(nn::Linear, Option<BatchNorm>)>,
}

/// torch.nn.Linear's default init: weight and bias uniform in ±1/√fan_in.
fn linear(p: &nn::Path, i: i64, o: i64, bias: bool) -> nn::Linear {
    let bound = 1.0 / (i as f64).sqrt();
    let u = Init::Uniform { lo: -bound, up: bound };
    nn::linear(p, i, o, nn::LinearConfig { ws_init: u, bs_init: bias.then_some(u), bias })
}

impl Mlp {
    /// Builds the head's variables under `p`.
    pub fn new(p: &nn::Path, cfg: &MlpConfig) -> Self {
        let n = cfg.dims.len().saturating_sub(1);
        let mut layers = Vec::with_capacity(n);
        let mut idx = 0;
        for (l, w) in cfg.dims.windows(2).enumerate() {
            let hidden = l + 1 < n;
            let bias = if hidden { !cfg.batch_norm } else { cfg.output_bias };
            let lin = linear(&(p / idx.to_string()), w[0], w[1], bias);
            idx += 1;
            let norm = (hidden && cfg.batch_norm).then(|| {
                let bn = BatchNorm::new1d(&(p / idx.to_string()), w[1]);
                idx += 1;
                bn
            });
            if hidden {
                idx += 1; // the ReLU's slot in a torch Sequential
            }
            layers.push((lin, norm));
        }
        Mlp { layers }
    }
}

impl Mlp {
    /// Synchronises the hidden batch norms' training statistics across `sync`'s replicas.
    pub fn set_sync(&mut self, sync: Option<ReplicaSync>) {
        for n in self.layers.iter_mut().filter_map(|(_, n)| n.as_mut()) {
            n.set_sync(sync.clone());
        }
    }

    /// The output after the first `layers` linear layers (with their BN and ReLU; the last layer
    /// has none): `forward_upto(x, 0)` is `x`, `forward_upto(x, n)` the whole head. SimCLR v2
    /// fine-tunes from the first head layer: `forward_upto(h, 1)`.
    pub fn forward_upto(&self, x: &Tensor, layers: usize, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, (lin, norm)) in self.layers.iter().enumerate().take(layers) {
            h = h.apply(lin);
            if let Some(bn) = norm {
                h = h.apply_t(bn, train);
            }
            if i < last {
                h = h.relu();
            }
        }
        h
    }

    /// Number of linear layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }
}

impl ModuleT for Mlp {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, (lin, norm)) in self.layers.iter().enumerate() {
            h = h.apply(lin);
            if let Some(bn) = norm {
                h = h.apply_t(bn, train);
            }
            if i < last {
                h = h.relu();
            }
        }
        h
    }
}
