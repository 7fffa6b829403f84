//! The bad-input corpus: every command of the runner given what a hostile but realistic user
//! gives it — wrong keys, types and ranges in configs and `--set`, broken data files, bad flags,
//! occupied output paths, run folders in every state. Each case must exit non-zero with a message
//! that names the problem, must not panic, and must leave every file that was there unchanged.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Command;

use ssl_train::config::Config;
use ssl_train::trainer::{train, RunOptions};

#[allow(dead_code)] // each test binary uses part of the helpers
mod common;
use common::{tiny_simclr, toy_dataset, write_idx};

/// Every file under `dir`: relative path → hash of its contents.
fn snapshot(dir: &Path) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&path).unwrap().hash(&mut h);
                out.insert(path.strip_prefix(root).unwrap().display().to_string(), h.finish());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The tiny run of these tests: SimCLR on the toy set, width 4, one epoch.
fn tiny(data: &Path) -> Config {
    tiny_simclr(data, &["training.epochs=1", "monitor.every_epochs=0"])
}

fn options(root: &Path, name: &str) -> RunOptions {
    RunOptions { device: ssl_models::DeviceChoice::Cpu, runs_root: root.to_path_buf(), name: Some(name.into()), command: "test".into(), ..Default::default() }
}

/// Writes a broken copy of the toy set into `dir`: `images` pixel bytes cut short, or one label
/// too few.
fn broken_data(dir: &Path, truncated: bool) {
    std::fs::create_dir_all(dir).unwrap();
    toy_dataset(dir, 64, 32);
    if truncated {
        write_idx(&dir.join("train-images-idx3-ubyte.gz"), &[64, 28, 28], &vec![0u8; 64 * 28 * 28 - 100]);
    } else {
        write_idx(&dir.join("train-labels-idx1-ubyte.gz"), &[63], &[0u8; 63]);
    }
}

