//! Optimisers, schedules, EMA and checkpoints: hand computations, twins of tch's (libtorch's)
//! optimisers, and save → load → identical next step.

use ssl_models::checkpoint::{self, TrainState};
use ssl_models::ema::{copy_weights, ema_update};
use ssl_models::schedule::{ema_tau_at, lr_at, scaled_lr};
use ssl_models::{DeviceChoice, Mlp, MlpConfig, ModelError, Optimizer, OptimizerConfig, OptimizerKind, OptimizerStateError};
use tch::nn::{self, ModuleT, OptimizerConfig as _, VarStore};
use tch::{Device, Kind, Tensor};

/// A small MLP with BN (so there are 2-D weights, 1-D biases and BN parameters).
/// Seeded through `ssl_models::seeded`: the tests of this binary run on parallel threads and
/// would otherwise interleave their draws from libtorch's one generator (twins built from the
/// same seed then differ).
fn model(seed: u64) -> (VarStore, Mlp) {
    let vs = VarStore::new(Device::Cpu);
    let mlp = ssl_models::seeded(seed, || Mlp::new(&(vs.root() / "head"), &MlpConfig { dims: vec![5, 7, 3], batch_norm: true, output_bias: true }));
    (vs, mlp)
}

fn loss(mlp: &Mlp, step: u64) -> Tensor {
    let x = ssl_models::seeded(100 + step, || Tensor::randn([16, 5], (Kind::Float, Device::Cpu)));
    let y = mlp.forward_t(&x, true);
    (&y * &y).mean(Kind::Float) + y.sum(Kind::Float) * 0.01
}

fn max_diff(a: &VarStore, b: &VarStore) -> f64 {
    let bv = b.variables();
    a.variables().iter().map(|(n, t)| (t - &bv[n]).abs().max().double_value(&[])).fold(0.0, f64::max)
}

#[test]
fn lars_one_step_matches_hand_computation() {
    let vs = VarStore::new(Device::Cpu);
    let root = vs.root();
    let w = root.var_copy("w", &Tensor::from_slice(&[3.0f32, 4.0, 0.0, 0.0]).view([2, 2]));
    let b = root.var_copy("b", &Tensor::from_slice(&[1.0f32, -1.0]));
    let cfg = OptimizerConfig { weight_decay: 0.1, eta: 0.02, clip_lr: true, ..OptimizerConfig::new(OptimizerKind::Lars) };
    let mut opt = Optimizer::new(&vs, cfg).unwrap();
    // Gradients: loss = Σ c_w ⊙ w + Σ c_b ⊙ b gives grad = c.
    let cw = Tensor::from_slice(&[0.6f32, 0.8, 0.0, 0.0]).view([2, 2]); // ‖g‖ = 1
    let cb = Tensor::from_slice(&[0.5f32, 0.25]);
    opt.zero_grad();
    ((&w * &cw).sum(Kind::Float) + (&b * &cb).sum(Kind::Float)).backward();
    let lr = 0.5;
    opt.step(lr);
    // ‖p‖ = 5, ‖g‖ = 1: trust = 0.02·5 / (1 + 0.1·5 + 1e-8) = 0.0666…; clip: min(trust/lr, 1) = 0.1333…
    let trust = (0.02f64 * 5.0 / (1.0 + 0.5 + 1e-8) / lr).min(1.0);
    let d: Vec<f64> = [(3.0, 0.6), (4.0, 0.8), (0.0, 0.0), (0.0, 0.0)].iter().map(|(p, g)| (g + 0.1 * p) * trust).collect();
    let expect_w: Vec<f64> = [3.0, 4.0, 0.0, 0.0].iter().zip(&d).map(|(p, d)| p - lr * d).collect();
    let got_w = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
    for (g, e) in got_w.iter().zip(&expect_w) {
        assert!((f64::from(*g) - e).abs() < 1e-6, "{got_w:?} vs {expect_w:?}");
    }
    // The bias is excluded: plain momentum SGD without decay, buffer = g on the first step.
    let got_b = Vec::<f32>::try_from(&b).unwrap();
    assert!((f64::from(got_b[0]) - (1.0 - 0.5 * 0.5)).abs() < 1e-7);
    assert!((f64::from(got_b[1]) - (-1.0 - 0.5 * 0.25)).abs() < 1e-7);
    // Second step with the same gradients: buf = 0.9·d + d.
    opt.zero_grad();
    ((&w * &cw).sum(Kind::Float) + (&b * &cb).sum(Kind::Float)).backward();
    opt.step(lr);
    let got_b = Vec::<f32>::try_from(&b).unwrap();
    assert!((f64::from(got_b[0]) - (0.75 - 0.5 * 1.9 * 0.5)).abs() < 1e-6);
}

