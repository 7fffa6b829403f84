//! The launch variables of torchrun, `env://`, a PyTorchJob and SLURM, and the bad ones.

use ssl_dist::{DistError, Launch, Launcher};

fn parse(vars: &[(&str, &str)]) -> Result<Option<Launch>, DistError> {
    Launch::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
}

#[test]
fn nothing_set_is_a_single_process() {
    assert_eq!(parse(&[]).unwrap(), None);
    // SLURM without MASTER_ADDR (an interactive allocation): still one process.
    assert_eq!(parse(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")]).unwrap(), None);
}

#[test]
fn torchrun_sets_an_agent_store() {
    let l = parse(&[
        ("RANK", "3"),
        ("LOCAL_RANK", "1"),
        ("WORLD_SIZE", "4"),
        ("MASTER_ADDR", "node0"),
        ("MASTER_PORT", "29500"),
        ("TORCHELASTIC_USE_AGENT_STORE", "True"),
        ("TORCHELASTIC_RESTART_COUNT", "2"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!((l.rank, l.local_rank, l.world_size, l.master_port, l.restart), (3, 1, 4, 29500, 2));
    assert_eq!((l.master_addr.as_str(), l.agent_store, l.launcher), ("node0", true, Launcher::Torchrun));
}

#[test]
fn a_pytorchjob_has_no_local_rank_and_hosts_its_own_store() {
    let l = parse(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "job-master-0"), ("MASTER_PORT", "23456")]).unwrap().unwrap();
    assert_eq!((l.rank, l.local_rank, l.agent_store, l.launcher), (0, 0, false, Launcher::Env));
}

#[test]
fn slurm_gives_ranks_and_the_script_the_master() {
    let l =
        parse(&[("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "1"), ("MASTER_ADDR", "gpu01"), ("MASTER_PORT", "29400")]).unwrap().unwrap();
    assert_eq!((l.rank, l.local_rank, l.world_size, l.launcher), (5, 1, 8, Launcher::Slurm));
}

#[test]
fn a_world_of_one_needs_no_master() {
    let l = parse(&[("RANK", "0"), ("WORLD_SIZE", "1")]).unwrap().unwrap();
    assert_eq!((l.master_addr.as_str(), l.master_port), ("127.0.0.1", 0));
}

#[test]
fn bad_variables_are_named() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("RANK", "0"), ("WORLD_SIZE", "0")], "WORLD_SIZE=0: at least 1 process"),
        (&[("RANK", "2"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "1")], "RANK=2: a rank below WORLD_SIZE=2"),
        (&[("RANK", "x"), ("WORLD_SIZE", "2")], "RANK=x: a whole number"),
        (&[("RANK", "0")], "WORLD_SIZE=: set together with RANK"),
        (&[("WORLD_SIZE", "2")], "RANK=: this process's rank"),
        (&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "1")], "MASTER_ADDR=: the host of rank 0"),
        (&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "a")], "MASTER_PORT=: the store's TCP port"),
        (&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "99999")], "MASTER_PORT=99999: a TCP port"),
        (&[("SLURM_PROCID", "4"), ("SLURM_NTASKS", "4"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "1")], "SLURM_PROCID=4: a rank below SLURM_NTASKS=4"),
    ];
    for (vars, want) in cases {
        let err = parse(vars).expect_err(want).to_string();
        assert!(err.starts_with(want), "{vars:?}: {err}");
    }
}
