//! The training loop: views → encoder → projector → objective → optimiser step, with a progress
//! bar, a metrics line every few steps and per epoch, then the final evaluation.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use ssl_data::{idx, Dataset, InMemoryDataset, Loader, LoaderConfig, Split};
use ssl_models::pick_device;
use ssl_objectives::{NtXent, Objective};
use tch::nn::{self, OptimizerConfig as _};
use tch::{Kind, Tensor};

use crate::config::Config;
use crate::evaluate::{evaluate, Evaluation};
use crate::model::Network;
use crate::monitor::Monitor;
use crate::run_dir::{git_revision, RunDir};

/// Options that are not part of the recipe.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Parent folder of run folders.
    pub runs_root: PathBuf,
    /// Run folder name (default: `<recipe>-<date>-<time>`).
    pub name: Option<String>,
    /// The command line, for `run.json`.
    pub command: String,
    /// Show a progress bar (otherwise print a line every 20 logged steps).
    pub progress: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop after the current step, saving a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs_root: "runs".into(),
            name: None,
            command: String::new(),
            progress: std::io::stderr().is_terminal(),
            stop: None,
        }
    }
}

/// What a finished run reports.
pub struct RunSummary {
    /// The run folder.
    pub dir: PathBuf,
    /// kNN accuracy of the trained encoder.
    pub knn_trained: f64,
    /// The whole evaluation.
    pub eval: Evaluation,
    /// Wall time of the whole run in seconds.
    pub wall_seconds: f64,
}

/// Learning rate at `step`: linear warm-up from 0 over `warmup` steps, then cosine decay to 0.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    peak * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

/// Writes `checkpoint.safetensors` (all weights, torchvision names under `backbone.`/`projector.`)
/// and `checkpoint.json` (epoch, step, whether training finished), each atomically.
pub fn save_checkpoint(run: &RunDir, net: &Network, epoch: usize, step: usize, finished: bool) -> Result<()> {
    run.write_atomic("checkpoint.safetensors", |p| Ok(net.vs.save(p)?))?;
    let meta = json!({"epoch": epoch, "step": step, "finished": finished, "saved": chrono::Local::now().to_rfc3339()});
    run.write_text("checkpoint.json", &serde_json::to_string_pretty(&meta)?)?;
    Ok(())
}

/// Loads a split, keeping the first `limit` images when `limit > 0`.
pub fn load_split(cfg: &Config, split: Split, limit: usize) -> Result<InMemoryDataset> {
    let ds = idx::fashion_mnist(&cfg.data.root, split).with_context(|| {
        format!(
            "cannot load the {} split of {} from {} (run `cargo xtask setup` to fetch Fashion-MNIST)",
            split.name(),
            cfg.data.dataset,
            cfg.data.root.display()
        )
    })?;
    if limit > 0 && limit < ds.len() {
        Ok(ds.subset(&(0..limit).collect::<Vec<_>>())?)
    } else {
        Ok(ds)
    }
}

fn build_optimizer(cfg: &Config, vs: &nn::VarStore) -> Result<nn::Optimizer> {
    let o = &cfg.optimizer;
    let opt = match o.kind.as_str() {
        "sgd" => nn::Sgd { momentum: o.momentum, dampening: 0.0, wd: o.weight_decay, nesterov: false }.build(vs, o.lr)?,
        "adam" => nn::Adam { wd: o.weight_decay, ..Default::default() }.build(vs, o.lr)?,
        "adamw" => nn::AdamW { wd: o.weight_decay, ..Default::default() }.build(vs, o.lr)?,
        other => bail!("optimizer.kind = `{other}`: expected sgd, adam or adamw"),
    };
    Ok(opt)
}