#[test]
fn lars_without_clipping_and_zero_norms() {
    let vs = VarStore::new(Device::Cpu);
    let w = vs.root().var_copy("w", &Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0]).view([2, 2]));
    let cfg = OptimizerConfig { clip_lr: false, momentum: 0.0, ..OptimizerConfig::new(OptimizerKind::Lars) };
    let mut opt = Optimizer::new(&vs, cfg).unwrap();
    opt.zero_grad();
    (&w * Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2])).sum(Kind::Float).backward();
    opt.step(0.1);
    // ‖p‖ = 0: no adaptation, plain step.
    let got = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
    assert_eq!(got, vec![-0.1, -0.2, -0.3, -0.4]);
}

/// Our SGD / Adam / AdamW against tch's (libtorch's torch::optim) on the same model for 6 steps.
#[test]
fn sgd_adam_adamw_match_libtorch() {
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::Adamw] {
        let wd = 0.05;
        let (vs_a, mlp_a) = model(1);
        let (vs_b, mlp_b) = model(1);
        let mut ours = Optimizer::new(&vs_a, OptimizerConfig { weight_decay: wd, ..OptimizerConfig::new(kind) }).unwrap();
        let mut theirs = match kind {
            OptimizerKind::Sgd => nn::Sgd { momentum: 0.9, dampening: 0.0, wd, nesterov: false }.build(&vs_b, 0.1).unwrap(),
            OptimizerKind::Adam => nn::Adam { wd, ..Default::default() }.build(&vs_b, 0.1).unwrap(),
            _ => nn::AdamW { wd, ..Default::default() }.build(&vs_b, 0.1).unwrap(),
        };
        for step in 0..6 {
            let lr = 0.01 * (step + 1) as f64;
            ours.zero_grad();
            loss(&mlp_a, step).backward();
            ours.step(lr);
            theirs.set_lr(lr);
            theirs.zero_grad();
            loss(&mlp_b, step).backward();
            theirs.step();
        }
        let d = max_diff(&vs_a, &vs_b);
        assert!(d < 2e-6, "{kind:?}: max difference {d}");
    }
}

#[test]
fn bias_and_norm_exclusion_skips_weight_decay() {
    let (vs, mlp) = model(2);
    let cfg = OptimizerConfig { weight_decay: 0.5, momentum: 0.0, exclude_bias_and_norm: Some(true), ..OptimizerConfig::new(OptimizerKind::Sgd) };
    let mut opt = Optimizer::new(&vs, cfg).unwrap();
    let before: std::collections::HashMap<String, Tensor> = vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
    opt.zero_grad();
    loss(&mlp, 0).backward();
    let grads: std::collections::HashMap<String, Tensor> =
        vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).map(|(n, t)| (n, t.grad().copy())).collect();
    opt.step(0.1);
    for (n, t) in vs.variables().into_iter().filter(|(_, t)| t.requires_grad()) {
        let decay = if t.dim() > 1 { 0.5 } else { 0.0 };
        let expect = &before[&n] - (&grads[&n] + &before[&n] * decay) * 0.1;
        let d = (&t - expect).abs().max().double_value(&[]);
        assert!(d < 1e-6, "{n}: {d}");
    }
}

