//! # xtask
//!
//! `cargo xtask <task>`: the two commands a researcher needs on a fresh machine, and a few more.
//!
//! * `cargo xtask train [ARGS]` — set up, then train (default recipe: SimCLR on Fashion-MNIST).
//! * `cargo xtask test [ARGS]` — set up, then run the whole test suite.
//! * `cargo xtask doctor` — set up, then report torch, CUDA, BLAS and datasets.
//! * `cargo xtask setup` — only the set-up steps.
//! * `cargo xtask wheel` — the Python bindings' wheel (`import ssl_analysis`) into `target/wheels/`.
//!
//! Set-up installs what the workspace needs and skips what is already there (`cargo xtask
//! analyze` only the BLAS: it never needs libtorch), shows pip's and apt's own progress, and ends
//! with one line of what is present or was installed where, and how long it took:
//! PyTorch 2.11.0 from PyPI into `.deps/torch-2.11.0` (torch-sys is pointed at it by
//! `.cargo/config.toml`), Debian's `libopenblas-dev` (LAPACK for ssl-analysis), and the real
//! Fashion-MNIST files into `data/fashion-mnist` from Debian's `dataset-fashion-mnist`.
//!
//! This crate depends only on ssl-io, ctrlc and nix and never links libtorch, so it compiles in
//! seconds; the heavy work runs in child processes (each in its own process group: Ctrl-C is
//! forwarded to it and waited for, see `child.rs`).

mod child;
mod setup;
mod wheel;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

pub(crate) use child::run;

const USAGE: &str = "\
usage: cargo xtask <task> [ARGS]

tasks:
  train [ARGS]   set up, then train (no ARGS: the default SimCLR Fashion-MNIST recipe);
                 ARGS go to the runner: --recipe NAME | --config FILE, --device cpu|cuda|auto,
                 --name NAME, --set key=value, ... (cargo xtask train --help)
  test [ARGS]    set up, then run every test of the workspace (ARGS go to cargo test), then
                 build the Python wheel and run its pytest suite
  doctor         set up, then print torch version, CUDA devices, BLAS and datasets
  wheel          build the Python bindings (import ssl_analysis) into target/wheels/
                 (sets up only OpenBLAS and maturin, never libtorch)
  analyze ARGS   diagnose embeddings from any framework (sets up only OpenBLAS, never libtorch):
                 --embeddings X.npy [--labels y.npy]
                 [--train-embeddings Xtr.npy --train-labels ytr.npy] --out DIR
  export ARGS    a run's embeddings as .npy: --run runs/NAME [--split test|train]
  compare RUNS   one table of finished runs and their spectra overlaid
  setup          only install what is missing (libtorch, OpenBLAS, Fashion-MNIST)
  <other> [ARGS] any other runner subcommand (recipes, ...), after set-up
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let root = workspace_root();
    let result = match task.as_str() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "setup" => setup::run_all(&root),
        "test" => setup::run_all(&root).and_then(|()| {
            let mut cmd = cargo(&root);
            cmd.args(["test", "--workspace", "--release"]).args(rest);
            run("cargo test --workspace --release", cmd)?;
            // The Python bindings: the wheel as users install it, tested with pytest.
            wheel::test(&root)
        }),
        // The Python bindings' wheel: LAPACK and maturin only, never libtorch.
        "wheel" => setup::run_wheel(&root).and_then(|()| wheel::build(&root).map(drop)),
        // Embeddings from any framework: only LAPACK is needed, never libtorch.
        "analyze" => setup::run_analysis().and_then(|()| {
            // The analysis CLI lives in ssl-analysis: it never needs libtorch.
            let mut cmd = cargo(&root);
            cmd.args(["run", "--release", "--package", "ssl-analysis", "--bin", "ssl-analyze", "--"]).args(rest);
            run("ssl-analyze", cmd)
        }),
        other => setup::run_all(&root).and_then(|()| {
            let mut cmd = cargo(&root);
            cmd.args(["run", "--release", "--package", "ssl-train", "--", other]).args(rest);
            run(&format!("ssl-train {other}"), cmd)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A `$CARGO` command run from the workspace root.
fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root);
    cmd
}
