//! Every loss against PyTorch (f64) from the official formulas: value and gradient.
//! Fixtures: `scripts/make_fixtures.py` → `fixtures/losses.json`.

mod common;

use ssl_objectives::*;
use tch::{Kind, Tensor};

fn load() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/losses.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tensor(v: &serde_json::Value) -> Tensor {
    let shape: Vec<i64> = v["shape"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let data: Vec<f64> = v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    Tensor::from_slice(&data).reshape(&shape).to_kind(Kind::Double)
}

fn loss_of(case: &serde_json::Value, inputs: &[Tensor]) -> Tensor {
    let p = &case["params"];
    let f = |k: &str| p[k].as_f64().unwrap();
    let out = match case["name"].as_str().unwrap() {
        "ntxent" => NtXent::new(f("temperature")).unwrap().compute(&inputs[0]),
        "directclr" => DirectClr::new(Some(p["d0"].as_i64().unwrap()), f("temperature")).unwrap().compute(&inputs[0]),
        "infonce" => DirectClr::new(None, f("temperature")).unwrap().compute(&inputs[0]),
        "barlow" => BarlowTwins::new(f("lambda")).unwrap().compute(&inputs[0]),
        "vicreg" => Vicreg::default().compute(&inputs[0]),
        "mmcr" => {
            // Both nuclear-norm paths must reproduce PyTorch's SVD-based loss.
            let svd = Mmcr::new(f("lambda"), NuclearNormPath::Svd).unwrap().compute(&inputs[0]).unwrap().loss;
            let gram = Mmcr::new(f("lambda"), NuclearNormPath::Gram).unwrap().compute(&inputs[0]).unwrap().loss;
            assert!((svd.double_value(&[]) - gram.double_value(&[])).abs() < 1e-10);
            Mmcr::new(f("lambda"), NuclearNormPath::Auto).unwrap().compute(&inputs[0])
        }
        "byol" => PredictorLoss { kind: PredictorLossKind::Byol }.compute(&inputs[0], &inputs[1]),
        "simsiam" => PredictorLoss { kind: PredictorLossKind::SimSiam }.compute(&inputs[0], &inputs[1]),
        "margin" => MarginContrastive::new(f("margin")).unwrap().compute(&inputs[0]),
        other => panic!("unknown fixture {other}"),
    };
    out.unwrap().loss
}

#[test]
fn every_loss_and_gradient_matches_pytorch() {
    let fx = load();
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let inputs: Vec<Tensor> = case["inputs"].as_array().unwrap().iter().map(tensor).collect();
        let x = inputs[0].set_requires_grad(true);
        let mut all = vec![x.shallow_clone()];
        all.extend(inputs[1..].iter().map(Tensor::shallow_clone));
        let loss = loss_of(case, &all);
        let want = case["loss"].as_f64().unwrap();
        let got = loss.double_value(&[]);
        assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "{name}: {got} vs PyTorch {want}");
        loss.backward();
        let grad = common::values(&x.grad());
        let want_grad: Vec<f64> = case["grad"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(grad.len(), want_grad.len());
        for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
            assert!((g - w).abs() <= 1e-8 * w.abs().max(1.0), "{name} grad[{i}]: {g} vs PyTorch {w}");
        }
    }
}