#[test]
fn schedules() {
    assert_eq!(scaled_lr(0.3, 512), 0.6);
    // Warm-up: step 0 of 4 gets peak/4; the peak at the end of warm-up; 0 at the end.
    assert!((lr_at(0, 100, 4, 1.0) - 0.25).abs() < 1e-12);
    assert!((lr_at(3, 100, 4, 1.0) - 1.0).abs() < 1e-12);
    assert!((lr_at(4, 100, 4, 1.0) - 1.0).abs() < 1e-12);
    assert!((lr_at(52, 100, 4, 1.0) - 0.5).abs() < 1e-12);
    assert!(lr_at(100, 100, 4, 1.0).abs() < 1e-12);
    // BYOL τ: base at 0, 1 at the end, the mean half-way.
    assert!((ema_tau_at(0, 10, 0.996, 1.0) - 0.996).abs() < 1e-12);
    assert!((ema_tau_at(5, 10, 0.996, 1.0) - 0.998).abs() < 1e-12);
    assert!((ema_tau_at(10, 10, 0.996, 1.0) - 1.0).abs() < 1e-12);
    assert!((ema_tau_at(3, 10, 0.99, 0.99) - 0.99).abs() < 1e-12);
}

#[test]
fn ema_update_is_exact() {
    let (online, _m1) = model(3);
    let (mut target, _m2) = model(4);
    let before: std::collections::HashMap<String, Tensor> = target.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
    ema_update(&mut target, &online, 0.75).unwrap();
    let on = online.variables();
    for (n, t) in target.variables() {
        let expect = if on[&n].requires_grad() { &before[&n] * 0.75 + &on[&n] * 0.25 } else { before[&n].copy() };
        let d = (&t - expect).abs().max().double_value(&[]);
        assert!(d < 1e-7, "{n}: {d}");
    }
    copy_weights(&mut target, &online).unwrap();
    assert_eq!(max_diff(&target, &online), 0.0);
    assert!(ema_update(&mut target, &online, 1.5).is_err());
}

#[test]
fn checkpoint_round_trip_gives_identical_outputs_and_next_step() {
    for kind in [OptimizerKind::Lars, OptimizerKind::Adamw] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        let (vs, mlp) = model(5);
        let cfg = OptimizerConfig { weight_decay: 1e-3, ..OptimizerConfig::new(kind) };
        let mut opt = Optimizer::new(&vs, cfg.clone()).unwrap();
        for step in 0..3 {
            opt.zero_grad();
            loss(&mlp, step).backward();
            opt.step(0.05);
        }
        let state = TrainState { epoch: 1, step: 3, finished: false, seed: 9, loss_scale: 1.0, extra: serde_json::json!({"config": "abc"}) };
        checkpoint::save(&path, &[("", &vs)], Some(&opt), &state).unwrap();
        assert!(path.with_extension("json").is_file());

        let (mut vs2, mlp2) = model(77); // different initial weights
        let mut opt2 = Optimizer::new(&vs2, cfg).unwrap();
        let back = checkpoint::load(&path, &mut [("", &mut vs2)], Some(&mut opt2)).unwrap();
        assert_eq!(back, state);
        assert_eq!(opt2.steps(), 3);
        assert_eq!(max_diff(&vs, &vs2), 0.0);
        let x = ssl_models::seeded(6, || Tensor::randn([4, 5], (Kind::Float, Device::Cpu)));
        let (ya, yb) = (mlp.forward_t(&x, false), mlp2.forward_t(&x, false));
        assert_eq!((ya - yb).abs().max().double_value(&[]), 0.0);
        // The next step is identical (momentum / Adam moments restored).
        for (o, m) in [(&mut opt, &mlp), (&mut opt2, &mlp2)] {
            o.zero_grad();
            loss(m, 3).backward();
            o.step(0.05);
        }
        assert_eq!(max_diff(&vs, &vs2), 0.0, "{kind:?}");
    }
}

