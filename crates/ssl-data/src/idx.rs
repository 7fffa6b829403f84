//! MNIST / Fashion-MNIST idx files (LeCun et al.), plain or gzip-compressed.
//!
//! Format: big-endian magic `0x0000_08_nd` (type `0x08` = unsigned byte, `nd` dimensions), then
//! `nd` big-endian `u32` sizes, then the bytes. Images are `[n, rows, cols]`, labels `[n]`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dataset::{InMemoryDataset, Split};
use crate::error::DataError;
use crate::image::Shape;

/// A decoded idx array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The sizes of each dimension.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Format { path: path.to_path_buf(), problem: format!("corrupt or truncated gzip stream: {e}") })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses idx bytes (already decompressed); `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    if bytes.len() < 4 {
        return Err(bad(format!("{} bytes is too short for an idx header (4 bytes of magic)", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(bad(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x}: expected 000008nn (idx of unsigned bytes)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    let nd = bytes[3] as usize;
    if nd == 0 {
        return Err(bad("idx header declares 0 dimensions".into()));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(bad(format!("truncated header: {} bytes, {nd} dimensions need {header}", bytes.len())));
    }
    let dims: Vec<usize> = (0..nd).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize).collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(count) = count else {
        return Err(bad(format!("dimensions {dims:?} overflow")));
    };
    let body = &bytes[header..];
    if body.len() != count {
        return Err(bad(format!(
            "dimensions {dims:?} need {count} bytes of data but the file has {} ({})",
            body.len(),
            if body.len() < count { "truncated" } else { "trailing bytes" }
        )));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Reads an idx file (plain or `.gz`).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    parse_idx(&read_maybe_gz(path)?, path)
}

/// Loads an idx image file (`[n, rows, cols]`) and its label file (`[n]`) into a dataset.
pub fn load_images_labels(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<InMemoryDataset, DataError> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let img = read_idx(images)?;
    if img.dims.len() != 3 {
        return Err(DataError::Format {
            path: images.to_path_buf(),
            problem: format!("expected 3 dimensions [n, rows, cols] for images, found {:?}", img.dims),
        });
    }
    let lab = read_idx(labels)?;
    if lab.dims.len() != 1 {
        return Err(DataError::Format { path: labels.to_path_buf(), problem: format!("expected 1 dimension [n] for labels, found {:?}", lab.dims) });
    }
    if lab.dims[0] != img.dims[0] {
        return Err(DataError::Mismatch {
            problem: format!("{} holds {} images but {} holds {} labels", images.display(), img.dims[0], labels.display(), lab.dims[0]),
        });
    }
    let shape = Shape { channels: 1, height: img.dims[1], width: img.dims[2] };
    let labels = lab.data.iter().map(|&l| u32::from(l)).collect();
    InMemoryDataset::new(shape, img.data, Some(labels))
}

/// The idx file names of a split: `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
pub fn split_files(dir: &Path, split: Split) -> (PathBuf, PathBuf) {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let pick = |stem: String| {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.exists() {
            gz
        } else {
            dir.join(stem)
        }
    };
    (pick(format!("{prefix}-images-idx3-ubyte")), pick(format!("{prefix}-labels-idx1-ubyte")))
}

/// Loads a split of MNIST or Fashion-MNIST from a folder holding the four standard idx files.
pub fn fashion_mnist(dir: impl AsRef<Path>, split: Split) -> Result<InMemoryDataset, DataError> {
    let (images, labels) = split_files(dir.as_ref(), split);
    load_images_labels(images, labels)
}
