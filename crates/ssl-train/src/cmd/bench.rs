//! `bench`: where a recipe's training time goes, on the device it would train on — images per
//! second of the data loader alone (views drawn on the CPU threads, nothing trained), of the
//! training step alone (one batch stepped again and again: copy to the device, forward,
//! backward, update), and of both together (the training loop itself, the loader preparing the
//! next batches while the step runs). A loop much slower than its step waits on data; one close
//! to its step is compute-bound. It trains the real `Trainer` in a temporary run folder that it
//! deletes, so every number is the runner's own path.
//!
//! ```text
//! cargo xtask bench --recipe simclr-fmnist --steps 20
//! ```

use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use ssl_models::DeviceChoice;

use crate::config::Config;
use crate::trainer::{RunOptions, Trainer};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The device (auto: CUDA when present).
    pub device: DeviceChoice,
    /// libtorch CPU threads.
    pub threads: Option<usize>,
    /// Timed batches per measurement.
    pub steps: usize,
    /// Untimed batches before each measurement.
    pub warmup: usize,
}

/// The three rates, in images (not views) per second.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The recipe's name.
    pub recipe: String,
    /// The device trained on.
    pub device: String,
    /// The CPU (from `/proc/cpuinfo`; "unknown" elsewhere).
    pub cpu: String,
    /// libtorch's CPU threads.
    pub threads: i32,
    /// The memory layout trained in (`training.memory_format` resolved).
    pub memory_format: String,
    /// The precision of the forward pass and loss.
    pub precision: String,
    /// Images per batch.
    pub batch_size: usize,
    /// Views per image the objective sees.
    pub views: usize,
    /// Timed batches per measurement.
    pub steps: usize,
    /// The loader alone.
    pub loader_images_per_s: f64,
    /// The step alone (one batch again and again).
    pub step_images_per_s: f64,
    /// The training loop (loader and step together).
    pub loop_images_per_s: f64,
}

impl BenchReport {
    /// The report as lines for a terminal.
    pub fn lines(&self) -> Vec<String> {
        let per_step = |ips: f64| 1000.0 * self.batch_size as f64 / ips;
        vec![
            format!(
                "{} on {} ({}, {} threads; {}, {}): batch {} x {} views, {} timed batches each",
                self.recipe, self.device, self.cpu, self.threads, self.memory_format, self.precision, self.batch_size, self.views, self.steps
            ),
            format!("  loader alone      {:>9.0} images/s  ({:.1} ms per batch)", self.loader_images_per_s, per_step(self.loader_images_per_s)),
            format!("  step alone        {:>9.0} images/s  ({:.1} ms per batch)", self.step_images_per_s, per_step(self.step_images_per_s)),
            format!(
                "  loader + step     {:>9.0} images/s  ({:.1} ms per batch; {:.0}% of the step alone)",
                self.loop_images_per_s,
                per_step(self.loop_images_per_s),
                100.0 * self.loop_images_per_s / self.step_images_per_s
            ),
        ]
    }
}

/// Measures `cfg`'s loader, step and loop (see the module page).
pub fn bench(cfg: &Config, opts: &BenchOptions) -> Result<BenchReport> {
    if opts.steps == 0 {
        bail!("--steps 0: expected at least 1 timed batch");
    }
    let tmp = tempfile::tempdir().context("cannot make a temporary run folder")?;
    let run = RunOptions {
        device: opts.device,
        threads: opts.threads,
        runs_root: tmp.path().to_path_buf(),
        name: Some("bench".into()),
        command: "ssl-train bench".into(),
        skip_eval: true,
        ..Default::default()
    };
    let mut trainer = Trainer::new(cfg, run)?;
    let per_epoch = trainer.total_steps() / cfg.training.epochs;
    let needed = 2 * (opts.warmup + opts.steps);
    if per_epoch < needed {
        bail!(
            "--steps {} --warmup {}: the loop is timed within one epoch after the step alone, so it needs {needed} batches; {} has {per_epoch} per epoch",
            opts.steps,
            opts.warmup,
            cfg.name
        );
    }
    let b = cfg.training.batch_size as f64;
    let rate = |batches: usize, since: Instant| batches as f64 * b / since.elapsed().as_secs_f64();

    // The loader alone: draw batches, train nothing.
    let loader_ips = {
        let mut batches = trainer.epoch_batches();
        for _ in 0..opts.warmup {
            let mut batch = batches.next().context("the epoch ended early")??;
            batches.recycle(std::mem::take(&mut batch.data));
        }
        let t = Instant::now();
        for _ in 0..opts.steps {
            let mut batch = batches.next().context("the epoch ended early")??;
            batches.recycle(std::mem::take(&mut batch.data));
        }
        rate(opts.steps, t)
    };
    // The step alone: one batch, stepped again and again.
    let step_ips = {
        let batch = trainer.epoch_batches().next().context("the epoch has no batch")??;
        for _ in 0..opts.warmup {
            trainer.step(&batch)?;
        }
        let t = Instant::now();
        for _ in 0..opts.steps {
            trainer.step(&batch)?;
        }
        rate(opts.steps, t)
    };
    // Both together: the training loop (the runner's own, one batch uploaded ahead).
    let loop_ips = {
        let mut batches = trainer.epoch_batches();
        trainer.train_on(&mut batches, opts.warmup)?;
        let t = Instant::now();
        let done = trainer.train_on(&mut batches, opts.steps)?;
        if done < opts.steps {
            bail!("the epoch ended after {done} of {} timed batches", opts.steps);
        }
        rate(opts.steps, t)
    };
    Ok(BenchReport {
        recipe: cfg.name.clone(),
        device: format!("{:?}", trainer.device()),
        cpu: ssl_models::precision::cpu_name(),
        threads: tch::get_num_threads(),
        memory_format: trainer.memory_format().to_string(),
        precision: trainer.precision().to_string(),
        batch_size: cfg.training.batch_size,
        views: cfg.views.count,
        steps: opts.steps,
        loader_images_per_s: loader_ips,
        step_images_per_s: step_ips,
        loop_images_per_s: loop_ips,
    })
}
