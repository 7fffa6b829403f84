//! Batch normalisation that can take its batch statistics over every replica of a data-parallel
//! job (synchronised BN: SimCLR's "global BN", Chen et al. 2020 §B.2 / appendix B.5): the
//! layers of [`crate::ResNet`] and [`crate::Mlp`].
//!
//! Without a [`CrossReplica`] (or outside training) it is libtorch's own batch norm. With one,
//! in training, each replica's per-channel mean and biased variance over its own batch are
//! gathered (a differentiable all-gather), combined into the global batch's statistics,
//!
//! ```text
//! μ = Σ_r n_r μ_r / N,   σ² = Σ_r n_r (σ²_r + (μ_r − μ)²) / N,   N = Σ_r n_r,
//! ```
//!
//! and every replica normalises with them; the running statistics are updated as PyTorch's
//! `SyncBatchNorm` does (the unbiased σ²·N/(N−1)). The gradient flows through the gather, so
//! the result is the batch norm of the concatenated global batch.

use std::sync::Arc;

use tch::nn::{self, Init, ModuleT};
use tch::{Kind, Tensor};

/// A view of the other replicas of a data-parallel job.
pub trait CrossReplica: Send + Sync {
    /// Every replica's `t` (`[n, ...]`) concatenated along dim 0 in replica order, with the
    /// gradient of each replica's slice the sum over replicas of the gradients reaching it.
    fn all_gather(&self, t: &Tensor) -> Tensor;
}

/// A shared handle to the replicas.
pub type ReplicaSync = Arc<dyn CrossReplica>;

/// Batch norm over `[N, C, ...]` (1-D or 2-D), optionally synchronised across replicas.
pub struct BatchNorm {
    inner: nn::BatchNorm,
    eps: f64,
    momentum: f64,
    sync: Option<ReplicaSync>,
}

impl std::fmt::Debug for BatchNorm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchNorm").field("inner", &self.inner).field("synchronised", &self.sync.is_some()).finish()
    }
}

impl BatchNorm {
    /// A 2-D batch norm (`[N, C, H, W]`) with weight `weight` and bias 0 (torchvision's init;
    /// tch's default weight is uniform).
    pub fn new2d(p: &nn::Path, channels: i64, weight: f64) -> BatchNorm {
        let cfg = nn::BatchNormConfig { ws_init: Init::Const(weight), bs_init: Init::Const(0.0), ..Default::default() };
        let (eps, momentum) = (cfg.eps, cfg.momentum);
        BatchNorm { inner: nn::batch_norm2d(p, channels, cfg), eps, momentum, sync: None }
    }

    /// A 1-D batch norm (`[N, C]`), weight 1 and bias 0.
    pub fn new1d(p: &nn::Path, channels: i64) -> BatchNorm {
        let cfg = nn::BatchNormConfig { ws_init: Init::Const(1.0), bs_init: Init::Const(0.0), ..Default::default() };
        let (eps, momentum) = (cfg.eps, cfg.momentum);
        BatchNorm { inner: nn::batch_norm1d(p, channels, cfg), eps, momentum, sync: None }
    }

    /// Synchronises the training statistics across `sync`'s replicas (None: this process's
    /// batch only).
    pub fn set_sync(&mut self, sync: Option<ReplicaSync>) {
        self.sync = sync;
    }

    /// Eval mode as one affine map per channel, `y = x·scale + shift` with the running
    /// statistics: scale = γ / √(σ² + ε), shift = β − μ·scale (no gradient).
    pub fn eval_affine(&self) -> (Tensor, Tensor) {
        tch::no_grad(|| {
            let invstd = (&self.inner.running_var + self.eps).rsqrt();
            let scale = match &self.inner.ws {
                Some(w) => w * &invstd,
                None => invstd,
            };
            let shift = -&self.inner.running_mean * &scale;
            let shift = match &self.inner.bs {
                Some(b) => shift + b,
                None => shift,
            };
            (scale, shift)
        })
    }

    fn synchronised(&self, x: &Tensor, sync: &dyn CrossReplica) -> Tensor {
        let size = x.size();
        let c = size[1];
        let dims: Vec<i64> = (0..size.len() as i64).filter(|&d| d != 1).collect();
        let n = (x.numel() as i64 / c) as f64;
        // One pass for both statistics (Welford, as libtorch's batch norm), in float: on the CPU
        // libtorch accumulates in double, which costs this non-fused layer a copy of the input
        // for 14% of the throughput (docs/distributed.md).
        let (var, mean) = x.to_kind(Kind::Float).var_mean_correction(dims.as_slice(), 0, false);
        let count = Tensor::full([1], n, (Kind::Float, x.device()));
        let stats = Tensor::cat(&[mean, var, count], 0).unsqueeze(0);
        let all = sync.all_gather(&stats);
        let (means, vars, counts) = (all.narrow(1, 0, c), all.narrow(1, c, c), all.narrow(1, 2 * c, 1).detach());
        let total = counts.sum(Kind::Float);
        let mean_g = (&means * &counts).sum_dim_intlist(0, false, Kind::Float) / &total;
        let spread = (&means - mean_g.unsqueeze(0)).square();
        let var_g = ((&vars + spread) * &counts).sum_dim_intlist(0, false, Kind::Float) / &total;
        let mut shape = vec![1i64; size.len()];
        shape[1] = c;
        // y = (x − μ)·γ/σ + β as one scale and one shift per channel: two passes over the input.
        let invstd = (&var_g + self.eps).rsqrt();
        let (scale, shift) = match (&self.inner.ws, &self.inner.bs) {
            (Some(w), Some(b)) => {
                let scale = w * &invstd;
                let shift = b - &mean_g * &scale;
                (scale, shift)
            }
            _ => (invstd.shallow_clone(), -&mean_g * &invstd),
        };
        let y = x * scale.to_kind(x.kind()).view(shape.as_slice()) + shift.to_kind(x.kind()).view(shape.as_slice());
        tch::no_grad(|| {
            let m = self.momentum;
            let n_all = total.double_value(&[]);
            let unbiased = &var_g * (n_all / (n_all - 1.0).max(1.0));
            let mut rm = self.inner.running_mean.shallow_clone();
            let mut rv = self.inner.running_var.shallow_clone();
            rm.copy_(&(&rm * (1.0 - m) + mean_g.detach() * m));
            rv.copy_(&(&rv * (1.0 - m) + unbiased.detach() * m));
        });
        y
    }
}

impl ModuleT for BatchNorm {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match (&self.sync, train) {
            (Some(sync), true) => self.synchronised(x, sync.as_ref()),
            _ => self.inner.forward_t(x, train),
        }
    }
}
