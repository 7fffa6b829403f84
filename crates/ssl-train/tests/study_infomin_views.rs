//! `study infomin --part colour` and `--part sweetspot` on tiny budgets: the files and keys the
//! page documents, and the verdict rules on hand-made rows.

mod common;

use ssl_train::study::infomin_colour::{self, ColourRow, SPLITS};
use ssl_train::study::infomin_sweetspot::{self, SweetspotRow, DISTANCES};
use ssl_train::study::readout::{Readout, ViewStudyBudget};
use ssl_train::study::StudyOutput;

/// A study folder `name` in a temporary folder with the toy data, and the tiny budget on it.
fn tiny(name: &str) -> (tempfile::TempDir, std::path::PathBuf, StudyOutput, ViewStudyBudget) {
    let (tmp, data) = common::toy_data(200, 60);
    let out = tmp.path().join(name);
    let study = StudyOutput::create(&out, false).unwrap();
    let budget = ViewStudyBudget { epochs: 1, train_limit: 128, bank: 64, queries: 32, data_root: Some(data), seed: None };
    (tmp, out, study, budget)
}

fn summary(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_colour_part_writes_its_table_figure_and_every_documented_key() {
    let (_tmp, out, study, budget) = tiny("colour");
    infomin_colour::run(&study, budget, ssl_models::DeviceChoice::Cpu, None).unwrap();
    let s = summary(&out);
    let rows = s["colour"].as_array().unwrap();
    assert_eq!(rows.len(), SPLITS.len() + 1, "one row per split and the encoders at initialisation");
    for r in rows {
        for k in ["space", "split", "knn", "linear", "i_nce"] {
            assert!(r.get(k).is_some(), "colour row lacks {k}: {r}");
        }
    }
    assert_eq!((rows[1]["space"].as_str(), rows[1]["split"].as_str()), (Some("lab"), Some("L | ab")));
    assert!(rows[0]["i_nce"].as_f64().unwrap().is_finite());
    assert_eq!(rows[6]["encoder"], "init");
    assert_eq!(s["verdicts"].as_array().unwrap().len(), 3);
    for f in ["colour.svg", "colour.png", "summary.md", "runs/ydbdr/run.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| lab | L \\| ab |"), "the split's bar is escaped in the table: {md}");
}

