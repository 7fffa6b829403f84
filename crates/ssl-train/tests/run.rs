//! The runner end to end on a tiny generated idx dataset, and its answers to bad input.

use std::path::{Path, PathBuf};

use ssl_train::config::{Config, Source};
use ssl_train::trainer::{train, RunOptions};

mod common;
use common::{tiny_simclr, toy_data, toy_dataset};

fn tiny_config(data: &Path) -> Config {
    tiny_simclr(data, &["training.epochs=2", "log.every_steps=1"])
}

fn options(root: PathBuf, name: &str) -> RunOptions {
    RunOptions {
        device: ssl_models::DeviceChoice::Cpu,
        runs_root: root,
        name: Some(name.into()),
        command: "test".into(),
        progress: false,
        ..Default::default()
    }
}

#[test]
fn a_tiny_run_writes_a_complete_run_folder() {
    let (tmp, data) = toy_data(96, 40);
    let cfg = tiny_config(&data);
    let runs = tmp.path().join("runs");
    let summary = train(&cfg, &options(runs.clone(), "tiny")).unwrap();
    let dir = runs.join("tiny");
    for f in
        ["config.toml", "run.json", "metrics.jsonl", "checkpoint.safetensors", "checkpoint.json", "embeddings.npy", "labels.npy", "report.json", "spectrum.png"]
    {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    // The saved config reloads to the same config.
    assert_eq!(ssl_train::config::read_saved(&dir.join("config.toml")).unwrap(), cfg);
    // 96 images / 16 = 6 steps per epoch, 2 epochs: 12 step lines and 2 epoch lines.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["kind"] == "step").count(), 12);
    assert_eq!(lines.iter().filter(|l| l["kind"] == "epoch").count(), 2);
    // The monitor looks at initialisation and after each epoch.
    let monitors: Vec<_> = lines.iter().filter(|l| l["kind"] == "monitor").collect();
    assert_eq!(monitors.iter().map(|l| l["epoch"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2]);
    for m in &monitors {
        assert_eq!(m["knn_bank"], 96);
        assert_eq!(m["knn_queries"], 40);
        let acc = m["knn_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        assert!(m["participation_ratio"].as_f64().unwrap() >= 1.0);
        assert!(m["collapsed_dims"].as_u64().unwrap() <= 32);
    }
    let losses: Vec<_> = lines.iter().filter(|l| l["kind"] != "monitor").collect();
    assert!(losses.iter().all(|l| l["loss"].as_f64().unwrap().is_finite()));
    let first_step = lines.iter().find(|l| l["kind"] == "step").unwrap();
    assert!(first_step["alignment"].is_number() && first_step["lr"].is_number() && first_step["images_per_s"].is_number());
    // report.json holds every pinned key.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    for k in [
        "n",
        "dim",
        "covariance_eigenvalues",
        "normalized_covariance_eigenvalues",
        "participation_ratio",
        "alpha",
        "alpha_fit_ranks",
        "alpha_r2",
        "rankme",
        "knn_accuracy",
        "knn_accuracy_init",
        "knn_accuracy_raw_pixels",
    ] {
        assert!(report.get(k).is_some(), "report.json lacks {k}");
    }
    assert_eq!(report["n"], 40);
    assert_eq!(report["dim"], 32); // width 4 × 8
    assert_eq!(report["covariance_eigenvalues"].as_array().unwrap().len(), 32);
    assert!((report["knn_accuracy"].as_f64().unwrap() - summary.knn_trained).abs() < 1e-12);
    // The embeddings read back with the labels they belong to.
    let x = ssl_analysis::npy::read_matrix(dir.join("embeddings.npy")).unwrap();
    assert_eq!(x.dim(), (40, 32));
    assert_eq!(ssl_analysis::npy::read_labels(dir.join("labels.npy")).unwrap().len(), 40);
    // numpy itself loads both (the numpy installed beside torch by `cargo xtask`).
    // The wheel's folder: LIBTORCH (set by .cargo/config.toml) is its `torch/` package.
    let deps = Path::new(env!("LIBTORCH")).parent().unwrap().to_path_buf();
    if deps.join("numpy").is_dir() {
        let script = format!(
            "import numpy as np; x = np.load(r'{}'); y = np.load(r'{}'); assert x.shape == (40, 32) and x.dtype == np.float32, x.shape; assert y.shape == (40,) and y.dtype == np.int64",
            dir.join("embeddings.npy").display(),
            dir.join("labels.npy").display()
        );
        let out = std::process::Command::new("python3").env("PYTHONPATH", &deps).args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "numpy could not load the run's .npy files: {}", String::from_utf8_lossy(&out.stderr));
    }

    // `compare` reads the finished run back.
    let plot = tmp.path().join("cmp.png");
    let table = ssl_train::cmd::compare::compare(std::slice::from_ref(&dir), &plot).unwrap();
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("tiny") && row.contains("ntxent") && row.contains(&format!("{:.4}", summary.knn_trained)), "{table}");
    assert!(plot.is_file());
    // An existing plot file is never overwritten.
    let before_plot = std::fs::read(&plot).unwrap();
    let again = format!("{:#}", ssl_train::cmd::compare::compare(std::slice::from_ref(&dir), &plot).unwrap_err());
    assert!(again.contains("already exists") && again.contains("--plot"), "{again}");
    assert_eq!(std::fs::read(&plot).unwrap(), before_plot);
    assert!(ssl_train::cmd::compare::compare(&[tmp.path().join("absent")], &tmp.path().join("cmp2.png")).is_err());
    assert_eq!(report["collapse_threshold"], 1e-5);
    assert!(report["collapsed_dims"].as_u64().unwrap() <= 32);

    // The checkpoint reloads to the very same network: exported test embeddings equal the run's.
    let files = ssl_train::cmd::export::export(&dir, &cpu_export()).unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(ssl_analysis::npy::read_matrix(&files[0]).unwrap(), x);
    assert_eq!(ssl_analysis::npy::read_matrix(&files[1]).unwrap().dim(), (40, 16));
    assert_eq!(ssl_analysis::npy::read_labels(&files[2]).unwrap(), ssl_analysis::npy::read_labels(dir.join("labels.npy")).unwrap());
    let again = ssl_train::cmd::export::export(&dir, &cpu_export()).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
    let ckpt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!((ckpt["epoch"].as_u64(), ckpt["step"].as_u64(), ckpt["finished"].as_bool()), (Some(2), Some(12), Some(true)));

    // A second run into the same folder is refused and leaves the first untouched.
    let before = std::fs::read(dir.join("report.json")).unwrap();
    let err = train(&cfg, &options(runs.clone(), "tiny")).err().unwrap().to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(dir.join("report.json")).unwrap(), before);
}

