//! A process group (Gloo on CPU tensors, NCCL on CUDA tensors) and the collectives of
//! data-parallel training: broadcast, summed and averaged all-reduce in flat buckets, an
//! all-gather that carries gradients, and a barrier.

use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tch::Tensor;

use crate::error::DistError;
use crate::ffi;
use crate::store::{collective, millis, Store};

/// The communication library of a process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Gloo: CPU tensors.
    Gloo,
    /// NCCL: CUDA tensors, one device per process.
    Nccl,
}

impl Backend {
    /// `gloo` | `nccl`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gloo => "gloo",
            Backend::Nccl => "nccl",
        }
    }
}

/// Whether this build carries the NCCL process group (`--features nccl`).
pub fn has_nccl() -> bool {
    // SAFETY: a constant query.
    unsafe { ffi::ssl_dist_has_nccl() }
}

/// Bytes per all-reduce bucket (DDP's default is 25 MiB).
pub const BUCKET_BYTES: usize = 25 << 20;

/// `world` processes that run the same collectives in the same order.
pub struct ProcessGroup {
    raw: *mut ffi::SslGroup,
    // The store outlives the group.
    _store: Arc<Store>,
    rank: usize,
    world: usize,
    backend: Backend,
    // Collectives are issued one at a time.
    lock: Mutex<()>,
}

// SAFETY: every call into the group goes through `lock`; c10d backends may be used from any
// thread.
unsafe impl Send for ProcessGroup {}
unsafe impl Sync for ProcessGroup {}

impl ProcessGroup {
    /// Joins the Gloo group of `world` processes meeting through `store`, as `rank`. Collectives
    /// that do not complete within `timeout` fail with an error instead of hanging.
    pub fn gloo(store: Arc<Store>, rank: usize, world: usize, timeout: Duration) -> Result<ProcessGroup, DistError> {
        Self::join(store, rank, world, Backend::Gloo, 0, timeout)
    }

    /// Joins the NCCL group on `cuda:device` (a build with `--features nccl`).
    pub fn nccl(store: Arc<Store>, rank: usize, world: usize, device: usize, timeout: Duration) -> Result<ProcessGroup, DistError> {
        Self::join(store, rank, world, Backend::Nccl, device, timeout)
    }

