//! `study infomin --part factors` on a tiny budget: the files and keys its page documents, and
//! the verdict rules on hand-made rows.

mod common;

use ssl_analysis::factors::{FactorChance, FactorProbes};
use ssl_data::toy::ToyFactor;
use ssl_train::study::infomin::{run, verdicts, FactorRow, FactorsBudget, SHARED_SETS};
use ssl_train::study::StudyOutput;

#[test]
fn the_factors_part_writes_its_table_figure_and_every_documented_key() {
    let (tmp, data) = common::toy_data(200, 60);
    let out = tmp.path().join("infomin");
    let study = StudyOutput::create(&out, false).unwrap();
    let budget = FactorsBudget { epochs: 1, train_limit: 128, test_limit: 60, data_root: Some(data), past_frames: false };
    run(&study, budget, ssl_models::DeviceChoice::Cpu, None).unwrap();
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = s["factors"].as_array().unwrap();
    assert_eq!(rows.len(), SHARED_SETS.len() + 1, "one row per shared set and the encoder at initialisation");
    for r in rows {
        for k in ["shared", "object_acc", "background_acc", "position_r2", "position_err_px"] {
            assert!(!r[k].is_null(), "factors row lacks {k}: {r}");
        }
    }
    assert_eq!(rows[0]["shared"], serde_json::json!(["object"]));
    assert_eq!(rows[6]["shared"], serde_json::json!(["object", "position", "background"]));
    assert_eq!(rows[7]["encoder"], "init");
    assert_eq!(s["verdicts"].as_array().unwrap().len(), 4);
    for f in ["factors.svg", "factors.png", "summary.md"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| object + background |") && md.contains("| chance"), "{md}");
    // Every run folder is kept, named by its shared factors.
    assert!(out.join("runs/object-position/run.json").is_file());
}

fn probes(object: f64, background: f64, position: f64) -> FactorProbes {
    FactorProbes {
        object_accuracy: object,
        background_accuracy: background,
        position_r2: position,
        position_error_px: 10.0 * (1.0 - position),
        chance: FactorChance { object_accuracy: 0.1, background_accuracy: 0.1, position_error_px: 10.0 },
        train: 80,
        test: 20,
        lambda: 1.0,
        split: "every fifth row held out".into(),
    }
}

fn row(shared: &[ToyFactor], encoder: &str, (o, b, p): (f64, f64, f64)) -> FactorRow {
    let pr = probes(o, b, p);
    FactorRow {
        shared: shared.to_vec(),
        encoder: encoder.into(),
        object_acc: o,
        background_acc: b,
        position_r2: p,
        position_err_px: pr.position_error_px,
        probes: pr,
        final_loss: 1.0,
        train_seconds: 1.0,
    }
}

#[test]
fn verdicts_follow_the_numbers() {
    // Each single factor learned where shared; in every pair the background (or position) wins.
    let claimed = [(0.8, 0.2, 0.1), (0.3, 0.2, 0.9), (0.3, 0.9, 0.1), (0.5, 0.2, 0.88), (0.4, 0.88, 0.1), (0.3, 0.9, 0.5), (0.3, 0.9, 0.4)];
    let mut rows: Vec<FactorRow> = SHARED_SETS.iter().zip(claimed).map(|(s, v)| row(s, "trained", v)).collect();
    rows.push(row(&[], "init", (0.25, 0.15, 0.05)));
    let v = verdicts(&rows);
    assert_eq!(v[0].verdict, "reproduced", "{:?}", v[0]);
    assert_eq!(v[1].verdict, "reproduced", "{:?}", v[1]);
    // Object + background: object at 0.4/0.8 = 50%; position + background: R² 0.5/0.9 = 56%.
    assert_eq!(v[2].verdict, "reproduced", "{:?}", v[2]);
    // Object + position: object at 0.5/0.8 = 62%, position at 0.88/0.9 = 98%: position preferred.
    assert_eq!(v[3].verdict, "contradicted", "{:?}", v[3]);
    // Nothing learned beyond initialisation, and pairs keep both factors.
    let flat = [(0.2, 0.2, 0.1); 7];
    let mut rows: Vec<FactorRow> = SHARED_SETS.iter().zip(flat).map(|(s, v)| row(s, "trained", v)).collect();
    rows.push(row(&[], "init", (0.25, 0.25, 0.2)));
    let v = verdicts(&rows);
    assert_eq!(v[0].verdict, "not reproduced", "{:?}", v[0]);
    assert_eq!(v[1].verdict, "not reproduced", "{:?}", v[1]);
    assert_eq!(v[2].verdict, "contradicted", "{:?}", v[2]);
}
