//! # torch-link
//!
//! A build-script helper for the crates of this workspace that link libtorch through `tch`.
//!
//! By default the linker's `--as-needed` drops `libtorch_cuda.so` from binaries (nothing in Rust
//! refers to it directly), and CUDA is then reported unavailable on a GPU machine (tch-rs issues
//! #907, #980, #984). [`emit`] asks the linker to keep `libtorch` (which pulls in
//! `libtorch_cuda`) and adds an rpath to torch's `lib/` so binaries and tests run without
//! `LD_LIBRARY_PATH`. The same binary still runs on a CPU-only machine. It also sets
//! `SSL_TORCH_VERSION` (read from torch's `version.py`) for `env!` in the crate being built.
//!
//! [`cpp_build`] compiles a crate's own C++ against the same headers (ssl-dist's c10d shim,
//! ssl-models' autocast switch).
//!
//! ```no_run
//! // the `main` of build.rs in a crate that depends on `torch-sys` directly:
//! torch_link::emit();
//! ```
//!
//! `DEP_TCH_LIBTORCH_LIB` is only visible to the build script of a crate that depends on
//! `torch-sys` directly, so such crates list `torch-sys` beside `tch`.

use std::env;
use std::path::PathBuf;

/// Finds torch's `lib/` folder: `DEP_TCH_LIBTORCH_LIB` (set by torch-sys), else `$LIBTORCH/lib`.
pub fn libtorch_lib_dir() -> Option<PathBuf> {
    if let Ok(dir) = env::var("DEP_TCH_LIBTORCH_LIB") {
        return Some(PathBuf::from(dir));
    }
    env::var("LIBTORCH").ok().map(|root| PathBuf::from(root).join("lib"))
}

/// Emits the cargo link arguments: `--no-as-needed -ltorch` and an rpath to torch's `lib/`.
pub fn emit() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Some(lib) = libtorch_lib_dir() else {
        println!(
            "cargo:warning=torch-link: neither DEP_TCH_LIBTORCH_LIB nor LIBTORCH is set; \
             libtorch_cuda may be dropped by the linker"
        );
        return;
    };
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if let Some(version) = torch_version(&lib) {
        println!("cargo:rustc-env=SSL_TORCH_VERSION={version}");
    }
}

/// Reads PyTorch's version (`2.11.0+cu130`) from `version.py` beside torch's `lib/` folder.
pub fn torch_version(lib: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(lib.parent()?.join("version.py")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("__version__ = ")).map(|v| v.trim().trim_matches('\'').trim_matches('"').to_string())
}

/// A `cc` build of C++ sources against the pinned wheel's headers, with the flags torch-sys
/// compiles its own shim with (C++17, the new libstdc++ ABI), for crates that call libtorch
/// functions `tch` does not wrap. The caller adds its files and compiles; [`link_torch_cpu`]
/// then links `libtorch_cpu` and `libc10`.
pub fn cpp_build() -> cc::Build {
    let lib = libtorch_lib_dir().expect("torch-link: set LIBTORCH (or build through torch-sys) to the PyTorch wheel's torch/ folder");
    let include = lib.parent().expect("torch/lib has a parent").join("include");
    let mut build = cc::Build::new();
    build.cpp(true).include(&include).include(include.join("torch/csrc/api/include")).flag("-std=c++17").flag("-w").define("_GLIBCXX_USE_CXX11_ABI", "1");
    build
}

/// Links the compiled shim's dependencies, `libtorch_cpu` and `libc10`, from torch's `lib/`.
pub fn link_torch_cpu() {
    let lib = libtorch_lib_dir().expect("torch-link: set LIBTORCH (or build through torch-sys)");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}
