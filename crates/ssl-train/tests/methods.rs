//! Every method's CPU recipe trains on a small slice with a falling, finite loss; resume
//! continues exactly; NaN, bad settings and GPU recipes are handled.

use std::path::{Path, PathBuf};

mod common;

use ssl_data::Dataset as _;
use ssl_train::config::{Config, Source};
use ssl_train::objective::ObjectiveConfig;
use ssl_train::recipes::RECIPES;
use ssl_train::trainer::{train, RunOptions};

/// A recipe shrunk to a few steps on the toy data: width 4, 64 images, batch 16, 6 epochs.
fn small(recipe: &str, data: &Path, extra: &[&str]) -> Config {
    let mut o: Vec<String> = vec![
        format!("data.root=\"{}\"", data.display()),
        "data.train_limit=0".into(),
        "data.test_limit=0".into(),
        "model.width=4".into(),
        "training.batch_size=16".into(),
        "training.epochs=6".into(),
        "schedule.warmup_epochs=0".into(),
        "monitor.every_epochs=0".into(),
        "checkpoint.every_epochs=1".into(),
        "log.every_steps=1".into(),
    ];
    if recipe.starts_with("directclr") {
        o.push("objective.d0=16".into());
    }
    o.extend(extra.iter().map(|s| s.to_string()));
    Config::load(&Source::Recipe(recipe.into()), &o).unwrap_or_else(|e| panic!("{recipe}: {e:#}"))
}

fn opts(root: &Path, name: &str) -> RunOptions {
    RunOptions {
        device: ssl_models::DeviceChoice::Cpu,
        runs_root: root.to_path_buf(),
        name: Some(name.into()),
        progress: false,
        skip_eval: true,
        ..Default::default()
    }
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    common::toy_data(64, 20)
}

