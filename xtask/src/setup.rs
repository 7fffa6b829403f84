//! Set-up steps: each checks first, prints what it does, and says what to do when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// The PyTorch version tch 0.24 is built against: the one place it is written in code (the
/// install folder below is derived from it; `.cargo/config.toml` names that folder for torch-sys,
/// and the built crates read the installed wheel's own `version.py` through `torch-link`).
macro_rules! torch_version {
    () => {
        "2.11.0"
    };
}
/// The PyTorch version tch 0.24 is built against.
pub const TORCH_VERSION: &str = torch_version!();
/// Where PyTorch is installed, relative to the workspace root (named in `.cargo/config.toml`).
pub const TORCH_DIR: &str = concat!(".deps/torch-", torch_version!());
/// torchvision matching that torch, with Pillow, installed beside it (no dependencies pulled):
/// the interoperability tests load exported backbones with `torchvision.models`.
pub const TORCHVISION_VERSION: &str = "0.26.0";
/// TensorBoard's own event reader (with the three packages it imports), beside torchvision: the
/// tests read the runs' event files back with it.
pub const TENSORBOARD_PACKAGES: [&str; 4] = ["tensorboard==2.21.0", "protobuf==7.36.2", "absl-py==2.5.1", "packaging==26.4"];
/// The Pillow torchvision imports (the version pip chose when it was unpinned).
pub const PILLOW: &str = "pillow==13.0.0";
/// Where torchvision and Pillow are installed (on `PYTHONPATH` after [`TORCH_DIR`]).
pub const PYTHON_EXTRA_DIR: &str = ".deps/python-extra";
/// What building and testing the Python bindings needs (`cargo xtask wheel`, the pytest suite):
/// maturin, numpy and pytest with their dependencies, pinned.
pub const PYTHON_TOOLS: [&str; 3] = ["maturin==1.16.0", "numpy==2.4.6", "pytest==9.2.0"];
/// Where they are installed (`PYTHONPATH` of the wheel build and of pytest).
pub const PYTHON_TOOLS_DIR: &str = ".deps/python-tools";
/// The CUDA headers PyTorch's wheel does not ship (`cuda_runtime.h`'s crt/ and cccl/) that
/// compiling `ssl-dist` with `--features nccl` needs, pinned to the wheel's CUDA 13.0.
pub const CUDA_HEADERS: [&str; 2] = ["nvidia-cuda-crt==13.0.88", "nvidia-cuda-cccl==13.0.85"];
/// Where they are installed (`crates/ssl-dist/build.rs` looks there).
pub const CUDA_HEADERS_DIR: &str = ".deps/cuda-headers";
/// The idx files of Fashion-MNIST.
pub const FASHION_FILES: [&str; 4] = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

/// What a step found or did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Already there: nothing done.
    Present,
    /// Installed now.
    Installed,
}

/// Runs every step in order, then says what is where and how long each step took.
pub fn run_all(root: &Path) -> Result<(), String> {
    run_steps(&[
        ("libtorch", &|| ensure_torch(root), TORCH_DIR),
        ("torchvision", &|| ensure_torchvision(root), PYTHON_EXTRA_DIR),
        ("OpenBLAS", &ensure_openblas, "libopenblas-dev"),
        ("Fashion-MNIST", &|| ensure_fashion_mnist(root), "data/fashion-mnist"),
        ("Python tools", &|| ensure_python_tools(root), PYTHON_TOOLS_DIR),
        ("CUDA headers", &|| ensure_cuda_headers(root), CUDA_HEADERS_DIR),
    ])
}

/// What the Python bindings need (`cargo xtask wheel`): LAPACK and maturin/numpy, never libtorch.
pub fn run_wheel(root: &Path) -> Result<(), String> {
    run_steps(&[("OpenBLAS", &ensure_openblas, "libopenblas-dev"), ("Python tools", &|| ensure_python_tools(root), PYTHON_TOOLS_DIR)])
}

/// Only what the analysis needs (`cargo xtask analyze`: embeddings from any framework): LAPACK,
/// never libtorch.
pub fn run_analysis() -> Result<(), String> {
    run_steps(&[("OpenBLAS", &ensure_openblas, "libopenblas-dev")])
}

type Step<'a> = (&'a str, &'a dyn Fn() -> Result<Outcome, String>, &'a str);

fn run_steps(steps: &[Step<'_>]) -> Result<(), String> {
    let started = std::time::Instant::now();
    let mut done = Vec::new();
    for (name, ensure, place) in steps {
        let t = std::time::Instant::now();
        let outcome = ensure()?;
        let secs = t.elapsed().as_secs_f64();
        done.push(match outcome {
            Outcome::Present => format!("{name} present"),
            Outcome::Installed => format!("{name} installed in {place} ({})", duration(secs)),
        });
    }
    step(&format!("ready in {}: {}", duration(started.elapsed().as_secs_f64()), done.join(", ")));
    Ok(())
}

fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{:.0} min {:.0} s", (secs / 60.0).floor(), secs % 60.0)
    }
}

