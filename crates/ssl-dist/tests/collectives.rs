//! Real multi-process jobs on Gloo: the test binary starts copies of itself as the ranks (each
//! runs one `rank_*` test, which does nothing outside such a job) and checks their exit codes.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::sync::Arc;
use std::time::Duration;

use ssl_dist::{Launch, ProcessGroup, Store};
use tch::{Kind, Tensor};

const ROLE: &str = "SSL_DIST_TEST_ROLE";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `world` copies of this test binary running test `name` as ranks 0..world.
fn spawn(name: &str, world: usize, port: u16, extra: &[(&str, String)]) -> Vec<Child> {
    (0..world)
        .map(|rank| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads", "1"])
                .env(ROLE, name)
                .env("RANK", rank.to_string())
                .env("LOCAL_RANK", rank.to_string())
                .env("WORLD_SIZE", world.to_string())
                .env("MASTER_ADDR", "127.0.0.1")
                .env("MASTER_PORT", port.to_string())
                .env("OMP_NUM_THREADS", "1");
            for (k, v) in extra {
                cmd.env(k, v);
            }
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect()
}

fn finish(children: Vec<Child>) -> Vec<Output> {
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn assert_all_passed(outputs: &[Output]) {
    for (rank, o) in outputs.iter().enumerate() {
        assert!(o.status.success(), "rank {rank} failed:\n{}", text(o));
    }
}

/// Inside a job started by `spawn` for test `name`: the launch; else None (the test is a no-op).
fn role(name: &str) -> Option<Launch> {
    (std::env::var(ROLE).ok().as_deref() == Some(name)).then(|| Launch::from_env().unwrap().expect("the job's variables"))
}

fn group(l: &Launch) -> ProcessGroup {
    l.connect(ssl_dist::Backend::Gloo, 0, Duration::from_secs(60)).unwrap()
}

fn close(a: &Tensor, b: &Tensor) -> bool {
    a.allclose(b, 1e-6, 1e-6, false)
}

#[test]
#[ignore = "one rank of a multi-process test: started by the test that needs it"]
fn rank_collectives() {
    let Some(l) = role("rank_collectives") else { return };
    let g = group(&l);
    let (r, w) = (l.rank as f64, l.world_size as f64);
    // broadcast: rank 1's values everywhere.
    let mut t = Tensor::from_slice(&[r, r * 10.0]);
    g.broadcast(&mut t, 1).unwrap();
    assert!(close(&t, &Tensor::from_slice(&[1.0, 10.0])), "broadcast gave {t}");
    // sum: 0 + 1 + 2.
    let mut s = Tensor::from_slice(&[r + 1.0]);
    g.all_reduce_sum(&mut s).unwrap();
    assert_eq!(s.double_value(&[0]), w * (w + 1.0) / 2.0);
    // mean in buckets, mixed kinds, views of one storage.
    let a = Tensor::full([2, 3], r, (Kind::Float, tch::Device::Cpu));
    let b = Tensor::from_slice(&[r as i64 * 4]);
    g.all_reduce_mean(&[a.shallow_clone(), b.shallow_clone()]).unwrap();
    assert!(close(&a, &Tensor::full([2, 3], (w - 1.0) / 2.0, (Kind::Float, tch::Device::Cpu))));
    assert_eq!(b.int64_value(&[0]), 2 * (l.world_size as i64 - 1));
    // all_gather with autograd: rank order, and the gradient of each rank's slice is the sum
    // over ranks of what reaches it. Loss on rank q: sum_i c_q,i * gathered_i with c_q,i = q + 1.
    let x = Tensor::from_slice(&[r as f32, r as f32 + 0.5]).set_requires_grad(true);
    let all = g.all_gather(&x).unwrap();
    let expect: Vec<f32> = (0..l.world_size).flat_map(|q| [q as f32, q as f32 + 0.5]).collect();
    assert!(close(&all, &Tensor::from_slice(&expect)), "all_gather gave {all}");
    (&all * (r + 1.0)).sum(Kind::Float).backward();
    let grad = x.grad();
    let sum_c = w * (w + 1.0) / 2.0;
    assert!(close(&grad, &Tensor::from_slice(&[sum_c as f32, sum_c as f32])), "gather gradient {grad}");
    // a 2-D gather keeps trailing dims.
    let m = Tensor::full([2, 2], r, (Kind::Float, tch::Device::Cpu));
    assert_eq!(g.all_gather(&m).unwrap().size(), vec![2 * l.world_size as i64, 2]);
    // averaged gradients.
    let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
    (&p * (r + 1.0)).sum(Kind::Float).backward();
    g.all_reduce_mean(&[p.grad()]).unwrap();
    assert!(close(&p.grad(), &Tensor::from_slice(&[((w + 1.0) / 2.0) as f32; 2])));
    g.barrier().unwrap();
    assert!(g.communication_time() > Duration::ZERO, "the collectives' time is counted");
}

#[test]
fn three_ranks_give_exact_collectives() {
    let out = finish(spawn("rank_collectives", 3, free_port(), &[]));
    assert_all_passed(&out);
}

#[test]
#[ignore = "one rank of a multi-process test: started by the test that needs it"]
fn rank_file_store() {
    let Some(l) = role("rank_file_store") else { return };
    let path = std::env::var("SSL_DIST_TEST_FILE").unwrap();
    let store = Arc::new(Store::file(Path::new(&path), l.rank, l.world_size, Duration::from_secs(60)).unwrap());
    store.set(&format!("hello/{}", l.rank), format!("from {}", l.rank).as_bytes()).unwrap();
    let other = (l.rank + 1) % l.world_size;
    assert_eq!(store.get(&format!("hello/{other}")).unwrap(), format!("from {other}").as_bytes());
    let g = ProcessGroup::gloo(store, l.rank, l.world_size, Duration::from_secs(60)).unwrap();
    let mut t = Tensor::from_slice(&[l.rank as f32 + 1.0]);
    g.all_reduce_sum(&mut t).unwrap();
    assert_eq!(t.double_value(&[0]), 3.0);
}

#[test]
fn two_ranks_meet_through_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store").to_string_lossy().into_owned();
    let out = finish(spawn("rank_file_store", 2, free_port(), &[("SSL_DIST_TEST_FILE", file)]));
    assert_all_passed(&out);
}

#[test]
#[ignore = "one rank of a multi-process test: started by the test that needs it"]
fn rank_dead_peer() {
    let Some(l) = role("rank_dead_peer") else { return };
    let g = l.connect(ssl_dist::Backend::Gloo, 0, Duration::from_secs(20)).unwrap();
    if l.rank == 1 {
        std::process::exit(0); // dies without taking part
    }
    let mut t = Tensor::from_slice(&[1.0f32]);
    let err = g.all_reduce_sum(&mut t).unwrap_err().to_string();
    eprintln!("ERROR: {err}");
    std::process::exit(3);
}

#[test]
fn a_dead_peer_is_an_error_naming_the_rank_not_a_hang() {
    let start = std::time::Instant::now();
    let out = finish(spawn("rank_dead_peer", 2, free_port(), &[]));
    assert_eq!(out[0].status.code(), Some(3), "{}", text(&out[0]));
    let msg = text(&out[0]);
    assert!(msg.contains("ERROR: rank 0/2: all_reduce failed"), "{msg}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn an_unreachable_master_is_an_error_naming_it() {
    let port = free_port(); // nobody listens there
    let l = Launch::from_vars(|k| match k {
        "RANK" => Some("1".into()),
        "WORLD_SIZE" => Some("2".into()),
        "MASTER_ADDR" => Some("127.0.0.1".into()),
        "MASTER_PORT" => Some(port.to_string()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let err = l.connect(ssl_dist::Backend::Gloo, 0, Duration::from_secs(2)).err().expect("no store there").to_string();
    assert!(err.starts_with(&format!("rank 1/2: connect to the store at 127.0.0.1:{port} failed")), "{err}");
}

#[test]
fn nccl_is_refused_by_name_in_a_build_without_it() {
    if ssl_dist::has_nccl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::file(&dir.path().join("s"), 0, 1, Duration::from_secs(5)).unwrap());
    let err = ProcessGroup::nccl(store, 0, 1, 0, Duration::from_secs(5)).err().unwrap().to_string();
    assert!(err.contains("nccl") && err.contains("--features nccl"), "{err}");
}
