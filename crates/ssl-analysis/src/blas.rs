//! The OpenBLAS under ndarray-linalg: what it is, how many threads it runs, which kernels.
//!
//! Debian's OpenBLAS (0.3.21, `DYNAMIC_ARCH`) picks its kernels by CPU model at load time and
//! falls back to the generic SSE3 "Prescott" kernels on models it does not know — on this
//! project's Xeon with AVX-512 the whole spectral report ran 2.6× slower that way (50,000 × 1,024:
//! 7.3 s against 2.9 s with the SkylakeX kernels; docs/benchmarks.md). Setting
//! `OPENBLAS_CORETYPE` before the library loads fixes it; [`use_fast_openblas_kernels`] does the
//! same after loading, through OpenBLAS's own exported re-initialisation, and only when the
//! library fell back and the CPU has the instructions the chosen kernels need.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

extern "C" {
    fn openblas_get_config() -> *const c_char;
    fn openblas_get_corename() -> *const c_char;
    fn openblas_get_num_threads() -> c_int;
    fn openblas_set_num_threads(n: c_int);
}

/// The BLAS/LAPACK this crate calls, as the library reports itself (OpenBLAS's config string,
/// which ends with the kernels' core name).
pub fn blas_info() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(openblas_get_config()) };
    s.to_string_lossy().trim_end().to_string()
}

/// The kernels OpenBLAS runs (`Prescott`, `Haswell`, `SkylakeX`, …).
pub fn kernel_name() -> String {
    // SAFETY: as above.
    unsafe { CStr::from_ptr(openblas_get_corename()) }.to_string_lossy().trim_end().to_string()
}

/// The OpenBLAS core type whose kernels this CPU can run, best first: SkylakeX needs AVX-512
/// F/CD/BW/DQ/VL, Haswell AVX2 and FMA.
fn best_core_for_this_cpu() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"];
        let has = |f: &str| match f {
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512cd" => std::arch::is_x86_feature_detected!("avx512cd"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512dq" => std::arch::is_x86_feature_detected!("avx512dq"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            _ => false,
        };
        if avx512.iter().all(|f| has(f)) {
            return Some("SkylakeX");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some("Haswell");
        }
    }
    None
}

/// Switches OpenBLAS from its generic fallback kernels to the best ones this CPU runs, once per
/// process, and returns what runs afterwards (`from -> to`, or why nothing changed). Nothing is
/// changed when the user set `OPENBLAS_CORETYPE`, when OpenBLAS recognised the CPU (its kernels
/// are not `Prescott`), or when the library has no dynamic re-initialisation (a build without
/// `DYNAMIC_ARCH`). Call it before any BLAS work starts (the command-line tools and the Python
/// module do, first thing).
pub fn use_fast_openblas_kernels() -> String {
    static OUTCOME: OnceLock<String> = OnceLock::new();
    OUTCOME.get_or_init(switch_kernels).clone()
}

fn switch_kernels() -> String {
    let before = kernel_name();
    if std::env::var_os("OPENBLAS_CORETYPE").is_some() {
        return format!("{before} (OPENBLAS_CORETYPE set by the user)");
    }
    if before != "Prescott" {
        return format!("{before} (chosen by OpenBLAS)");
    }
    let Some(core) = best_core_for_this_cpu() else {
        return format!("{before} (no faster kernels for this CPU)");
    };
    // OpenBLAS's own hooks: `gotoblas_dynamic_quit` forgets the chosen kernels, and
    // `gotoblas_dynamic_init` chooses again, reading OPENBLAS_CORETYPE as at load time. Looked up
    // at run time, so a build without them still links and simply keeps its kernels.
    let find = |name: &str| {
        let c = CString::new(name).expect("no NUL");
        // SAFETY: dlsym with RTLD_DEFAULT and a valid C string.
        let p = unsafe { dlsym(RTLD_DEFAULT, c.as_ptr()) };
        (!p.is_null()).then_some(p)
    };
    let (Some(quit), Some(init)) = (find("gotoblas_dynamic_quit"), find("gotoblas_dynamic_init")) else {
        return format!("{before} (this OpenBLAS cannot re-initialise its kernels)");
    };
    // SAFETY: both are `void f(void)` in OpenBLAS's dynamic.c; no BLAS call is running (see the
    // contract above). set_var happens before any thread of ours reads the environment.
    unsafe {
        let quit: extern "C" fn() = std::mem::transmute::<*mut c_void, extern "C" fn()>(quit);
        let init: extern "C" fn() = std::mem::transmute::<*mut c_void, extern "C" fn()>(init);
        std::env::set_var("OPENBLAS_CORETYPE", core);
        quit();
        init();
        std::env::remove_var("OPENBLAS_CORETYPE");
    }
    let after = kernel_name();
    format!("{before} -> {after}")
}

const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// While alive, OpenBLAS runs single-threaded (restored on drop): for BLAS/LAPACK calls made
/// from inside rayon's parallel loops, where OpenBLAS's own threads would contend with rayon's
/// for the same cores (measured: the MFT anchor points took 4× as long with both, docs/benchmarks.md).
pub(crate) struct SingleThreadedBlas(c_int);

impl SingleThreadedBlas {
    pub(crate) fn new() -> Self {
        // SAFETY: plain getters/setters of OpenBLAS's thread count.
        let before = unsafe { openblas_get_num_threads() };
        unsafe { openblas_set_num_threads(1) };
        SingleThreadedBlas(before)
    }
}

impl Drop for SingleThreadedBlas {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { openblas_set_num_threads(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_is_idempotent_and_the_results_stay_correct() {
        let first = use_fast_openblas_kernels();
        assert_eq!(use_fast_openblas_kernels(), first);
        // Whatever runs now computes the same covariance spectrum as a hand-made one: columns
        // with variances 4, 1 (independent by construction: ±1 patterns).
        let x = ndarray::Array2::from_shape_fn((4, 2), |(i, j)| if j == 0 { [2.0, -2.0, 2.0, -2.0][i] } else { [1.0, 1.0, -1.0, -1.0][i] });
        let eig = crate::spectrum::covariance_eigenvalues(x.view()).unwrap();
        // ddof 1: 16/3 and 4/3.
        assert!((eig[0] - 16.0 / 3.0).abs() < 1e-12 && (eig[1] - 4.0 / 3.0).abs() < 1e-12, "{eig:?} after {first}");
        assert!(!kernel_name().is_empty());
    }
}