#[test]
fn every_bad_input_is_refused_with_a_message_and_nothing_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = t.join("data");
    std::fs::create_dir(&data).unwrap();
    toy_dataset(&data, 64, 32);
    broken_data(&t.join("truncated"), true);
    broken_data(&t.join("mismatch"), false);
    let cfg = tiny(&data);
    let toml = cfg.to_toml();
    std::fs::write(t.join("tiny.toml"), &toml).unwrap();
    std::fs::write(t.join("broken.toml"), "[[[ not toml").unwrap();
    std::fs::write(t.join("flat.toml"), format!("lr = 0.1\n{toml}")).unwrap();
    std::fs::write(t.join("extra.toml"), format!("{toml}\n[extra]\nx = 1\n")).unwrap();
    std::fs::write(t.join("badop.toml"), toml.replacen("op = \"", "op = \"no_such_op\"\nwas = \"", 1)).unwrap();
    assert_ne!(toml, std::fs::read_to_string(t.join("badop.toml")).unwrap(), "the view op was replaced");
    // A user's folder and files next to the runs.
    std::fs::create_dir(t.join("mine")).unwrap();
    std::fs::write(t.join("mine/notes.txt"), "my notes").unwrap();
    std::fs::write(t.join("picture.png"), "my picture").unwrap();
    std::fs::write(t.join("eval-mine.json"), "{}").unwrap();
    // Run folders in each state: finished (with an export), stopped after one step.
    let runs = t.join("runs");
    train(&cfg, &options(&runs, "done")).unwrap();
    ssl_train::cmd::export::export(&runs.join("done"), &cpu_export()).unwrap();
    let stopped = RunOptions { stop_after_steps: Some(1), ..options(&runs, "stopped") };
    assert!(train(&cfg, &stopped).is_err(), "an interrupted run reports the interruption");

    let s = |p: &str| t.join(p).display().to_string();
    let (tiny_toml, done, stop) = (s("tiny.toml"), s("runs/done"), s("runs/stopped"));
    let runs_dir = s("runs");
    let tr = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["train", "--config", &tiny_toml, "--runs-dir", &runs_dir].iter().map(|a| a.to_string()).collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let set = |kv: &str| tr(&["--set", kv]);
    let cmd = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let at = |p: &str| format!("data.root=\"{}\"", s(p));

    let mut cases: Vec<(Vec<String>, &str)> = vec![
        // Config values: wrong types, out of range, unknown keys — each names its key.
        (set("schedule.lr=abc"), "schedule.lr"),
        (set("schedule.lr=inf"), "schedule.lr"),
        (set("schedule.lr=nan"), "schedule.lr"),
        (set("schedule.lr=-0.1"), "schedule.lr"),
        (set("schedule.lr=0"), "schedule.lr"),
        (set("schedule.warmup_epochs=-1"), "schedule.warmup_epochs"),
        (set("schedule.decay=\"linear\""), "schedule.decay"),
        (set("model.depth=19"), "model.depth"),
        (set("model.depth=\"deep\""), "model.depth"),
        (set("model.width=0"), "model.width"),
        (set("model.in_channels=3"), "channel"),
        (set("model.projector=\"wide\""), "model.projector"),
        (set("training.batch_size=1"), "training.batch_size"),
        (set("training.batch_size=100000"), "training.batch_size"),
        (set("training.epochs=0"), "training.epochs"),
        (set("training.epochs=-3"), "training.epochs"),
        (set("training.amp=\"yes\""), "training.amp"),
        (set("training.memory_format=\"nhwc\""), "training.memory_format"),
        (set("training.memory_format=\"nhwc\""), "channels_last"),
        (set("training.precision=\"float16\""), "training.precision"),
        (set("training.precision=\"float16\""), "bfloat16"),
        (set("eval.knn_k=0"), "eval.knn_k"),
        (set("eval.knn_temperature=0"), "eval.knn_temperature"),
        (set("eval.knn_temperature=-1"), "eval.knn_temperature"),
        (set("eval.batch_size=0"), "eval.batch_size"),
        (set("log.every_steps=0"), "log.every_steps"),
        (tr(&["--set", "monitor.every_epochs=1", "--set", "monitor.bank=0"]), "monitor.bank"),
        (set("objective.temperature=0"), "objective.temperature"),
        (set("objective.temperature=inf"), "objective.temperature"),
        (set("objective.kind=\"nope\""), "objective"),
        (set("objective.lambda=0.1"), "lambda"),
        (set("optimizer.momentum=1.5"), "optimizer.momentum"),
        (set("optimizer.weight_decay=-1"), "optimizer.weight_decay"),
        (set("optimizer.kind=\"rmsprop\""), "optimizer.kind"),
        (set("nosuch.key=1"), "nosuch"),
        (set("views.nonsense=1"), "nonsense"),
        (set("views.count=1"), "views.count"),
        // Channel-split views (the tiny run is grey: one channel).
        (set("model.split={ groups = [[0], []] }"), "model.split.groups"),
        (set("views.frames=3"), "set views.shared"),
        (set("views.frames=3"), "set model.in_channels = 12"),
        (set("views.frames=0"), "views.frames = 0"),
        (set("model.split={ groups = [[0]] }"), "at least two channel groups"),
        (set("model.split={ groups = [[0], [1]] }"), "below model.in_channels"),
        (set("model.split={ groups = [[0], [0]], unknown = 1 }"), "unknown"),
        (tr(&["--set", "views.count=3", "--set", "model.split={ groups = [[0], [0]] }"]), "views.count = 2"),
        (tr(&["--set", "model.in_channels=3", "--set", "model.split={ groups = [[0], [1, 2]], shared = true }"]), "model.split.shared"),
        (tr(&["--set", "model.in_channels=2", "--set", "model.split={ groups = [[0], [1]], shared = true }"]), "model.in_channels = 2"),
        (set("seed=-1"), "seed"),
        (set("data.dataset=\"imagenet\""), "data.dataset"),
        (set("lr=0.1"), "schedule"),
        (set("noequals"), "key.path=value"),
        // Config files.
        (cmd(&["train", "--recipe", "nope"]), "unknown recipe"),
        (cmd(&["train", "--config", &s("missing.toml")]), "missing.toml"),
        (cmd(&["train", "--config", &s("broken.toml")]), "invalid TOML"),
        (cmd(&["train", "--config", &s("flat.toml")]), "moved"),
        (cmd(&["train", "--config", &s("extra.toml")]), "extra"),
        (cmd(&["train", "--config", &s("badop.toml")]), "views.train"),
        // Data.
        (set(&at("nowhere")), "nowhere"),
        (set(&at("truncated")), "train-images"),
        (set(&at("mismatch")), "label"),
        (set(&at("mine")), "train-images"),
        // Run options and run folders.
        (tr(&["--threads", "0"]), "--threads"),
        (tr(&["--device", "tpu"]), "tpu"),
        (tr(&["--name", "done"]), "already exists"),
        (tr(&["--name", "a/b"]), "plain folder name"),
        (tr(&["--bogus-flag"]), "--bogus-flag"),
        (cmd(&["train", "--resume", &s("nowhere")]), "cannot resume"),
        (cmd(&["train", "--resume", &s("mine")]), "config.toml"),
        (cmd(&["train", "--resume", &done]), "already finished"),
        (cmd(&["train", "--resume", &stop, "--set", "schedule.lr=0.5"]), "schedule.lr"),
        (tr(&["--dry-run", "--set", "training.epochs=0", "--set", "eval.knn_k=0", "--set", "schedule.lr=-1"]), "3 problems"),
        // export
        (cmd(&["export", "--run", &s("nowhere")]), "nowhere"),
        (cmd(&["export", "--run", &s("mine")]), "mine"),
        (cmd(&["export", "--run", &done, "--out", &s("mine")]), "notes.txt"),
        (cmd(&["export", "--run", &done, "--out", &s("picture.png")]), "not a folder"),
        (cmd(&["export", "--run", &done]), "test_backbone.npy"),
        (cmd(&["export", "--run", &done, "--split", "val"]), "val"),
        (cmd(&["export", "--run", &done, "--device", "gpu"]), "gpu"),
        (cmd(&["export", "--run", &done, "--layers", "layer9", "--out", &s("ex")]), "unknown layer `layer9`"),
        (cmd(&["export", "--run", &done, "--views", "2", "--out", &s("ex")]), "--images"),
        (cmd(&["export", "--run", &done, "--views", "2", "--images", "100000", "--out", &s("ex")]), "--images 100000"),
        (cmd(&["export", "--run", &done, "--views", "0", "--images", "3", "--out", &s("ex")]), "at least 1 view"),
        (cmd(&["export", "--run", &done, "--views", "2", "--images", "3", "--pipeline", "nope", "--out", &s("ex")]), "unknown pipeline `nope`"),
        // eval
        (cmd(&["eval", "--run", &s("nowhere")]), "nowhere"),
        (cmd(&["eval", "--run", &done, "--protocols", "knn,magic"]), "magic"),
        (cmd(&["eval", "--run", &done, "--protocols", "linear", "--batch-size", "0"]), "--batch-size"),
        (cmd(&["eval", "--run", &done, "--protocols", "linear", "--linear-epochs", "0"]), "--linear-epochs"),
        (cmd(&["eval", "--run", &done, "--protocols", "finetune", "--fractions", "abc"]), "--fractions"),
        (cmd(&["eval", "--run", &done, "--protocols", "finetune", "--fractions", "0"]), "--fractions"),
        (cmd(&["eval", "--run", &done, "--protocols", "finetune", "--fractions", "1.5"]), "--fractions"),
        (cmd(&["eval", "--run", &done, "--protocols", "finetune", "--finetune-epochs", "0"]), "--finetune-epochs"),
        (cmd(&["eval", "--run", &done, "--protocols", "distill", "--student-width", "0"]), "--student-width"),
        (cmd(&["eval", "--run", &done, "--protocols", "distill", "--distill-epochs", "0"]), "--distill-epochs"),
        (cmd(&["eval", "--run", &done, "--protocols", "finetune", "--from-head-layer", "9"]), "--from-head-layer"),
        (cmd(&["eval", "--run", &done, "--out", &s("eval-mine.json")]), "eval-mine.json"),
        (cmd(&["eval", "--run", &done, "--linear-epochs", "-2"]), "-2"),
        // compare
        (cmd(&["compare"]), "at least one run"),
        (cmd(&["compare", &s("nowhere")]), "nowhere"),
        (cmd(&["compare", &s("mine")]), "not a run folder"),
        (cmd(&["compare", &stop]), "resume"),
        (cmd(&["compare", &done, "--plot", &s("picture.png")]), "picture.png"),
        // views
        (cmd(&["views", "--config", &tiny_toml, "--out", &s("picture.png")]), "picture.png"),
        (cmd(&["views", "--config", &tiny_toml, "--images", "0", "--out", &s("v.png")]), "--images"),
        (cmd(&["views", "--config", &tiny_toml, "--views", "0", "--out", &s("v.png")]), "--views"),
        (cmd(&["views", "--recipe", "nope", "--out", &s("v.png")]), "unknown recipe"),
        (cmd(&["views", "--config", &tiny_toml, "--set", "views.count=abc", "--out", &s("v.png")]), "views.count"),
        // study
        (cmd(&["study", "nope", "--out", &s("st")]), "nope"),
        (cmd(&["study", "collapse", "--part", "nope", "--out", &s("st")]), "nope"),
        (cmd(&["study", "collapse", "--out", &s("mine")]), "notes.txt"),
        (cmd(&["study", "collapse", "--out", &s("picture.png")]), "not a folder"),
        (cmd(&["study", "collapse", "--toy-steps", "0", "--out", &s("st")]), "--toy-steps"),
        (cmd(&["study", "collapse", "--seed", "3", "--out", &s("st")]), "--seed"),
        (cmd(&["study", "infomin", "--part", "frames", "--seed", "3", "--out", &s("st")]), "only the infomin parts colour and sweetspot"),
        (cmd(&["study", "collapse", "--part", "projector", "--epochs", "0", "--out", &s("st")]), "--epochs"),
        (cmd(&["study", "collapse", "--part", "projector", "--threads", "0", "--out", &s("st")]), "--threads"),
        (cmd(&["study", "capacity", "--part", "toy", "--out", &s("st")]), "study `capacity` has the parts layers"),
        (cmd(&["study", "capacity", "--epochs", "0", "--out", &s("st")]), "--epochs"),
        (cmd(&["study", "capacity", "--out", &s("mine")]), "notes.txt"),
        // [track]
        (tr(&["--set", "track.every_steps=1", "--set", "track.weights=[\"projector.9.weight\"]"]), "projector.9.weight"),
        (tr(&["--set", "track.every_steps=1"]), "nothing to track"),
        (tr(&["--set", "track.every_steps=1", "--set", "track.embedding=true", "--set", "track.images=1"]), "track.images"),
        (tr(&["--set", "track.bogus=1"]), "bogus"),
        // The command line itself.
        (cmd(&["tarin"]), "tarin"),
        (cmd(&[]), "Usage"),
    ];
    if !tch::Cuda::is_available() {
        cases.push((tr(&["--device", "cuda"]), "CUDA"));
        cases.push((tr(&["--device", "cuda", "--dry-run"]), "CUDA"));
    }
    // Data-parallel launches: the launcher's variables and flags.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let job = |rank: &'static str, world: &'static str| vec![("RANK", rank.to_string()), ("WORLD_SIZE", world.to_string())];
    let with_master = |mut v: Vec<(&'static str, String)>, port: &str| {
        v.extend([("MASTER_ADDR", "127.0.0.1".to_string()), ("MASTER_PORT", port.to_string())]);
        v
    };
    // (arguments, environment, expected message)
    type Launch<'a> = (Vec<String>, Vec<(&'a str, String)>, &'a str);
    let mut launches: Vec<Launch> = vec![
        (tr(&[]), job("0", "0"), "WORLD_SIZE=0: at least 1 process"),
        (tr(&[]), with_master(job("2", "2"), "29500"), "RANK=2: a rank below WORLD_SIZE=2"),
        (tr(&[]), job("0", "2"), "MASTER_ADDR=: the host of rank 0"),
        (tr(&[]), with_master(job("0", "2"), "http"), "MASTER_PORT=http"),
        (tr(&["--dist-timeout", "2"]), with_master(job("1", "2"), &nobody), "rank 1/2: connect to the store at 127.0.0.1"),
        (tr(&["--nproc", "2"]), job("0", "2"), "--nproc inside a launched job"),
        (tr(&["--nproc", "0"]), vec![], "--nproc 0"),
        (tr(&["--nproc", "2", "--set", "training.batch_size=15"]), vec![], "training.batch_size = 15 over 2 processes"),
    ];
    if !tch::Cuda::is_available() {
        launches.push((tr(&["--dist-backend", "nccl"]), job("0", "1"), "--dist-backend nccl needs CUDA"));
    }
    let all = cases.iter().map(|(a, e)| (a, Vec::new(), *e)).chain(launches.iter().map(|(a, v, e)| (a, v.clone(), *e)));
    assert!(cases.len() + launches.len() >= 68, "the corpus has {} cases", cases.len() + launches.len());

    let mut failures = Vec::new();
    let total = cases.len() + launches.len();
    for (args, vars, expected) in all {
        let expected = &expected;
        let before = snapshot(t);
        let out =
            Command::new(env!("CARGO_BIN_EXE_ssl-train")).args(args).envs(vars.iter().map(|(k, v)| (k, v))).env_remove("RUST_BACKTRACE").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let after = snapshot(t);
        let env: String = vars.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let shown = env + &args.iter().map(|a| a.replace(&t.display().to_string(), "$T")).collect::<Vec<_>>().join(" ");
        let mut wrong = Vec::new();
        if out.status.success() {
            wrong.push("exit 0".to_string());
        }
        if !stderr.contains(expected) {
            wrong.push(format!("message lacks `{expected}`"));
        }
        if ["panicked", "internal error", "RUST_BACKTRACE", "stack backtrace", "frame #"].iter().any(|p| stderr.contains(p)) {
            wrong.push("panic or backtrace".into());
        }
        if before != after {
            let changed: Vec<_> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
            wrong.push(format!("files changed: {changed:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!("ssl-train {shown}\n    {}\n    stderr: {}", wrong.join("; "), stderr.trim().replace('\n', "\n            ")));
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    println!("{total} bad-input cases refused cleanly");
}

/// The plain export of the test split, on the CPU.
fn cpu_export() -> ssl_train::cmd::export::ExportOptions {
    ssl_train::cmd::export::ExportOptions { device: ssl_models::DeviceChoice::Cpu, ..ssl_train::cmd::export::ExportOptions::plain(ssl_data::Split::Test) }
}
