//! `study collapse` end to end on a tiny budget: the files and keys its page documents.

use std::process::Command;

#[test]
fn the_toy_part_writes_its_summary_figures_and_every_documented_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("collapse");
    let run = Command::new(env!("CARGO_BIN_EXE_ssl-train")).args(["study", "collapse", "--toy-steps", "30", "--out"]).arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["steps"], 30);
    assert!(s["collapse_threshold"].as_f64().unwrap() > 0.0);
    let strong = s["strong_augmentation"].as_array().unwrap();
    assert_eq!(strong.len(), 7);
    for r in strong {
        for k in ["noise", "predicted_collapsed", "observed_collapsed", "spectrum"] {
            assert!(!r[k].is_null(), "strong_augmentation lacks {k}");
        }
        let spectrum: Vec<f64> = r["spectrum"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(spectrum.len(), 16);
        assert!(spectrum.windows(2).all(|w| w[0] >= w[1]), "descending");
    }
    let depth = s["depth_sweep"].as_array().unwrap();
    assert_eq!(depth.len(), 8);
    assert!(depth.iter().all(|r| r["spectrum"].as_array().unwrap().len() == 16 && r["collapsed"].is_u64()));
    for k in ["diagonal_mass_start", "diagonal_mass_end"] {
        let v = s["alignment"][k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    // 30 steps, measured every step: 31 points per trajectory.
    assert_eq!(s["implicit_regularisation"]["w1_singular_values"].as_array().unwrap().len(), 31);
    for stem in [
        "strong-augmentation-spectra",
        "implicit-w1-singular-values",
        "implicit-w2-singular-values",
        "implicit-embedding-spectrum",
        "alignment-start",
        "alignment-end",
        "depth-sweep-linear",
        "depth-sweep-relu",
    ] {
        for ext in ["svg", "png"] {
            assert!(out.join(format!("{stem}.{ext}")).is_file(), "missing {stem}.{ext}");
        }
    }
    assert!(std::fs::read_to_string(out.join("summary.md")).unwrap().contains("| noise |"));
    // The same folder again: refused, nothing changed.
    let again = Command::new(env!("CARGO_BIN_EXE_ssl-train")).args(["study", "collapse", "--toy-steps", "30", "--out"]).arg(&out).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
