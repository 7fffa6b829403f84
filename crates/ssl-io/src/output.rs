//! Where a command may write: a folder that is new, empty, or holds only that command's own
//! outputs from an earlier run — never a folder of the user's files — and output files that do
//! not exist yet. Checked before any work starts; nothing is created by the check.

use std::path::{Path, PathBuf};

/// Why a folder or file may not receive a command's outputs.
#[derive(Debug)]
pub enum OutputError {
    /// The path exists and is not a folder.
    NotAFolder(PathBuf),
    /// The folder holds a file this command did not write.
    Foreign {
        /// The folder.
        dir: PathBuf,
        /// The first such entry.
        entry: String,
    },
    /// An output file exists already.
    Exists(PathBuf),
    /// The folder could not be listed.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::NotAFolder(p) => write!(f, "{} exists and is not a folder; choose another --out (nothing was written)", p.display()),
            OutputError::Foreign { dir, entry } => write!(
                f,
                "{} is not empty (it holds `{entry}`, which this command did not write); choose a new or empty folder for --out (nothing was written)",
                dir.display()
            ),
            OutputError::Exists(p) => write!(f, "{} already exists; choose another --out (nothing was written)", p.display()),
            OutputError::Io(p, e) => write!(f, "{}: cannot list the folder: {e}", p.display()),
        }
    }
}

impl std::error::Error for OutputError {}

/// Checks that `dir` may receive `outputs`: `dir` does not exist, is empty, or holds only entries
/// whose names `own` recognises as this command's outputs (an earlier run of it, e.g. the other
/// split of an export); and none of `outputs` exists.
pub fn check_output_folder(dir: &Path, outputs: &[PathBuf], own: impl Fn(&str) -> bool) -> Result<(), OutputError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io(dir.to_path_buf(), e)),
        Ok(m) if !m.is_dir() => return Err(OutputError::NotAFolder(dir.to_path_buf())),
        Ok(_) => {}
    }
    let entries = std::fs::read_dir(dir).map_err(|e| OutputError::Io(dir.to_path_buf(), e))?;
    let mut names: Vec<String> = entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    // A temporary file a killed earlier run left (`.spectrum.partial.png`) counts as its output.
    let unpartial = |n: &str| n.strip_prefix('.').map(|n| n.replacen(".partial", "", 1));
    if let Some(entry) = names.into_iter().find(|n| !own(n) && !unpartial(n).is_some_and(|u| own(&u))) {
        return Err(OutputError::Foreign { dir: dir.to_path_buf(), entry });
    }
    match outputs.iter().find(|p| p.exists()) {
        Some(p) => Err(OutputError::Exists(p.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_empty_and_own_folders_pass_foreign_files_and_existing_outputs_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let own = |n: &str| n.ends_with(".npy");
        let outputs = [out.join("a.npy")];
        assert!(check_output_folder(&out, &outputs, own).is_ok(), "a new folder");
        std::fs::create_dir(&out).unwrap();
        assert!(check_output_folder(&out, &outputs, own).is_ok(), "an empty folder");
        std::fs::write(out.join("b.npy"), "").unwrap();
        std::fs::write(out.join(".c.partial.npy"), "").unwrap();
        assert!(check_output_folder(&out, &outputs, own).is_ok(), "only own outputs of an earlier run, one cut short");
        std::fs::write(out.join("a.npy"), "").unwrap();
        assert!(matches!(check_output_folder(&out, &outputs, own), Err(OutputError::Exists(p)) if p == outputs[0]));
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = check_output_folder(&out, &outputs, own).unwrap_err();
        assert!(e.to_string().contains("notes.txt") && e.to_string().contains("not empty"), "{e}");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(check_output_folder(&file, &[], own), Err(OutputError::NotAFolder(_))));
    }
}
