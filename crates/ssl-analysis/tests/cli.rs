//! `ssl-analyze` end to end: report keys on good input, exit code ≠ 0 and a named file on bad input.

use std::path::Path;
use std::process::Command;

use ndarray::Array2;
use ssl_analysis::npy::{write_labels, write_matrix};

fn analyze(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssl-analyze")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn data(dir: &Path) {
    // 3 classes on 3 axes of 6 dims, with a small deterministic jitter; one dimension unused.
    let make = |n: usize, salt: usize| {
        let x = Array2::from_shape_fn((n, 6), |(i, j)| {
            let c = i % 3;
            let jitter = (((i * 31 + j * 17 + salt) % 13) as f32 - 6.0) / 60.0;
            if j == 5 {
                0.0
            } else if j == c {
                1.0 + jitter
            } else {
                jitter
            }
        });
        let y: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        (x, y)
    };
    let (x, y) = make(60, 1);
    write_matrix(dir.join("x.npy"), &x).unwrap();
    write_labels(dir.join("y.npy"), &y).unwrap();
    let (x, y) = make(90, 2);
    write_matrix(dir.join("xtr.npy"), &x).unwrap();
    write_labels(dir.join("ytr.npy"), &y).unwrap();
    // Manifolds of 3 points each.
    write_labels(dir.join("m.npy"), &(0..60u32).map(|i| i / 3).collect::<Vec<_>>()).unwrap();
}