#[test]
fn bad_checkpoints_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vs, _) = model(1);
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let e = checkpoint::load(&garbage, &mut [("", &mut vs)], None).unwrap_err().to_string();
    assert!(e.contains("garbage.safetensors"), "{e}");
    let missing = dir.path().join("missing.safetensors");
    assert!(checkpoint::load(&missing, &mut [("", &mut vs)], None).unwrap_err().to_string().contains("missing.safetensors"));
    // A checkpoint of a different model: the variable is named.
    let other = dir.path().join("other.safetensors");
    let vs_small = VarStore::new(Device::Cpu);
    let _ = ssl_models::seeded(3, || Mlp::new(&(vs_small.root() / "head"), &MlpConfig { dims: vec![5, 4, 3], batch_norm: true, output_bias: true }));
    checkpoint::save(
        &other,
        &[("", &vs_small)],
        None,
        &TrainState { epoch: 0, step: 0, finished: false, seed: 0, loss_scale: 1.0, extra: serde_json::Value::Null },
    )
    .unwrap();
    let e = checkpoint::load(&other, &mut [("", &mut vs)], None).unwrap_err().to_string();
    assert!(e.contains("head.0.weight") && e.contains("shape"), "{e}");
    // An interrupted write leaves the previous file intact: the temporary name is never the target.
    assert!(!dir.path().join("other.safetensors.partial").exists());
}

#[test]
fn checkpoint_errors_keep_their_cause() {
    use std::error::Error as _;
    let dir = tempfile::tempdir().unwrap();
    let (mut vs, _) = model(1);
    // A garbage file: the libtorch / safetensors error is the source, the message names the file.
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let e = checkpoint::load(&garbage, &mut [("", &mut vs)], None).unwrap_err();
    assert!(matches!(e, ModelError::NotSafetensors { .. }), "{e:?}");
    assert!(e.source().is_some(), "{e:?}");
    assert!(e.to_string().contains("garbage.safetensors"), "{e}");
    // The cause is not repeated in the message: anyhow's `{:#}` (the binaries) prints the chain.
    assert!(!e.to_string().contains(&e.source().unwrap().to_string()), "the message repeats the cause: {e}");
    assert_eq!(e.path(), Some(garbage.as_path()));
    let e = checkpoint::read_state(&garbage).unwrap_err();
    assert!(e.source().is_some() && e.to_string().contains("garbage.safetensors"), "{e}");
    // No file at all.
    let e = checkpoint::read_state(&dir.path().join("nothing.safetensors")).unwrap_err();
    assert!(matches!(e, ModelError::NoSuchFile { .. }) && e.to_string().contains("nothing.safetensors"), "{e}");
    // A safetensors file that is not a checkpoint (no state/json).
    let bare = dir.path().join("bare.safetensors");
    checkpoint::write_tensors_atomic(&bare, &[("x".into(), Tensor::from_slice(&[1.0f32]))]).unwrap();
    let e = checkpoint::load(&bare, &mut [("", &mut vs)], None).unwrap_err();
    assert!(matches!(e, ModelError::NotACheckpoint { .. }) && e.to_string().contains("bare.safetensors") && e.to_string().contains("state/json"), "{e}");
    // Writing into a folder that does not exist: the I/O cause is kept.
    let state = TrainState { epoch: 0, step: 0, finished: false, seed: 0, loss_scale: 1.0, extra: serde_json::Value::Null };
    let e = checkpoint::save(&dir.path().join("no/such/dir/c.safetensors"), &[("", &vs)], None, &state).unwrap_err();
    assert!(e.source().is_some() && e.to_string().contains("c.safetensors") && e.to_string().contains("cannot write"), "{e}");
}

