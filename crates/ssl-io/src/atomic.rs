//! Write a file completely or not at all.
//!
//! Every function here writes into a temporary sibling of the destination — same folder (so the
//! final rename never crosses a file system), same extension (plotters and `image` pick PNG or SVG
//! by it): `out/spectrum.png` is written as `out/.spectrum.partial.png` — then flushes it to disk
//! (`fsync`) and renames it over the destination, so a reader sees either the old file or the new
//! one, never a half-written one, even if the process dies part way. On failure (or a panic in the
//! writer) the temporary file is removed and the destination is untouched.
//!
//! * [`write_atomic`]: the caller writes the temporary path itself (safetensors, plotters, `fs::copy`).
//! * [`write_bytes_atomic`]: the whole content is at hand (`serde_json::to_string_pretty`, …).
//! * [`write_new_atomic`], [`write_new_bytes_atomic`]: the same, but an existing destination is
//!   never replaced ([`AtomicError::Exists`]), also when it appears while the file is written
//!   (the temporary file is hard-linked into place, which fails if the name is taken).
//!
//! Errors name the destination, never only the temporary file. The temporary name is fixed
//! ([`partial_path`]), so a file left by a killed process is replaced by the next write of the
//! same destination; two writers of the same destination at the same time are not supported.

use std::convert::Infallible;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Why an atomic write failed. Every variant names the destination.
///
/// `E` is the error of the caller's writer; writes that have no writer of their own
/// ([`write_bytes_atomic`]) use the default, [`Infallible`].
#[derive(Debug)]
pub enum AtomicError<E = Infallible> {
    /// The caller's writer returned an error (which may name the temporary path it was given).
    Write {
        /// The destination.
        path: PathBuf,
        /// The writer's error.
        source: E,
    },
    /// Writing, syncing or renaming the temporary file failed.
    Io {
        /// The destination.
        path: PathBuf,
        /// What could not be done, e.g. `"rename the temporary file into place"`.
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The destination exists and this write must not replace it ([`write_new_atomic`]).
    Exists {
        /// The destination.
        path: PathBuf,
    },
}

impl<E> AtomicError<E> {
    /// The destination the write was for.
    pub fn path(&self) -> &Path {
        match self {
            AtomicError::Write { path, .. } | AtomicError::Io { path, .. } | AtomicError::Exists { path } => path,
        }
    }

    /// Converts the writer's error, keeping the other variants: e.g. into the caller's own error
    /// type, or `AtomicError<Infallible>` into any `AtomicError<E>` with `map_write(|n| match n {})`.
    pub fn map_write<F>(self, f: impl FnOnce(E) -> F) -> AtomicError<F> {
        match self {
            AtomicError::Write { path, source } => AtomicError::Write { path, source: f(source) },
            AtomicError::Io { path, action, source } => AtomicError::Io { path, action, source },
            AtomicError::Exists { path } => AtomicError::Exists { path },
        }
    }
}

impl<E: fmt::Display> fmt::Display for AtomicError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtomicError::Write { path, source } => write!(f, "{}: {source}", path.display()),
            AtomicError::Io { path, action, source } => write!(f, "{}: cannot {action}: {source}", path.display()),
            AtomicError::Exists { path } => write!(f, "{}: already exists; refusing to overwrite it", path.display()),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for AtomicError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AtomicError::Write { source, .. } => Some(source),
            AtomicError::Io { source, .. } => Some(source),
            AtomicError::Exists { .. } => None,
        }
    }
}

/// The temporary sibling an atomic write of `dest` goes through: `dir/name.ext` →
/// `dir/.name.partial.ext` (`dir/name` → `dir/.name.partial`). `None` when `dest` has no file
/// name (`/`, `..`).
pub fn partial_path(dest: &Path) -> Option<PathBuf> {
    let name = Path::new(dest.file_name()?);
    let mut tmp = OsString::from(".");
    tmp.push(name.file_stem().unwrap_or(name.as_os_str()));
    tmp.push(".partial");
    if let Some(ext) = name.extension() {
        tmp.push(".");
        tmp.push(ext);
    }
    Some(dest.with_file_name(tmp))
}

/// Writes `dest` atomically: `write` creates and fills the temporary path it is given (see
/// [`partial_path`]), which is then synced and renamed over `dest`, replacing any existing file.
/// If `write` fails, or anything after it does, the temporary file is removed and `dest` is left
/// as it was. The folder of `dest` must exist.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let dest = dir.path().join("copy.txt");
/// std::fs::write(dir.path().join("source.txt"), "text")?;
/// ssl_io::write_atomic(&dest, |tmp| std::fs::copy(dir.path().join("source.txt"), tmp).map(|_| ()))?;
/// assert_eq!(std::fs::read_to_string(&dest)?, "text");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic<E>(dest: impl AsRef<Path>, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), AtomicError<E>> {
    commit(dest.as_ref(), true, write)
}