fn step(msg: &str) {
    eprintln!("[setup] {msg}");
}

/// PyTorch 2.11.0 from PyPI into `.deps/torch-2.11.0` (via a `.partial` folder, renamed when complete).
fn ensure_torch(root: &Path) -> Result<Outcome, String> {
    let dir = root.join(TORCH_DIR);
    let version_py = dir.join("torch/version.py");
    if dir.join("torch/lib/libtorch.so").exists() {
        let text = std::fs::read_to_string(&version_py).unwrap_or_default();
        if text.contains(&format!("__version__ = '{TORCH_VERSION}")) {
            step(&format!("libtorch {TORCH_VERSION}: present in {TORCH_DIR}"));
            return Ok(Outcome::Present);
        }
        return Err(format!("{} holds a torch that is not {TORCH_VERSION}; remove the folder and run again", dir.display()));
    }
    let python =
        find_python().ok_or_else(|| "libtorch: no python3 found; install Python 3 with pip (apt-get install python3-pip), then run again".to_string())?;
    let partial = root.join(format!("{TORCH_DIR}.partial"));
    if partial.exists() {
        step(&format!("libtorch: removing the unfinished install {}", partial.display()));
        std::fs::remove_dir_all(&partial).map_err(|e| format!("cannot remove {}: {e}", partial.display()))?;
    }
    step(&format!(
        "libtorch: installing torch=={TORCH_VERSION} with its CUDA libraries (~4.7 GB to download, ~6 GB on disk) from PyPI into {TORCH_DIR}; pip shows each download's size, progress, rate and ETA:"
    ));
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install", "--progress-bar", "on", "--disable-pip-version-check", "--no-input", "--root-user-action=ignore", "--target"])
        .arg(&partial)
        .arg(format!("torch=={TORCH_VERSION}"))
        .arg("numpy");
    run("pip install torch", cmd)
        .map_err(|e| format!("{e}\n  libtorch could not be installed: check that PyPI is reachable and the disk has ~6 GB free, then run again"))?;
    std::fs::rename(&partial, &dir).map_err(|e| format!("cannot move {} to {}: {e}", partial.display(), dir.display()))?;
    step(&format!("libtorch: installed in {TORCH_DIR}"));
    Ok(Outcome::Installed)
}

/// Python packages installed with pip into one folder of `.deps/` (via a `.partial` folder, so a
/// broken install is never taken for a finished one).
struct PipFolder<'a> {
    /// What the step is called in its messages.
    label: &'a str,
    /// The folder, relative to the workspace root.
    dir: &'a str,
    /// `name==version` of each package.
    packages: Vec<String>,
    /// Without the packages' dependencies.
    no_deps: bool,
    /// About how much is downloaded, for the message.
    size: &'a str,
}

impl PipFolder<'_> {
    /// Installs the packages unless every one's `dist-info` is already in the folder.
    fn ensure(&self, root: &Path) -> Result<Outcome, String> {
        let (label, dir_name) = (self.label, self.dir);
        let dir = root.join(dir_name);
        // pip names a package's record `name_with_underscores-version.dist-info`.
        let markers: Vec<PathBuf> = self.packages.iter().map(|p| dir.join(format!("{}.dist-info", p.replace('-', "_").replace("==", "-")))).collect();
        if markers.iter().all(|m| m.exists()) {
            step(&format!("{label} ({}): present in {dir_name}", self.packages.join(", ")));
            return Ok(Outcome::Present);
        }
        let python = find_python().ok_or_else(|| format!("{label}: no python3 with pip found; install python3-pip, then run again"))?;
        let partial = root.join(format!("{dir_name}.partial"));
        for stale in [&partial, &dir] {
            if stale.exists() {
                std::fs::remove_dir_all(stale).map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
            }
        }
        step(&format!("{label}: installing {} ({}) into {dir_name}:", self.packages.join(" "), self.size));
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "pip", "install", "--progress-bar", "on", "--disable-pip-version-check", "--no-input", "--root-user-action=ignore"]);
        if self.no_deps {
            cmd.arg("--no-deps");
        }
        cmd.arg("--target").arg(&partial).args(&self.packages);
        run(&format!("pip install {}", self.packages.join(" ")), cmd)
            .map_err(|e| format!("{e}\n  {label} could not be installed: check that PyPI is reachable, then run again"))?;
        std::fs::rename(&partial, &dir).map_err(|e| format!("cannot move {} to {}: {e}", partial.display(), dir.display()))?;
        step(&format!("{label}: installed in {dir_name}"));
        Ok(Outcome::Installed)
    }
}

/// torchvision, Pillow and TensorBoard's reader into `.deps/python-extra` (no dependencies:
/// torch is beside them).
fn ensure_torchvision(root: &Path) -> Result<Outcome, String> {
    let mut packages = vec![format!("torchvision=={TORCHVISION_VERSION}"), PILLOW.to_string()];
    packages.extend(TENSORBOARD_PACKAGES.iter().map(|p| p.to_string()));
    PipFolder { label: "torchvision and TensorBoard's reader", dir: PYTHON_EXTRA_DIR, packages, no_deps: true, size: "~30 MB" }.ensure(root)
}

