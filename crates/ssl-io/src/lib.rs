//! # ssl-io
//!
//! The workspace's file plumbing, in one place: the data loaders, the analysis tools, the
//! trainer and `cargo xtask` all write files through [`atomic`] and read and write numpy arrays
//! through [`npy`]. It depends on nothing but std, so even `cargo xtask` (which must build fast
//! on a fresh machine) uses it.
//!
//! * [`atomic`]: write a file completely or not at all — into a temporary sibling that keeps the
//!   extension (`out/.spectrum.partial.png`), `fsync`, rename into place; on failure the
//!   temporary file is removed and the old file is untouched. [`write_atomic`] hands the caller
//!   the temporary path (for writers that want a path: safetensors, plotters, `fs::copy`);
//!   [`write_bytes_atomic`] writes bytes; [`write_new_atomic`] and [`write_new_bytes_atomic`]
//!   never replace an existing file ("never overwrites").
//! * [`npy`]: the `.npy` format (versions 1.0–3.0): a fuzzed header parser, `uint8` arrays of any
//!   shape, 1-D integer labels as `u32`, 2-D `float32`/`float64` matrices as `f32` (C or Fortran
//!   order; plain `Vec` + shape, no ndarray); writers for `float32` matrices and `int64` labels
//!   whose files numpy loads. Every error ([`NpyError`]) names the file and what was expected.
//! * [`output`]: where a command may write — a new or empty folder, or one holding only its own
//!   earlier outputs; never a user's files.
//! * [`progress`] (feature `progress`): a bar on a terminal, periodic plain lines otherwise.
//! * [`cli`]: what the command-line tools print when something breaks — a panic as one line
//!   naming the command, libtorch's C++ stack cut from its messages.
//!
//! ```
//! use ssl_io::npy;
//!
//! let dir = tempfile::tempdir()?;
//! // Whole or not at all: the closure writes the temporary path (same folder, same extension).
//! ssl_io::write_atomic(dir.path().join("notes.txt"), |tmp| std::fs::write(tmp, "hello"))?;
//! ssl_io::write_bytes_atomic(dir.path().join("run.json"), br#"{"epoch": 3}"#)?;
//! // The `new` variants refuse to replace a file, naming it.
//! let e = ssl_io::write_new_bytes_atomic(dir.path().join("run.json"), "{}").unwrap_err();
//! assert!(e.to_string().contains("run.json") && e.to_string().contains("already exists"));
//!
//! // A 2 x 3 float32 matrix and int64 labels, as np.load reads them.
//! npy::write_matrix(dir.path().join("x.npy"), 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! npy::write_labels(dir.path().join("y.npy"), &[0, 1])?;
//! let x = npy::read_matrix(dir.path().join("x.npy"))?;
//! assert_eq!((x.rows, x.cols, x.data[5]), (2, 3, 6.0));
//! assert_eq!(npy::read_labels(dir.path().join("y.npy"))?, vec![0, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod atomic;
pub mod cli;
pub mod npy;
pub mod output;
#[cfg(feature = "progress")]
pub mod progress;

pub use atomic::{write_atomic, write_bytes_atomic, write_new_atomic, write_new_bytes_atomic, AtomicError};
pub use npy::NpyError;
pub use output::{check_output_folder, OutputError};
