//! Data-parallel training as DistributedDataParallel users know it, over [`ssl_dist`]: the
//! process's place in the job (torchrun, `env://`, SLURM or `train --nproc`), identical initial
//! weights (rank 0's, broadcast), a check that every rank resolved the same config, global
//! losses through a differentiable all-gather of the projections, gradients averaged before the
//! optimiser step, and synchronised batch norm.
//!
//! Why the gradients are exact: every rank computes the same global loss L from the gathered
//! projections; the gather's backward sums over ranks, so rank r's parameters receive
//! W·∂L/∂θ|_r (its own samples' share, W times), and the mean over ranks is Σ_r ∂L/∂θ|_r =
//! ∂L/∂θ, the single-process gradient of the whole batch. Per-sample losses (BYOL, SimSiam) are
//! local means whose average over equal parts is the global mean.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use ssl_dist::{Backend, DistError, Launch, ProcessGroup};
use ssl_models::CrossReplica;
use tch::{nn, Device, Tensor};

/// This process's part in a data-parallel job.
pub struct Parallel {
    group: ProcessGroup,
    /// The CUDA device of this process (`LOCAL_RANK`).
    local_rank: usize,
}

impl Parallel {
    /// Joins the job `launch` describes: the store, then the `backend` group (NCCL on
    /// `cuda:LOCAL_RANK`). Every collective fails with a message after `timeout`.
    pub fn connect(launch: Launch, backend: Backend, timeout: Duration) -> Result<Arc<Parallel>> {
        let group = launch.connect(backend, launch.local_rank, timeout)?;
        Ok(Arc::new(Parallel { group, local_rank: launch.local_rank }))
    }

    /// Global rank.
    pub fn rank(&self) -> usize {
        self.group.rank()
    }

    /// Rank on this machine (the CUDA device).
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// Processes in the job.
    pub fn world_size(&self) -> usize {
        self.group.world_size()
    }

    /// Rank 0 writes the run folder.
    pub fn is_main(&self) -> bool {
        self.rank() == 0
    }

    /// `gloo` | `nccl`.
    pub fn backend(&self) -> &'static str {
        self.group.backend().name()
    }

    /// The tensor the collectives run on: NCCL needs CUDA, Gloo takes CPU tensors.
    fn on_wire(&self, t: &Tensor) -> Tensor {
        match self.group.backend() {
            Backend::Gloo => t.to_device(Device::Cpu),
            Backend::Nccl => t.shallow_clone(),
        }
    }

    /// Fails on every rank unless every rank holds the same `text` (the resolved config).
    pub fn check_identical(&self, what: &str, text: &str) -> Result<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let mine = h.finish() as i64;
        let all = self.group.all_gather(&self.on_wire(&Tensor::from_slice(&[mine])))?;
        let hashes: Vec<i64> = Vec::<i64>::try_from(&all)?;
        let differ: Vec<usize> = hashes.iter().enumerate().filter(|(_, &x)| x != hashes[0]).map(|(r, _)| r).collect();
        if !differ.is_empty() {
            return Err(DistError::Mismatch {
                rank: self.rank(),
                world: self.world_size(),
                what: format!(
                    "{what} differs between ranks: rank(s) {differ:?} resolved another one than rank 0 (same recipe, --config file and --set on every rank?)"
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Overwrites every variable of `vs` (parameters and buffers: batch-norm statistics) with
    /// rank 0's.
    pub fn broadcast_weights(&self, vs: &nn::VarStore) -> Result<()> {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let tensors: Vec<Tensor> = vars.into_iter().map(|(_, t)| t).collect();
        self.with_wire(&tensors, |wire| Ok(self.group.broadcast_tensors(wire, 0)?))
    }

    /// Averages the gradients of `vs`'s trainable variables over the ranks (in flat buckets).
    pub fn average_gradients(&self, vs: &nn::VarStore) -> Result<()> {
        let grads: Vec<Tensor> = vs.trainable_variables().iter().map(Tensor::grad).filter(Tensor::defined).collect();
        self.with_wire(&grads, |wire| Ok(self.group.all_reduce_mean(wire)?))
    }

    /// Runs `op` on `tensors` (copied to the CPU and back for Gloo when they live on a GPU).
    fn with_wire(&self, tensors: &[Tensor], op: impl FnOnce(&[Tensor]) -> Result<()>) -> Result<()> {
        let on_device = tensors.first().is_some_and(|t| t.device() != Device::Cpu) && self.group.backend() == Backend::Gloo;
        if !on_device {
            return op(tensors);
        }
        let wire: Vec<Tensor> = tensors.iter().map(|t| t.to_device(Device::Cpu)).collect();
        op(&wire)?;
        tch::no_grad(|| {
            for (t, w) in tensors.iter().zip(&wire) {
                t.shallow_clone().copy_(w);
            }
        });
        Ok(())
    }

    /// The sum of `x` over the ranks.
    pub fn sum(&self, x: f64) -> Result<f64> {
        let mut t = self.on_wire(&Tensor::from_slice(&[x]));
        self.group.all_reduce_sum(&mut t)?;
        Ok(t.double_value(&[0]))
    }

    /// The global batch's `[k, W·b, d]` from this rank's `[k, b, d]` (rank order, as the
    /// single-process batch), differentiable.
    pub fn gather_samples(&self, z: &Tensor) -> Result<Tensor> {
        // One gather of [b, k, d] along the samples.
        let by_sample = z.transpose(0, 1).contiguous();
        let all = self.group.all_gather(&self.on_wire(&by_sample))?.to_device(z.device());
        Ok(all.transpose(0, 1))
    }

    /// Time spent in collectives so far (see [`ProcessGroup::communication_time`]).
    pub fn communication_time(&self) -> Duration {
        self.group.communication_time()
    }

    /// Waits for every rank.
    pub fn barrier(&self) -> Result<()> {
        Ok(self.group.barrier()?)
    }

    /// The handle synchronised batch norm gathers statistics through.
    pub fn replica_sync(self: &Arc<Self>) -> ssl_models::ReplicaSync {
        Arc::new(BatchStats(self.clone()))
    }

    /// Refuses a `batch` that does not split into equal parts over the ranks.
    pub fn check_batch(&self, batch: usize) -> Result<()> {
        if !batch.is_multiple_of(self.world_size()) {
            bail!(
                "training.batch_size = {batch} over {} processes: the global batch must be a multiple of the number of processes (each takes an equal part)",
                self.world_size()
            );
        }
        Ok(())
    }
}

/// Synchronised batch norm's view of the job.
struct BatchStats(Arc<Parallel>);

impl CrossReplica for BatchStats {
    fn all_gather(&self, t: &Tensor) -> Tensor {
        let wire = self.0.on_wire(t);
        match self.0.group.all_gather(&wire) {
            Ok(all) => all.to_device(t.device()).to_kind(t.kind()),
            // A forward pass cannot return an error: stop this rank with the message.
            Err(e) => panic!("synchronised batch norm: {e}"),
        }
    }
}

impl std::fmt::Debug for Parallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel").field("rank", &self.rank()).field("world_size", &self.world_size()).field("backend", &self.backend()).finish()
    }
}
