//! Progress of a long command, shown the way its output is read: a bar with rate and ETA on a
//! terminal (indicatif), plain periodic lines when stderr is a file or a pipe (CI logs, `nohup`),
//! so a long `eval`, `export`, `analyze`, `compare` or study always says where it is.
//!
//! Three ways to advance: [`Progress::inc`] counts items (batches, images, runs),
//! [`Progress::step`] starts the next named stage of a fixed list, [`Progress::stage`] starts a
//! named stage with its own count of items (the bar restarts: "kNN: embedding the bank 120/235").
//! Plain lines appear at each stage, and for items at most every [`PLAIN_EVERY`] (with the rate
//! and the time left), and once at the end.
//!
//! ```
//! use ssl_io::progress::Progress;
//!
//! let p = Progress::new("export", 3); // a bar on a terminal, lines otherwise
//! for _ in 0..3 {
//!     p.inc(1);
//! }
//! p.finish();
//! ```

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Plain-line mode prints item progress at most this often.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// A progress display for one command.
pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    start: Instant,
    stage_start: Instant,
    last_line: Instant,
    pos: u64,
    len: u64,
    stage: Option<String>,
    quiet: bool,
}

impl Progress {
    /// A bar of `len` units (0: unknown yet, see [`Progress::set_length`]) when stderr is a
    /// terminal; plain lines otherwise.
    pub fn new(label: &str, len: u64) -> Self {
        Self::with_mode(label, len, std::io::stderr().is_terminal(), false)
    }

    /// Shows nothing (for callers that print their own output, and tests).
    pub fn hidden() -> Self {
        Self::with_mode("", 0, false, true)
    }

    fn with_mode(label: &str, len: u64, terminal: bool, quiet: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(len);
            bar.set_prefix(label.to_string());
            restyle(&bar, len);
            bar
        });
        let now = Instant::now();
        Progress { label: label.to_string(), bar, plain: Mutex::new(Plain { start: now, stage_start: now, last_line: now, pos: 0, len, stage: None, quiet }) }
    }

    /// Sets the total number of units.
    pub fn set_length(&self, len: u64) {
        if let Some(bar) = &self.bar {
            restyle(bar, len);
            bar.set_length(len);
        }
        self.plain.lock().expect("progress lock").len = len;
    }

    /// Sets the text beside the bar (no line of its own in plain mode).
    pub fn set_message(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
        }
    }

    /// Ends the current stage (if one was started) and starts `name`.
    pub fn step(&self, name: &str) {
        let mut p = self.plain.lock().expect("progress lock");
        if p.stage.is_some() {
            p.pos += 1;
            if let Some(bar) = &self.bar {
                bar.inc(1);
            }
        }
        p.stage = Some(name.to_string());
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_string());
        } else if !p.quiet {
            let (pos, len, elapsed) = (p.pos, p.len, p.start.elapsed().as_secs_f64());
            let of = if len > 0 { format!("{}/{len}", pos + 1) } else { format!("{}", pos + 1) };
            eprintln!("{}: [{of}] {name} ({elapsed:.1} s elapsed)", self.label);
            p.last_line = Instant::now();
        }
    }

    /// Starts stage `name` of `len` items: the count restarts at 0 (the bar shows this stage).
    pub fn stage(&self, name: &str, len: u64) {
        let mut p = self.plain.lock().expect("progress lock");
        p.pos = 0;
        p.len = len;
        p.stage = Some(name.to_string());
        p.stage_start = Instant::now();
        if let Some(bar) = &self.bar {
            restyle(bar, len);
            bar.set_length(len);
            bar.set_position(0);
            bar.reset_eta();
            bar.set_message(name.to_string());
        } else if !p.quiet {
            eprintln!("{}: {name} ({len} to do, {:.1} s elapsed)", self.label, p.start.elapsed().as_secs_f64());
            p.last_line = Instant::now();
        }
    }

    /// Prints a line of results to stderr without tearing the bar (above it on a terminal).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Advances by `n` items.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let mut p = self.plain.lock().expect("progress lock");
        p.pos += n;
        if !p.quiet && p.last_line.elapsed() >= PLAIN_EVERY {
            eprintln!("{}", p.line(&self.label));
            p.last_line = Instant::now();
        }
    }

    /// Ends the display: the bar is cleared, plain mode prints a last line with the total time.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            return;
        }
        let mut p = self.plain.lock().expect("progress lock");
        if p.stage.is_some() {
            p.pos += 1;
            p.stage = None;
        }
        if !p.quiet {
            eprintln!("{}: done, {} in {:.1} s", self.label, p.pos, p.start.elapsed().as_secs_f64());
        }
    }
}

/// A bar with position, rate and ETA when the length is known; otherwise the stage's name and the
/// elapsed time, redrawn only when something changes (so other lines printed meanwhile stay).
fn restyle(bar: &ProgressBar, len: u64) {
    if len > 0 {
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} [{elapsed_precise} < ETA {eta_precise}, {per_sec}]")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
    } else {
        bar.set_style(ProgressStyle::with_template("{prefix}: {msg} [{elapsed_precise}]").expect("valid template"));
        bar.disable_steady_tick();
    }
}

impl Plain {
    /// `label: stage 340/1000 (34%), 12.1/s, 54.5 s left` (rate and time left of this stage).
    fn line(&self, label: &str) -> String {
        let elapsed = self.stage_start.elapsed().as_secs_f64();
        let rate = self.pos as f64 / elapsed.max(1e-9);
        let head = match &self.stage {
            Some(s) => format!("{label}: {s}"),
            None => format!("{label}:"),
        };
        if self.len > 0 {
            let left = self.len.saturating_sub(self.pos) as f64 / rate.max(1e-9);
            format!("{head} {}/{} ({:.0}%), {rate:.1}/s, {left:.0} s left", self.pos, self.len, 100.0 * self.pos as f64 / self.len as f64)
        } else {
            format!("{head} {}, {rate:.1}/s, {elapsed:.0} s elapsed", self.pos)
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_states_position_rate_and_time_left() {
        let p = Progress::with_mode("export", 10, false, true);
        p.inc(4);
        let line = p.plain.lock().unwrap().line("export");
        assert!(line.starts_with("export: 4/10 (40%), "), "{line}");
        assert!(line.ends_with(" s left"), "{line}");
    }

    #[test]
    fn a_stage_restarts_the_count_and_names_itself() {
        let p = Progress::with_mode("eval", 0, false, true);
        p.stage("kNN: embedding the bank", 8);
        p.inc(2);
        let line = p.plain.lock().unwrap().line("eval");
        assert!(line.starts_with("eval: kNN: embedding the bank 2/8 (25%), "), "{line}");
        p.stage("kNN: embedding the queries", 4);
        let plain = p.plain.lock().unwrap();
        assert_eq!((plain.pos, plain.len), (0, 4));
    }

    #[test]
    fn stages_count_when_the_next_one_starts() {
        let p = Progress::with_mode("analyze", 3, false, true);
        p.step("spectrum");
        assert_eq!(p.plain.lock().unwrap().pos, 0);
        p.step("kNN probe");
        assert_eq!(p.plain.lock().unwrap().pos, 1);
        p.finish();
        assert_eq!(p.plain.lock().unwrap().pos, 2);
    }
}
