//! `train --nproc N`: a data-parallel job of N local processes without Python — this binary
//! started N times with the variables torchrun would set (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`,
//! `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`), one run folder name for all, and the cores
//! shared between them. When a rank fails the others are stopped; the job's exit code is the
//! first failing rank's.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long the other ranks get to stop by themselves (their collectives fail) after one failed.
const GRACE: Duration = Duration::from_secs(20);

/// Runs `args` (this command line without `--nproc`) as ranks 0..n; returns the job's exit code.
pub fn spawn_local(n: usize, mut args: Vec<String>, name: Option<&str>, threads: Option<usize>, resume: bool) -> Result<i32> {
    if n == 0 {
        bail!("--nproc 0: expected at least 1 process");
    }
    if std::env::var_os("WORLD_SIZE").is_some() {
        bail!("--nproc inside a launched job (WORLD_SIZE is set): let the launcher start the processes, or unset its variables");
    }
    // One folder for every rank: the name is fixed here, not by each rank's clock.
    if name.is_none() && !resume {
        let recipe = args.windows(2).find(|w| w[0] == "--recipe").map_or("run", |w| w[1].as_str()).to_string();
        args.extend(["--name".into(), format!("{recipe}-{}-{n}proc", chrono::Local::now().format("%Y%m%d-%H%M%S"))]);
    }
    if threads.is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        args.extend(["--threads".into(), (cores / n).max(1).to_string()]);
    }
    let port = TcpListener::bind("127.0.0.1:0").context("cannot find a free local port for the store")?.local_addr()?.port();
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut children: Vec<Child> = Vec::with_capacity(n);
    for rank in 0..n {
        let child = Command::new(&exe)
            .args(&args)
            .env("RANK", rank.to_string())
            .env("LOCAL_RANK", rank.to_string())
            .env("WORLD_SIZE", n.to_string())
            .env("LOCAL_WORLD_SIZE", n.to_string())
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", port.to_string())
            .spawn()
            .with_context(|| format!("cannot start rank {rank}"))?;
        children.push(child);
    }
    // Ctrl-C reaches every rank from the terminal; this process only waits for them.
    let _ = ctrlc::set_handler(|| {});
    let mut codes: Vec<Option<i32>> = vec![None; n];
    let mut first_failure: Option<(usize, i32, Instant)> = None;
    loop {
        for (rank, child) in children.iter_mut().enumerate() {
            if codes[rank].is_none() {
                if let Some(status) = child.try_wait()? {
                    let code = status.code().unwrap_or(1);
                    codes[rank] = Some(code);
                    if code != 0 && first_failure.is_none() {
                        first_failure = Some((rank, code, Instant::now()));
                    }
                }
            }
        }
        if codes.iter().all(Option::is_some) {
            break;
        }
        if let Some((rank, _, at)) = first_failure {
            if at.elapsed() > GRACE {
                for (r, child) in children.iter_mut().enumerate() {
                    if codes[r].is_none() {
                        eprintln!("stopping rank {r}: rank {rank} failed");
                        let _ = child.kill();
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(match first_failure {
        Some((rank, code, _)) => {
            eprintln!("rank {rank} of {n} exited with code {code}");
            code
        }
        None => 0,
    })
}
