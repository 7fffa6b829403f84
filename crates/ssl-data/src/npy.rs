//! Images and labels saved with numpy's `np.save` (`.npy`): the dataset layer over
//! [`ssl_io::npy`], the workspace's one `.npy` implementation (header versions 1.0, 2.0 and 3.0,
//! either byte order, Fortran order; fuzzed from `crates/ssl-data/fuzz`).
//!
//! * Images: `uint8` (`descr` `|u1`) shaped `(N, H, W)` (grey) or `(N, H, W, C)` with `C` 1 or 3,
//!   i.e. already HWC, as `np.save("x.npy", dataset.data)` writes torchvision's CIFAR / MNIST
//!   arrays. NCHW arrays are refused with a hint (`x.transpose(0, 2, 3, 1)`).
//! * Labels: a 1-D array of any integer type (`int64`, `int32`, `uint8`, … in either byte
//!   order), every value in `0..2³²`.
//!
//! Fortran-ordered arrays are reordered to C order; structured, object and non-integer labels are
//! refused. Every error names the file and what was expected.

use std::path::Path;

pub use ssl_io::npy::{NpyError, NpyHeader, NpyKind};

use crate::dataset::InMemoryDataset;
use crate::error::DataError;
use crate::image::Shape;

/// Parses and checks the header of `.npy` bytes: the magic string, the dict, and that the file
/// holds exactly the bytes its shape and dtype need. `path` only names the file in errors.
/// ([`ssl_io::npy::parse_header`] with this crate's error type.)
pub fn parse_npy_header(bytes: &[u8], path: &Path) -> Result<NpyHeader, DataError> {
    Ok(ssl_io::npy::parse_header(bytes, path)?)
}

/// Checks that a header describes `uint8` images and returns their shape (HWC) and count.
fn image_layout(h: &NpyHeader, path: &Path) -> Result<(Shape, usize), DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    if h.kind != NpyKind::Unsigned || h.item_size != 1 {
        return Err(bad(format!("dtype '{}': images must be uint8 ('|u1'), e.g. np.save(f, x.astype(np.uint8)) for values in 0..=255", h.descr)));
    }
    let (n, height, width, channels) = match h.shape[..] {
        [n, hh, ww] => (n, hh, ww, 1),
        [n, hh, ww, c @ (1 | 3)] => (n, hh, ww, c),
        [_, 1 | 3, _, _] => return Err(bad(format!("shape {:?} looks like (N, C, H, W); images must be (N, H, W, C): save x.transpose(0, 2, 3, 1)", h.shape))),
        [_, _, _, c] => return Err(bad(format!("shape {:?} has {c} channels; expected 1 or 3", h.shape))),
        _ => return Err(bad(format!("{} dimensions {:?}; images must be (N, H, W) or (N, H, W, C)", h.shape.len(), h.shape))),
    };
    if n == 0 || height == 0 || width == 0 {
        return Err(bad(format!("shape {:?} holds no pixels", h.shape)));
    }
    Ok((Shape { channels, height, width }, n))
}

/// Parses `.npy` bytes holding `uint8` images `(N, H, W)` or `(N, H, W, C)`: returns the shape of
/// one image and all pixels, HWC, row-major. `path` only names the file in errors.
pub fn parse_npy_images(bytes: &[u8], path: &Path) -> Result<(Shape, Vec<u8>), DataError> {
    let h = parse_npy_header(bytes, path)?;
    let (shape, _) = image_layout(&h, path)?;
    Ok((shape, h.c_order_data(bytes).into_owned()))
}

/// Parses `.npy` bytes holding a 1-D integer array of labels (any integer dtype, either byte
/// order); every label must be in `0..2³²`. `path` only names the file in errors.
/// ([`ssl_io::npy::parse_labels`] with this crate's error type.)
pub fn parse_npy_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>, DataError> {
    Ok(ssl_io::npy::parse_labels(bytes, path)?)
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// Reads an image `.npy` without a second copy of a C-ordered array.
fn read_images(path: &Path) -> Result<(Shape, Vec<u8>), DataError> {
    let bytes = read(path)?;
    let h = parse_npy_header(&bytes, path)?;
    let (shape, _) = image_layout(&h, path)?;
    Ok((shape, h.into_c_order_data(bytes)))
}

/// Loads unlabelled images from a `.npy` file of `uint8` `(N, H, W)` or `(N, H, W, C)`.
pub fn npy_images(images: impl AsRef<Path>) -> Result<InMemoryDataset, DataError> {
    let (shape, pixels) = read_images(images.as_ref())?;
    InMemoryDataset::new(shape, pixels, None)
}

/// Loads images from one `.npy` file and their labels from another (1-D, integer, same length).
pub fn npy_images_labels(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<InMemoryDataset, DataError> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let (shape, pixels) = read_images(images)?;
    let y = parse_npy_labels(&read(labels)?, labels)?;
    let n = pixels.len() / shape.len();
    if y.len() != n {
        return Err(DataError::Mismatch { problem: format!("{} holds {n} images but {} holds {} labels", images.display(), labels.display(), y.len()) });
    }
    InMemoryDataset::new(shape, pixels, Some(y))
}
