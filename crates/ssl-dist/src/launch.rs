//! Where a process learns its place in a job: the environment that torchrun (`RANK`,
//! `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, `TORCHELASTIC_USE_AGENT_STORE`),
//! Python's `env://`, a Kubernetes PyTorchJob (the same four without `LOCAL_RANK`) or SLURM
//! (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, with `MASTER_ADDR`/`MASTER_PORT` exported by
//! the batch script) give it. Nothing set: one process, no group.

use std::sync::Arc;
use std::time::Duration;

use crate::error::DistError;
use crate::group::{Backend, ProcessGroup};
use crate::store::Store;

/// Who started the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launcher {
    /// torchrun (`python -m torch.distributed.run`): `TORCHELASTIC_*` is set.
    Torchrun,
    /// `RANK`/`WORLD_SIZE` set by someone else: `cargo xtask train --nproc`, a PyTorchJob, a script.
    Env,
    /// `srun`: `SLURM_PROCID`/`SLURM_NTASKS`.
    Slurm,
}

/// This process's place in a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Global rank.
    pub rank: usize,
    /// Rank on this machine (the CUDA device index).
    pub local_rank: usize,
    /// Processes in the job.
    pub world_size: usize,
    /// The store's host.
    pub master_addr: String,
    /// The store's port (0 with a world of 1: any free port).
    pub master_port: u16,
    /// torchrun's agent hosts the store: every rank, rank 0 included, connects as a client.
    pub agent_store: bool,
    /// Who started it.
    pub launcher: Launcher,
    /// torchrun's restart count (keys of a restarted job do not meet stale ones).
    pub restart: usize,
}

impl Launch {
    /// The launch in this process's environment; `None` when nothing says there is a job.
    pub fn from_env() -> Result<Option<Launch>, DistError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// The launch described by `var` (a variable's value, `None` when unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>, DistError> {
        let (rank_var, world_var, local_var, launcher) = if var("WORLD_SIZE").is_some() {
            let torchrun = var("TORCHELASTIC_RUN_ID").is_some() || var("TORCHELASTIC_USE_AGENT_STORE").is_some();
            ("RANK", "WORLD_SIZE", "LOCAL_RANK", if torchrun { Launcher::Torchrun } else { Launcher::Env })
        } else if var("RANK").is_some() {
            return Err(launch("WORLD_SIZE", String::new(), "set together with RANK (the number of processes in the job)"));
        } else if var("SLURM_PROCID").is_some() && var("SLURM_NTASKS").is_some() && var("MASTER_ADDR").is_some() {
            ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", Launcher::Slurm)
        } else {
            return Ok(None);
        };
        let world_size = number(&var, world_var)?.ok_or_else(|| launch(world_var, String::new(), "the number of processes"))?;
        if world_size == 0 {
            return Err(launch(world_var, "0".into(), "at least 1 process"));
        }
        let rank = number(&var, rank_var)?.ok_or_else(|| launch(rank_var, String::new(), format!("this process's rank, below {world_var}={world_size}")))?;
        if rank >= world_size {
            return Err(launch(rank_var, rank.to_string(), format!("a rank below {world_var}={world_size}")));
        }
        let local_rank = number(&var, local_var)?.unwrap_or(0);
        let (master_addr, master_port) = match (var("MASTER_ADDR"), var("MASTER_PORT")) {
            (Some(addr), Some(port)) => {
                let p = port.trim().parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| launch("MASTER_PORT", port.clone(), "a TCP port, 1..=65535"))?;
                if addr.trim().is_empty() {
                    return Err(launch("MASTER_ADDR", addr, "the host of rank 0 (or of torchrun's store)"));
                }
                (addr.trim().to_string(), p)
            }
            (None, _) | (_, None) if world_size == 1 => ("127.0.0.1".to_string(), 0),
            (None, _) => return Err(launch("MASTER_ADDR", String::new(), "the host of rank 0 (or of torchrun's store), for a job of several processes")),
            (Some(_), None) => return Err(launch("MASTER_PORT", String::new(), "the store's TCP port, for a job of several processes")),
        };
        let agent_store = var("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let restart = number(&var, "TORCHELASTIC_RESTART_COUNT")?.unwrap_or(0);
        Ok(Some(Launch { rank, local_rank, world_size, master_addr, master_port, agent_store, launcher, restart }))
    }

    /// Connects to the job's TCP store (hosting it on rank 0 unless torchrun's agent does) and
    /// joins its process group. `device` is the CUDA device for NCCL (usually `local_rank`).
    pub fn connect(&self, backend: Backend, device: usize, timeout: Duration) -> Result<ProcessGroup, DistError> {
        let host_it = self.rank == 0 && !self.agent_store;
        let prefix = format!("ssl-train/{}/", self.restart);
        let store = Store::tcp(&self.master_addr, self.master_port, self.rank, self.world_size, host_it, self.agent_store, timeout, &prefix)?;
        let store = Arc::new(store);
        match backend {
            Backend::Gloo => ProcessGroup::gloo(store, self.rank, self.world_size, timeout),
            Backend::Nccl => ProcessGroup::nccl(store, self.rank, self.world_size, device, timeout),
        }
    }
}

fn number(var: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<usize>, DistError> {
    match var(name) {
        None => Ok(None),
        Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| launch(name, v.clone(), "a whole number >= 0")),
    }
}

fn launch(var: &'static str, value: String, expected: impl Into<String>) -> DistError {
    DistError::Launch { var, value, expected: expected.into() }
}
