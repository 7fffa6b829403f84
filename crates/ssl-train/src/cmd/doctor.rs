//! `cargo xtask doctor`: what this machine gives the toolkit.

use std::path::Path;

use ssl_data::{idx, Dataset, Split};

/// The doctor's report as lines of text.
pub fn report(data_dir: &Path) -> Vec<String> {
    let mut lines = vec![
        format!("torch (libtorch) version: {}", crate::run::torch_version()),
        format!("CUDA available: {}", tch::Cuda::is_available()),
        format!("CUDA devices: {}", tch::Cuda::device_count()),
        format!("cuDNN available: {}", tch::Cuda::cudnn_is_available()),
        format!("torch CPU threads: {}", tch::get_num_threads()),
        format!("torch CPU backends: MKL {}, MKL-DNN {}, OpenMP {}", tch::utils::has_mkl(), tch::utils::has_mkldnn(), tch::utils::has_openmp()),
        format!("CPU: {}", ssl_models::precision::cpu_name()),
        format!(
            "bfloat16 autocast on the CPU (training.precision = \"bfloat16\"): {}",
            ssl_models::Precision::Bfloat16.check(tch::Device::Cpu).map_or_else(|e| format!("no: {e}"), |()| "yes".into())
        ),
        format!("BLAS/LAPACK of ssl-analysis: {} (kernels: {})", ssl_analysis::blas_info(), ssl_analysis::use_fast_openblas_kernels()),
    ];
    lines.push(format!("datasets under {}:", data_dir.display()));
    let fm = data_dir.join("fashion-mnist");
    for split in [Split::Train, Split::Test] {
        let line = match idx::fashion_mnist(&fm, split) {
            Ok(ds) => format!(
                "  fashion-mnist {}: {} images {}x{}, {} classes",
                split.name(),
                ds.len(),
                ds.shape().height,
                ds.shape().width,
                ds.num_classes().unwrap_or(0)
            ),
            Err(e) => format!("  fashion-mnist {}: absent or unreadable ({e})", split.name()),
        };
        lines.push(line);
    }
    for other in ["mnist", "cifar-10-batches-bin", "cifar-100-binary", "stl10_binary"] {
        let p = data_dir.join(other);
        lines.push(format!("  {other}: {}", if p.exists() { "folder present" } else { "absent" }));
    }
    lines
}
