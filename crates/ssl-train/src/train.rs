//! The training loop: views → encoder → projector (→ predictor) → objective → optimiser step,
//! for every method of the runner, with a progress bar, per-step metrics (every named loss part,
//! LR, images/s, the online linear probe), the per-epoch monitor, checkpoints, resume, Ctrl-C and
//! NaN handling, then the final evaluation.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use ssl_data::{Dataset, Loader, LoaderConfig, Split};
use ssl_models::amp::GradScaler;
use ssl_models::checkpoint::{self, TrainState};
use ssl_models::ema::{copy_weights, ema_update};
use ssl_models::schedule::{ema_tau_at, scaled_lr};
use ssl_models::{pick_device, Optimizer};
use ssl_objectives::{
    BarlowTwins, DirectClr, LossOutput, Mmcr, MmcrMomentum, NtXent, NuclearNormPath, Objective, PredictorLoss, PredictorLossKind, Vicreg,
};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::config::Config;
use crate::data::load_split;
use crate::evaluate::{evaluate, Evaluation};
use crate::model::Network;
use crate::monitor::Monitor;
use crate::run_dir::{git_revision, RunDir};

pub use ssl_models::schedule::lr_at;

/// Options that are not part of the recipe.
#[derive(Clone, Debug)]
pub struct RunOptions {
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs_root: "runs".into(),
            name: None,
            resume: None,
            command: String::new(),
            progress: std::io::stderr().is_terminal(),
            stop: None,
            stop_after_steps: None,
            skip_eval: false,
        }
    }
}

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

/// The objective of a run, with what it needs besides the projections.
enum Method {
    /// Objectives on `[k, B, d]` projections.
    Plain(Box<dyn Objective>),
    /// BYOL (EMA target) or SimSiam (stop-gradient on the online projections).
    Predictor(PredictorLoss),
    /// MMCR with a momentum encoder.
    MmcrMomentum(MmcrMomentum),
}

impl Method {
    fn new(cfg: &Config) -> Result<Method> {
        let o = &cfg.objective;
        Ok(match o.kind.as_str() {
            "ntxent" => Method::Plain(Box::new(NtXent::new(o.temperature)?)),
            "directclr" => Method::Plain(Box::new(DirectClr::new(o.d0, o.temperature)?)),
            "barlow" => Method::Plain(Box::new(BarlowTwins::new(o.barlow_lambda)?)),
            "vicreg" => {
                let [inv, var, cov] = o.vicreg_weights;
                Method::Plain(Box::new(Vicreg { invariance: inv, variance: var, covariance: cov }))
            }
            "mmcr" if o.momentum_encoder => Method::MmcrMomentum(MmcrMomentum { mmcr: Mmcr::new(o.mmcr_lambda, NuclearNormPath::Auto)? }),
            "mmcr" => Method::Plain(Box::new(Mmcr::new(o.mmcr_lambda, NuclearNormPath::Auto)?)),
            "byol" => Method::Predictor(PredictorLoss { kind: PredictorLossKind::Byol }),
            "simsiam" => Method::Predictor(PredictorLoss { kind: PredictorLossKind::SimSiam }),
            other => bail!("objective.kind = `{other}` is not trainable"),
        })
    }

    /// The loss of one batch `x` (`[k·B, C, H, W]`), and the detached backbone features of view 0.
    fn loss(&self, net: &Network, target: Option<&Network>, x: &Tensor, k: i64, b: i64) -> Result<(LossOutput, Tensor)> {
        let h = nn::ModuleT::forward_t(&net.backbone, x, true);
        let feats = h.narrow(0, 0, b).detach();
        let z = match &net.projector {
            Some(p) => nn::ModuleT::forward_t(p, &h, true),
            None => h,
        };
        let out = match self {
            Method::Plain(obj) => obj.compute(&z.view([k, b, -1]).to_kind(Kind::Float))?,
            Method::Predictor(loss) => {
                let p = net.predict(&z, true).view([k, b, -1]).to_kind(Kind::Float);
                let t = match target {
                    Some(t) => tch::no_grad(|| t.project(x, true)),
                    None => z.detach(), // SimSiam: stop-gradient on the online branch
                };
                loss.compute(&p, &t.view([k, b, -1]).to_kind(Kind::Float))?
            }
            Method::MmcrMomentum(m) => {
                let t = target.ok_or_else(|| anyhow!("MMCR momentum needs its target network"))?;
                let tz = tch::no_grad(|| t.project(x, true));
                m.compute(&z.view([k, b, -1]).to_kind(Kind::Float), &tz.view([k, b, -1]).to_kind(Kind::Float))?
            }
        };
        Ok((out, feats))
    }
}

