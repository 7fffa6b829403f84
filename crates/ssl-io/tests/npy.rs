//! `.npy` against numpy: files numpy wrote (tests/fixtures, from scripts/make_fixtures.py) read
//! back in every layout; files ssl-io writes load in numpy (when `cargo xtask` installed it);
//! round trips; and bad files fail with the file named.

use std::path::{Path, PathBuf};

use ssl_io::npy::{self, Matrix, NpyError, NpyKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The matrix every fixture holds: element [r, c] = 10 r + c / 2 - 3, 3 x 4.
fn expected_matrix() -> Matrix {
    let data = (0..3).flat_map(|r| (0..4).map(move |c| 10.0 * r as f32 + c as f32 / 2.0 - 3.0)).collect();
    Matrix { rows: 3, cols: 4, data }
}

fn err_text<T: std::fmt::Debug>(r: Result<T, NpyError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn numpy_written_matrices_read_in_every_layout() {
    for name in ["matrix_f32.npy", "matrix_f64_fortran.npy", "matrix_f32_big_endian.npy", "matrix_f64_v2.npy", "matrix_f32_fortran_v3.npy"] {
        assert_eq!(npy::read_matrix(fixture(name)).unwrap(), expected_matrix(), "{name} (streamed)");
        let bytes = std::fs::read(fixture(name)).unwrap();
        assert_eq!(npy::parse_matrix(&bytes, Path::new(name)).unwrap(), expected_matrix(), "{name} (parsed)");
    }
    let h = npy::parse_header(&std::fs::read(fixture("matrix_f64_fortran.npy")).unwrap(), Path::new("f")).unwrap();
    assert_eq!((h.descr.as_str(), h.kind, h.item_size, h.fortran_order, h.shape.as_slice()), ("<f8", NpyKind::Float, 8, true, &[3, 4][..]));
    assert!(npy::parse_header(&std::fs::read(fixture("matrix_f32_big_endian.npy")).unwrap(), Path::new("b")).unwrap().big_endian);
}

#[test]
fn numpy_written_labels_and_u8_arrays_read() {
    for name in ["labels_i64.npy", "labels_i32_big_endian.npy", "labels_u8.npy", "labels_i16.npy", "labels_u32.npy"] {
        assert_eq!(npy::read_labels(fixture(name)).unwrap(), vec![3, 1, 4, 1, 5, 9, 2, 6], "{name}");
    }
    // (2, 3, 4) stored Fortran-ordered comes back row-major, by file and by bytes.
    let want: Vec<u8> = (0..2u8).flat_map(|n| (0..3u8).flat_map(move |y| (0..4u8).map(move |x| 100 * n + 10 * y + x))).collect();
    let a = npy::read_u8(fixture("images_u8_fortran.npy")).unwrap();
    assert_eq!((a.shape.as_slice(), &a.data), (&[2, 3, 4][..], &want));
    assert_eq!(npy::parse_u8(&std::fs::read(fixture("images_u8_fortran.npy")).unwrap(), Path::new("x")).unwrap(), a);
}

#[test]
fn round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = (0..2 * 5).map(|i| i as f32 * 0.25 - 1.0).chain([f32::MAX, f32::MIN_POSITIVE]).collect();
    npy::write_matrix(dir.path().join("x.npy"), 3, 4, &x).unwrap();
    assert_eq!(npy::read_matrix(dir.path().join("x.npy")).unwrap(), Matrix { rows: 3, cols: 4, data: x.clone() });
    let bytes = std::fs::read(dir.path().join("x.npy")).unwrap();
    assert_eq!(bytes.len(), 128 + 4 * 12, "a 64-byte aligned header, then the data");
    let h = npy::parse_header(&bytes, Path::new("x")).unwrap();
    assert_eq!((h.descr.as_str(), h.fortran_order, h.data_offset % 64), ("<f4", false, 0));
    // Larger than one streaming chunk, and empty.
    let big: Vec<f32> = (0..300 * 100).map(|i| (i % 977) as f32 - 400.5).collect();
    npy::write_matrix(dir.path().join("big.npy"), 300, 100, &big).unwrap();
    assert_eq!(npy::read_matrix(dir.path().join("big.npy")).unwrap().data, big);
    npy::write_matrix(dir.path().join("empty.npy"), 0, 7, &[]).unwrap();
    assert_eq!(npy::read_matrix(dir.path().join("empty.npy")).unwrap(), Matrix { rows: 0, cols: 7, data: vec![] });

    let labels = [0u32, 7, u32::MAX, 3];
    npy::write_labels(dir.path().join("y.npy"), &labels).unwrap();
    assert_eq!(npy::read_labels(dir.path().join("y.npy")).unwrap(), labels);
    let h = npy::parse_header(&std::fs::read(dir.path().join("y.npy")).unwrap(), Path::new("y")).unwrap();
    assert_eq!((h.descr.as_str(), h.shape.as_slice()), ("<i8", &[4][..]));
    npy::write_labels(dir.path().join("none.npy"), &[]).unwrap();
    assert_eq!(npy::read_labels(dir.path().join("none.npy")).unwrap(), Vec::<u32>::new());

    // The in-memory writers produce the same bytes.
    let mut mem = Vec::new();
    npy::write_matrix_to(&mut mem, 3, 4, &x).unwrap();
    assert_eq!(mem, std::fs::read(dir.path().join("x.npy")).unwrap());
    // Writing replaces the file and leaves no temporary file behind.
    npy::write_matrix(dir.path().join("x.npy"), 1, 2, &[5.0, 6.0]).unwrap();
    assert_eq!(npy::read_matrix(dir.path().join("x.npy")).unwrap().data, vec![5.0, 6.0]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["big.npy", "empty.npy", "none.npy", "x.npy", "y.npy"]);
}

#[test]
fn files_written_here_load_in_numpy() {
    let deps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.deps/torch-2.11.0");
    if !deps.join("numpy").is_dir() {
        eprintln!("skipped: no numpy in .deps/torch-2.11.0 (run `cargo xtask setup`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let data: Vec<f32> = (0..6).map(|i| i as f32 * 1.5 - 2.0).collect();
    npy::write_matrix(&x, 2, 3, &data).unwrap();
    npy::write_labels(&y, &[4, 0, 4_000_000_000]).unwrap();
    let script = format!(
        "import numpy as np\n\
         x = np.load(r'{}'); y = np.load(r'{}')\n\
         assert x.dtype == np.float32 and x.shape == (2, 3) and x.flags.c_contiguous, (x.dtype, x.shape)\n\
         assert (x == np.arange(6, dtype=np.float32).reshape(2, 3) * 1.5 - 2).all(), x\n\
         assert y.dtype == np.int64 and y.tolist() == [4, 0, 4000000000], y\n\
         np.save(r'{}', np.asfortranarray(np.arange(12.0).reshape(3, 4)))",
        x.display(),
        y.display(),
        dir.path().join("from_numpy.npy").display()
    );
    let out = std::process::Command::new("python3").env("PYTHONPATH", &deps).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "numpy: {}", String::from_utf8_lossy(&out.stderr));
    let m = npy::read_matrix(dir.path().join("from_numpy.npy")).unwrap();
    assert_eq!((m.rows, m.cols, m.data), (3, 4, (0..12).map(|i| i as f32).collect::<Vec<_>>()));
}

#[test]
fn bad_files_name_the_file_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let check = |e: String, file: &str, words: &[&str]| {
        assert!(e.contains(file), "error does not name {file}: {e}");
        for w in words {
            assert!(e.contains(w), "error lacks {w:?}: {e}");
        }
    };
    let npy_bytes = |descr: &str, shape: &[usize], data: &[u8]| [npy::header_bytes(descr, false, shape), data.to_vec()].concat();
    check(err_text(npy::read_matrix(dir.path().join("absent.npy"))), "absent.npy", &["cannot open"]);
    check(err_text(npy::read_labels(dir.path().join("absent.npy"))), "absent.npy", &["cannot open"]);
    check(err_text(npy::read_matrix(write("junk.npy", b"not numpy"))), "junk.npy", &["not a .npy file"]);
    check(err_text(npy::read_matrix(write("zip.npy", b"PK\x03\x04 and more"))), "zip.npy", &[".npz"]);
    check(err_text(npy::read_matrix(write("one_d.npy", &npy_bytes("<f4", &[2], &[0; 8])))), "one_d.npy", &["2-D", "1-D"]);
    check(err_text(npy::read_matrix(write("ints.npy", &npy_bytes("<i8", &[1, 1], &[0; 8])))), "ints.npy", &["'<i8'", "float32 or float64"]);
    check(err_text(npy::read_matrix(write("half.npy", &npy_bytes("<f2", &[1, 1], &[0; 2])))), "half.npy", &["'<f2'"]);
    check(err_text(npy::read_matrix(write("short.npy", &npy_bytes("<f4", &[2, 2], &[0; 15])))), "short.npy", &["needs 16 bytes", "truncated"]);
    check(err_text(npy::read_matrix(write("long.npy", &npy_bytes("<f4", &[1, 1], &[0; 5])))), "long.npy", &["trailing bytes"]);
    let mut cut = npy_bytes("<f4", &[1, 1], &[0; 4]);
    cut.truncate(30);
    check(err_text(npy::read_matrix(write("cut.npy", &cut))), "cut.npy", &["truncated header"]);
    check(err_text(npy::read_labels(write("float_labels.npy", &npy_bytes("<f4", &[1], &[0; 4])))), "float_labels.npy", &["integers"]);
    check(err_text(npy::read_labels(write("neg.npy", &npy_bytes("<i8", &[1], &(-1i64).to_le_bytes())))), "neg.npy", &["label 0 is -1"]);
    check(err_text(npy::read_labels(write("two_d.npy", &npy_bytes("|u1", &[1, 1], &[0])))), "two_d.npy", &["1-D"]);
    check(err_text(npy::read_u8(write("f.npy", &npy_bytes("<f4", &[1], &[0; 4])))), "f.npy", &["'<f4'", "uint8"]);
    let text = "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }\n";
    let rec = [&b"\x93NUMPY\x01\x00"[..], &(text.len() as u16).to_le_bytes(), text.as_bytes(), &[0; 4]].concat();
    check(err_text(npy::read_labels(write("rec.npy", &rec))), "rec.npy", &["structured"]);
    // A writer given values that do not fill the shape refuses, naming the file, and writes nothing.
    check(err_text(npy::write_matrix(dir.path().join("w.npy"), 2, 2, &[1.0; 3])), "w.npy", &["3 values", "2 x 2"]);
    assert!(!dir.path().join("w.npy").exists());
    let e = npy::write_labels(dir.path().join("no/such/folder/y.npy"), &[1]).unwrap_err();
    assert!(matches!(e, NpyError::Io { .. }) && e.path().ends_with("y.npy"), "{e}");
}

/// Byte noise around the fixtures: every parser returns an error or a consistent array, never
/// panics (a quick stand-in for `cargo fuzz run npy`).
#[test]
fn garbled_fixtures_never_panic() {
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(fixture("")).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for i in 0..4000 {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % b.len().max(1);
            match next() % 4 {
                0 if !b.is_empty() => b[at] = next() as u8,
                1 if !b.is_empty() => b[at] = b"0123456789(),: '{}"[(next() % 18) as usize],
                2 => b.truncate(at),
                _ => b.insert(at.min(b.len()), next() as u8),
            }
        }
        let p = Path::new("g.npy");
        if let Ok(h) = npy::parse_header(&b, p) {
            assert!(h.data_offset <= b.len());
            if h.kind != NpyKind::Other {
                assert_eq!(b.len() - h.data_offset, h.count() * h.item_size);
            }
        }
        if let Ok(m) = npy::parse_matrix(&b, p) {
            assert_eq!(m.data.len(), m.rows * m.cols);
            parsed += 1;
        }
        if let Ok(a) = npy::parse_u8(&b, p) {
            assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
        }
        let _ = npy::parse_labels(&b, p);
    }
    assert!(parsed > 20, "only {parsed} garbled matrices still parsed");
}
