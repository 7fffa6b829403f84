//! Compiles `cpp/dist.cpp` against the pinned PyTorch wheel with the flags torch-sys uses
//! (C++17, the new libstdc++ ABI), and links it to `libtorch_cpu` / `libc10`.

use std::path::PathBuf;

fn main() {
    torch_link::emit();
    let lib = torch_link::libtorch_lib_dir().expect("ssl-dist: set LIBTORCH (or build through torch-sys) to the PyTorch wheel's torch/ folder");
    let root = lib.parent().expect("torch/lib has a parent").to_path_buf();
    let mut build = torch_link::cpp_build();
    build.file("cpp/dist.cpp").include("cpp/gloo-stub").define("USE_C10D_GLOO", None).define("USE_DISTRIBUTED", None);
    if std::env::var_os("CARGO_FEATURE_NCCL").is_some() {
        // The wheel's CUDA packages (nvidia/cu13: the runtime API; nvidia/nccl: the pinned
        // nccl.h) sit beside torch/; the headers the wheel lacks (crt/, cccl/) are what
        // `cargo xtask setup` puts in .deps/cuda-headers.
        let site = root.parent().expect("torch/ has a parent");
        let extra: PathBuf = site.parent().expect(".deps").join("cuda-headers/nvidia/cu13/include");
        if !extra.join("crt").is_dir() {
            panic!("ssl-dist --features nccl: the CUDA headers are missing ({} has no crt/): run `cargo xtask setup`", extra.display());
        }
        build.define("USE_C10D_NCCL", None).define("USE_CUDA", None).define("SSL_DIST_NCCL", None);
        for dir in [site.join("nvidia/cu13/include"), extra.clone(), extra.join("cccl"), site.join("nvidia/nccl/include")] {
            build.include(dir);
        }
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    build.compile("ssl_dist_shim");
    torch_link::link_torch_cpu();
    println!("cargo:rerun-if-changed=cpp");
}
