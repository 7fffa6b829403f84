//! The [`Trainer`]: views → encoder → projector (→ predictor) → objective → optimiser step, for
//! every method of the runner, with a progress bar, per-step metrics (every named loss part, LR,
//! images/s, the online linear probe), the per-epoch monitor, checkpoints, resume, Ctrl-C and
//! NaN handling, then the final evaluation.
//!
//! [`train`] runs a whole run; a study drives the same run step by step to look inside it:
//!
//! ```no_run
//! use ssl_train::config::{Config, Source};
//! use ssl_train::trainer::{RunOptions, Trainer};
//! let cfg = Config::load(&Source::Recipe("simclr-fmnist".into()), &["training.epochs=1".into()])?;
//! let mut t = Trainer::new(&cfg, RunOptions::default())?;
//! while !t.is_done() {
//!     let mut batches = t.epoch_batches();
//!     while let Some(batch) = batches.next() {
//!         let mut batch = batch?;
//!         let out = t.step(&batch)?;
//!         batches.recycle(std::mem::take(&mut batch.data));
//!         if t.steps_done() % 100 == 0 {
//!             // Anything of the network, mid-training: weights, embeddings of chosen images, ...
//!             let w = t.network().vs.variables()["backbone.conv1.weight"].shallow_clone();
//!             println!("step {}: loss {:.4}, conv1 norm {:.3}", t.steps_done(), out.loss, w.norm().double_value(&[]));
//!         }
//!     }
//!     t.end_epoch()?;
//! }
//! let summary = t.finish()?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use ssl_data::{Dataset, EpochIter, InMemoryDataset, Loader, LoaderConfig, MultiViewBatch, Shard, Split};
use ssl_io::progress::Progress;
use ssl_models::amp::GradScaler;
use ssl_models::checkpoint::{self, TrainState};
use ssl_models::ema::{copy_weights, ema_update};
use ssl_models::schedule::ema_tau_at;
use ssl_models::{pick_device, DeviceChoice, MemoryFormat, Optimizer, Precision};
use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::config::{Config, RunConfig};
use crate::dataset::load_split;
use crate::evaluate::{evaluate, Evaluation};
use crate::input::upload;
use crate::monitor::Monitor;
use crate::network::Network;
use crate::objective::Method;
use crate::parallel::Parallel;
use crate::probe::OnlineProbe;
use crate::run::{git_revision, torch_version, EpochLine, MetricLine, Provenance, Resumption, RunDir, RunState, StepLine, StopReason, StoppedLine, CHECKPOINT};
use crate::track::Tracker;

pub use ssl_models::schedule::lr_at;

/// Options of a run that are not part of its recipe (so `--resume` never compares them).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// cpu | cuda | auto.
    pub device: DeviceChoice,
    /// libtorch CPU threads (default: libtorch's choice).
    pub threads: Option<usize>,
    /// Parent folder of run folders.
    pub runs_root: PathBuf,
    /// Run folder name (default: `<recipe>-<date>-<time>`).
    pub name: Option<String>,
    /// Continue this run folder from its checkpoint instead of starting a new one.
    pub resume: Option<PathBuf>,
    /// The command line, for `run.json`.
    pub command: String,
    /// Show a progress bar (otherwise print a line every 20 logged steps).
    pub progress: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop after the current step, saving a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
    /// Stop (as if interrupted, saving a checkpoint) after this many steps in total — for tests
    /// of resume.
    pub stop_after_steps: Option<usize>,
    /// Skip the final evaluation (tests that only need the training loop).
    pub skip_eval: bool,
    /// Stop (as if killed) after the final checkpoint, before the evaluation — for tests of an
    /// interrupted evaluation.
    pub stop_before_evaluation: bool,
    /// This process's part in a data-parallel job (None: a single process, no group).
    pub parallel: Option<Arc<Parallel>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            device: DeviceChoice::Auto,
            threads: None,
            runs_root: "runs".into(),
            name: None,
            resume: None,
            command: String::new(),
            progress: std::io::stderr().is_terminal(),
            stop: None,
            stop_after_steps: None,
            skip_eval: false,
            stop_before_evaluation: false,
            parallel: None,
        }
    }
}

/// The error a run stops with after Ctrl-C (or `stop_after_steps`): a checkpoint was saved and
/// `--resume` continues exactly. The command line exits with 130 for it, as shells do for SIGINT.
#[derive(Debug)]
pub struct Interrupted {
    /// Steps done.
    pub step: usize,
    /// 1-based epoch of the last step.
    pub epoch: usize,
    /// The run folder.
    pub dir: PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted at step {} (epoch {}); checkpoint saved — continue with `cargo xtask train --resume {}`",
            self.step,
            self.epoch,
            self.dir.display()
        )
    }
}