/// solo-learn's online linear probe: a linear classifier on detached backbone features, trained
/// alongside the encoder (SGD, lr 0.1, momentum 0.9); its running accuracy is logged.
struct OnlineProbe {
    vs: nn::VarStore,
    linear: nn::Linear,
    opt: Optimizer,
    correct: usize,
    seen: usize,
}

impl OnlineProbe {
    fn new(dim: i64, classes: i64, device: Device, seed: u64) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let linear = ssl_models::seeded(seed, || nn::linear(vs.root() / "probe", dim, classes, Default::default()));
        let opt = Optimizer::new(&vs, ssl_models::OptimizerConfig::new(ssl_models::OptimizerKind::Sgd)).map_err(anyhow::Error::msg)?;
        Ok(OnlineProbe { vs, linear, opt, correct: 0, seen: 0 })
    }

    fn step(&mut self, feats: &Tensor, labels: &[u32]) {
        let y = Tensor::from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<_>>()).to_device(self.vs.device());
        let logits = self.linear.forward(&feats.to_kind(Kind::Float));
        let loss = logits.cross_entropy_for_logits(&y);
        self.opt.zero_grad();
        loss.backward();
        self.opt.step(0.1);
        self.correct += logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Int64).int64_value(&[]) as usize;
        self.seen += labels.len();
    }

    /// Accuracy since the last call.
    fn take_accuracy(&mut self) -> Option<f64> {
        let acc = (self.seen > 0).then(|| self.correct as f64 / self.seen as f64);
        self.correct = 0;
        self.seen = 0;
        acc
    }
}