#[test]
fn writes_every_key_and_the_plot() {
    let t = tempfile::tempdir().unwrap();
    data(t.path());
    let p = |n: &str| t.path().join(n).display().to_string();
    let (ok, stdout, stderr) = analyze(&[
        "--embeddings",
        &p("x.npy"),
        "--labels",
        &p("y.npy"),
        "--train-embeddings",
        &p("xtr.npy"),
        "--train-labels",
        &p("ytr.npy"),
        "--manifold-ids",
        &p("m.npy"),
        "--knn-k",
        "5",
        "--alpha-window",
        "1,5",
        "--out",
        &p("out"),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("participation ratio"), "{stdout}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(t.path().join("out/report.json")).unwrap()).unwrap();
    for k in [
        "n",
        "dim",
        "covariance_eigenvalues",
        "normalized_covariance_eigenvalues",
        "participation_ratio",
        "alpha",
        "alpha_fit_ranks",
        "alpha_r2",
        "rankme",
        "collapsed_dims",
        "collapse_threshold",
        "effective_rank",
        "knn_accuracy",
        "linear_probe_accuracy",
        "manifold",
        "mft",
        "capacity",
    ] {
        assert!(r.get(k).is_some(), "missing {k}");
    }
    assert_eq!((r["n"].as_u64(), r["dim"].as_u64()), (Some(60), Some(6)));
    assert_eq!(r["collapsed_dims"], 1, "the all-zero sixth dimension");
    assert_eq!(r["knn_accuracy"], 1.0);
    assert_eq!(r["linear_probe_accuracy"], 1.0);
    assert_eq!(r["manifold"]["count"], 20);
    assert_eq!(r["capacity"]["manifolds"], 20);
    assert_eq!(r["mft"]["manifolds"], 20);
    assert_eq!(r["mft"]["manifolds_from"], "manifold ids");
    assert_eq!(r["mft"]["per_manifold"].as_array().unwrap().len(), 20);
    assert_eq!(r["mft"]["config"]["n_t"], 200);
    assert!(r["mft"]["capacity"].as_f64().unwrap() > 0.0 && r["mft"]["radius"].as_f64().unwrap() > 0.0);
    assert!(stdout.contains("MFT capacity"), "{stdout}");
    // 20 manifolds of 3 points in 6 dimensions: fewer than half the balanced dichotomies are
    // separable even in all 6, so only the bound α < 20/6 is reported.
    assert!(r["capacity"]["alpha"].is_null(), "{}", r["capacity"]);
    assert!((r["capacity"]["alpha_below"].as_f64().unwrap() - 20.0 / 6.0).abs() < 1e-12);
    assert!(t.path().join("out/correlation.png").exists());
    assert!(t.path().join("out/spectrum.png").is_file());
    assert!(t.path().join("out/centroid-similarity.png").is_file());
    // Never overwrites.
    let (ok, _, stderr) = analyze(&["--embeddings", &p("x.npy"), "--out", &p("out")]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
}

#[test]
fn bad_inputs_fail_with_the_file_named() {
    let t = tempfile::tempdir().unwrap();
    data(t.path());
    let p = |n: &str| t.path().join(n).display().to_string();
    std::fs::write(t.path().join("junk.npy"), b"definitely not numpy").unwrap();
    write_labels(t.path().join("one_d.npy"), &[1, 2, 3]).unwrap();
    let mut nan = Array2::<f32>::zeros((4, 3));
    nan[[1, 2]] = f32::NAN;
    write_matrix(t.path().join("nan.npy"), &nan).unwrap();
    write_matrix(t.path().join("one_row.npy"), &Array2::<f32>::ones((1, 3))).unwrap();
    write_labels(t.path().join("short.npy"), &[0, 1]).unwrap();
    // Manifold ids with a single-point manifold (id 20), and ids for only 59 of the 60 rows.
    write_labels(t.path().join("single.npy"), &(0..60u32).map(|i| if i == 59 { 20 } else { i / 3 }).collect::<Vec<_>>()).unwrap();
    write_labels(t.path().join("ids59.npy"), &(0..59u32).map(|i| i / 3).collect::<Vec<_>>()).unwrap();
    for (args, needle) in [
        (vec!["--embeddings", &p("junk.npy") as &str], "junk.npy"),
        (vec!["--embeddings", &p("one_d.npy")], "one_d.npy"),
        (vec!["--embeddings", &p("nan.npy")], "row 1, column 2"),
        (vec!["--embeddings", &p("one_row.npy")], "at least 2 rows"),
        (vec!["--embeddings", &p("absent.npy")], "absent.npy"),
        (vec!["--embeddings", &p("x.npy"), "--labels", &p("short.npy")], "2 labels for 60"),
        (vec!["--embeddings", &p("x.npy"), "--alpha-window", "ten"], "--alpha-window"),
        (vec!["--embeddings", &p("x.npy"), "--alpha-window", "100,11"], "1 <= FIRST < LAST"),
        (vec!["--embeddings", &p("x.npy"), "--labels", &p("y.npy"), "--capacity-manifolds", "1"], "--capacity-manifolds"),
        (vec!["--embeddings", &p("x.npy"), "--knn-k", "0"], "--knn-k"),
        (vec!["--embeddings", &p("x.npy"), "--manifold-ids", &p("single.npy")], "manifold 20 has 1 point"),
        (vec!["--embeddings", &p("x.npy"), "--manifold-ids", &p("ids59.npy")], "59 manifold ids for 60 embeddings"),
        (vec!["--embeddings", &p("x.npy"), "--labels", &p("y.npy"), "--mft-kappa", "-1"], "--mft-kappa"),
        (vec!["--embeddings", &p("x.npy"), "--labels", &p("y.npy"), "--mft-reps", "0"], "--mft-reps"),
    ] {
        let out = p(&format!("out-{}", needle.len()));
        let mut full = args.clone();
        full.extend(["--out", &out]);
        let (ok, _, stderr) = analyze(&full);
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn svg_plots_and_class_capacity() {
    let t = tempfile::tempdir().unwrap();
    data(t.path());
    let p = |n: &str| t.path().join(n).display().to_string();
    let (ok, _, stderr) = analyze(&["--embeddings", &p("x.npy"), "--labels", &p("y.npy"), "--format", "svg", "--alpha-window", "1,5", "--out", &p("out")]);
    assert!(ok, "{stderr}");
    for f in ["spectrum.svg", "correlation.svg"] {
        let text = std::fs::read_to_string(t.path().join("out").join(f)).unwrap();
        assert!(text.starts_with("<svg") && text.contains("</svg>"), "{f}");
    }
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(t.path().join("out/report.json")).unwrap()).unwrap();
    assert_eq!(r["capacity"]["manifolds_from"], "classes");
    assert_eq!(r["capacity"]["manifolds"], 3);
    assert_eq!(r["mft"]["manifolds_from"], "classes");
    assert_eq!(r["mft"]["manifolds"], 3);
    // The critical dimension of three class clusters lies within the ambient six.
    assert!(r["capacity"]["critical_dim"].as_f64().is_some_and(|n| (1.0..=6.0).contains(&n)));
}

#[test]
fn a_users_plots_in_the_output_folder_are_never_overwritten() {
    let t = tempfile::tempdir().unwrap();
    data(t.path());
    let out = t.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("spectrum.png"), b"my own figure").unwrap();
    let (ok, _, stderr) = analyze(&["--embeddings", &t.path().join("x.npy").display().to_string(), "--out", &out.display().to_string()]);
    assert!(!ok && stderr.contains("spectrum.png") && stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(out.join("spectrum.png")).unwrap(), b"my own figure");
    assert!(!out.join("report.json").exists() && !out.join("correlation.png").exists());
}

#[test]
fn an_output_folder_of_the_users_files_is_refused_and_an_earlier_analysis_kept() {
    let t = tempfile::tempdir().unwrap();
    data(t.path());
    let x = t.path().join("x.npy").display().to_string();
    let out = t.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), b"my notes").unwrap();
    let (ok, _, stderr) = analyze(&["--embeddings", &x, "--out", &out.display().to_string()]);
    assert!(!ok && stderr.contains("notes.txt") && stderr.contains("not empty"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "nothing was written");
    // A folder holding only an earlier analysis (PNG) takes the SVG figures of a second one.
    let earlier = t.path().join("earlier");
    let (ok, _, stderr) = analyze(&["--embeddings", &x, "--out", &earlier.display().to_string()]);
    assert!(ok, "{stderr}");
    std::fs::remove_file(earlier.join("report.json")).unwrap();
    let (ok, _, stderr) = analyze(&["--embeddings", &x, "--format", "svg", "--out", &earlier.display().to_string()]);
    assert!(ok, "{stderr}");
    assert!(earlier.join("spectrum.png").exists() && earlier.join("spectrum.svg").exists());
}