impl std::error::Error for Interrupted {}

/// What a finished run reports.
pub struct RunSummary {
    /// The run folder.
    pub dir: PathBuf,
    /// kNN accuracy of the trained encoder (NaN when the evaluation was skipped).
    pub knn_trained: f64,
    /// The whole evaluation (None when skipped).
    pub eval: Option<Evaluation>,
    /// Mean loss of every epoch trained in this invocation.
    pub epoch_losses: Vec<f64>,
    /// Wall time of the whole run in seconds.
    pub wall_seconds: f64,
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// The loss.
    pub loss: f64,
    /// The objective's named parts.
    pub parts: Vec<(&'static str, f64)>,
    /// The learning rate used.
    pub lr: f64,
}

/// What the checkpoint's state records about the run besides its position.
#[derive(Serialize)]
struct CheckpointInfo<'a> {
    recipe: &'a str,
    objective: &'a str,
}

/// Running sums of the current epoch.
struct EpochStats {
    started: Instant,
    loss_sum: f64,
    steps: usize,
    /// Start and images of the current logging window (for images/s).
    window: (Instant, usize),
    /// Time in collectives when the epoch started (data-parallel runs).
    communication: Option<std::time::Duration>,
}

impl EpochStats {
    fn new(parallel: Option<&Parallel>) -> Self {
        let communication = parallel.map(Parallel::communication_time);
        EpochStats { started: Instant::now(), loss_sum: 0.0, steps: 0, window: (Instant::now(), 0), communication }
    }
}

/// A run in progress: its data, network, optimiser, run folder and position.
pub struct Trainer {
    cfg: Config,
    opts: RunOptions,
    device: Device,
    /// The layout the weights and inputs are in.
    format: MemoryFormat,
    /// The precision of the forward pass and loss.
    precision: Precision,
    train_set: Arc<InMemoryDataset>,
    test_set: InMemoryDataset,
    loader: Loader,
    method: Method,
    net: Network,
    init: Network,
    target: Option<Network>,
    opt: Optimizer,
    scaler: GradScaler,
    probe: Option<OnlineProbe>,
    monitor: Option<Monitor>,
    tracker: Option<Tracker>,
    run: RunDir,
    provenance: Provenance,
    bar: ProgressBar,
    step: usize,
    steps_per_epoch: usize,
    total: usize,
    warmup: usize,
    epoch_stats: Option<EpochStats>,
    epoch_losses: Vec<f64>,
    started: Instant,
    train_seconds: f64,
    /// The final checkpoint is already written (a resumed, interrupted evaluation).
    final_saved: bool,
}

/// Trains `cfg` (or continues `opts.resume`), writes the run folder, and evaluates.
pub fn train(cfg: &Config, opts: &RunOptions) -> Result<RunSummary> {
    let trainer = match &opts.resume {
        Some(dir) => Trainer::resume(dir.clone(), cfg, opts.clone())?,
        None => Trainer::new(cfg, opts.clone())?,
    };
    trainer.run()
}

/// Every problem [`train`] would meet before its first step, found without making or changing
/// anything (`train --dry-run`): the config's ranges, the threads and device asked for, the run
/// folder (new, or resumable and not in use), the data, and the views and batch size against it.
pub fn preflight(cfg: &RunConfig, opts: &RunOptions) -> Vec<String> {
    let mut problems = cfg.problems();
    if opts.threads == Some(0) {
        problems.push("--threads 0: expected at least 1".into());
    }
    if let Err(e) = pick_device(opts.device) {
        problems.push(format!("--device: {e}"));
    }
    let folder = match &opts.resume {
        Some(dir) => crate::run::check_resumable(dir),
        None => opts.name.as_deref().map_or(Ok(()), |name| crate::run::new_run_path(&opts.runs_root, name).map(|_| ())),
    };
    if let Err(e) = folder {
        problems.push(format!("{e:#}"));
    }
    if !cfg.track.weights.is_empty() && cfg.model.check().is_ok() {
        let net = Network::new(&cfg.model, cfg.seed, Device::Cpu);
        problems.extend(crate::track::check_weight_names(&cfg.track, &net).err().map(|e| format!("{e:#}")));
    }
    match load_split(cfg, Split::Train, cfg.data.train_limit) {
        Ok(train_set) => problems.extend(check_against_data(cfg, &train_set).err().map(|e| format!("{e:#}"))),
        Err(e) => problems.push(format!("{e:#}")),
    }
    if let Err(e) = load_split(cfg, Split::Test, cfg.data.test_limit) {
        problems.push(format!("{e:#}"));
    }
    problems
}