/// Trains `cfg`, writes the run folder, and evaluates.
pub fn train(cfg: &Config, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let device = pick_device(cfg.device).map_err(anyhow::Error::msg)?;
    // Data first: a missing dataset must fail before a run folder is made.
    let train_set = Arc::new(load_split(cfg, Split::Train, cfg.data.train_limit)?);
    let test_set = load_split(cfg, Split::Test, cfg.data.test_limit)?;
    let view = cfg.view();
    view.check_channels(train_set.shape().channels)?;
    if train_set.shape().channels as i64 != cfg.model.in_channels {
        bail!("model.in_channels = {} but the images have {} channel(s)", cfg.model.in_channels, train_set.shape().channels);
    }
    let lc = LoaderConfig { batch_size: cfg.optimizer.batch_size, views: cfg.views.count, seed: cfg.seed, ..Default::default() };
    let loader = Loader::new(train_set.clone(), Arc::new(view), lc)?;
    let objective = NtXent::new(cfg.objective.temperature)?;

    let name = opts.name.clone().unwrap_or_else(|| format!("{}-{}", cfg.name, chrono::Local::now().format("%Y%m%d-%H%M%S")));
    let mut run = RunDir::create(&opts.runs_root, &name)?;
    run.write_text("config.toml", &cfg.to_toml())?;
    let mut provenance = json!({
        "seed": cfg.seed,
        "git_revision": git_revision(),
        "torch_version": option_env!("SSL_TORCH_VERSION").unwrap_or("unknown"),
        "tch_version": "0.24",
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "command": opts.command,
        "started": chrono::Local::now().to_rfc3339(),
    });
    run.write_text("run.json", &serde_json::to_string_pretty(&provenance)?)?;

    let net = Network::new(cfg, device);
    let init = Network::new(cfg, device); // same seed: the encoder at initialisation, kept for comparison
    let mut opt = build_optimizer(cfg, &net.vs)?;
    let steps_per_epoch = loader.batches_per_epoch();
    let total = steps_per_epoch * cfg.optimizer.epochs;
    let warmup = (cfg.optimizer.warmup_epochs * steps_per_epoch as f64).round() as usize;
    let peak_lr = cfg.optimizer.lr * cfg.optimizer.batch_size as f64 / 256.0;
    eprintln!(
        "training {} on {} ({} images, {} steps of {} x {} views) on {device:?}; {} parameters; run folder {}",
        cfg.name,
        cfg.data.dataset,
        train_set.len(),
        total,
        cfg.optimizer.batch_size,
        cfg.views.count,
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
    if let Some(m) = &monitor {
        let line = m.measure(&net, device, 0, 0)?;
        bar.println(m.describe(&line));
        run.log(&line)?;
    }
    let train_started = Instant::now();
    let mut step = 0usize;
    for epoch in 0..cfg.optimizer.epochs {
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.optimizer.epochs));
        let epoch_started = Instant::now();
        let (mut loss_sum, mut loss_n) = (0.0, 0usize);
        let mut window = (Instant::now(), 0usize);
        for batch in loader.epoch(epoch as u64) {
            let batch = batch?;
            let lr = lr_at(step, total, warmup, peak_lr);
            opt.set_lr(lr);
            let [k, b, c, h, w] = batch.dims().map(|v| v as i64);
            let x = Tensor::from_slice(&batch.data).view([k * b, c, h, w]).to_device(device);
            let z = net.project(&x, true).view([k, b, -1]).to_kind(Kind::Float);
            let out = objective.compute(&z)?;
            opt.zero_grad();
            out.loss.backward();
            opt.step();
            let loss = out.loss.double_value(&[]);
            if !loss.is_finite() {
                bar.abandon();
                run.log(&json!({"kind": "stopped", "reason": "non-finite loss", "epoch": epoch + 1, "step": step, "loss": loss}))?;
                bail!(
                    "the loss became {loss} at step {step} (epoch {}); the run stopped; {} keeps its config, metrics and the last good checkpoint (if an epoch finished)",
                    epoch + 1,
                    run.path().display()
                );
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
                run.log(&line)?;
                if !opts.progress && (step / cfg.log.every_steps) % 20 == 0 {
                    eprintln!("epoch {} step {step}/{total} loss {loss:.4} lr {lr:.4} {ips:.0} img/s", epoch + 1);
                }
            }
            if opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                bar.abandon();
                save_checkpoint(&run, &net, epoch + 1, step, false)?;
                run.log(&json!({"kind": "stopped", "reason": "interrupted", "epoch": epoch + 1, "step": step}))?;
                bail!("interrupted at step {step} (epoch {}); checkpoint saved in {}", epoch + 1, run.path().display());
            }
        }
        let secs = epoch_started.elapsed().as_secs_f64();
        run.log(&json!({
            "kind": "epoch", "epoch": epoch + 1, "step": step, "loss": loss_sum / loss_n.max(1) as f64,
            "seconds": secs, "images_per_s": (loss_n * cfg.optimizer.batch_size) as f64 / secs,
        }))?;
        let every = cfg.checkpoint.every_epochs;
        if every > 0 && (epoch + 1) % every == 0 && epoch + 1 < cfg.optimizer.epochs {
            save_checkpoint(&run, &net, epoch + 1, step, false)?;
        }
        if let Some(m) = monitor.as_ref().filter(|_| (epoch + 1) % cfg.monitor.every_epochs == 0) {
            let line = m.measure(&net, device, epoch + 1, step)?;
            bar.println(m.describe(&line));
            run.log(&line)?;
        }
    }
    bar.finish_and_clear();
    let train_seconds = train_started.elapsed().as_secs_f64();
    save_checkpoint(&run, &net, cfg.optimizer.epochs, step, true)?;

    eprintln!("evaluating: embedding {} train and {} test images with the trained and the initial encoder ...", train_set.len(), test_set.len());
    let eval = evaluate(cfg, &net, &init, train_set.as_ref(), &test_set, device, &run)?;
    let wall = started.elapsed().as_secs_f64();
    provenance["train_seconds"] = json!(train_seconds);
    provenance["wall_seconds"] = json!(wall);
    provenance["steps"] = json!(total);
    run.write_text("run.json", &serde_json::to_string_pretty(&provenance)?)?;
    Ok(RunSummary { dir: run.path().to_path_buf(), knn_trained: eval.knn_trained, eval, wall_seconds: wall })
}