#[test]
fn missing_or_truncated_dataset_is_a_clear_error_and_makes_no_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let runs = tmp.path().join("runs");
    let err = format!("{:#}", train(&tiny_config(&data), &options(runs.clone(), "x")).err().unwrap());
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("cannot read"), "{err}");
    toy_dataset(&data, 32, 8);
    let path = data.join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = format!("{:#}", train(&tiny_config(&data), &options(runs.clone(), "x")).err().unwrap());
    assert!(err.contains("train-images-idx3-ubyte.gz") && err.contains("truncated"), "{err}");
    assert!(!runs.join("x").exists());
}

#[test]
fn a_corrupt_checkpoint_is_an_error_not_a_panic() {
    let (tmp, data) = toy_data(32, 8);
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let cfg = tiny_config(&data);
    std::fs::write(run.join("config.toml"), cfg.to_toml()).unwrap();
    std::fs::write(run.join("checkpoint.safetensors"), b"garbage").unwrap();
    let err = format!("{:#}", ssl_train::cmd::export::export(&run, &cpu_export()).unwrap_err());
    assert!(err.contains("checkpoint.safetensors") && err.contains("corrupt"), "{err}");
    std::fs::remove_file(run.join("checkpoint.safetensors")).unwrap();
    let err = format!("{:#}", ssl_train::cmd::export::export(&run, &cpu_export()).unwrap_err());
    assert!(err.contains("no checkpoint"), "{err}");
}