/// maturin, numpy and pytest into `.deps/python-tools`.
fn ensure_python_tools(root: &Path) -> Result<Outcome, String> {
    let packages = PYTHON_TOOLS.iter().map(|p| p.to_string()).collect();
    PipFolder { label: "Python tools", dir: PYTHON_TOOLS_DIR, packages, no_deps: false, size: "~40 MB" }.ensure(root)
}

/// The CUDA headers the wheel lacks and `ssl-dist --features nccl` compiles against.
fn ensure_cuda_headers(root: &Path) -> Result<Outcome, String> {
    let packages = CUDA_HEADERS.iter().map(|p| p.to_string()).collect();
    PipFolder { label: "CUDA headers (for NCCL)", dir: CUDA_HEADERS_DIR, packages, no_deps: true, size: "~20 MB" }.ensure(root)
}

/// The first `python3`/`python` that has pip.
pub fn find_python() -> Option<String> {
    ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).args(["-m", "pip", "--version"]).output().map(|o| o.status.success()).unwrap_or(false))
        .map(str::to_string)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn apt(args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
    run(&format!("apt-get {}", args.join(" ")), cmd)
}

/// Debian's `libopenblas-dev`: LAPACK for ndarray-linalg.
fn ensure_openblas() -> Result<Outcome, String> {
    if dpkg_installed("libopenblas-dev") {
        step("OpenBLAS: libopenblas-dev present");
        return Ok(Outcome::Present);
    }
    if !is_root() {
        return Err("OpenBLAS: libopenblas-dev is missing and this is not root; run\n  \
             sudo apt-get update && sudo apt-get install -y libopenblas-dev\nthen run again"
            .into());
    }
    step("OpenBLAS: installing libopenblas-dev (~20 MB with its dependencies) with apt-get:");
    apt(&["update"])?;
    apt(&["install", "-y", "libopenblas-dev"]).map_err(|e| format!("{e}\n  OpenBLAS could not be installed"))?;
    Ok(Outcome::Installed)
}

/// The real Fashion-MNIST idx files into `data/fashion-mnist`, from Debian's
/// `dataset-fashion-mnist` (`apt-get download` + `dpkg -x`, no root needed).
fn ensure_fashion_mnist(root: &Path) -> Result<Outcome, String> {
    let dest = root.join("data/fashion-mnist");
    if FASHION_FILES.iter().all(|f| dest.join(f).exists()) {
        step("Fashion-MNIST: present in data/fashion-mnist");
        return Ok(Outcome::Present);
    }
    let system = Path::new("/usr/share/datasets/fashion-mnist");
    let source: PathBuf = if FASHION_FILES.iter().all(|f| system.join(f).exists()) {
        step("Fashion-MNIST: copying from the installed Debian package");
        system.to_path_buf()
    } else {
        download_fashion_mnist(root)?
    };
    std::fs::create_dir_all(&dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    for f in FASHION_FILES {
        // Copied beside the destination, then renamed: an interrupted copy never looks complete.
        ssl_io::write_atomic(dest.join(f), |tmp| std::fs::copy(source.join(f), tmp).map(drop))
            .map_err(|e| format!("cannot copy {} into place: {e}", source.join(f).display()))?;
    }
    let _ = std::fs::remove_dir_all(root.join("data/.download"));
    step("Fashion-MNIST: 60,000 train + 10,000 test images in data/fashion-mnist");
    Ok(Outcome::Installed)
}

fn download_fashion_mnist(root: &Path) -> Result<PathBuf, String> {
    let work = root.join("data/.download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    step("Fashion-MNIST: apt-get download dataset-fashion-mnist (~30 MB):");
    let download = || {
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(&work).args(["download", "dataset-fashion-mnist"]);
        if is_root() {
            // apt's sandbox user cannot write into a root-owned project folder; download as root.
            cmd.args(["-o", "APT::Sandbox::User=root"]);
        }
        run("apt-get download dataset-fashion-mnist", cmd)
    };
    if download().is_err() {
        if !is_root() {
            return Err("Fashion-MNIST: `apt-get download dataset-fashion-mnist` failed; the package lists may be \
                 missing: run `sudo apt-get update`, then run again"
                .into());
        }
        step("Fashion-MNIST: refreshing the package lists (apt-get update) and retrying");
        apt(&["update"])?;
        download()?;
    }
    let deb = std::fs::read_dir(&work)
        .map_err(|e| format!("cannot list {}: {e}", work.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("Fashion-MNIST: apt-get download produced no .deb file")?;
    let extract = work.join("x");
    let mut cmd = Command::new("dpkg");
    cmd.arg("-x").arg(&deb).arg(&extract);
    run("dpkg -x", cmd)?;
    let found = extract.join("usr/share/datasets/fashion-mnist");
    if !FASHION_FILES.iter().all(|f| found.join(f).exists()) {
        return Err(format!("Fashion-MNIST: the package did not contain the expected files under {}", found.display()));
    }
    Ok(found)
}