/// The views' shapes and the batch size against the training set.
fn check_against_data(cfg: &RunConfig, train_set: &InMemoryDataset) -> Result<()> {
    cfg.check_views(train_set.shape())?;
    if cfg.training.batch_size > train_set.len() {
        bail!("training.batch_size = {} is larger than the training set ({} images)", cfg.training.batch_size, train_set.len());
    }
    Ok(())
}

/// The training images, and what the training loader draws views from: the images themselves,
/// or with `views.shared` the toy dataset's factor-sharing renderings of them.
pub fn training_data(cfg: &Config) -> Result<(Arc<InMemoryDataset>, Arc<dyn Dataset>)> {
    training_data_limited(cfg, cfg.data.train_limit)
}

/// [`training_data`] of the first `limit` training images (0: all).
pub fn training_data_limited(cfg: &Config, limit: usize) -> Result<(Arc<InMemoryDataset>, Arc<dyn Dataset>)> {
    match &cfg.views.shared {
        Some(shared) => {
            let toy = Arc::new(crate::dataset::load_toy(cfg, Split::Train, limit)?);
            let share = ssl_data::toy::Shared::of(shared);
            let pairs = match cfg.views.frames {
                Some(frames) => ssl_data::toy::ToyPairs::with_frames(toy, share, frames)?,
                None => ssl_data::toy::ToyPairs::new(toy, share),
            };
            // The pairs' own images (with frames: the sequences they stacked once).
            let images = Arc::new(pairs.images().clone());
            Ok((images, Arc::new(pairs)))
        }
        None => {
            let images = Arc::new(load_split(cfg, Split::Train, limit)?);
            Ok((images.clone(), images))
        }
    }
}

impl Trainer {
    /// Starts a new run of `cfg` in a new folder under `opts.runs_root` (`opts.resume` is
    /// ignored). Data and settings are checked before the folder is made.
    pub fn new(cfg: &Config, opts: RunOptions) -> Result<Trainer> {
        let mut t = Self::build(cfg, opts, |o| {
            let name = o.name.clone().unwrap_or_else(|| format!("{}-{}", cfg.name, chrono::Local::now().format("%Y%m%d-%H%M%S")));
            if o.parallel.as_ref().is_some_and(|p| !p.is_main()) {
                // Rank 0 makes and writes the folder (its name carries rank 0's clock).
                return Ok(RunDir::reader(&o.runs_root.join(name)));
            }
            RunDir::create(&o.runs_root, &name)
        })?;
        t.run.write_text("config.toml", &cfg.to_toml())?;
        t.provenance.command = t.opts.command.clone();
        t.provenance.started = chrono::Local::now().to_rfc3339();
        t.run.write_json("run.json", &t.provenance)?;
        t.announce();
        if let Some(m) = &t.monitor {
            let line = m.measure(&t.net, t.device, 0, 0)?;
            t.bar.println(line.describe());
            t.run.log(&MetricLine::Monitor(line))?;
        }
        if let Some(tr) = &t.tracker {
            let line = tr.measure(&t.net, t.device, 0, 0)?;
            t.run.log(&MetricLine::Track(line))?;
        }
        Ok(t)
    }

