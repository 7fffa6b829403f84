//! Links libtorch (torch-link) and compiles `cpp/autocast.cpp`, the autocast switch for any
//! device and dtype that `tch` lacks.

fn main() {
    torch_link::emit();
    torch_link::cpp_build().file("cpp/autocast.cpp").compile("ssl_models_autocast");
    torch_link::link_torch_cpu();
    println!("cargo:rerun-if-changed=cpp");
}