#[test]
fn unknown_keys_and_wrong_types_name_the_field() {
    let src = Source::Recipe("simclr-fmnist".into());
    let err = Config::load(&src, &["optimizer.lrr=0.1".into()]).unwrap_err().to_string();
    assert!(err.contains("lrr"), "{err}");
    let err = Config::load(&src, &["schedule.lr=\"fast\"".into()]).unwrap_err().to_string();
    assert!(err.contains("lr") && err.contains("invalid type"), "{err}");
    // A key of the earlier flat config says where it lives now.
    let err = Config::load(&src, &["optimizer.lr=0.1".into()]).unwrap_err().to_string();
    assert!(err.contains("optimizer.lr") && err.contains("unknown field `lr`") && err.contains("[schedule]"), "{err}");
    let err = Config::load(&src, &["device=\"cpu\"".into()]).unwrap_err().to_string();
    assert!(err.contains("--device"), "{err}");
    let err = Config::load(&src, &["model.depth=19".into()]).unwrap_err().to_string();
    assert!(err.contains("model.depth") && err.contains("`19` is not a ResNet depth") && err.contains("\"50\""), "{err}");
    assert_eq!(Config::load(&src, &["model.depth=50".into()]).unwrap().model.depth, ssl_models::resnet::Depth::R50);
    let err = Config::load(&src, &["optimizer.momentum=\"high\"".into()]).unwrap_err().to_string();
    assert!(err.contains("optimizer.momentum") && err.contains("invalid type"), "{err}");
    let err = Config::load(&src, &["training.epochs=-1".into()]).unwrap_err().to_string();
    assert!(err.contains("training.epochs"), "{err}");
    let err = Config::load(&src, &["views.count=1".into()]).unwrap_err();
    assert!(format!("{err:#}").contains("views.count"), "{err:#}");
    let err = Config::load(&src, &["views.flip_p=1.5".into()]).unwrap_err();
    assert!(format!("{err:#}").contains("flip_p"), "{err:#}");
    let err = Config::load(&src, &["views.train=[{ ops = [{ op = \"horizontal_flip\", p = 1.5 }] }]".into()]).unwrap_err();
    assert!(format!("{err:#}").contains("views.train[0]") && format!("{err:#}").contains("horizontal_flip") && format!("{err:#}").contains("1.5"), "{err:#}");
    let err = Config::load(&Source::Recipe("nope".into()), &[]).unwrap_err().to_string();
    assert!(err.contains("unknown recipe") && err.contains("simclr-fmnist"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mine.toml");
    let text = ssl_train::recipes::RECIPES[0].1.replace("[eval]", "[eval]\nbogus = 3");
    std::fs::write(&file, text).unwrap();
    let err = Config::load(&Source::File(file.clone()), &[]).unwrap_err().to_string();
    assert!(err.contains("mine.toml") && err.contains("bogus"), "{err}");
    std::fs::write(&file, "name = [").unwrap();
    let err = Config::load(&Source::File(file), &[]).unwrap_err().to_string();
    assert!(err.contains("mine.toml") && err.contains("invalid TOML"), "{err}");
}

#[test]
fn the_default_recipe_is_valid_and_complete() {
    let cfg = Config::load(&Source::Recipe(ssl_train::recipes::DEFAULT_RECIPE.into()), &[]).unwrap();
    assert_eq!(cfg.data.dataset, ssl_train::config::DatasetKind::FashionMnist);
    assert_eq!(cfg.model.stem, ssl_models::Stem::Cifar);
    assert!(matches!(cfg.objective, ssl_train::objective::ObjectiveConfig::Ntxent { .. }));
    // Round trip through the resolved TOML written to run folders.
    let again: ssl_train::config::RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
    assert_eq!(again.check().unwrap(), cfg);
}

#[test]
fn learning_rate_schedule_warms_up_then_decays() {
    use ssl_train::trainer::lr_at;
    assert!((lr_at(0, 100, 10, 1.0) - 0.1).abs() < 1e-12);
    assert!((lr_at(9, 100, 10, 1.0) - 1.0).abs() < 1e-12);
    assert!((lr_at(10, 100, 10, 1.0) - 1.0).abs() < 1e-12);
    assert!((lr_at(55, 100, 10, 1.0) - 0.5).abs() < 1e-12);
    assert!(lr_at(99, 100, 10, 1.0) < 0.001);
    assert!((lr_at(0, 10, 0, 2.0) - 2.0).abs() < 1e-12);
}

/// A run killed during its final evaluation is a state the folder records (`evaluating`):
/// `compare` says so, `--resume` runs the evaluation on the final weights without training again
/// (same numbers as an uninterrupted run), and a second `--resume` is refused.
#[test]
fn an_interrupted_evaluation_is_finished_by_resume() {
    use ssl_train::run::{read_json, Provenance, RunState};
    let (tmp, data) = toy_data(96, 40);
    let cfg = tiny_config(&data);
    let runs = tmp.path().join("runs");
    let mut o = options(runs.clone(), "cut");
    o.stop_before_evaluation = true;
    let e = format!("{:#}", train(&cfg, &o).err().unwrap());
    assert!(e.contains("--resume"), "{e}");
    let dir = runs.join("cut");
    assert!(!dir.join("report.json").exists());
    assert_eq!(read_json::<Provenance>(&dir.join("run.json")).unwrap().state, RunState::Evaluating);
    let c = format!("{:#}", ssl_train::cmd::compare::compare(std::slice::from_ref(&dir), &tmp.path().join("c.png")).unwrap_err());
    assert!(c.contains("final evaluation did not complete") && c.contains("--resume"), "{c}");
    let checkpoint = std::fs::read(dir.join("checkpoint.safetensors")).unwrap();
    let mut o = options(runs.clone(), "unused");
    o.resume = Some(dir.clone());
    let finished = train(&cfg, &o).unwrap();
    assert!(finished.epoch_losses.is_empty(), "trained again: {:?}", finished.epoch_losses);
    assert!(dir.join("report.json").is_file() && dir.join("embeddings.npy").is_file());
    assert_eq!(std::fs::read(dir.join("checkpoint.safetensors")).unwrap(), checkpoint, "the final checkpoint was rewritten");
    assert_eq!(read_json::<Provenance>(&dir.join("run.json")).unwrap().state, RunState::Done);
    let whole = train(&cfg, &options(runs.clone(), "whole")).unwrap();
    assert_eq!(finished.knn_trained, whole.knn_trained);
    let e = format!("{:#}", train(&cfg, &o).err().unwrap());
    assert!(e.contains("already finished"), "{e}");
    ssl_train::cmd::compare::compare(std::slice::from_ref(&dir), &tmp.path().join("c2.png")).unwrap();
}

/// `[track]`: singular values of a named weight and the embedding spectrum every N steps, equal at
/// the end to an independent SVD of the saved weight; the trajectory plots are written.
#[test]
fn tracked_weights_match_an_svd_of_the_saved_weights() {
    let (tmp, data) = toy_data(64, 40);
    let mut raw = tiny_config(&data).to_run_config();
    raw.training.epochs = 1; // 64 / 16 = 4 steps
    raw.track = ssl_train::track::TrackConfig {
        every_steps: 2,
        weights: vec!["projector.0.weight".into(), "backbone.conv1.weight".into()],
        embedding: true,
        images: 32,
    };
    let cfg = raw.check().unwrap();
    let runs = tmp.path().join("runs");
    train(&cfg, &options(runs.clone(), "tracked")).unwrap();
    let dir = runs.join("tracked");
    let tracks: Vec<_> = ssl_train::run::read_metrics(&dir.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter_map(|l| if let ssl_train::run::MetricLine::Track(t) = l { Some(t) } else { None })
        .collect();
    assert_eq!(tracks.iter().map(|t| t.step).collect::<Vec<_>>(), vec![0, 2, 4]);
    let last = tracks.last().unwrap();
    // projector.0 maps the 32-dim representation to 32: 32 singular values; conv1 is 4 × (1·3·3).
    assert_eq!(last.weights["projector.0.weight"].len(), 32);
    assert_eq!(last.weights["backbone.conv1.weight"].len(), 4);
    assert_eq!(last.embedding.as_ref().unwrap().len(), 32);
    // The final line against an SVD (ssl-analysis, via the Gram matrix) of the saved weights.
    let (_, net) = ssl_train::run::load_network(&dir, ssl_models::DeviceChoice::Cpu).unwrap();
    let vars = net.vs.variables();
    for name in ["projector.0.weight", "backbone.conv1.weight"] {
        let w = vars[name].flatten(1, -1).to_kind(tch::Kind::Float);
        let (r, c) = (w.size()[0] as usize, w.size()[1] as usize);
        let m = ndarray::Array2::from_shape_vec((r, c), Vec::<f32>::try_from(w.contiguous().view([-1])).unwrap()).unwrap();
        let want = ssl_analysis::spectrum::singular_values(m.view()).unwrap();
        for (k, (got, want)) in last.weights[name].iter().zip(&want).enumerate() {
            assert!((got - want).abs() <= 1e-4 * want.max(1e-3), "{name} σ_{k}: tracked {got}, SVD {want}");
        }
    }
    for f in ["track-projector-0-weight.svg", "track-projector-0-weight.png", "track-backbone-conv1-weight.png", "track-embedding.svg"] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
}

/// The run's TensorBoard event file, read back with TensorBoard's own reader (installed by
/// `cargo xtask setup` into `.deps/python-extra`): every scalar of metrics.jsonl is there, at its
/// step, with its value, and the monitor's spectrum as a histogram.
#[test]
fn tensorboard_reads_every_scalar_of_the_run() {
    let (tmp, data) = toy_data(64, 40);
    let mut raw = tiny_config(&data).to_run_config();
    raw.training.epochs = 1;
    let cfg = raw.check().unwrap();
    let runs = tmp.path().join("runs");
    train(&cfg, &options(runs.clone(), "tb")).unwrap();
    let dir = runs.join("tb");
    let events: Vec<_> =
        std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("events.out.tfevents.")).collect();
    assert_eq!(events.len(), 1, "one event file per invocation");

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap().to_path_buf();
    let extra = root.join(".deps/python-extra");
    assert!(extra.join("tensorboard").is_dir(), "TensorBoard's reader is not installed under {}: run `cargo xtask setup`", extra.display());
    let pythonpath = format!("{}:{}", extra.display(), Path::new(env!("LIBTORCH")).parent().unwrap().display());
    let script = format!(
        r#"
import json
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(r'{}', size_guidance={{ea.SCALARS: 0, ea.HISTOGRAMS: 0}})
acc.Reload()
tags = acc.Tags()
out = {{"scalars": {{t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}},
       "histograms": {{t: [[e.step, e.histogram_value.num] for e in acc.Histograms(t)] for t in tags["histograms"]}}}}
print(json.dumps(out))
"#,
        dir.display()
    );
    let out = std::process::Command::new("python3").env("PYTHONPATH", pythonpath).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "TensorBoard's reader failed: {}", String::from_utf8_lossy(&out.stderr));
    let tb: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let scalars = tb["scalars"].as_object().unwrap();
    let value_at =
        |tag: &str, step: u64| -> Option<f64> { scalars.get(tag)?.as_array()?.iter().find(|e| e[0].as_u64() == Some(step)).and_then(|e| e[1].as_f64()) };
    let lines = ssl_train::run::read_metrics(&dir.join("metrics.jsonl")).unwrap();
    let (mut steps, mut monitors) = (0, 0);
    for line in &lines {
        match line {
            ssl_train::run::MetricLine::Step(s) => {
                steps += 1;
                let step = s.step as u64;
                for (tag, want) in [("train/loss", s.loss), ("train/lr", s.lr), ("train/images_per_s", s.images_per_s)] {
                    let got = value_at(tag, step).unwrap_or_else(|| panic!("{tag} at step {step} missing; tags: {:?}", scalars.keys().collect::<Vec<_>>()));
                    assert_eq!(got as f32, want as f32, "{tag} at step {step}");
                }
                for (part, want) in &s.parts {
                    assert_eq!(value_at(&format!("train/{part}"), step).map(|v| v as f32), Some(*want as f32), "train/{part} at step {step}");
                }
            }
            ssl_train::run::MetricLine::Epoch(e) => assert_eq!(value_at("epoch/loss", e.step as u64).map(|v| v as f32), Some(e.loss as f32)),
            ssl_train::run::MetricLine::Monitor(m) => {
                monitors += 1;
                let step = m.step as u64;
                for (tag, want) in [
                    ("monitor/knn_accuracy", m.knn_accuracy),
                    ("monitor/participation_ratio", m.participation_ratio),
                    ("monitor/rankme", m.rankme),
                    ("monitor/collapsed_dims", m.collapsed_dims as f64),
                ] {
                    assert_eq!(value_at(tag, step).map(|v| v as f32), Some(want as f32), "{tag} at step {step}");
                }
            }
            _ => {}
        }
    }
    assert!(steps >= 4 && monitors == 2, "{steps} step lines, {monitors} monitor lines");
    let histos = tb["histograms"]["monitor/log10_eigenvalues"].as_array().expect("the monitor's spectrum histogram");
    assert_eq!(histos.len(), 2);
    assert!(histos.iter().all(|h| h[1].as_f64().unwrap() >= 1.0));
}

/// The plain export of the test split, on the CPU.
fn cpu_export() -> ssl_train::cmd::export::ExportOptions {
    ssl_train::cmd::export::ExportOptions { device: ssl_models::DeviceChoice::Cpu, ..ssl_train::cmd::export::ExportOptions::plain(ssl_data::Split::Test) }
}

/// The step losses of a run folder's metrics.jsonl.
fn step_losses(dir: &Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["kind"] == "step")
        .map(|l| l["loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn memory_format_and_cached_baselines_change_speed_not_numbers() {
    let (tmp, data) = toy_data(96, 40);
    let runs = tmp.path().join("runs");
    let layout =
        |f: &str| tiny_simclr(&data, &["training.epochs=1", "log.every_steps=1", "monitor.every_epochs=0", &format!("training.memory_format=\"{f}\"")]);
    let nchw = train(&layout("contiguous"), &options(runs.clone(), "nchw")).unwrap();
    let cl = train(&layout("channels_last"), &options(runs.clone(), "cl")).unwrap();
    let again = train(&layout("channels_last"), &options(runs.clone(), "cl-again")).unwrap();
    let run_json = |name: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(runs.join(name).join("run.json")).unwrap()).unwrap() };
    assert_eq!(run_json("nchw")["memory_format"], "contiguous");
    assert_eq!(run_json("cl")["memory_format"], "channels_last");
    assert_eq!(run_json("cl")["precision"], "float32");
    assert!(run_json("cl")["eval_seconds"].as_f64().unwrap() > 0.0);

    // The same trajectory in either layout, within float rounding.
    let (a, b) = (step_losses(&runs.join("nchw")), step_losses(&runs.join("cl")));
    assert_eq!(a.len(), 6);
    for (s, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * x.abs(), "step {}: {x} (contiguous) vs {y} (channels-last)", s + 1);
    }
    assert!((nchw.knn_trained - cl.knn_trained).abs() <= 0.05, "kNN {} vs {}", nchw.knn_trained, cl.knn_trained);

    // Same seed, same layout: the same numbers, bit for bit.
    assert_eq!(b, step_losses(&runs.join("cl-again")));
    assert_eq!(cl.knn_trained, again.knn_trained);

    // The baselines: computed by the first run of each layout, read back by the next one.
    let (e1, e2) = (cl.eval.unwrap(), again.eval.unwrap());
    assert!(nchw.eval.unwrap().baselines_cached.is_none());
    assert!(e1.baselines_cached.is_none(), "the first channels-last run computes them");
    let cached = e2.baselines_cached.clone().expect("the second run reads them from the cache");
    assert!(cached.starts_with(runs.join(".cache/eval-baselines")), "{}", cached.display());
    assert!(e2.table(1).contains("cached in"), "{}", e2.table(1));
    assert_eq!((e1.knn_init, e1.knn_pixels, e1.pixel_dim), (e2.knn_init, e2.knn_pixels, e2.pixel_dim));
    let report = |name: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(runs.join(name).join("report.json")).unwrap()).unwrap() };
    for key in ["knn_accuracy_init", "knn_accuracy_raw_pixels", "init"] {
        assert_eq!(report("cl")[key], report("cl-again")[key], "{key}");
    }
    // One file per layout; another seed is another key.
    assert_eq!(std::fs::read_dir(runs.join(".cache/eval-baselines")).unwrap().count(), 2);
    let other_seed = tiny_simclr(&data, &["training.epochs=1", "monitor.every_epochs=0", "seed=5"]);
    let s5 = train(&other_seed, &options(runs.clone(), "seed5")).unwrap();
    assert!(s5.eval.unwrap().baselines_cached.is_none());
    assert_eq!(std::fs::read_dir(runs.join(".cache/eval-baselines")).unwrap().count(), 3);
    // A damaged cache file is recomputed, with a warning, not an error.
    std::fs::write(&cached, "{ not json").unwrap();
    let fixed = train(&layout("channels_last"), &options(runs.clone(), "cl-third")).unwrap().eval.unwrap();
    assert!(fixed.baselines_cached.is_none());
    assert_eq!((fixed.knn_init, fixed.knn_pixels), (e1.knn_init, e1.knn_pixels));
}
