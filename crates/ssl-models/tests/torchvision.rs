//! Exported backbones load into torchvision (strict, fc aside) and give the same forward pass,
//! checked by `scripts/torchvision_check.py` through the pip-installed torch and torchvision
//! (`cargo xtask setup` installs both under `.deps/`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ssl_models::checkpoint::{export_backbone, write_tensors_atomic};
use ssl_models::resnet::{Depth, ResNet, ResNetConfig, Stem};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn exported_backbones_load_in_torchvision_with_equal_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("r18_imagenet", Depth::R18, Stem::Imagenet, 3, 64),
        ("r18_cifar_grey", Depth::R18, Stem::Cifar, 1, 32),
        ("r34_cifar", Depth::R34, Stem::Cifar, 3, 32),
        ("r50_imagenet", Depth::R50, Stem::Imagenet, 3, 64),
    ];
    let mut listed = Vec::new();
    for (i, (name, depth, stem, in_channels, size)) in cases.into_iter().enumerate() {
        tch::manual_seed(i as i64);
        let vs = VarStore::new(Device::Cpu);
        let cfg = ResNetConfig { depth, stem, in_channels, width: 64, zero_init_residual: false };
        let net = ResNet::new(&(vs.root() / "backbone"), &cfg);
        // Non-trivial BatchNorm statistics and affine parameters, so eval mode is really tested.
        tch::no_grad(|| {
            for (n, mut t) in vs.variables() {
                if n.ends_with("running_var") {
                    t.copy_(&(Tensor::rand_like(&t) + 0.5));
                } else if n.ends_with("running_mean") || (n.contains("bn") && n.ends_with("bias")) {
                    t.copy_(&(Tensor::randn_like(&t) * 0.1));
                }
            }
        });
        let x = Tensor::randn([2, in_channels, size, size], (Kind::Float, Device::Cpu));
        let y = tch::no_grad(|| net.forward_t(&x, false));
        let n = export_backbone(&vs, "backbone.", &dir.path().join(format!("{name}.backbone.safetensors")), 0).unwrap();
        assert!(n > 50);
        write_tensors_atomic(&dir.path().join(format!("{name}.io.safetensors")), &[("input".into(), x), ("output".into(), y)]).unwrap();
        let stem = if stem == Stem::Cifar { "cifar" } else { "imagenet" };
        let depth = match depth {
            Depth::R18 => 18,
            Depth::R34 => 34,
            Depth::R50 => 50,
        };
        listed.push(serde_json::json!({"name": name, "depth": depth, "stem": stem, "in_channels": in_channels}));
    }
    std::fs::write(dir.path().join("cases.json"), serde_json::to_string(&listed).unwrap()).unwrap();

    let root = workspace_root();
    let pythonpath = format!("{}:{}", Path::new(env!("LIBTORCH")).parent().unwrap().display(), root.join(".deps/python-extra").display());
    assert!(root.join(".deps/python-extra").is_dir(), "torchvision is not installed under {}/.deps/python-extra: run `cargo xtask setup`", root.display());
    let out = Command::new("python3")
        .arg(root.join("crates/ssl-models/scripts/torchvision_check.py"))
        .arg(dir.path())
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "torchvision check failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}
