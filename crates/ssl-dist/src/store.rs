//! The key-value store the processes meet through: TCP (rank 0 or torchrun's agent hosts it) or
//! a file every process opens.

use std::ffi::CString;
use std::path::Path;
use std::ptr;
use std::time::Duration;

use crate::error::DistError;
use crate::ffi;

/// A c10d store shared by every process of a job.
pub struct Store {
    pub(crate) raw: *mut ffi::SslStore,
    rank: usize,
    world: usize,
}

// SAFETY: c10d stores are thread-safe (TCPStore and FileStore lock internally).
unsafe impl Send for Store {}
unsafe impl Sync for Store {}

impl Store {
    /// Connects to the TCP store at `host:port`. With `host_it` this process listens there
    /// (rank 0 when no launcher agent hosts the store) and waits for the `world` processes;
    /// otherwise it connects, retrying until `timeout`. Every process waits until all `world`
    /// have connected, unless `agent_hosted` (torchrun's agent hosts the store and does not
    /// count them). The keys of this job live under `prefix`.
    pub fn tcp(
        host: &str,
        port: u16,
        rank: usize,
        world: usize,
        host_it: bool,
        agent_hosted: bool,
        timeout: Duration,
        prefix: &str,
    ) -> Result<Store, DistError> {
        let op = || format!("connect to the store at {host}:{port}{}", if host_it { " (hosting it)" } else { "" });
        let c_host = CString::new(host).map_err(|_| collective(rank, world, op(), "the address holds a NUL byte".into()))?;
        let c_prefix = CString::new(prefix).expect("prefixes are ours, without NUL");
        let mut raw = ptr::null_mut();
        // SAFETY: valid C strings and an out-pointer; the shim catches every C++ exception.
        let err = unsafe {
            ffi::ssl_dist_tcp_store(c_host.as_ptr(), port, if agent_hosted { 0 } else { world as i32 }, host_it, millis(timeout), c_prefix.as_ptr(), &mut raw)
        };
        ffi::check(err).map_err(|m| collective(rank, world, op(), m))?;
        Ok(Store { raw, rank, world })
    }

    /// Opens the store in the file `path` (created by the first process; one machine or a shared
    /// file system).
    pub fn file(path: &Path, rank: usize, world: usize, timeout: Duration) -> Result<Store, DistError> {
        let op = || format!("open the file store {}", path.display());
        let c_path = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| collective(rank, world, op(), "the path holds a NUL byte".into()))?;
        let mut raw = ptr::null_mut();
        // SAFETY: as in `tcp`.
        let err = unsafe { ffi::ssl_dist_file_store(c_path.as_ptr(), world as i32, millis(timeout), &mut raw) };
        ffi::check(err).map_err(|m| collective(rank, world, op(), m))?;
        Ok(Store { raw, rank, world })
    }

    /// Sets `key` to `value` for every process.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), DistError> {
        let c_key = CString::new(key).expect("keys are ours, without NUL");
        // SAFETY: `raw` is live; the buffer is valid for `len` bytes.
        let err = unsafe { ffi::ssl_dist_store_set(self.raw, c_key.as_ptr(), value.as_ptr(), value.len()) };
        ffi::check(err).map_err(|m| collective(self.rank, self.world, format!("store set {key}"), m))
    }

    /// The value of `key`, waiting (up to the store's timeout) until some process sets it.
    pub fn get(&self, key: &str) -> Result<Vec<u8>, DistError> {
        let c_key = CString::new(key).expect("keys are ours, without NUL");
        let mut buf = vec![0u8; 256];
        loop {
            let mut len = 0usize;
            // SAFETY: `raw` is live; the shim writes at most `cap` bytes.
            let err = unsafe { ffi::ssl_dist_store_get(self.raw, c_key.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut len) };
            ffi::check(err).map_err(|m| collective(self.rank, self.world, format!("store get {key}"), m))?;
            if len <= buf.len() {
                buf.truncate(len);
                return Ok(buf);
            }
            buf.resize(len, 0);
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: `raw` came from the shim and is freed once.
        unsafe { ffi::ssl_dist_store_free(self.raw) };
    }
}

pub(crate) fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

pub(crate) fn collective(rank: usize, world: usize, op: String, message: String) -> DistError {
    DistError::Collective { rank, world, op, message }
}
