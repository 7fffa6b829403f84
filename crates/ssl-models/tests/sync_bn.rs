//! Synchronised batch norm against libtorch's own: with one replica it is the same layer
//! (outputs, gradients, running statistics); with a second replica's statistics it normalises
//! with the statistics of the concatenated batch.

use std::sync::{Arc, Mutex};

use ssl_models::norm::{BatchNorm, CrossReplica};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// One replica: the gather is the identity.
struct Alone;
impl CrossReplica for Alone {
    fn all_gather(&self, t: &Tensor) -> Tensor {
        t.shallow_clone()
    }
}

/// This replica first, then fixed rows standing for another replica's statistics.
struct WithOther(Mutex<Tensor>);
impl CrossReplica for WithOther {
    fn all_gather(&self, t: &Tensor) -> Tensor {
        Tensor::cat(&[t.shallow_clone(), self.0.lock().unwrap().shallow_clone()], 0)
    }
}

fn layers(channels: i64) -> (nn::VarStore, BatchNorm, nn::VarStore, BatchNorm) {
    let (a, b) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
    let (na, nb) = (BatchNorm::new2d(&a.root(), channels, 1.0), BatchNorm::new2d(&b.root(), channels, 1.0));
    tch::no_grad(|| {
        for (name, v) in a.variables() {
            let mut w = b.variables()[&name].shallow_clone();
            let init = if name.ends_with("weight") {
                Tensor::randn_like(&v) * 0.3 + 1.0
            } else if name.ends_with("bias") {
                Tensor::randn_like(&v)
            } else {
                v.copy()
            };
            v.shallow_clone().copy_(&init);
            w.copy_(&init);
        }
    });
    (a, na, b, nb)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn one_replica_is_libtorchs_batch_norm() {
    tch::manual_seed(0);
    let (va, native, vb, mut synced) = layers(3);
    synced.set_sync(Some(Arc::new(Alone)));
    let x = (Tensor::randn([6, 3, 4, 5], (Kind::Float, Device::Cpu)) * 2.0 + 0.7).set_requires_grad(true);
    let x2 = x.detach().set_requires_grad(true);
    let (ya, yb) = (native.forward_t(&x, true), synced.forward_t(&x2, true));
    assert!(max_diff(&ya, &yb) < 1e-5, "outputs differ by {}", max_diff(&ya, &yb));
    let g = Tensor::randn_like(&ya);
    (&ya * &g).sum(Kind::Float).backward();
    (&yb * &g).sum(Kind::Float).backward();
    assert!(max_diff(&x.grad(), &x2.grad()) < 1e-5, "input gradients differ by {}", max_diff(&x.grad(), &x2.grad()));
    for (name, v) in va.variables() {
        let w = &vb.variables()[&name];
        let d = if v.requires_grad() { max_diff(&v.grad(), &w.grad()) } else { max_diff(&v, w) };
        assert!(d < 1e-5, "{name}: differs by {d}");
    }
    // Evaluation mode reads the running statistics both updated.
    assert!(max_diff(&native.forward_t(&x, false), &synced.forward_t(&x2, false)) < 1e-5);
}

#[test]
fn two_replicas_normalise_with_the_statistics_of_both_batches() {
    tch::manual_seed(1);
    let (_va, whole, _vb, mut mine) = layers(4);
    // Replica 0 holds 2 images, replica 1 holds 6 with another mean and spread.
    let x0 = Tensor::randn([2, 4, 3, 3], (Kind::Float, Device::Cpu));
    let x1 = Tensor::randn([6, 4, 3, 3], (Kind::Float, Device::Cpu)) * 3.0 - 1.0;
    let dims: &[i64] = &[0, 2, 3];
    let other = Tensor::cat(&[x1.mean_dim(dims, false, Kind::Float), x1.var_correction(dims, 0, false), Tensor::from_slice(&[(6 * 9) as f32])], 0).unsqueeze(0);
    mine.set_sync(Some(Arc::new(WithOther(Mutex::new(other)))));
    let expected = whole.forward_t(&Tensor::cat(&[&x0, &x1], 0), true).narrow(0, 0, 2);
    let got = mine.forward_t(&x0, true);
    assert!(max_diff(&expected, &got) < 1e-5, "differs by {}", max_diff(&expected, &got));
    // The running statistics are those of the whole batch too.
    let (w, m) = (whole.forward_t(&x0, false), mine.forward_t(&x0, false));
    assert!(max_diff(&w, &m) < 1e-5, "running statistics differ: {}", max_diff(&w, &m));
}