/// Like [`write_atomic`], but never replaces an existing `dest`: fails with
/// [`AtomicError::Exists`] before calling `write` if `dest` exists, and after it if `dest`
/// appeared meanwhile (the new file is then discarded).
pub fn write_new_atomic<E>(dest: impl AsRef<Path>, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), AtomicError<E>> {
    commit(dest.as_ref(), false, write)
}

/// Writes `bytes` to `dest` atomically, replacing any existing file (see [`write_atomic`]).
pub fn write_bytes_atomic(dest: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> Result<(), AtomicError> {
    bytes_impl(dest.as_ref(), bytes.as_ref(), true)
}

/// Writes `bytes` to `dest` atomically; never replaces an existing file (see [`write_new_atomic`]).
pub fn write_new_bytes_atomic(dest: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> Result<(), AtomicError> {
    bytes_impl(dest.as_ref(), bytes.as_ref(), false)
}

fn bytes_impl(dest: &Path, bytes: &[u8], replace: bool) -> Result<(), AtomicError> {
    commit(dest, replace, |tmp| fs::write(tmp, bytes)).map_err(|e| match e {
        AtomicError::Write { path, source } => AtomicError::Io { path, action: "write the temporary file", source },
        AtomicError::Io { path, action, source } => AtomicError::Io { path, action, source },
        AtomicError::Exists { path } => AtomicError::Exists { path },
    })
}

/// Removes the temporary file when dropped (failure or panic) unless disarmed.
struct Cleanup<'a>(Option<&'a Path>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// Whether anything (a file, a folder, a dangling link) has this name.
fn taken(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn commit<E>(dest: &Path, replace: bool, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), AtomicError<E>> {
    let io_err = |action: &'static str, source: io::Error| AtomicError::Io { path: dest.to_path_buf(), action, source };
    let exists = || AtomicError::Exists { path: dest.to_path_buf() };
    let Some(tmp) = partial_path(dest) else {
        return Err(io_err("write it", io::Error::new(io::ErrorKind::InvalidInput, "the path names no file")));
    };
    if !replace && taken(dest) {
        return Err(exists());
    }
    // A file left by a killed writer would otherwise be appended to or refused by some writers.
    let _ = fs::remove_file(&tmp);
    let mut cleanup = Cleanup(Some(&tmp));
    write(&tmp).map_err(|source| AtomicError::Write { path: dest.to_path_buf(), source })?;
    // fsync before the rename, or a crash can leave the new name pointing at empty blocks.
    // (Windows needs write access to flush a file; Unix syncs through any descriptor.)
    fs::OpenOptions::new().read(!cfg!(windows)).write(cfg!(windows)).open(&tmp).and_then(|f| f.sync_all()).map_err(|e| io_err("sync the temporary file", e))?;
    if replace {
        fs::rename(&tmp, dest).map_err(|e| io_err("rename the temporary file into place", e))?;
        cleanup.0 = None;
    } else {
        // A hard link fails if the name is taken, so no file that appeared meanwhile is replaced;
        // the temporary name is then removed by `cleanup`.
        match fs::hard_link(&tmp, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(exists()),
            // No hard links on this file system (FAT, some network mounts): check, then rename.
            Err(_) if taken(dest) => return Err(exists()),
            Err(_) => {
                fs::rename(&tmp, dest).map_err(|e| io_err("rename the temporary file into place", e))?;
                cleanup.0 = None;
            }
        }
    }
    drop(cleanup);
    sync_parent(dest);
    Ok(())
}

/// Makes the rename itself durable (Unix; best effort: a failure here loses nothing written).
fn sync_parent(dest: &Path) {
    if cfg!(unix) {
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_keep_the_extension() {
        let p = |s: &str| partial_path(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(p("out/spectrum.png").as_deref(), Some("out/.spectrum.partial.png"));
        assert_eq!(p("checkpoint.safetensors").as_deref(), Some(".checkpoint.partial.safetensors"));
        assert_eq!(p("a/b/train-images-idx3-ubyte.gz").as_deref(), Some("a/b/.train-images-idx3-ubyte.partial.gz"));
        assert_eq!(p("run/report").as_deref(), Some("run/.report.partial"));
        assert_eq!(p("/"), None);
        assert_eq!(p(".."), None);
    }
}