    /// Continues the run folder `dir` from its checkpoint; `cfg` must be the folder's config.
    pub fn resume(dir: PathBuf, cfg: &Config, opts: RunOptions) -> Result<Trainer> {
        let mut t = Self::build(cfg, opts, |o| match &o.parallel {
            Some(p) if !p.is_main() => Ok(RunDir::reader(&dir)),
            _ => RunDir::open(&dir),
        })?;
        let ckpt = t.run.file(CHECKPOINT);
        let mut stores: Vec<(&str, &mut nn::VarStore)> = vec![("", &mut t.net.vs)];
        if let Some(target) = t.target.as_mut() {
            stores.push(("target/", &mut target.vs));
        }
        let state = checkpoint::load(&ckpt, &mut stores, Some(&mut t.opt)).context("cannot resume")?;
        if state.seed != cfg.seed {
            bail!("{}: the checkpoint was written with seed {}, the config says {}", ckpt.display(), state.seed, cfg.seed);
        }
        let before = t.provenance.clone();
        t.provenance = t.run.read_json::<Provenance>("run.json").unwrap_or_else(|e| {
            eprintln!("warning: {e:#}; run.json is rewritten from this invocation");
            before.clone()
        });
        if t.provenance.world_size.max(1) != before.world_size {
            bail!(
                "{}: the run was trained by {} process(es); this resume has {} — resume with the same number of processes (the batch split and the sample order depend on it)",
                dir.display(),
                t.provenance.world_size.max(1),
                before.world_size
            );
        }
        if state.finished {
            // Folders from before the state was recorded: a report means it was evaluated.
            let legacy_done = t.provenance.state == RunState::Training && t.run.file("report.json").exists();
            if t.provenance.state == RunState::Done || legacy_done {
                bail!("{} already finished training (epoch {}) and its evaluation; nothing to resume", dir.display(), state.epoch);
            }
            // Trained, but the final evaluation was interrupted: run it again on the final weights.
            t.final_saved = true;
        }
        t.scaler.scale = state.loss_scale;
        t.step = state.step;
        // The online probe restarts on resume: it is a diagnostic, not part of the model.
        t.provenance.device = before.device;
        t.provenance.threads = before.threads;
        t.provenance.amp = before.amp;
        t.provenance.memory_format = before.memory_format;
        t.provenance.precision = before.precision;
        t.provenance.world_size = before.world_size;
        t.provenance.backend = before.backend.clone();
        t.provenance.git_revision = before.git_revision;
        t.provenance.torch_version = before.torch_version;
        t.provenance.resumed.push(Resumption { at_step: t.step, command: t.opts.command.clone(), time: chrono::Local::now().to_rfc3339() });
        t.run.write_json("run.json", &t.provenance)?;
        t.bar.set_position(t.step as u64);
        t.announce();
        Ok(t)
    }