#[test]
fn a_missing_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    let (vs, _) = model(1);
    let state = TrainState { epoch: 0, step: 0, finished: false, seed: 0, loss_scale: 1.0, extra: serde_json::Value::Null };
    checkpoint::save(&path, &[("", &vs)], None, &state).unwrap();
    // The online network loads; a momentum encoder (prefix `momentum/`) is not in the file.
    let (mut online, _) = model(2);
    let (mut target, _) = model(3);
    let e = checkpoint::load(&path, &mut [("", &mut online), ("momentum/", &mut target)], None).unwrap_err();
    match &e {
        ModelError::MissingVariable { path: p, name } => {
            assert_eq!(p, &path);
            assert!(name.starts_with("momentum/head."), "{name}");
        }
        other => panic!("expected MissingVariable, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("checkpoint.safetensors") && msg.contains("missing variable `momentum/head."), "{msg}");
    // Optimiser state of another model: the file and the state entry are named.
    let (vs_other, _) = {
        let vs = VarStore::new(Device::Cpu);
        let mlp = ssl_models::seeded(8, || Mlp::new(&(vs.root() / "other"), &MlpConfig { dims: vec![5, 7, 3], batch_norm: true, output_bias: true }));
        (vs, mlp)
    };
    let mut opt_other = Optimizer::new(&vs_other, OptimizerConfig::new(OptimizerKind::Sgd)).unwrap();
    let (vs_a, mlp_a) = model(4);
    let mut opt_a = Optimizer::new(&vs_a, OptimizerConfig::new(OptimizerKind::Sgd)).unwrap();
    opt_a.zero_grad();
    loss(&mlp_a, 0).backward();
    opt_a.step(0.1);
    checkpoint::save(&path, &[("", &vs_a)], Some(&opt_a), &state).unwrap();
    let mut plain = VarStore::new(Device::Cpu);
    let e = checkpoint::load(&path, &mut [("", &mut plain)], Some(&mut opt_other)).unwrap_err();
    assert!(matches!(&e, ModelError::OptimizerState { path: Some(p), source: OptimizerStateError::UnknownParameter { .. } } if p == &path), "{e:?}");
    // The message names the file; its cause (printed after it in a chain) names the state entry.
    let cause = std::error::Error::source(&e).unwrap().to_string();
    assert!(e.to_string().starts_with(&format!("{}: ", path.display())) && cause.starts_with("optimizer state `optimizer/head."), "{e}: {cause}");
}

#[test]
fn config_errors_name_the_field() {
    let cfg = OptimizerConfig { momentum: 1.5, ..OptimizerConfig::new(OptimizerKind::Sgd) };
    let e = cfg.validate().unwrap_err();
    assert_eq!(e.to_string(), "optimizer.momentum = 1.5: expected 0 <= momentum < 1");
    assert!(matches!(e, ModelError::Config { field: "optimizer.momentum", .. }));
    let cfg = OptimizerConfig { betas: (0.9, 1.0), ..OptimizerConfig::new(OptimizerKind::Adam) };
    assert_eq!(cfg.validate().unwrap_err().to_string(), "optimizer.betas = (0.9, 1.0): expected both in [0, 1)");
    let (mut target, _) = model(1);
    let (online, _) = model(2);
    assert_eq!(ema_update(&mut target, &online, 1.5).unwrap_err().to_string(), "EMA momentum τ = 1.5: expected 0 <= τ <= 1");
    assert_eq!(
        MlpConfig { dims: vec![4], batch_norm: false, output_bias: true }.validate().unwrap_err().to_string(),
        "head dims [4]: need at least [input, output]"
    );
    assert_eq!(
        MlpConfig { dims: vec![4, 0, 2], batch_norm: false, output_bias: true }.validate().unwrap_err().to_string(),
        "head dims [4, 0, 2]: width 0 must be >= 1"
    );
    let e = "gpu".parse::<DeviceChoice>().unwrap_err();
    assert_eq!(e.to_string(), "unknown device `gpu`: expected cpu, cuda or auto");
    // clap needs Err: Into<Box<dyn Error + Send + Sync>>.
    let _: Box<dyn std::error::Error + Send + Sync + 'static> = e.into();
    assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda);
}

