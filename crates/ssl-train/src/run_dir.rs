//! The run folder: created fresh (an existing folder is never reused or overwritten), with the
//! run's config, provenance and metrics, and atomic writes for files that matter.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// An open run folder.
pub struct RunDir {
    path: PathBuf,
    metrics: BufWriter<File>,
}

impl RunDir {
    /// Creates `root/name`; fails, touching nothing, when it already exists.
    pub fn create(root: &Path, name: &str) -> Result<RunDir> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            bail!("run name `{name}`: expected a plain folder name");
        }
        std::fs::create_dir_all(root).with_context(|| format!("cannot create the runs folder {}", root.display()))?;
        let path = root.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("run folder {} already exists; choose another --name or move it away (nothing was changed)", path.display())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create run folder {}", path.display())),
        }
        let metrics = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path.join("metrics.jsonl"))
            .with_context(|| format!("cannot create {}", path.join("metrics.jsonl").display()))?;
        Ok(RunDir { path, metrics: BufWriter::new(metrics) })
    }

    /// Reopens an existing run folder to continue it (`--resume`): metrics are appended.
    pub fn open(path: &Path) -> Result<RunDir> {
        if !path.join("config.toml").is_file() {
            bail!("{} is not a run folder (no config.toml)", path.display());
        }
        let metrics = OpenOptions::new()
            .append(true)
            .open(path.join("metrics.jsonl"))
            .with_context(|| format!("cannot append to {}", path.join("metrics.jsonl").display()))?;
        Ok(RunDir { path: path.to_path_buf(), metrics: BufWriter::new(metrics) })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Appends one line to `metrics.jsonl` and flushes it.
    pub fn log(&mut self, line: &serde_json::Value) -> Result<()> {
        writeln!(self.metrics, "{line}")?;
        self.metrics.flush()?;
        Ok(())
    }

    /// Writes `name` atomically: `write` fills a temporary file, which is then renamed.
    pub fn write_atomic(&self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let dest = self.file(name);
        let tmp = self.file(&format!(".tmp-{name}")); // keeps the extension (plotters picks the format by it)
        write(&tmp).with_context(|| format!("cannot write {}", dest.display()))?;
        std::fs::rename(&tmp, &dest).with_context(|| format!("cannot move {} into place", dest.display()))?;
        Ok(dest)
    }

    /// Writes a text file atomically.
    pub fn write_text(&self, name: &str, text: &str) -> Result<PathBuf> {
        self.write_atomic(name, |p| Ok(std::fs::write(p, text)?))
    }
}

/// The git revision of the working tree (`<sha>` or `<sha>-dirty`), or `unknown`.
pub fn git_revision() -> String {
    let out = |args: &[&str]| {
        Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match out(&["rev-parse", "HEAD"]) {
        Some(sha) => {
            let dirty = out(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        None => "unknown".into(),
    }
}
