//! STL-10 in its binary version (Coates, Lee & Ng 2011; <https://cs.stanford.edu/~acoates/stl10/>).
//!
//! The archive `stl10_binary.tar.gz` unpacks to `stl10_binary/` holding
//!
//! | file              | images  | contents                                  |
//! |-------------------|---------|-------------------------------------------|
//! | `train_X.bin`     | 5,000   | labelled training images                  |
//! | `train_y.bin`     | 5,000   | their labels                              |
//! | `test_X.bin`      | 8,000   | test images                               |
//! | `test_y.bin`      | 8,000   | their labels                              |
//! | `unlabeled_X.bin` | 100,000 | unlabelled images (for self-supervision)  |
//!
//! An `_X` file is a bare sequence of 96 × 96 colour images, 27,648 bytes each, with no header:
//! the red plane, then green, then blue, and each plane is stored **column-major** (MATLAB order):
//! byte `c·9216 + x·96 + y` of an image is channel `c` of the pixel in row `y`, column `x`. In
//! numpy, `np.fromfile(f, np.uint8).reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)` gives HWC.
//! A `_y` file holds one byte per image, the class in `1..=10` (see [`CLASSES`]); loaders shift
//! it to `0..=9`.
//!
//! Images are converted to interleaved HWC `u8` once, at load time, in parallel, reading the file
//! in slices so that the 2.8 GB unlabelled split never needs a second full-size buffer.
//! The folder given may be the parent (e.g. `data/stl10`) or `stl10_binary` itself.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dataset::InMemoryDataset;
use crate::error::DataError;
use crate::image::Shape;

/// Height and width of an STL-10 image.
pub const SIDE: usize = 96;
/// Bytes of one image (3 planes of 96 × 96).
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Class names in label order (label 0 is the file's `1`), as in `class_names.txt`.
pub const CLASSES: [&str; 10] = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"];

/// Which part of STL-10 to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stl10Split {
    /// The 5,000 labelled training images.
    Train,
    /// The 8,000 labelled test images.
    Test,
    /// The 100,000 unlabelled images (labels `None`).
    Unlabeled,
    /// The training images followed by the unlabelled ones, 105,000 in all (labels `None`):
    /// the usual self-supervised pre-training set (torchvision's `"train+unlabeled"`).
    TrainUnlabeled,
}

/// The shape of every STL-10 image.
pub fn shape() -> Shape {
    Shape { channels: 3, height: SIDE, width: SIDE }
}

fn check_size(len: u64, path: &Path) -> Result<usize, DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    if len == 0 {
        return Err(bad(format!("empty file: expected whole {IMAGE_BYTES}-byte images (3 planes of 96x96)")));
    }
    if !len.is_multiple_of(IMAGE_BYTES as u64) {
        return Err(bad(format!(
            "{len} bytes is not a whole number of {IMAGE_BYTES}-byte images (3 planes of 96x96): {} whole images and \
             {} bytes over; truncated or not an STL-10 _X.bin file",
            len / IMAGE_BYTES as u64,
            len % IMAGE_BYTES as u64
        )));
    }
    usize::try_from(len / IMAGE_BYTES as u64).map_err(|_| bad(format!("{len} bytes is too large for this machine")))
}

/// Converts one image from three column-major planes to interleaved HWC.
fn planes_to_hwc(src: &[u8], dst: &mut [u8]) {
    const PLANE: usize = SIDE * SIDE;
    for c in 0..3 {
        let plane = &src[c * PLANE..(c + 1) * PLANE];
        for x in 0..SIDE {
            let column = &plane[x * SIDE..(x + 1) * SIDE];
            for (y, &v) in column.iter().enumerate() {
                dst[(y * SIDE + x) * 3 + c] = v;
            }
        }
    }
}

fn convert_all(src: &[u8], dst: &mut [u8]) {
    dst.par_chunks_mut(IMAGE_BYTES).zip(src.par_chunks(IMAGE_BYTES)).for_each(|(d, s)| planes_to_hwc(s, d));
}

/// Parses the bytes of an `_X.bin` file into interleaved HWC pixels (`n · 27648` bytes, each image
/// 96 × 96 × 3); `path` only names the file in errors.
pub fn parse_stl10_images(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    check_size(bytes.len() as u64, path)?;
    let mut out = vec![0u8; bytes.len()];
    convert_all(bytes, &mut out);
    Ok(out)
}

/// Parses the bytes of a `_y.bin` file: one byte per image in `1..=10`, returned as `0..=9`;
/// `path` only names the file in errors.
pub fn parse_stl10_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Format { path: path.to_path_buf(), problem: "empty file: expected one label byte per image".into() });
    }
    bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| match b {
            1..=10 => Ok(u32::from(b) - 1),
            _ => Err(DataError::Format {
                path: path.to_path_buf(),
                problem: format!("label {i} is {b}; STL-10 labels are 1..=10 (is this an _X.bin image file?)"),
            }),
        })
        .collect()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    |source| DataError::Io { path: path.to_path_buf(), source }
}

/// Reads an `_X.bin` file, appending HWC pixels to `out`, a slice of images at a time.
fn read_images(path: &Path, out: &mut Vec<u8>) -> Result<usize, DataError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let len = file.metadata().map_err(io_error(path))?.len();
    let n = check_size(len, path)?;
    out.try_reserve_exact(n * IMAGE_BYTES)
        .map_err(|e| DataError::Io { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::OutOfMemory, format!("{n} images: {e}")) })?;
    const SLICE: usize = 512; // images per read: 14 MB
    let mut buf = vec![0u8; SLICE.min(n) * IMAGE_BYTES];
    let mut done = 0;
    while done < n {
        let k = SLICE.min(n - done);
        let src = &mut buf[..k * IMAGE_BYTES];
        file.read_exact(src).map_err(io_error(path))?;
        let start = out.len();
        out.resize(start + k * IMAGE_BYTES, 0);
        convert_all(src, &mut out[start..]);
        done += k;
    }
    Ok(n)
}

fn read_labels(path: &Path) -> Result<Vec<u32>, DataError> {
    parse_stl10_labels(&std::fs::read(path).map_err(io_error(path))?, path)
}

fn labelled(images: &Path, labels: &Path) -> Result<InMemoryDataset, DataError> {
    let mut pixels = Vec::new();
    let n = read_images(images, &mut pixels)?;
    let y = read_labels(labels)?;
    if y.len() != n {
        return Err(DataError::Mismatch { problem: format!("{} holds {n} images but {} holds {} labels", images.display(), labels.display(), y.len()) });
    }
    InMemoryDataset::new(shape(), pixels, Some(y))
}

/// Loads a split of STL-10 from `dir` (the folder holding `stl10_binary/`, or that folder).
pub fn stl10(dir: impl AsRef<Path>, split: Stl10Split) -> Result<InMemoryDataset, DataError> {
    let dir = dir.as_ref();
    let d: PathBuf = if dir.join("stl10_binary").is_dir() { dir.join("stl10_binary") } else { dir.to_path_buf() };
    match split {
        Stl10Split::Train => labelled(&d.join("train_X.bin"), &d.join("train_y.bin")),
        Stl10Split::Test => labelled(&d.join("test_X.bin"), &d.join("test_y.bin")),
        Stl10Split::Unlabeled | Stl10Split::TrainUnlabeled => {
            let mut pixels = Vec::new();
            if split == Stl10Split::TrainUnlabeled {
                read_images(&d.join("train_X.bin"), &mut pixels)?;
            }
            read_images(&d.join("unlabeled_X.bin"), &mut pixels)?;
            InMemoryDataset::new(shape(), pixels, None)
        }
    }
}