#[test]
fn bias_and_norm_exclusion_defaults_to_the_rule_s() {
    for (kind, default) in [(OptimizerKind::Lars, true), (OptimizerKind::Sgd, false), (OptimizerKind::Adam, false), (OptimizerKind::Adamw, false)] {
        let cfg = OptimizerConfig::new(kind);
        assert_eq!(cfg.exclude_bias_and_norm, None);
        assert_eq!(cfg.excludes_bias_and_norm(), default, "{kind:?}");
        assert!(OptimizerConfig { exclude_bias_and_norm: Some(true), ..cfg.clone() }.excludes_bias_and_norm());
        assert!(!OptimizerConfig { exclude_bias_and_norm: Some(false), ..cfg.clone() }.excludes_bias_and_norm());
    }
    // A section with only the kind gets the rule's default; unset is not serialised.
    let lars: OptimizerConfig = serde_json::from_str(r#"{"kind": "lars"}"#).unwrap();
    assert_eq!(lars, OptimizerConfig::new(OptimizerKind::Lars));
    assert!(lars.excludes_bias_and_norm());
    assert!(!serde_json::to_string(&lars).unwrap().contains("exclude_bias_and_norm"));
    let off: OptimizerConfig = serde_json::from_str(r#"{"kind": "lars", "exclude_bias_and_norm": false}"#).unwrap();
    assert!(!off.excludes_bias_and_norm());
    assert_eq!(serde_json::from_str::<OptimizerConfig>(&serde_json::to_string(&off).unwrap()).unwrap(), off);
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind": "sgd", "bogus": 1}"#).is_err(), "unknown fields are rejected");
    // LARS with the default exclusion leaves 1-D parameters unadapted; with Some(false) they are.
    let (vs, mlp) = model(8);
    let before: std::collections::HashMap<String, Tensor> = vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
    let mut opt = Optimizer::new(&vs, OptimizerConfig { weight_decay: 0.5, momentum: 0.0, ..OptimizerConfig::new(OptimizerKind::Lars) }).unwrap();
    opt.zero_grad();
    loss(&mlp, 0).backward();
    let grads: std::collections::HashMap<String, Tensor> =
        vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).map(|(n, t)| (n, t.grad().copy())).collect();
    opt.step(0.1);
    for (n, t) in vs.variables().into_iter().filter(|(_, t)| t.requires_grad() && t.dim() == 1) {
        let expect = &before[&n] - &grads[&n] * 0.1;
        let d = (&t - expect).abs().max().double_value(&[]);
        assert!(d < 1e-6, "{n}: {d}");
    }
}

#[test]
fn grad_scaler_skips_overflow_and_matches_unscaled_steps() {
    use ssl_models::amp::GradScaler;
    let (vs_a, mlp_a) = model(6);
    let (vs_b, mlp_b) = model(6);
    let cfg = OptimizerConfig::new(OptimizerKind::Sgd);
    let mut a = Optimizer::new(&vs_a, cfg.clone()).unwrap();
    let mut b = Optimizer::new(&vs_b, cfg).unwrap();
    let mut scaler = GradScaler::new(true);
    a.zero_grad();
    scaler.scale_loss(&loss(&mlp_a, 0)).backward();
    assert!(scaler.step(&mut a, 0.1));
    b.zero_grad();
    loss(&mlp_b, 0).backward();
    b.step(0.1);
    assert!(max_diff(&vs_a, &vs_b) < 1e-6);
    // An infinite loss: the step is skipped and the scale halved.
    let before = max_diff(&vs_a, &vs_b);
    a.zero_grad();
    scaler.scale_loss(&(loss(&mlp_a, 1) * f64::INFINITY)).backward();
    let _ = loss(&mlp_b, 1); // the same BatchNorm statistics update on the twin
    assert!(!scaler.step(&mut a, 0.1));
    assert_eq!(scaler.scale, 32768.0);
    assert_eq!(max_diff(&vs_a, &vs_b), before);
}
