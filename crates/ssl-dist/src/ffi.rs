//! The C functions of `cpp/dist.cpp`. Each returns NULL on success or an error string to free
//! with [`ssl_dist_string_free`].

use std::os::raw::{c_char, c_int};
use torch_sys::C_tensor;

/// A c10d store (`c10::intrusive_ptr<c10d::Store>`).
#[repr(C)]
pub struct SslStore {
    _private: [u8; 0],
}

/// A c10d process group with its backend.
#[repr(C)]
pub struct SslGroup {
    _private: [u8; 0],
}

unsafe extern "C" {
    pub fn ssl_dist_string_free(s: *mut c_char);
    pub fn ssl_dist_tcp_store(
        host: *const c_char,
        port: u16,
        world: c_int,
        is_server: bool,
        timeout_ms: i64,
        prefix: *const c_char,
        out: *mut *mut SslStore,
    ) -> *mut c_char;
    pub fn ssl_dist_file_store(path: *const c_char, world: c_int, timeout_ms: i64, out: *mut *mut SslStore) -> *mut c_char;
    pub fn ssl_dist_store_free(s: *mut SslStore);
    pub fn ssl_dist_store_set(s: *mut SslStore, key: *const c_char, data: *const u8, len: usize) -> *mut c_char;
    pub fn ssl_dist_store_get(s: *mut SslStore, key: *const c_char, data: *mut u8, cap: usize, len: *mut usize) -> *mut c_char;
    pub fn ssl_dist_gloo(s: *mut SslStore, rank: c_int, world: c_int, timeout_ms: i64, out: *mut *mut SslGroup) -> *mut c_char;
    pub fn ssl_dist_nccl(s: *mut SslStore, rank: c_int, world: c_int, device: c_int, timeout_ms: i64, out: *mut *mut SslGroup) -> *mut c_char;
    pub fn ssl_dist_has_nccl() -> bool;
    pub fn ssl_dist_group_free(g: *mut SslGroup);
    pub fn ssl_dist_broadcast(g: *mut SslGroup, t: *mut C_tensor, root: c_int) -> *mut c_char;
    pub fn ssl_dist_all_reduce_sum(g: *mut SslGroup, t: *mut C_tensor) -> *mut c_char;
    pub fn ssl_dist_all_gather(g: *mut SslGroup, t: *mut C_tensor, out: *mut *mut C_tensor) -> *mut c_char;
    pub fn ssl_dist_barrier(g: *mut SslGroup) -> *mut c_char;
    pub fn ssl_dist_comm_nanos(g: *mut SslGroup) -> u64;
}

/// Takes the error string of a call (NULL: success) and frees it.
pub fn check(err: *mut c_char) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: the shim returns a NUL-terminated malloc'd string, freed once here.
    let msg = unsafe { std::ffi::CStr::from_ptr(err) }.to_string_lossy().into_owned();
    unsafe { ssl_dist_string_free(err) };
    // c10 nests the backtrace of an inner error in the message: keep the words.
    let words = msg.split("Exception raised from").next().unwrap_or_default();
    Err(words.trim().to_string())
}
