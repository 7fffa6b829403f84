//! The Python bindings (`crates/ssl-analysis-py`): `cargo xtask wheel` builds the wheel with
//! maturin into `target/wheels/`; `cargo xtask test` then installs it into a scratch folder and
//! runs its pytest suite against the `ssl-analyze` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;
use crate::setup::{find_python, PYTHON_TOOLS_DIR};

/// The bindings crate.
const CRATE: &str = "crates/ssl-analysis-py";
/// Where wheels are written.
pub const WHEEL_DIR: &str = "target/wheels";

fn python(root: &Path, pythonpath: &[PathBuf]) -> Result<Command, String> {
    let python = find_python().ok_or_else(|| "no python3 with pip found; install python3-pip, then run again".to_string())?;
    let mut cmd = Command::new(python);
    cmd.current_dir(root).env("PYTHONPATH", std::env::join_paths(pythonpath).map_err(|e| e.to_string())?);
    Ok(cmd)
}

/// Builds the wheel (release) and returns its path.
pub fn build(root: &Path) -> Result<PathBuf, String> {
    let out = root.join(WHEEL_DIR);
    let before = wheels(&out);
    let interpreter = find_python().ok_or_else(|| "no python3 with pip found; install python3-pip, then run again".to_string())?;
    // pip --target puts maturin's binary in bin/ (not on PATH, so not `python -m maturin`).
    let mut cmd = Command::new(root.join(PYTHON_TOOLS_DIR).join("bin/maturin"));
    cmd.current_dir(root)
        .args(["build", "--release", "--interpreter", &interpreter, "--manifest-path"])
        .arg(root.join(CRATE).join("Cargo.toml"))
        .arg("--out")
        .arg(&out)
        // Links the system OpenBLAS that set-up installs: a wheel for this machine (and any with
        // libopenblas0), not a manylinux upload.
        .args(["--compatibility", "linux", "--strip"]);
    run("maturin build", cmd)?;
    let after = wheels(&out);
    let newest = after
        .into_iter()
        .filter(|(p, t)| before.iter().all(|(q, s)| q != p || s != t))
        .max_by_key(|(_, t)| *t)
        .or_else(|| wheels(&out).into_iter().max_by_key(|(_, t)| *t))
        .map(|(p, _)| p)
        .ok_or_else(|| format!("maturin wrote no wheel into {}", out.display()))?;
    eprintln!("[wheel] built {}\n[wheel] install it with: pip install {}", newest.display(), newest.strip_prefix(root).unwrap_or(&newest).display());
    Ok(newest)
}

/// The `ssl_analysis-*.whl` files in `dir` with their modification times.
fn wheels(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ssl_analysis-") && n.ends_with(".whl")))
        .filter_map(|p| Some((p.clone(), p.metadata().ok()?.modified().ok()?)))
        .collect()
}

/// Builds the wheel, installs it into `target/wheel-test` (nothing of the user's Python is
/// touched) and runs the bindings' pytest suite, which compares them with `ssl-analyze`.
pub fn test(root: &Path) -> Result<(), String> {
    let mut build_cli = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build_cli.current_dir(root).args(["build", "--release", "--package", "ssl-analysis", "--bin", "ssl-analyze"]);
    run("cargo build ssl-analyze", build_cli)?;
    let wheel = build(root)?;
    let site = root.join("target/wheel-test");
    if site.exists() {
        std::fs::remove_dir_all(&site).map_err(|e| format!("cannot remove {}: {e}", site.display()))?;
    }
    let mut install = python(root, &[])?;
    install
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--no-input", "--root-user-action=ignore", "--target"])
        .arg(&site)
        .arg(&wheel);
    run("pip install the wheel", install)?;
    let mut pytest = python(root, &[site, root.join(PYTHON_TOOLS_DIR)])?;
    pytest
        .env("SSL_ANALYZE", root.join("target/release/ssl-analyze"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join(CRATE).join("tests"));
    run("pytest (Python bindings)", pytest)
}