    fn join(store: Arc<Store>, rank: usize, world: usize, backend: Backend, device: usize, timeout: Duration) -> Result<ProcessGroup, DistError> {
        if world == 0 || rank >= world {
            return Err(DistError::Launch { var: "RANK", value: rank.to_string(), expected: format!("a rank below the world size {world}") });
        }
        if backend == Backend::Nccl && !has_nccl() {
            return Err(DistError::Unsupported("the nccl backend: this build has no NCCL (build with `--features nccl` after `cargo xtask setup`)".into()));
        }
        let mut raw = ptr::null_mut();
        // SAFETY: a live store and an out-pointer; the shim catches C++ exceptions.
        let err = unsafe {
            match backend {
                Backend::Gloo => ffi::ssl_dist_gloo(store.raw, rank as i32, world as i32, millis(timeout), &mut raw),
                Backend::Nccl => ffi::ssl_dist_nccl(store.raw, rank as i32, world as i32, device as i32, millis(timeout), &mut raw),
            }
        };
        ffi::check(err).map_err(|m| collective(rank, world, format!("create the {} process group", backend.name()), m))?;
        Ok(ProcessGroup { raw, _store: store, rank, world, backend, lock: Mutex::new(()) })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes.
    pub fn world_size(&self) -> usize {
        self.world
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn call(&self, op: &str, f: impl FnOnce() -> *mut std::os::raw::c_char) -> Result<(), DistError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        ffi::check(f()).map_err(|m| collective(self.rank, self.world, op.to_string(), m))
    }

    /// Overwrites `t` on every rank with rank `root`'s `t`.
    pub fn broadcast(&self, t: &mut Tensor, root: usize) -> Result<(), DistError> {
        // SAFETY: a live group and tensor.
        self.call("broadcast", || unsafe { ffi::ssl_dist_broadcast(self.raw, t.as_mut_ptr(), root as i32) })
    }

    /// Replaces `t` by its sum over the ranks (no gradient).
    pub fn all_reduce_sum(&self, t: &mut Tensor) -> Result<(), DistError> {
        // SAFETY: a live group and tensor.
        self.call("all_reduce", || unsafe { ffi::ssl_dist_all_reduce_sum(self.raw, t.as_mut_ptr()) })
    }

    /// Every rank's `t` concatenated along dim 0 in rank order (`[world·n, ...]` from `[n, ...]`).
    /// Differentiable: the gradient of each rank's slice is the sum over ranks of the gradients
    /// that reach it (as PyTorch's autograd all-gather; every rank must gather in the same order), so a loss
    /// computed identically on every rank from the gathered tensor gets, after the gradients are
    /// averaged over ranks, exactly the gradient of the single-process loss.
    pub fn all_gather(&self, t: &Tensor) -> Result<Tensor, DistError> {
        let mut out = ptr::null_mut();
        let mut input = t.shallow_clone();
        // SAFETY: a live group and tensor; the shim hands back a new `at::Tensor*` that tch owns.
        self.call("all_gather", || unsafe { ffi::ssl_dist_all_gather(self.raw, input.as_mut_ptr(), &mut out) })?;
        // SAFETY: `out` is a fresh heap `at::Tensor` from the shim.
        Ok(unsafe { Tensor::from_ptr(out) })
    }

    /// Time this process has spent in the group's collectives so far (issuing them and waiting
    /// for the other ranks; the all-gathers' backward passes included).
    pub fn communication_time(&self) -> Duration {
        // SAFETY: a live group; an atomic read.
        Duration::from_nanos(unsafe { ffi::ssl_dist_comm_nanos(self.raw) })
    }

    /// Waits until every rank reaches this point.
    pub fn barrier(&self) -> Result<(), DistError> {
        // SAFETY: a live group.
        self.call("barrier", || unsafe { ffi::ssl_dist_barrier(self.raw) })
    }

    /// Overwrites `tensors` on every rank with rank `root`'s, in flat buckets (one per kind).
    pub fn broadcast_tensors(&self, tensors: &[Tensor], root: usize) -> Result<(), DistError> {
        self.bucketed(tensors, |flat| self.broadcast(flat, root))
    }

    /// Replaces every tensor by its mean over the ranks (integers: rounded down), in flat buckets of at most
    /// [`BUCKET_BYTES`] (no gradient; in place, so `.grad()` handles update the real gradients).
    pub fn all_reduce_mean(&self, tensors: &[Tensor]) -> Result<(), DistError> {
        let world = self.world as f64;
        self.bucketed(tensors, |flat| {
            self.all_reduce_sum(flat)?;
            if flat.is_floating_point() {
                let _ = flat.g_div_scalar_(world);
            } else {
                let mean = flat.floor_divide_scalar(world as i64);
                flat.copy_(&mean);
            }
            Ok(())
        })
    }

    /// Runs `op` on flat copies of `tensors` (grouped by kind and device, at most
    /// [`BUCKET_BYTES`] each) and copies the results back.
    fn bucketed(&self, tensors: &[Tensor], mut op: impl FnMut(&mut Tensor) -> Result<(), DistError>) -> Result<(), DistError> {
        tch::no_grad(|| {
            let mut start = 0;
            while start < tensors.len() {
                let (kind, device) = (tensors[start].kind(), tensors[start].device());
                let mut end = start;
                let mut bytes = 0;
                while end < tensors.len()
                    && tensors[end].kind() == kind
                    && tensors[end].device() == device
                    && (end == start || bytes + byte_size(&tensors[end]) <= BUCKET_BYTES)
                {
                    bytes += byte_size(&tensors[end]);
                    end += 1;
                }
                let part = &tensors[start..end];
                let flats: Vec<Tensor> = part.iter().map(|t| t.reshape([-1])).collect();
                let mut flat = Tensor::cat(&flats, 0);
                op(&mut flat)?;
                let mut offset = 0;
                for t in part {
                    let n = t.numel() as i64;
                    let mut dst = t.shallow_clone();
                    dst.copy_(&flat.narrow(0, offset, n).view_as(t));
                    offset += n;
                }
                start = end;
            }
            Ok(())
        })
    }
}

fn byte_size(t: &Tensor) -> usize {
    t.numel() * t.kind().elt_size_in_bytes()
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: `raw` came from the shim and is freed once.
        unsafe { ffi::ssl_dist_group_free(self.raw) };
    }
}
