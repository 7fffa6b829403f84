//! Running the heavy commands (cargo, pip, apt-get, the runner) so that Ctrl-C behaves: the
//! command runs in its own process group, xtask forwards Ctrl-C (and SIGTERM/SIGHUP, as Ctrl-C)
//! to that group, and waits until the command has finished — a runner saving its checkpoint —
//! before it returns. The command's own last message stays the last line the user sees.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

/// Process group of the command running now (0: none).
static GROUP: AtomicI32 = AtomicI32::new(0);
/// Set once a signal has been forwarded.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the forwarding handler (once per process).
fn forward_interrupts() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            match GROUP.load(Ordering::SeqCst) {
                // Between commands: nothing to wait for.
                0 => std::process::exit(130),
                group => interrupt_group(group),
            }
        });
        if let Err(e) = installed {
            eprintln!("cargo xtask: cannot catch Ctrl-C ({e}); Ctrl-C will stop xtask without waiting for the command");
        }
    });
}

#[cfg(unix)]
fn interrupt_group(group: i32) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    // The group may be gone already (the command just ended): nothing to do then.
    let _ = killpg(Pid::from_raw(group), Signal::SIGINT);
}

#[cfg(not(unix))]
fn interrupt_group(_group: i32) {}

/// Runs `cmd` to its end in its own process group, forwarding interrupts to it; returns its exit
/// status and whether an interrupt was forwarded.
pub(crate) fn run_forwarding(mut cmd: Command) -> std::io::Result<(ExitStatus, bool)> {
    forward_interrupts();
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // Outside the terminal's foreground group a read of the terminal would stop the command
    // (SIGTTIN); none of them reads it, so give them nothing to read.
    cmd.stdin(Stdio::null());
    let mut child = cmd.spawn()?;
    // The child leads its own group: its pid is the group id.
    GROUP.store(child.id() as i32, Ordering::SeqCst);
    let status = child.wait();
    GROUP.store(0, Ordering::SeqCst);
    Ok((status?, INTERRUPTED.load(Ordering::SeqCst)))
}

/// Runs a command, passing its exit status on as an error. After a forwarded Ctrl-C, xtask exits
/// with the command's code at once and prints nothing: the command has said what it did.
pub(crate) fn run(what: &str, cmd: Command) -> Result<(), String> {
    let (status, interrupted) = run_forwarding(cmd).map_err(|e| format!("{what}: could not start: {e}"))?;
    if interrupted {
        std::process::exit(exit_code(status));
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The code to exit with after the command ended with `status` (128 + signal when it was killed).
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128 + signal;
    }
    status.code().unwrap_or(1)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A Ctrl-C that reaches xtask reaches the command, and xtask returns only once the command
    /// has finished what its handler does (here: wait, write a file, exit 7).
    #[test]
    fn an_interrupt_is_forwarded_and_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let (ready, saved) = (dir.path().join("ready"), dir.path().join("saved"));
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "trap 'sleep 0.5; echo done > {}; exit 7' INT; echo up > {}; while :; do sleep 0.05; done",
            saved.display(),
            ready.display()
        ));
        let signaller = std::thread::spawn(move || {
            let start = Instant::now();
            while !ready.exists() {
                assert!(start.elapsed() < Duration::from_secs(20), "the command never started");
                std::thread::sleep(Duration::from_millis(20));
            }
            // As the terminal does on Ctrl-C: to xtask's own process only (the command is in
            // another group).
            nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGINT).unwrap();
        });
        let (status, interrupted) = run_forwarding(cmd).unwrap();
        signaller.join().unwrap();
        assert!(interrupted);
        assert_eq!(status.code(), Some(7), "the command's own exit code");
        assert_eq!(std::fs::read_to_string(&saved).unwrap(), "done\n", "xtask returned before the command had finished saving");
        assert_eq!(exit_code(status), 7);
    }
}
