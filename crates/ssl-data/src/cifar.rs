//! CIFAR-10 and CIFAR-100 in their binary versions (Krizhevsky 2009;
//! <https://www.cs.toronto.edu/~kriz/cifar.html>, "binary version").
//!
//! * CIFAR-10: `cifar-10-batches-bin/data_batch_{1..5}.bin` (train) and `test_batch.bin`; each
//!   record is 1 label byte (0–9) and 3072 pixel bytes: the 32 × 32 red plane, then green, then
//!   blue, each row-major.
//! * CIFAR-100: `cifar-100-binary/train.bin` and `test.bin`; each record is a coarse label byte
//!   (0–19), a fine label byte (0–99) and the same 3072 pixel bytes.
//!
//! Images are converted to interleaved HWC `u8` once, at load time. The folder given may be the
//! parent (e.g. `data/cifar10`) or the `cifar-10-batches-bin` / `cifar-100-binary` folder itself.

use std::path::{Path, PathBuf};

use crate::dataset::{InMemoryDataset, Split};
use crate::error::DataError;
use crate::image::Shape;

const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR-100 label to use (default: the 100 fine classes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cifar100Labels {
    /// The 100 classes.
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Parses CIFAR binary records: `label_bytes` label bytes (1 for CIFAR-10, 2 for CIFAR-100), of
/// which the one at `label_index` is kept and must be below `classes`, then 3072 CHW pixels.
/// Appends HWC pixels and labels; `path` only names the file in errors. On error nothing is
/// guaranteed about what was appended.
pub fn parse_cifar(
    bytes: &[u8],
    path: &Path,
    label_bytes: usize,
    label_index: usize,
    classes: u32,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u32>,
) -> Result<(), DataError> {
    if label_index >= label_bytes {
        return Err(DataError::param("label_index", format!("label byte {label_index} does not exist in a record with {label_bytes} label byte(s)")));
    }
    let record = label_bytes.saturating_add(PIXELS);
    if bytes.is_empty() {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            problem: format!("empty file: expected whole {record}-byte records ({label_bytes} label byte(s) + 3072 pixels)"),
        });
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            problem: format!(
                "{} bytes is not a whole number of {record}-byte records ({label_bytes} label byte(s) + 3072 pixels); truncated or not a CIFAR binary file",
                bytes.len()
            ),
        });
    }
    let n = bytes.len() / record;
    pixels.reserve(n * PIXELS);
    labels.reserve(n);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = u32::from(rec[label_index]);
        if label >= classes {
            return Err(DataError::Format { path: path.to_path_buf(), problem: format!("record {i} has label {label}; expected 0..{classes}") });
        }
        labels.push(label);
        let px = &rec[label_bytes..];
        for p in 0..32 * 32 {
            pixels.extend_from_slice(&[px[p], px[1024 + p], px[2048 + p]]);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

fn folder(dir: &Path, inner: &str) -> PathBuf {
    if dir.join(inner).is_dir() {
        dir.join(inner)
    } else {
        dir.to_path_buf()
    }
}

fn load(files: &[PathBuf], label_bytes: usize, label_index: usize, classes: u32) -> Result<InMemoryDataset, DataError> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for f in files {
        parse_cifar(&read(f)?, f, label_bytes, label_index, classes, &mut pixels, &mut labels)?;
    }
    InMemoryDataset::new(Shape { channels: 3, height: 32, width: 32 }, pixels, Some(labels))
}

/// Loads a split of CIFAR-10 (50,000 train / 10,000 test images).
pub fn cifar10(dir: impl AsRef<Path>, split: Split) -> Result<InMemoryDataset, DataError> {
    let d = folder(dir.as_ref(), "cifar-10-batches-bin");
    let files: Vec<PathBuf> = match split {
        Split::Train => (1..=5).map(|i| d.join(format!("data_batch_{i}.bin"))).collect(),
        Split::Test => vec![d.join("test_batch.bin")],
    };
    load(&files, 1, 0, 10)
}

/// Loads a split of CIFAR-100 (50,000 / 10,000) with fine or coarse labels.
pub fn cifar100(dir: impl AsRef<Path>, split: Split, which: Cifar100Labels) -> Result<InMemoryDataset, DataError> {
    let d = folder(dir.as_ref(), "cifar-100-binary");
    let file = d.join(match split {
        Split::Train => "train.bin",
        Split::Test => "test.bin",
    });
    match which {
        Cifar100Labels::Fine => load(&[file], 2, 1, 100),
        Cifar100Labels::Coarse => load(&[file], 2, 0, 20),
    }
}
