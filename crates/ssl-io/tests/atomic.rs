//! Atomic writes: the file appears whole or not at all, failures leave no temporary file and the
//! old file untouched, the `new` variants never replace a file, errors name the destination.

use std::path::Path;

use ssl_io::atomic::partial_path;
use ssl_io::{write_atomic, write_bytes_atomic, write_new_atomic, write_new_bytes_atomic, AtomicError};

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    n.sort();
    n
}

#[test]
fn writes_through_a_sibling_with_the_same_extension() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("spectrum.png");
    let mut seen = None;
    write_atomic(&dest, |tmp| {
        seen = Some(tmp.to_path_buf());
        std::fs::write(tmp, b"first")
    })
    .unwrap();
    let tmp = seen.unwrap();
    assert_eq!((tmp.parent(), tmp.file_name().unwrap().to_str()), (Some(dir.path()), Some(".spectrum.partial.png")));
    assert_eq!(tmp, partial_path(&dest).unwrap());
    assert_eq!(std::fs::read(&dest).unwrap(), b"first");
    // Replacing is the default.
    write_bytes_atomic(&dest, b"second").unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"second");
    write_bytes_atomic(dir.path().join("run.json"), String::from("{}")).unwrap();
    assert_eq!(names(dir.path()), ["run.json", "spectrum.png"]);
    // A stale temporary file (a killed writer) does not get in the way and is gone afterwards.
    std::fs::write(&tmp, b"stale stale stale").unwrap();
    write_atomic(&dest, |tmp| std::fs::OpenOptions::new().create(true).append(true).open(tmp).and_then(|mut f| std::io::Write::write_all(&mut f, b"third")))
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"third");
    assert_eq!(names(dir.path()), ["run.json", "spectrum.png"]);
}

#[test]
fn a_failing_writer_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("checkpoint.safetensors");
    std::fs::write(&dest, b"old").unwrap();
    let e = write_atomic(&dest, |tmp| {
        std::fs::write(tmp, b"half of the new")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert!(matches!(e, AtomicError::Write { .. }));
    assert_eq!(e.path(), dest);
    let text = e.to_string();
    assert!(text.contains("checkpoint.safetensors") && text.contains("disk on fire"), "{text}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["checkpoint.safetensors"]);
    // A writer that reports success without creating the file fails too.
    let e = write_atomic(&dest, |_| Ok::<(), std::io::Error>(())).unwrap_err();
    assert!(matches!(e, AtomicError::Io { .. }) && e.to_string().contains("checkpoint.safetensors"), "{e}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    // A panicking writer leaves no temporary file either.
    let r = std::panic::catch_unwind(|| {
        let _ = write_atomic(&dest, |tmp| -> Result<(), std::io::Error> {
            std::fs::write(tmp, b"partial").unwrap();
            panic!("writer panicked");
        });
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["checkpoint.safetensors"]);
    // A missing folder is an error naming the destination (folders are not created).
    let e = write_bytes_atomic(dir.path().join("missing/report.json"), b"{}").unwrap_err();
    assert!(e.to_string().contains("missing/report.json") && e.to_string().contains("cannot"), "{e}");
    let e = write_bytes_atomic("/", b"x").unwrap_err();
    assert!(matches!(e, AtomicError::Io { .. }), "{e}");
}

#[test]
fn new_variants_never_replace_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("report.json");
    write_new_bytes_atomic(&dest, b"first").unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"first");
    let e = write_new_bytes_atomic(&dest, b"second").unwrap_err();
    assert!(matches!(&e, AtomicError::Exists { path } if path == &dest), "{e}");
    assert!(e.to_string().contains("report.json") && e.to_string().contains("already exists"), "{e}");
    // The writer is not even called when the file exists.
    let mut called = false;
    let e = write_new_atomic(&dest, |_| -> Result<(), std::io::Error> {
        called = true;
        Ok(())
    })
    .unwrap_err();
    assert!(matches!(e, AtomicError::Exists { .. }) && !called);
    // A file that appears while the new one is written is kept; the new one is discarded.
    let late = dir.path().join("late.json");
    let e = write_new_atomic(&late, |tmp| {
        std::fs::write(&late, b"someone else")?;
        std::fs::write(tmp, b"mine")
    })
    .unwrap_err();
    assert!(matches!(e, AtomicError::Exists { .. }), "{e}");
    assert_eq!(std::fs::read(&late).unwrap(), b"someone else");
    // Something of any kind under the name counts: a folder too.
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    assert!(matches!(write_new_bytes_atomic(dir.path().join("taken"), b"x"), Err(AtomicError::Exists { .. })));
    assert_eq!(names(dir.path()), ["late.json", "report.json", "taken"]);
    assert_eq!(std::fs::read(&dest).unwrap(), b"first");
}

#[test]
fn errors_convert_into_the_callers_type() {
    #[derive(Debug)]
    struct Mine(String);
    let dir = tempfile::tempdir().unwrap();
    let e = write_atomic(dir.path().join("a.txt"), |_| Err(Mine("bad".into()))).unwrap_err().map_write(|m| m.0);
    assert!(matches!(&e, AtomicError::Write { source, .. } if source == "bad"));
    // Byte writes' errors widen to any writer error type.
    let e: AtomicError<Mine> = write_bytes_atomic(dir.path().join("no/b.txt"), b"x").unwrap_err().map_write(|n| match n {});
    assert!(matches!(e, AtomicError::Io { .. }));
    // And box into `dyn Error` with `?` when the writer's error is an error.
    fn boxed(p: &Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        write_atomic(p, |tmp| std::fs::write(tmp, b"x"))?;
        Ok(())
    }
    boxed(&dir.path().join("c.txt")).unwrap();
}