/// Trains `cfg` (or continues `opts.resume`), writes the run folder, and evaluates.
pub fn train(cfg: &Config, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let device = pick_device(cfg.device).map_err(anyhow::Error::msg)?;
    // Data first: a missing dataset must fail before a run folder is made.
    let train_set = Arc::new(load_split(cfg, Split::Train, cfg.data.train_limit)?);
    let test_set = load_split(cfg, Split::Test, cfg.data.test_limit)?;
    let view = cfg.view();
    view.check_channels(train_set.shape().channels)?;
    cfg.check_views(train_set.shape())?;
    if train_set.shape().channels as i64 != cfg.model.in_channels {
        bail!("model.in_channels = {} but the images have {} channel(s)", cfg.model.in_channels, train_set.shape().channels);
    }
    if cfg.optimizer.batch_size > train_set.len() {
        bail!("optimizer.batch_size = {} is larger than the training set ({} images)", cfg.optimizer.batch_size, train_set.len());
    }
    let lc = LoaderConfig { batch_size: cfg.optimizer.batch_size, views: cfg.views.count, seed: cfg.seed, ..Default::default() };
    let loader = Loader::new(train_set.clone(), cfg.train_view(), lc)?;
    let method = Method::new(cfg)?;

    let mut net = Network::new(cfg, device);
    let init = Network::new(cfg, device); // same seed: the encoder at initialisation, kept for comparison
    let mut target = cfg.objective.uses_target().then(|| Network::target(cfg, device));
    if let Some(t) = target.as_mut() {
        copy_weights(&mut t.vs, &net.vs).map_err(anyhow::Error::msg)?;
    }
    let mut opt = Optimizer::new(&net.vs, cfg.optimizer.build_config()?).map_err(anyhow::Error::msg)?;
    let mut scaler = GradScaler::new(cfg.optimizer.amp && device.is_cuda());
    let classes = train_set.num_classes().unwrap_or(0) as i64;
    let mut probe = if classes > 1 { Some(OnlineProbe::new(net.backbone.out_dim(), classes, device, cfg.seed.wrapping_add(1))?) } else { None };

    let (mut run, mut provenance, start_step) = match &opts.resume {
        None => {
            let name = opts.name.clone().unwrap_or_else(|| format!("{}-{}", cfg.name, chrono::Local::now().format("%Y%m%d-%H%M%S")));
            let run = RunDir::create(&opts.runs_root, &name)?;
            run.write_text("config.toml", &cfg.to_toml())?;
            (run, json!({}), 0usize)
        }
        Some(dir) => {
            let run = RunDir::open(dir)?;
            let ckpt = run.file("checkpoint.safetensors");
            let mut stores: Vec<(&str, &mut nn::VarStore)> = vec![("", &mut net.vs)];
            if let Some(t) = target.as_mut() {
                stores.push(("target/", &mut t.vs));
            }
            let state = checkpoint::load(&ckpt, &mut stores, Some(&mut opt)).map_err(|e| anyhow!("cannot resume: {e}"))?;
            if state.finished {
                bail!("{} already finished training (epoch {}); nothing to resume", dir.display(), state.epoch);
            }
            if state.seed != cfg.seed {
                bail!("{}: the checkpoint was written with seed {}, the config says {}", ckpt.display(), state.seed, cfg.seed);
            }
            scaler.scale = state.loss_scale;
            // The online probe restarts on resume: it is a diagnostic, not part of the model.
            let text = std::fs::read_to_string(run.file("run.json")).unwrap_or_else(|_| "{}".into());
            let prov: serde_json::Value = serde_json::from_str(&text).unwrap_or(json!({}));
            (run, prov, state.step)
        }
    };
    provenance["seed"] = json!(cfg.seed);
    provenance["git_revision"] = json!(git_revision());
    provenance["torch_version"] = json!(option_env!("SSL_TORCH_VERSION").unwrap_or("unknown"));
    provenance["tch_version"] = json!("0.24");
    provenance["device"] = json!(format!("{device:?}"));
    provenance["threads"] = json!(tch::get_num_threads());
    provenance["amp"] = json!(scaler.enabled);
    if start_step == 0 {
        provenance["command"] = json!(opts.command);
        provenance["started"] = json!(chrono::Local::now().to_rfc3339());
    } else {
        let mut resumed = provenance["resumed"].as_array().cloned().unwrap_or_default();
        resumed.push(json!({"at_step": start_step, "command": opts.command, "time": chrono::Local::now().to_rfc3339()}));
        provenance["resumed"] = json!(resumed);
    }
    run.write_text("run.json", &serde_json::to_string_pretty(&provenance)?)?;

    let steps_per_epoch = loader.batches_per_epoch();
    let total = steps_per_epoch * cfg.optimizer.epochs;
    let warmup = (cfg.optimizer.warmup_epochs * steps_per_epoch as f64).round() as usize;
    let peak_lr = scaled_lr(cfg.optimizer.lr, cfg.optimizer.batch_size);
    eprintln!(
        "training {} ({}) on {} ({} images, {} steps of {} x {} views{}) on {device:?}; {} parameters; run folder {}",
        cfg.name,
        cfg.objective.kind,
        cfg.data.dataset,
        train_set.len(),
        total,
        cfg.optimizer.batch_size,
        cfg.views.count,
        if start_step > 0 { format!(", resuming at step {start_step}") } else { String::new() },
        net.num_parameters(),
        run.path().display()
    );

    let monitor = if cfg.monitor.every_epochs > 0 { Some(Monitor::new(cfg, &train_set, &test_set)?) } else { None };
    let bar = if opts.progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} [{elapsed_precise} < ETA {eta_precise}]")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position(start_step as u64);
    if let (Some(m), 0) = (&monitor, start_step) {
        let line = m.measure(&net, device, 0, 0)?;
        bar.println(m.describe(&line));
        run.log(&line)?;
    }
    let save = |run: &RunDir, net: &Network, target: Option<&Network>, opt: &Optimizer, scale: f64, epoch: usize, step: usize, finished: bool| -> Result<()> {
        let mut stores: Vec<(&str, &nn::VarStore)> = vec![("", &net.vs)];
        if let Some(t) = target {
            stores.push(("target/", &t.vs));
        }
        let state = TrainState { epoch, step, finished, seed: cfg.seed, loss_scale: scale, extra: json!({"recipe": cfg.name, "objective": cfg.objective.kind}) };
        checkpoint::save(&run.file("checkpoint.safetensors"), &stores, Some(opt), &state).map_err(anyhow::Error::msg)
    };

    let train_started = Instant::now();
    let mut step = start_step;
    let mut epoch_losses = Vec::new();
    for epoch in (start_step / steps_per_epoch.max(1))..cfg.optimizer.epochs {
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.optimizer.epochs));
        let epoch_started = Instant::now();
        let (mut loss_sum, mut loss_n) = (0.0, 0usize);
        let mut window = (Instant::now(), 0usize);
        let skip = step - epoch * steps_per_epoch;
        let mut batches = loader.epoch_from(epoch as u64, skip);
        while let Some(batch) = batches.next() {
            let mut batch = batch?;
            let lr = lr_at(step, total, warmup, peak_lr);
            let [k, b, c, h, w] = batch.dims().map(|v| v as i64);
            let x = Tensor::from_slice(&batch.data).view([k * b, c, h, w]).to_device(device);
            // The tensor owns a copy: the loader draws a later batch into this buffer.
            batches.recycle(std::mem::take(&mut batch.data));
            let (out, feats) = tch::autocast(scaler.enabled, || method.loss(&net, target.as_ref(), &x, k, b))?;
            opt.zero_grad();
            scaler.scale_loss(&out.loss).backward();
            let loss = out.loss.double_value(&[]);
            if !loss.is_finite() {
                bar.abandon();
                run.log(&json!({"kind": "stopped", "reason": "non-finite loss", "epoch": epoch + 1, "step": step + 1, "loss": loss}))?;
                bail!(
                    "the loss became {loss} at step {} (epoch {}); the run stopped without saving, so {} keeps its last good checkpoint",
                    step + 1,
                    epoch + 1,
                    run.file("checkpoint.safetensors").display()
                );
            }
            scaler.step(&mut opt, lr);
            let mut tau = None;
            if let Some(t) = target.as_mut() {
                let v = ema_tau_at(step, total, cfg.objective.ema_base, cfg.objective.ema_final);
                ema_update(&mut t.vs, &net.vs, v).map_err(anyhow::Error::msg)?;
                tau = Some(v);
            }
            if let (Some(p), Some(labels)) = (probe.as_mut(), batch.labels.as_ref()) {
                p.step(&feats, labels);
            }
            loss_sum += loss;
            loss_n += 1;
            window.1 += b as usize;
            step += 1;
            bar.inc(1);
            if step % cfg.log.every_steps == 0 || step == total {
                let ips = window.1 as f64 / window.0.elapsed().as_secs_f64();
                window = (Instant::now(), 0);
                bar.set_message(format!("loss {loss:.4} lr {lr:.4} {ips:.0} img/s"));
                let mut line = json!({"kind": "step", "epoch": epoch + 1, "step": step, "loss": loss, "lr": lr, "images_per_s": ips});
                for (name, v) in &out.parts {
                    line[*name] = json!(v);
                }
                if let Some(v) = tau {
                    line["ema_tau"] = json!(v);
                }
                if let Some(acc) = probe.as_mut().and_then(OnlineProbe::take_accuracy) {
                    line["online_probe_acc"] = json!(acc);
                }
                if scaler.enabled {
                    line["loss_scale"] = json!(scaler.scale);
                }
                run.log(&line)?;
                if !opts.progress && (step / cfg.log.every_steps) % 20 == 0 {
                    eprintln!("epoch {} step {step}/{total} loss {loss:.4} lr {lr:.4} {ips:.0} img/s", epoch + 1);
                }
            }
            let interrupted = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
            if interrupted || opts.stop_after_steps == Some(step) {
                bar.abandon();
                save(&run, &net, target.as_ref(), &opt, scaler.scale, epoch, step, false)?;
                run.log(&json!({"kind": "stopped", "reason": "interrupted", "epoch": epoch + 1, "step": step}))?;
                bail!(
                    "interrupted at step {step} (epoch {}); checkpoint saved — continue with `cargo xtask train --resume {}`",
                    epoch + 1,
                    run.path().display()
                );
            }
        }
        let secs = epoch_started.elapsed().as_secs_f64();
        let mean = loss_sum / loss_n.max(1) as f64;
        epoch_losses.push(mean);
        run.log(&json!({
            "kind": "epoch", "epoch": epoch + 1, "step": step, "loss": mean,
            "seconds": secs, "images_per_s": (loss_n * cfg.optimizer.batch_size) as f64 / secs,
        }))?;
        let every = cfg.checkpoint.every_epochs;
        if every > 0 && (epoch + 1) % every == 0 && epoch + 1 < cfg.optimizer.epochs {
            save(&run, &net, target.as_ref(), &opt, scaler.scale, epoch + 1, step, false)?;
        }
        if let Some(m) = monitor.as_ref().filter(|_| (epoch + 1) % cfg.monitor.every_epochs == 0) {
            let line = m.measure(&net, device, epoch + 1, step)?;
            bar.println(m.describe(&line));
            run.log(&line)?;
        }
    }
    bar.finish_and_clear();
    let train_seconds = train_started.elapsed().as_secs_f64();
    save(&run, &net, target.as_ref(), &opt, scaler.scale, cfg.optimizer.epochs, step, true)?;
    provenance["train_seconds"] = json!(provenance["train_seconds"].as_f64().unwrap_or(0.0) + train_seconds);
    provenance["steps"] = json!(total);
    let mut eval = None;
    if !opts.skip_eval {
        eprintln!("evaluating: embedding {} train and {} test images with the trained and the initial encoder ...", train_set.len(), test_set.len());
        eval = Some(evaluate(cfg, &net, &init, train_set.as_ref(), &test_set, device, &run).context("final evaluation")?);
    }
    let wall = started.elapsed().as_secs_f64();
    provenance["wall_seconds"] = json!(wall);
    run.write_text("run.json", &serde_json::to_string_pretty(&provenance)?)?;
    Ok(RunSummary {
        dir: run.path().to_path_buf(),
        knn_trained: eval.as_ref().map_or(f64::NAN, |e| e.knn_trained),
        eval,
        epoch_losses,
        wall_seconds: wall,
    })
}
