//! The run folder: created fresh (an existing folder is never reused or overwritten), with the
//! run's config, provenance and metrics, and atomic writes for files that matter.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::metrics::MetricLine;
use super::provenance::{Provenance, RunState};
use super::tensorboard::EventWriter;

/// An open run folder.
pub struct RunDir {
    path: PathBuf,
    /// None for the other ranks of a data-parallel run: only rank 0 writes.
    writer: Option<Writer>,
}

/// What the process that writes a run folder holds.
struct Writer {
    metrics: BufWriter<File>,
    /// TensorBoard's view of the same lines.
    events: EventWriter,
    /// Held (an exclusive lock on `.lock`) while this value lives.
    _lock: File,
}

/// The file whose lock keeps two processes out of one run folder.
const LOCK: &str = ".lock";

/// Takes the run folder's lock, or says who holds it.
fn lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join(LOCK))
        .with_context(|| format!("cannot open {}", path.join(LOCK).display()))?;
    match file.try_lock() {
        Ok(()) => {
            // The holder's process id, for the message a second process gets. The OS drops the
            // lock when the process dies, so a killed run never leaves a stale lock behind.
            let mut f = &file;
            f.set_len(0).and_then(|()| write!(f, "{}", std::process::id())).with_context(|| format!("cannot write {}", path.join(LOCK).display()))?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => bail!(in_use_message(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.join(LOCK).display())),
    }
}

/// The message a second process gets for a run folder whose lock is held.
fn in_use_message(path: &Path) -> String {
    let holder = std::fs::read_to_string(path.join(LOCK))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| "another process".to_string(), |p| format!("process {}", p.trim()));
    format!("{} is in use by {holder} (a training or `--resume` still running); wait for it or stop it first (nothing was changed)", path.display())
}

/// Says (without taking or changing it) whether another process holds the run folder's lock.
pub fn check_not_in_use(path: &Path) -> Result<()> {
    let Ok(file) = File::open(path.join(LOCK)) else { return Ok(()) };
    match file.try_lock_shared() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => bail!(in_use_message(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.join(LOCK).display())),
    }
}

/// Where a new run folder named `name` goes under `root`; refused when the name is not a plain
/// folder name or the folder exists.
pub fn new_run_path(root: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        bail!("run name `{name}`: expected a plain folder name");
    }
    let path = root.join(name);
    if path.exists() {
        bail!("run folder {} already exists; choose another --name or move it away (nothing was changed)", path.display());
    }
    Ok(path)
}

/// Checks that `path` is a run folder with something left to do (`run.json` does not say done)
/// that another process is not using: what `--resume` opens.
pub fn check_resumable(path: &Path) -> Result<()> {
    if !path.join("config.toml").is_file() {
        bail!("{} is not a run folder (no config.toml)", path.display());
    }
    if read_json::<Provenance>(&path.join("run.json")).is_ok_and(|p| p.state == RunState::Done) {
        bail!("{} already finished training and its evaluation; nothing to resume", path.display());
    }
    check_not_in_use(path)
}

impl RunDir {
    /// Creates `root/name` and holds its lock; fails, touching nothing, when it already exists.
    pub fn create(root: &Path, name: &str) -> Result<RunDir> {
        let path = new_run_path(root, name)?;
        std::fs::create_dir_all(root).with_context(|| format!("cannot create the runs folder {}", root.display()))?;
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("run folder {} already exists; choose another --name or move it away (nothing was changed)", path.display())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create run folder {}", path.display())),
        }
        let lock = lock(&path)?;
        let metrics = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path.join("metrics.jsonl"))
            .with_context(|| format!("cannot create {}", path.join("metrics.jsonl").display()))?;
        let events = EventWriter::create(&path)?;
        Ok(RunDir { path, writer: Some(Writer { metrics: BufWriter::new(metrics), events, _lock: lock }) })
    }

    /// Reopens an existing run folder to continue it (`--resume`): metrics are appended. Fails,
    /// changing nothing, while another process holds the folder.
    pub fn open(path: &Path) -> Result<RunDir> {
        check_resumable(path)?;
        let lock = lock(path)?;
        let metrics = OpenOptions::new()
            .append(true)
            .open(path.join("metrics.jsonl"))
            .with_context(|| format!("cannot append to {}", path.join("metrics.jsonl").display()))?;
        let events = EventWriter::create(path)?;
        Ok(RunDir { path: path.to_path_buf(), writer: Some(Writer { metrics: BufWriter::new(metrics), events, _lock: lock }) })
    }

    /// Rank ≥ 1 of a data-parallel run: reads `path` (a resumed run's checkpoint) and writes
    /// nothing (every write is skipped; rank 0 writes the folder).
    pub fn reader(path: &Path) -> RunDir {
        RunDir { path: path.to_path_buf(), writer: None }
    }

    /// Whether this process writes the folder (false on ranks ≥ 1).
    pub fn writes(&self) -> bool {
        self.writer.is_some()
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Appends one line to `metrics.jsonl` and its values to the TensorBoard event file, and
    /// flushes both.
    pub fn log(&mut self, line: &MetricLine) -> Result<()> {
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        writeln!(w.metrics, "{}", line.to_json())?;
        w.metrics.flush()?;
        w.events.log(line)
    }

    /// Writes `name` atomically (`ssl_io::write_atomic`): `write` fills a temporary sibling that
    /// keeps the extension (plotters picks the format by it), which is then renamed.
    pub fn write_atomic(&self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let dest = self.file(name);
        if self.writes() {
            ssl_io::write_atomic(&dest, write).map_err(atomic_error)?;
        }
        Ok(dest)
    }

    /// Writes `value` as pretty JSON, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<PathBuf> {
        let text = serde_json::to_string_pretty(value).with_context(|| format!("cannot serialise {name}"))?;
        self.write_text(name, &text)
    }

    /// Reads a JSON file of the folder into its type.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        read_json(&self.file(name))
    }

    /// Writes a text file atomically.
    pub fn write_text(&self, name: &str, text: &str) -> Result<PathBuf> {
        let dest = self.file(name);
        if self.writes() {
            ssl_io::write_bytes_atomic(&dest, text)?;
        }
        Ok(dest)
    }
}

/// Reads a JSON file into its type; errors name the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} does not hold what this version of the runner writes", path.display()))
}

/// Writes `value` as pretty JSON to `path` (atomically); refuses, writing nothing, when `path`
/// already exists.
pub fn write_json_new<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).with_context(|| format!("cannot serialise {}", path.display()))?;
    ssl_io::write_new_bytes_atomic(path, text).map_err(|e| match e {
        ssl_io::AtomicError::Exists { path } => anyhow::anyhow!("{} already exists; choose another --out (nothing was written)", path.display()),
        other => anyhow::Error::new(other),
    })
}

/// An atomic write's error with its cause chain: the writer's own error, or the file system's.
pub fn atomic_error(e: ssl_io::AtomicError<anyhow::Error>) -> anyhow::Error {
    match e {
        ssl_io::AtomicError::Write { path, source } => source.context(format!("cannot write {}", path.display())),
        ssl_io::AtomicError::Io { path, action, source } => anyhow::Error::new(source).context(format!("{}: cannot {action}", path.display())),
        ssl_io::AtomicError::Exists { path } => anyhow::anyhow!("{} already exists", path.display()),
    }
}