#[test]
fn every_cpu_recipe_trains_with_a_falling_finite_loss() {
    let (t, data) = setup();
    let cpu: Vec<&str> = RECIPES.iter().map(|(n, _)| *n).filter(|n| n.ends_with("-fmnist")).collect();
    assert!(cpu.len() >= 9, "{cpu:?}");
    for name in cpu {
        // A larger learning rate than the recipes' so a few steps show learning.
        let cfg = small(name, &data, &["schedule.lr=0.05"]);
        let s = train(&cfg, &opts(t.path(), name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let l = &s.epoch_losses;
        println!("{name}: epoch losses {l:?}");
        assert_eq!(l.len(), 6);
        assert!(l.iter().all(|v| v.is_finite()), "{name}: {l:?}");
        assert!(l[5] < l[0], "{name}: the loss did not fall: {l:?}");
        // Every step line carries the loss parts, LR and throughput.
        let metrics = std::fs::read_to_string(t.path().join(name).join("metrics.jsonl")).unwrap();
        let step: serde_json::Value = serde_json::from_str(metrics.lines().find(|l| l.contains("\"step\"")).unwrap()).unwrap();
        assert!(step["lr"].is_number() && step["images_per_s"].is_number() && step["online_probe_acc"].is_number(), "{step}");
        if matches!(cfg.objective, ObjectiveConfig::Byol { .. }) {
            assert!(step["ema_tau"].is_number());
        }
    }
}

#[test]
fn simsiam_and_mmcr_momentum_train_too() {
    let (t, data) = setup();
    for (name, recipe, extra) in [
        ("simsiam", "byol-fmnist", vec!["objective={ kind = \"simsiam\" }"]),
        // At lr 0.05 the momentum variant's 24-step trend is within the noise of 4-step epochs
        // (it falls clearly over 12 epochs); at 0.2 it falls within 6 (−6.20 → −7.05).
        ("mmcr-momentum", "mmcr-fmnist", vec!["objective.momentum_encoder=true", "schedule.lr=0.2"]),
        ("simclr-lars", "simclr-fmnist", vec!["optimizer.kind=\"lars\"", "schedule.lr=2.0"]),
    ] {
        let cfg = small(recipe, &data, &[&["schedule.lr=0.05"], extra.as_slice()].concat());
        let s = train(&cfg, &opts(t.path(), name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let l = &s.epoch_losses;
        println!("{name}: {l:?}");
        assert!(l.iter().all(|v| v.is_finite()) && l[5] < l[0], "{name}: {l:?}");
    }
}

#[test]
fn an_interrupted_run_resumes_exactly() {
    let (t, data) = setup();
    for recipe in ["byol-fmnist", "simclr-fmnist"] {
        let cfg = small(recipe, &data, &["training.epochs=2"]);
        let whole = t.path().join(format!("{recipe}-whole"));
        train(&cfg, &opts(t.path(), &format!("{recipe}-whole"))).unwrap();
        let name = format!("{recipe}-cut");
        let mut o = opts(t.path(), &name);
        o.stop_after_steps = Some(5); // mid-epoch (4 steps per epoch)
        let err = train(&cfg, &o).err().unwrap();
        let stop = err.downcast_ref::<ssl_train::trainer::Interrupted>().expect("an interruption is typed (the command line exits 130 for it)");
        assert_eq!((stop.step, stop.epoch), (5, 2));
        let err = format!("{err:#}");
        assert!(err.contains("interrupted at step 5") && err.contains("--resume"), "{err}");
        let cut = t.path().join(&name);
        let mut o = opts(t.path(), "unused");
        o.resume = Some(cut.clone());
        train(&cfg, &o).unwrap();
        let a = tch::Tensor::read_safetensors(whole.join("checkpoint.safetensors")).unwrap();
        let b: std::collections::HashMap<String, tch::Tensor> =
            tch::Tensor::read_safetensors(cut.join("checkpoint.safetensors")).unwrap().into_iter().collect();
        let mut compared = 0;
        for (n, x) in &a {
            if n == "state/json" {
                continue;
            }
            let y = &b[n];
            let d = (x.to_kind(tch::Kind::Double) - y.to_kind(tch::Kind::Double)).abs().max().double_value(&[]);
            assert!(d < 1e-6, "{recipe}: {n} differs by {d} after resume");
            compared += 1;
        }
        assert!(compared > 100);
        // Resuming a finished run is refused.
        let err = format!("{:#}", train(&cfg, &o).err().unwrap());
        assert!(err.contains("already finished"), "{err}");
    }
}

#[test]
fn a_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint() {
    let (t, data) = setup();
    // A huge learning rate blows the weights up within the second epoch.
    let cfg = small("simclr-noproj-fmnist", &data, &["optimizer.kind=\"sgd\"", "schedule.lr=1e12", "training.epochs=3"]);
    let err = format!("{:#}", train(&cfg, &opts(t.path(), "nan")).err().expect("the run must stop"));
    assert!(err.contains("at step") && err.contains("last good checkpoint"), "{err}");
    let metrics = std::fs::read_to_string(t.path().join("nan/metrics.jsonl")).unwrap();
    assert!(metrics.contains("non-finite loss"));
    if t.path().join("nan/checkpoint.safetensors").exists() {
        let s = ssl_models::checkpoint::read_state(&t.path().join("nan/checkpoint.safetensors")).unwrap();
        assert!(!s.finished);
    }
}

#[test]
fn inconsistent_settings_are_refused_with_the_field_named() {
    let (t, data) = setup();
    let load = |recipe: &str, o: &[&str]| {
        let mut all: Vec<String> = vec![format!("data.root=\"{}\"", data.display())];
        all.extend(o.iter().map(|s| s.to_string()));
        Config::load(&Source::Recipe(recipe.into()), &all).map(|_| ()).map_err(|e| format!("{e:#}"))
    };
    let cases: [(&str, &[&str], &str); 8] = [
        ("simclr-fmnist", &["objective.kind=\"swav\""], "objective.kind"),
        ("mmcr-fmnist", &["views.count=1"], "views.count"),
        ("directclr-fmnist", &["objective.d0=129"], "objective.d0"),
        ("directclr-fmnist", &["model.projector=[64]"], "projector"),
        ("barlow-fmnist", &["views.count=3"], "views.count"),
        ("byol-fmnist", &["model.predictor=[]"], "predictor"),
        ("simclr-fmnist", &["optimizer.kind=\"rmsprop\""], "optimizer.kind"),
        ("simclr-fmnist", &["optimizer.momentum=1.5"], "momentum"),
    ];
    for (recipe, o, field) in cases {
        let e = load(recipe, o).expect_err(&format!("{o:?} must be refused"));
        assert!(e.contains(field), "{o:?}: {e}");
    }
    assert!(load("simclr-fmnist", &["objective.tau=0.1"]).unwrap_err().contains("tau"));
    // Batch larger than the dataset: refused before a run folder exists.
    let cfg = small("simclr-fmnist", &data, &["training.batch_size=128"]);
    let e = format!("{:#}", train(&cfg, &opts(t.path(), "big")).err().unwrap());
    assert!(e.contains("batch_size") && e.contains("64 images"), "{e}");
    assert!(!t.path().join("big").exists());
    // A resume with a different config is refused by the CLI's comparison.
    let a = small("simclr-fmnist", &data, &[]);
    let b = small("simclr-fmnist", &data, &["schedule.lr=0.3"]);
    assert_eq!(ssl_train::config::differences(&a, &b), vec!["schedule.lr".to_string()]);
    assert!(ssl_train::config::differences(&a, &a).is_empty());
}

#[test]
fn a_corrupt_checkpoint_cannot_be_resumed_and_is_left_alone() {
    let (t, data) = setup();
    let cfg = small("simclr-fmnist", &data, &["training.epochs=2"]);
    let mut o = opts(t.path(), "c");
    o.stop_after_steps = Some(3);
    let _ = train(&cfg, &o);
    let ckpt = t.path().join("c/checkpoint.safetensors");
    std::fs::write(&ckpt, b"garbage").unwrap();
    let mut o = opts(t.path(), "unused");
    o.resume = Some(t.path().join("c"));
    let e = format!("{:#}", train(&cfg, &o).err().unwrap());
    assert!(e.contains("checkpoint.safetensors") && e.contains("cannot resume"), "{e}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), b"garbage");
}

/// Every shipped recipe loads, checks and round-trips through the run folder's TOML.
#[test]
fn every_shipped_recipe_loads() {
    for (name, _) in RECIPES {
        let cfg = Config::load(&Source::Recipe(name.to_string()), &[]).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let again: ssl_train::config::RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(again.check().unwrap(), cfg, "{name}");
    }
}

/// GPU recipes: valid configs whose networks build and run one forward pass on the CPU.
#[test]
fn gpu_recipes_are_valid_and_build() {
    use tch::{Device, Kind, Tensor};
    for (name, _) in RECIPES.iter().filter(|(n, _)| n.ends_with("-cifar10")) {
        let cfg = Config::load(&Source::Recipe(name.to_string()), &[]).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let rgb = ssl_data::Shape { channels: 3, height: 32, width: 32 };
        for p in &cfg.views.train {
            assert_eq!(p.checked_shape(rgb).unwrap(), rgb, "{name}");
        }
        assert_eq!(cfg.model.in_channels, 3);
        let net = ssl_train::network::Network::of_run(&cfg, Device::Cpu);
        let x = Tensor::zeros([4, 3, 32, 32], (Kind::Float, Device::Cpu));
        let z = tch::no_grad(|| net.project_views(&x, false));
        let out = cfg.model.projector.last().copied().unwrap_or(net.backbone.out_dim());
        // A channel split makes its views from the one image each: one projection per group.
        let views = cfg.model.split.as_ref().map_or(1, |s| s.groups.len() as i64);
        assert_eq!(z.size(), vec![4 * views, out], "{name}");
        cfg.views.check().unwrap();
        cfg.check_views(rgb).unwrap();
        // The resolved config (with any view pipelines) round-trips through the run folder's TOML.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), cfg.to_toml()).unwrap();
        assert_eq!(ssl_train::config::read_saved(&dir.path().join("config.toml")).unwrap(), cfg, "{name}");
    }
    let byol = Config::load(&Source::Recipe("byol-cifar10".into()), &[]).unwrap();
    assert_eq!(byol.views.train.len(), 2);
    // A pipeline that does not fit the images is refused with its index.
    let e = format!("{:#}", byol.check_views(ssl_data::Shape { channels: 1, height: 28, width: 28 }).unwrap_err());
    assert!(e.contains("views.train[0]"), "{e}");
}

#[test]
fn asymmetric_pipelines_train_on_grey_images() {
    let (t, data) = setup();
    let pipe = |solarize: f64| {
        format!(
            "{{ ops = [{{ op = \"random_resized_crop\", size = 28, scale = [0.3, 1.0] }}, {{ op = \"horizontal_flip\", p = 0.5 }}, {{ op = \"solarize\", threshold = 0.5, p = {solarize} }}, {{ op = \"normalize\", mean = [0.286], std = [0.353] }}] }}"
        )
    };
    let set = format!("views.train=[{}, {}]", pipe(0.0), pipe(0.2));
    let cfg = small("byol-fmnist", &data, &[&set, "schedule.lr=0.05"]);
    assert_eq!(cfg.views.train.len(), 2);
    let s = train(&cfg, &opts(t.path(), "asym")).unwrap();
    assert!(s.epoch_losses.iter().all(|v| v.is_finite()) && s.epoch_losses[5] < s.epoch_losses[0], "{:?}", s.epoch_losses);
}

#[test]
fn eval_runs_every_protocol_and_never_overwrites() {
    use ssl_train::cmd::eval::{balanced_subset, evaluate_run, EvalOptions, Protocol};
    let (t, data) = setup();
    let cfg = small("simclr-v2-fmnist", &data, &["training.epochs=1", "schedule.lr=0.05"]);
    train(&cfg, &opts(t.path(), "e")).unwrap();
    let run = t.path().join("e");
    let o = EvalOptions {
        protocols: vec![Protocol::Knn, Protocol::Linear, Protocol::Finetune, Protocol::Distill],
        linear_epochs: 2,
        finetune_epochs: 2,
        fractions: vec![0.1, 0.5],
        from_head_layer: 1,
        distill_epochs: 1,
        student_width: Some(2),
        distill_temperature: 2.0,
        distill_label_weight: 0.3,
        batch_size: 16,
        out: None,
        device: ssl_models::DeviceChoice::Cpu,
    };
    let (path, r) = evaluate_run(&run, &o).unwrap();
    assert_eq!(path, run.join("eval.json"));
    let (distill, finetune) = (r.distill.as_ref().unwrap(), r.finetune.as_ref().unwrap());
    for a in [r.knn.as_ref().unwrap().accuracy, r.linear.as_ref().unwrap().accuracy, distill.accuracy, distill.teacher_accuracy] {
        assert!((0.0..=1.0).contains(&a), "{r:?}");
    }
    let rows = &finetune.results;
    assert_eq!(rows.len(), 2);
    // 64 images, about 6–7 per class: ⌈0.1·n_c⌉ = 1 per class, ⌈0.5·n_c⌉ = 3–4 per class.
    assert_eq!(rows[0].images, 10);
    assert_eq!(finetune.from_head_layer, 1);
    // The teacher is the model fine-tuned on the largest fraction; its subset is the labelled part.
    assert_eq!(distill.labelled_images, rows[1].images);
    assert_eq!((distill.temperature, distill.label_weight), (2.0, 0.3));
    // eval.json reads back as the report it was written from.
    let back: ssl_train::run::EvalReport = ssl_train::run::read_json(&path).unwrap();
    assert_eq!(back, r);
    let again = format!("{:#}", evaluate_run(&run, &o).unwrap_err());
    assert!(again.contains("already exists"), "{again}");
    assert!(format!("{:#}", "svm".parse::<Protocol>().unwrap_err()).contains("unknown protocol `svm`"));
    // Bad options are refused before any work, naming the flag.
    for (bad, flag) in [
        (EvalOptions { batch_size: 0, out: Some(t.path().join("b.json")), ..o.clone() }, "--batch-size"),
        (EvalOptions { student_width: Some(0), out: Some(t.path().join("s.json")), ..o.clone() }, "--student-width"),
        (EvalOptions { fractions: vec![0.0], out: Some(t.path().join("f.json")), ..o.clone() }, "--fractions"),
        (EvalOptions { linear_epochs: 0, out: Some(t.path().join("l.json")), ..o.clone() }, "--linear-epochs"),
        (EvalOptions { distill_temperature: 0.0, out: Some(t.path().join("t.json")), ..o.clone() }, "--distill-temperature"),
        (EvalOptions { distill_label_weight: 1.5, out: Some(t.path().join("w.json")), ..o.clone() }, "--distill-label-weight"),
    ] {
        let e = format!("{:#}", evaluate_run(&run, &bad).unwrap_err());
        assert!(e.contains(flag), "{flag}: {e}");
        assert!(!bad.out.as_ref().unwrap().exists());
    }
    let bad = EvalOptions { from_head_layer: 9, out: Some(t.path().join("y.json")), ..o };
    assert!(format!("{:#}", evaluate_run(&run, &bad).unwrap_err()).contains("--from-head-layer"));
    // Class balance of the subset.
    let ds = ssl_train::dataset::load_split(&cfg, ssl_data::Split::Train, 0).unwrap();
    let sub = balanced_subset(&ds, 0.5, 0).unwrap();
    let mut per = [0usize; 10];
    for i in sub {
        per[ssl_data::Dataset::label(&ds, i).unwrap() as usize] += 1;
    }
    assert!(per.iter().all(|&c| (3..=4).contains(&c)), "{per:?}");
    assert!(balanced_subset(&ds, 0.0, 0).is_err());
}

/// The SimCLR view of the Fashion-MNIST recipes at 32 px (the toy dataset's side).
const TOY_VIEWS: &str = "views.train=[{ ops = [{ op = \"random_resized_crop\", size = 32, scale = [0.3, 1.0] }, { op = \"horizontal_flip\", p = 0.5 }, { op = \"color_jitter\", brightness = 0.4, contrast = 0.4, p = 0.8 }, { op = \"normalize\", mean = [0.286], std = [0.353] }] }]";

#[test]
fn the_toy_dataset_trains() {
    let (t, data) = setup();
    let cfg = small(
        "simclr-fmnist",
        &data,
        &["data.dataset=\"toy\"", "data.train_limit=64", "data.test_limit=20", "model.in_channels=3", TOY_VIEWS, "training.epochs=2"],
    );
    let s = train(&cfg, &opts(t.path(), "toy")).unwrap();
    assert!(s.epoch_losses.iter().all(|v| v.is_finite()));
}

#[test]
fn views_preview_writes_a_grid_and_never_overwrites() {
    let (t, data) = setup();
    let cfg = small("byol-fmnist", &data, &[]);
    let out = t.path().join("grid.png");
    let (rows, cols) = ssl_train::cmd::views::views_grid(&cfg, 3, 4, 0, &out).unwrap();
    assert_eq!((rows, cols), (3, 5));
    let img = image::open(&out).unwrap();
    // 28-px images zoomed ×3 (to 84 px) in 88-px cells.
    assert_eq!((img.width(), img.height()), (5 * 88, 3 * 88));
    let e = format!("{:#}", ssl_train::cmd::views::views_grid(&cfg, 3, 4, 0, &out).unwrap_err());
    assert!(e.contains("already exists"), "{e}");
    assert!(ssl_train::cmd::views::views_grid(&cfg, 3, 65, 0, &t.path().join("x.png")).is_err());
}

/// A `.npy` file of u8 images or int64 labels, written byte by byte (format v1.0).
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

#[test]
fn npy_and_image_folder_datasets_train() {
    let (t, data) = setup();
    let idx_cfg = small("simclr-fmnist", &data, &[]);
    let npy = t.path().join("npy");
    let folder = t.path().join("folder");
    for split in [ssl_data::Split::Train, ssl_data::Split::Test] {
        let ds = ssl_train::dataset::load_split(&idx_cfg, split, 0).unwrap();
        let labels: Vec<u8> = (0..ds.len()).flat_map(|i| i64::from(ssl_data::Dataset::label(&ds, i).unwrap()).to_le_bytes()).collect();
        std::fs::create_dir_all(&npy).unwrap();
        write_npy(&npy.join(format!("{}_images.npy", split.name())), "|u1", &[ds.len(), 28, 28], ds.pixels());
        write_npy(&npy.join(format!("{}_labels.npy", split.name())), "<i8", &[ds.len()], &labels);
        for i in 0..ds.len() {
            let dir = folder.join(split.name()).join(format!("class{}", ssl_data::Dataset::label(&ds, i).unwrap()));
            std::fs::create_dir_all(&dir).unwrap();
            image::GrayImage::from_raw(28, 28, ssl_data::Dataset::image(&ds, i).data.to_vec()).unwrap().save(dir.join(format!("{i}.png"))).unwrap();
        }
    }
    for (kind, root) in [("npy", &npy), ("imagefolder", &folder)] {
        let cfg = small("simclr-fmnist", root, &[&format!("data.dataset=\"{kind}\""), "training.epochs=1"]);
        let train_set = ssl_train::dataset::load_split(&cfg, ssl_data::Split::Train, 0).unwrap();
        assert_eq!(train_set.len(), 64, "{kind}");
        let s = train(&cfg, &opts(t.path(), &format!("run-{kind}"))).unwrap_or_else(|e| panic!("{kind}: {e:#}"));
        assert!(s.epoch_losses.iter().all(|v| v.is_finite()));
    }
    // An image folder with an unreadable image names the file.
    std::fs::write(folder.join("train/class0/broken.png"), b"not a png").unwrap();
    let cfg = small("simclr-fmnist", &folder, &["data.dataset=\"imagefolder\""]);
    let e = format!("{:#}", ssl_train::dataset::load_split(&cfg, ssl_data::Split::Train, 0).unwrap_err());
    assert!(e.contains("broken.png"), "{e}");
}

/// A study drives the Trainer step by step: it sees the network between steps, the step count
/// and the metrics follow, and the run finishes like `train` would.
#[test]
fn the_trainer_can_be_driven_step_by_step() {
    use ssl_train::trainer::Trainer;
    let (t, data) = setup();
    let cfg = small("simclr-fmnist", &data, &["training.epochs=2"]);
    let mut trainer = Trainer::new(&cfg, opts(t.path(), "driven")).unwrap();
    assert_eq!((trainer.steps_done(), trainer.total_steps(), trainer.epoch()), (0, 8, 0));
    let conv1 = |tr: &Trainer| tr.network().vs.variables()["backbone.conv1.weight"].copy();
    let mut snapshots = vec![conv1(&trainer)];
    while !trainer.is_done() {
        let mut batches = trainer.epoch_batches();
        while let Some(batch) = batches.next() {
            let mut batch = batch.unwrap();
            let out = trainer.step(&batch).unwrap();
            assert!(out.loss.is_finite() && out.lr > 0.0 && !out.parts.is_empty());
            batches.recycle(std::mem::take(&mut batch.data));
            snapshots.push(conv1(&trainer));
        }
        drop(batches);
        trainer.end_epoch().unwrap();
    }
    assert_eq!(snapshots.len(), 9);
    // Every step moved the weights.
    for w in snapshots.windows(2) {
        assert!((&w[1] - &w[0]).abs().max().double_value(&[]) > 0.0);
    }
    let driven = trainer.finish().unwrap();
    // The same run through `train` ends at the same weights.
    let whole = train(&cfg, &opts(t.path(), "whole")).unwrap();
    let a = tch::Tensor::read_safetensors(driven.dir.join("checkpoint.safetensors")).unwrap();
    let b: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(whole.dir.join("checkpoint.safetensors")).unwrap().into_iter().collect();
    for (n, x) in &a {
        if n != "state/json" {
            let d = (x.to_kind(tch::Kind::Double) - b[n].to_kind(tch::Kind::Double)).abs().max().double_value(&[]);
            assert!(d < 1e-6, "{n} differs by {d}");
        }
    }
    // metrics.jsonl reads back through its type: 8 step lines, 2 epoch lines.
    let lines = ssl_train::run::read_metrics(&driven.dir.join("metrics.jsonl")).unwrap();
    let steps = lines.iter().filter(|l| matches!(l, ssl_train::run::MetricLine::Step(_))).count();
    let epochs = lines.iter().filter(|l| matches!(l, ssl_train::run::MetricLine::Epoch(_))).count();
    assert_eq!((steps, epochs), (8, 2));
}

/// A run folder is held by one process at a time: a second open (another `--resume`) is refused
/// while the first holds it, and allowed once it is gone.
#[test]
fn a_run_folder_in_use_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let first = ssl_train::run::RunDir::create(t.path(), "held").unwrap();
    std::fs::write(t.path().join("held/config.toml"), "").unwrap();
    let e = format!("{:#}", ssl_train::run::RunDir::open(&t.path().join("held")).err().unwrap());
    assert!(e.contains(&format!("in use by process {}", std::process::id())), "{e}");
    drop(first);
    ssl_train::run::RunDir::open(&t.path().join("held")).unwrap();
}