    /// Data (checked against the config), loader, networks, optimiser, probe, monitor; then the
    /// run folder from `open_run`, once every check has passed.
    fn build(cfg: &Config, opts: RunOptions, open_run: impl FnOnce(&RunOptions) -> Result<RunDir>) -> Result<Trainer> {
        let started = Instant::now();
        if let Some(n) = opts.threads {
            if n == 0 {
                bail!("--threads 0: expected at least 1");
            }
            tch::set_num_threads(n as i32);
        }
        let device = match (pick_device(opts.device)?, &opts.parallel) {
            // One GPU per process: cuda:LOCAL_RANK.
            (Device::Cuda(_), Some(p)) => Device::Cuda(p.local_rank()),
            (d, _) => d,
        };
        // Precision and layout: refused up front when the device cannot run them.
        let precision = cfg.training.precision;
        precision.check(device)?;
        let amp = cfg.training.amp && device.is_cuda();
        if amp && precision == Precision::Bfloat16 {
            bail!("training.amp = true and training.precision = \"bfloat16\" on {device:?}: choose one (amp is float16 autocast with loss scaling); set training.amp = false for bfloat16");
        }
        let format = cfg.training.memory_format.resolve(device, amp || precision == Precision::Bfloat16);
        if let Some(p) = &opts.parallel {
            p.check_identical("the resolved config", &cfg.to_toml())?;
            p.check_batch(cfg.training.batch_size)?;
        }
        let main = opts.parallel.as_ref().is_none_or(|p| p.is_main());
        // Data first: a missing dataset must fail before a run folder is made.
        let (train_set, views_source) = training_data(cfg)?;
        let test_set = load_split(cfg, Split::Test, cfg.data.test_limit)?;
        check_against_data(cfg, &train_set)?;
        let shard = opts.parallel.as_ref().map_or(Shard::WHOLE, |p| Shard { index: p.rank(), count: p.world_size() });
        let lc = LoaderConfig {
            batch_size: cfg.training.batch_size,
            views: cfg.model.draws_per_image(cfg.views.count),
            seed: cfg.seed,
            shard,
            ..Default::default()
        };
        let loader = Loader::new(views_source, cfg.views.train_view(), lc)?;
        let method = Method::new(&cfg.objective)?;

        let mut net = Network::of_run(cfg, device);
        let init = Network::of_run(cfg, device); // same seed: the encoder at initialisation, kept for comparison
        if let Some(p) = &opts.parallel {
            p.broadcast_weights(&net.vs)?; // DDP: every rank starts from rank 0's weights and buffers
        }
        let mut target = cfg.objective.target_momentum().map(|_| Network::target_of_run(cfg, device));
        if let Some(t) = target.as_mut() {
            copy_weights(&mut t.vs, &net.vs)?;
        }
        if let Some(p) = opts.parallel.as_ref().filter(|_| cfg.training.sync_batch_norm) {
            net.set_sync(Some(p.replica_sync()));
            if let Some(t) = target.as_mut() {
                t.set_sync(Some(p.replica_sync()));
            }
        }
        // Weights in the training layout (after the broadcast and the target's copy, which read
        // them by value); gradients and optimiser state follow their strides.
        for vs in [&net.vs, &init.vs].into_iter().chain(target.as_ref().map(|t| &t.vs)) {
            format.convert_variables(vs);
        }
        let opt = Optimizer::new(&net.vs, cfg.optimizer.clone())?;
        let scaler = GradScaler::new(amp);
        let classes = train_set.num_classes().unwrap_or(0) as i64;
        let probe = if classes > 1 { Some(OnlineProbe::new(net.backbone.out_dim(), classes, device, cfg.seed.wrapping_add(1))?) } else { None };
        // Rank 0 alone measures and writes.
        let monitor = if cfg.monitor.every_epochs > 0 && main { Some(Monitor::new(cfg, &train_set, &test_set)?) } else { None };
        let tracker = if main { Tracker::new(cfg, &net, &test_set)? } else { None };

        let steps_per_epoch = loader.batches_per_epoch();
        let total = steps_per_epoch * cfg.training.epochs;
        let warmup = cfg.schedule.warmup_steps(steps_per_epoch);
        let bar = if opts.progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} [{elapsed_precise} < ETA {eta_precise}]")
                .expect("valid template")
                .progress_chars("=> "),
        );
        let provenance = Provenance {
            seed: cfg.seed,
            git_revision: git_revision(),
            torch_version: torch_version().to_string(),
            device: format!("{device:?}"),
            threads: tch::get_num_threads(),
            amp: scaler.enabled,
            memory_format: Some(format),
            precision: Some(precision),
            world_size: opts.parallel.as_ref().map_or(1, |p| p.world_size()),
            backend: opts.parallel.as_ref().map(|p| p.backend().to_string()),
            steps: total,
            ..Default::default()
        };
        let run = open_run(&opts)?;
        Ok(Trainer {
            cfg: cfg.clone(),
            opts,
            device,
            format,
            precision,
            train_set,
            test_set,
            loader,
            method,
            net,
            init,
            target,
            opt,
            scaler,
            probe,
            monitor,
            tracker,
            run,
            provenance,
            bar,
            step: 0,
            steps_per_epoch,
            total,
            warmup,
            epoch_stats: None,
            epoch_losses: Vec::new(),
            started,
            train_seconds: 0.0,
            final_saved: false,
        })
    }

    fn announce(&self) {
        let cfg = &self.cfg;
        if !self.run.writes() {
            return;
        }
        if let Some(p) = &self.opts.parallel {
            eprintln!(
                "data-parallel: {} processes over {}, {} images per process and step",
                p.world_size(),
                p.backend(),
                cfg.training.batch_size / p.world_size()
            );
        }
        eprintln!(
            "training {} ({}) on {} ({} images, {} steps of {} x {} views{}) on {:?}; {} parameters; run folder {}",
            cfg.name,
            cfg.objective.name(),
            cfg.data.dataset,
            self.train_set.len(),
            self.total,
            cfg.training.batch_size,
            cfg.views.count,
            if self.final_saved {
                ", trained: finishing its interrupted evaluation".to_string()
            } else if self.step > 0 {
                format!(", resuming at step {}", self.step)
            } else {
                String::new()
            },
            self.device,
            self.net.num_parameters(),
            self.run.path().display()
        );
    }

    /// The run's config.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The network being trained.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The EMA target network, for methods that keep one.
    pub fn target_network(&self) -> Option<&Network> {
        self.target.as_ref()
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The training and test sets.
    pub fn datasets(&self) -> (&InMemoryDataset, &InMemoryDataset) {
        (&self.train_set, &self.test_set)
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// Steps done so far (over every invocation of the run).
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Steps of the whole run.
    pub fn total_steps(&self) -> usize {
        self.total
    }

    /// The 0-based epoch the next step belongs to.
    pub fn epoch(&self) -> usize {
        self.step / self.steps_per_epoch.max(1)
    }

    /// True once every step of the run is done.
    pub fn is_done(&self) -> bool {
        self.step >= self.total
    }

    /// The remaining batches of the current epoch (the loader's seeded order, from where the run
    /// stands). Give each batch's data back with [`EpochIter::recycle`] when done with it.
    pub fn epoch_batches(&self) -> EpochIter {
        let epoch = self.epoch();
        self.loader.epoch_from(epoch as u64, self.step - epoch * self.steps_per_epoch)
    }

    /// One optimiser step on `batch` (`k` views of `B` images): loss, backward, update, EMA,
    /// online probe, and a metrics line every `log.every_steps`. A non-finite loss stops the run
    /// with an error (logged; nothing saved).
    pub fn step(&mut self, batch: &MultiViewBatch) -> Result<StepOutput> {
        let x = self.input()(batch);
        self.step_on(batch, &x, || ())
    }

    /// What turns a batch into the step's input: its views on the device, in the training
    /// layout (on CUDA through pinned memory and a non-blocking copy: [`crate::input`]).
    pub fn input(&self) -> impl Fn(&MultiViewBatch) -> Tensor + 'static {
        let (format, device) = (self.format, self.device);
        move |batch| {
            let [draws, b, c, h, w] = batch.dims().map(|v| v as i64);
            format.apply(&upload(&batch.data, [draws * b, c, h, w], device))
        }
    }

    /// [`Trainer::step`] on `x`, the batch's input; `before_sync` runs once the step's forward
    /// and backward are queued and before the loss is read back (on CUDA the kernels are still
    /// running then: the place to upload the next batch).
    fn step_on(&mut self, batch: &MultiViewBatch, x: &Tensor, before_sync: impl FnOnce()) -> Result<StepOutput> {
        let epoch = self.epoch();
        if self.epoch_stats.is_none() {
            self.bar.set_prefix(format!("epoch {}/{}", epoch + 1, self.cfg.training.epochs));
            self.epoch_stats = Some(EpochStats::new(self.opts.parallel.as_deref()));
        }
        let lr = self.cfg.schedule.at(self.step, self.total, self.warmup, self.cfg.training.batch_size);
        let b = batch.dims()[1] as i64;
        let k = self.cfg.views.count as i64;
        let parallel = self.opts.parallel.clone();
        let loss = || self.method.loss(&self.net, self.target.as_ref(), x, k, b, parallel.as_deref());
        // amp (float16 with loss scaling, CUDA) and bfloat16 exclude each other (checked in build):
        // nesting them would not work, as tch's switch sets CUDA's autocast whichever way it is asked.
        let (out, feats) = if self.scaler.enabled { tch::autocast(true, loss) } else { self.precision.autocast(self.device, loss)? }?;
        let feats = feats.to_kind(Kind::Float); // the online probe is float32
        self.opt.zero_grad();
        self.scaler.scale_loss(&out.loss).backward();
        before_sync();
        let mut loss = out.loss.double_value(&[]);
        if let Some(p) = &parallel {
            p.average_gradients(&self.net.vs)?;
            // The global batch's loss (the same on every rank for batch-level objectives; the
            // mean of the parts for per-sample ones), so every rank takes the same decisions.
            loss = p.sum(loss)? / p.world_size() as f64;
        }
        if !loss.is_finite() {
            self.bar.abandon();
            self.run.log(&MetricLine::Stopped(StoppedLine { reason: StopReason::NonFiniteLoss, epoch: epoch + 1, step: self.step + 1, loss: Some(loss) }))?;
            let ckpt = self.run.file(CHECKPOINT);
            let kept = if ckpt.is_file() {
                format!("{} keeps its last good checkpoint", ckpt.display())
            } else {
                "no checkpoint was written before it, so there is no last good checkpoint to resume from".to_string()
            };
            bail!("the loss became {loss} at step {} (epoch {}); the run stopped without saving: {kept}", self.step + 1, epoch + 1);
        }
        self.scaler.step(&mut self.opt, lr);
        let mut tau = None;
        if let (Some(t), Some((base, last))) = (self.target.as_mut(), self.cfg.objective.target_momentum()) {
            let v = ema_tau_at(self.step, self.total, base, last);
            ema_update(&mut t.vs, &self.net.vs, v)?;
            tau = Some(v);
        }
        if let (Some(p), Some(labels)) = (self.probe.as_mut(), batch.labels.as_ref()) {
            p.step(&feats, labels);
        }
        let stats = self.epoch_stats.as_mut().expect("set above");
        stats.loss_sum += loss;
        stats.steps += 1;
        stats.window.1 += b as usize * parallel.as_ref().map_or(1, |p| p.world_size());
        self.step += 1;
        self.bar.inc(1);
        if let Some(tr) = self.tracker.as_ref().filter(|t| t.due(self.step)) {
            let line = tr.measure(&self.net, self.device, epoch + 1, self.step)?;
            self.run.log(&MetricLine::Track(line))?;
        }
        let every = self.cfg.log.every_steps;
        if self.step.is_multiple_of(every) || self.step == self.total {
            let ips = stats.window.1 as f64 / stats.window.0.elapsed().as_secs_f64();
            stats.window = (Instant::now(), 0);
            self.bar.set_message(format!("loss {loss:.4} lr {lr:.4} {ips:.0} img/s"));
            let line = StepLine {
                epoch: epoch + 1,
                step: self.step,
                loss,
                lr,
                images_per_s: ips,
                ema_tau: tau,
                online_probe_acc: self.probe.as_mut().and_then(OnlineProbe::take_accuracy),
                loss_scale: self.scaler.enabled.then_some(self.scaler.scale),
                parts: out.parts.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            };
            self.run.log(&MetricLine::Step(line))?;
            if !self.opts.progress && (self.step / every).is_multiple_of(20) {
                eprintln!("epoch {} step {}/{} loss {loss:.4} lr {lr:.4} {ips:.0} img/s", epoch + 1, self.step, self.total);
            }
        }
        Ok(StepOutput { loss, parts: out.parts.clone(), lr })
    }

    /// Saves a checkpoint and stops the run with an error when Ctrl-C was pressed (or
    /// `stop_after_steps` is reached).
    pub fn check_interrupt(&mut self) -> Result<()> {
        let mut interrupted = self.opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) || self.opts.stop_after_steps == Some(self.step);
        if let Some(p) = &self.opts.parallel {
            // Every rank stops after the same step when any was interrupted.
            interrupted = p.sum(f64::from(u8::from(interrupted)))? > 0.0;
        }
        if interrupted {
            self.bar.abandon();
            let epoch = self.step.saturating_sub(1) / self.steps_per_epoch.max(1); // the epoch of the last step
            self.save(epoch, false)?;
            self.run.log(&MetricLine::Stopped(StoppedLine { reason: StopReason::Interrupted, epoch: epoch + 1, step: self.step, loss: None }))?;
            return Err(Interrupted { step: self.step, epoch: epoch + 1, dir: self.run.path().to_path_buf() }.into());
        }
        Ok(())
    }

    /// Closes the epoch the last step belonged to: its metrics line, the periodic checkpoint and
    /// the monitor. Returns the epoch's mean loss.
    pub fn end_epoch(&mut self) -> Result<f64> {
        let stats = self.epoch_stats.take().unwrap_or_else(|| EpochStats::new(self.opts.parallel.as_deref()));
        let done = self.step.div_ceil(self.steps_per_epoch.max(1)); // epochs done, 1-based index of this one
        let secs = stats.started.elapsed().as_secs_f64();
        let mean = stats.loss_sum / stats.steps.max(1) as f64;
        self.train_seconds += secs;
        self.epoch_losses.push(mean);
        let communication_seconds = self.opts.parallel.as_ref().zip(stats.communication).map(|(p, start)| (p.communication_time() - start).as_secs_f64());
        let line = EpochLine {
            epoch: done,
            step: self.step,
            loss: mean,
            seconds: secs,
            images_per_s: (stats.steps * self.cfg.training.batch_size) as f64 / secs,
            communication_seconds,
        };
        self.run.log(&MetricLine::Epoch(line))?;
        let every = self.cfg.checkpoint.every_epochs;
        if every > 0 && done.is_multiple_of(every) && done < self.cfg.training.epochs {
            self.save(done, false)?;
        }
        if let Some(m) = self.monitor.as_ref().filter(|_| done.is_multiple_of(self.cfg.monitor.every_epochs)) {
            let line = m.measure(&self.net, self.device, done, self.step)?;
            self.bar.println(line.describe());
            self.run.log(&MetricLine::Monitor(line))?;
        }
        Ok(mean)
    }

    /// Steps through `batches` (at most `limit` of them), checking for an interrupt after each;
    /// returns the steps taken. The next batch is uploaded while each step's kernels run (on
    /// CUDA: pinned memory, a non-blocking copy), so a step never waits for its input's copy.
    pub fn train_on(&mut self, batches: &mut EpochIter, limit: usize) -> Result<usize> {
        let input = self.input();
        let mut ahead = batches.next().transpose()?.map(|b| (input(&b), b));
        let mut steps = 0;
        while let Some((x, mut batch)) = ahead.take().filter(|_| steps < limit) {
            let mut next = None;
            self.step_on(&batch, &x, || next = batches.next().map(|b| b.map(|b| (input(&b), b))))?;
            ahead = next.transpose()?;
            steps += 1;
            // The tensor owns a copy: the loader draws a later batch into this buffer.
            batches.recycle(std::mem::take(&mut batch.data));
            self.check_interrupt()?;
        }
        Ok(steps)
    }

    /// The memory layout the network trains in.
    pub fn memory_format(&self) -> MemoryFormat {
        self.format
    }

    /// The precision of the forward pass and loss.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Trains to the end (from wherever the run stands) and finishes.
    pub fn run(mut self) -> Result<RunSummary> {
        while !self.is_done() {
            let mut batches = self.epoch_batches();
            self.train_on(&mut batches, usize::MAX)?;
            drop(batches);
            self.end_epoch()?;
        }
        self.finish()
    }

    /// Saves the final checkpoint, evaluates (unless `skip_eval`) and completes `run.json`.
    pub fn finish(mut self) -> Result<RunSummary> {
        self.bar.finish_and_clear();
        if !self.final_saved {
            self.save(self.cfg.training.epochs, true)?;
        }
        self.provenance.train_seconds += self.train_seconds;
        self.provenance.state = RunState::Evaluating;
        self.run.write_json("run.json", &self.provenance)?;
        if self.opts.stop_before_evaluation {
            bail!("stopped before the final evaluation; finish it with `cargo xtask train --resume {}`", self.run.path().display());
        }
        if !self.run.writes() {
            // Ranks ≥ 1 of a data-parallel run: rank 0 saves, evaluates and writes.
            return Ok(RunSummary {
                dir: self.run.path().to_path_buf(),
                knn_trained: f64::NAN,
                eval: None,
                epoch_losses: self.epoch_losses,
                wall_seconds: self.started.elapsed().as_secs_f64(),
            });
        }
        if self.tracker.is_some() {
            // The trajectories of the whole run (a resumed run's earlier lines included).
            crate::track::plot_tracks(self.run.path(), &crate::run::read_metrics(&self.run.file("metrics.jsonl"))?)?;
        }
        let mut eval = None;
        if !self.opts.skip_eval {
            eprintln!(
                "evaluating: embedding {} train and {} test images with the trained and the initial encoder ...",
                self.train_set.len(),
                self.test_set.len()
            );
            // A bar on a terminal, else plain lines.
            let progress = Progress::new("train", 0);
            let started = Instant::now();
            eval = Some(
                evaluate(&self.cfg, &self.net, &self.init, self.train_set.as_ref(), &self.test_set, self.device, self.format, &self.run, &progress)
                    .context("final evaluation")?,
            );
            progress.finish();
            self.provenance.eval_seconds = Some(started.elapsed().as_secs_f64());
        }
        let wall = self.started.elapsed().as_secs_f64();
        self.provenance.wall_seconds = Some(wall);
        self.provenance.state = RunState::Done;
        self.run.write_json("run.json", &self.provenance)?;
        Ok(RunSummary {
            dir: self.run.path().to_path_buf(),
            knn_trained: eval.as_ref().map_or(f64::NAN, |e| e.knn_trained),
            eval,
            epoch_losses: self.epoch_losses,
            wall_seconds: wall,
        })
    }

    /// Writes `checkpoint.safetensors` (network, target, optimiser, position).
    fn save(&self, epoch: usize, finished: bool) -> Result<()> {
        if !self.run.writes() {
            return Ok(()); // rank 0 saves
        }
        let mut stores: Vec<(&str, &nn::VarStore)> = vec![("", &self.net.vs)];
        if let Some(t) = &self.target {
            stores.push(("target/", &t.vs));
        }
        let info = CheckpointInfo { recipe: &self.cfg.name, objective: self.cfg.objective.name() };
        let state = TrainState { epoch, step: self.step, finished, seed: self.cfg.seed, loss_scale: self.scaler.scale, extra: serde_json::to_value(&info)? };
        Ok(checkpoint::save(&self.run.file(CHECKPOINT), &stores, Some(&self.opt), &state)?)
    }
}
