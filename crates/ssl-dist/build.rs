//! Compiles `cpp/dist.cpp` against the pinned PyTorch wheel with the flags torch-sys uses
//! (C++17, the new libstdc++ ABI), and links it to `libtorch_cpu` / `libc10`.

use std::path::PathBuf;

fn main() {
    torch_link::emit();
    let lib = torch_link::libtorch_lib_dir().expect("ssl-dist: set LIBTORCH (or build through torch-sys) to the PyTorch wheel's torch/ folder");
    let root = lib.parent().expect("torch/lib has a parent").to_path_buf();
    let include = root.join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("cpp/dist.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .include("cpp/gloo-stub")
        .flag("-std=c++17")
        .flag("-w")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .define("USE_C10D_GLOO", None)
        .define("USE_DISTRIBUTED", None);
    if std::env::var_os("CARGO_FEATURE_NCCL").is_some() {
        // The wheel's CUDA packages (nvidia/cu13, nvidia/nccl) sit beside torch/.
        let nvidia: PathBuf = root.parent().expect("site-packages").join("nvidia");
        build.define("USE_C10D_NCCL", None).define("USE_CUDA", None).define("SSL_DIST_NCCL", None);
        for dir in ["cu13/include", "cu13/include/cccl", "nccl/include"] {
            build.include(nvidia.join(dir));
        }
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    build.compile("ssl_dist_shim");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
    println!("cargo:rerun-if-changed=cpp");
}