#[test]
fn the_sweetspot_part_writes_its_table_figure_and_every_documented_key() {
    let (_tmp, out, study, budget) = tiny("sweet");
    infomin_sweetspot::run(&study, budget, ssl_models::DeviceChoice::Cpu, None).unwrap();
    let s = summary(&out);
    let rows = s["sweetspot"].as_array().unwrap();
    assert_eq!(rows.len(), DISTANCES.len());
    for r in rows {
        for k in ["setting", "i_nce", "linear"] {
            assert!(r[k].is_string() || r[k].as_f64().is_some_and(f64::is_finite), "sweetspot row: {k} in {r}");
        }
    }
    assert_eq!(rows[0]["setting"], "distance 0 px");
    assert!(s["init"]["linear"].as_f64().is_some());
    assert_eq!(s["verdicts"].as_array().unwrap().len(), 2);
    for f in ["sweetspot.svg", "sweetspot.png", "summary.md", "runs/distance-7/run.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

fn readout() -> Readout {
    Readout { knn: 0.5, linear: 0.5, bank: 10, queries: 10 }
}

fn colour(space: &str, linear: f64) -> ColourRow {
    ColourRow {
        space: space.into(),
        split: "a | b".into(),
        encoder: "trained".into(),
        knn: linear - 0.05,
        linear,
        i_nce: 1.0,
        ln_k: 5.0,
        train_seconds: 1.0,
        readout: readout(),
    }
}

#[test]
fn colour_verdicts_follow_the_numbers() {
    let rows = vec![colour("rgb", 0.60), colour("lab", 0.70), colour("ydbdr", 0.71), colour("hsv", 0.65)];
    let v = infomin_colour::verdicts(&rows);
    assert_eq!([v[0].verdict.as_str(), v[1].verdict.as_str(), v[2].verdict.as_str()], ["reproduced", "reproduced", "reproduced"], "{v:?}");
    let rows = vec![colour("rgb", 0.68), colour("lab", 0.70), colour("ydbdr", 0.64), colour("hsv", 0.75)];
    let v = infomin_colour::verdicts(&rows);
    // Lab beats RGB, YDbDr does not; 6 points apart; HSV best.
    assert_eq!([v[0].verdict.as_str(), v[1].verdict.as_str(), v[2].verdict.as_str()], ["partly", "contradicted", "contradicted"], "{v:?}");
    let rows = vec![colour("rgb", 0.60), colour("lab", 0.70), colour("ydbdr", 0.65)];
    assert_eq!(infomin_colour::verdicts(&rows)[2].verdict, "partly", "a luma-chroma split other than YDbDr is best");
}

fn point(distance: f32, i_nce: f64, linear: f64) -> SweetspotRow {
    // 10,000 test images: a difference of 2·√2·√(0.75·0.25/10⁴) ≈ 0.012 is resolved.
    let readout = Readout { queries: 10_000, ..readout() };
    SweetspotRow { setting: format!("distance {distance} px"), distance, i_nce, ln_k: 5.5, linear, knn: linear, train_seconds: 1.0, readout }
}

#[test]
fn sweetspot_verdicts_follow_the_numbers() {
    let u = vec![point(0.0, 5.0, 0.70), point(3.0, 3.0, 0.76), point(7.0, 2.0, 0.74), point(14.0, 1.0, 0.69)];
    let v = infomin_sweetspot::verdicts(&u);
    assert_eq!((v[0].verdict.as_str(), v[1].verdict.as_str()), ("reproduced", "reproduced"), "{v:?}");
    // Accuracy only rising with the distance: no inverted U; I_NCE rising: contradicted.
    let rising = vec![point(0.0, 1.0, 0.70), point(3.0, 2.0, 0.72), point(7.0, 3.0, 0.74), point(14.0, 4.0, 0.76)];
    let v = infomin_sweetspot::verdicts(&rising);
    assert_eq!((v[0].verdict.as_str(), v[1].verdict.as_str()), ("contradicted", "not reproduced"), "{v:?}");
    // An interior peak within the readout's noise of one end is only partly an inverted U.
    let flat = vec![point(0.0, 5.0, 0.590), point(3.0, 3.0, 0.750), point(7.0, 2.0, 0.755), point(14.0, 1.0, 0.748)];
    let v = infomin_sweetspot::verdicts(&flat);
    assert_eq!(v[1].verdict, "partly", "{v:?}");
    assert!(v[1].evidence.contains("at 14 px 0.7480 (within the readout's noise)"), "{}", v[1].evidence);
    // Fewer test images resolve less: the same 7-point gap at 10 test images is noise.
    let few: Vec<SweetspotRow> = u.iter().cloned().map(|r| SweetspotRow { readout: readout(), ..r }).collect();
    assert_eq!(infomin_sweetspot::verdicts(&few)[1].verdict, "not reproduced");
}

/// The page's measured `summary.json` files: their verdicts are what the code computes from
/// their rows (so the page's verdicts cannot drift from the rules).
#[test]
fn the_pages_verdicts_are_the_rules_applied_to_the_measured_rows() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/studies/what-makes-good-views");
    let colour: infomin_colour::ColourSummary = serde_json::from_str(&std::fs::read_to_string(dir.join("colour-summary.json")).unwrap()).unwrap();
    assert_eq!(infomin_colour::verdicts(&colour.colour), colour.verdicts);
    let sweet: infomin_sweetspot::SweetspotSummary = serde_json::from_str(&std::fs::read_to_string(dir.join("sweetspot-summary.json")).unwrap()).unwrap();
    assert_eq!(infomin_sweetspot::verdicts(&sweet.sweetspot), sweet.verdicts);
}
