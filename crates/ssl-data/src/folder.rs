//! Folders of image files: torchvision's `ImageFolder` layout, or a flat folder of images.
//!
//! * **Class folders** — `root/<class>/…/<image>`: every non-hidden subfolder of `root` is a class;
//!   classes are sorted by name (code point order, like torchvision's `sorted()`), and a class's
//!   label is its index in that order. Images are found at any depth below the class folder, in
//!   torchvision's order (folders sorted by path, files sorted by name within each folder). A
//!   class folder without images is an error, as it is in torchvision.
//! * **Flat** — `root/<image>` with no subfolders: the images in name order, without labels.
//!
//! Image files are recognised by extension, case-insensitively: `png`, `jpg`, `jpeg`, `bmp`,
//! `ppm`, `pgm` (see [`EXTENSIONS`]); other files, and hidden files and folders (name starting with
//! `.`, such as `.DS_Store` or macOS `._x.jpg` forks), are skipped. A root that mixes image files
//! with class folders is refused rather than guessed at. Symbolic links are followed (torchvision's
//! `followlinks=True`), except that an image reached through a link leading out of its class
//! folder — into another class, or out of the dataset — and a second link to an image already
//! listed are left out and listed in [`FolderListing::skipped`] (they would be loaded again,
//! possibly under the wrong label).
//!
//! Each file is decoded once, in parallel (rayon), with the `image` crate (the format is sniffed
//! from the contents, so a PNG named `.jpg` still loads), then converted to `u8` HWC with
//! [`FolderOptions::channels`] channels: 3 drops alpha and repeats grey (PIL's `convert("RGB")`),
//! 1 uses PIL's `convert("L")` weights, `(19595 R + 38470 G + 7471 B + 2¹⁵) >> 16`. Without
//! [`FolderOptions::resize`] all images must share one size; with it each is resized with the
//! `image` crate's Triangle (bilinear) filter.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

use crate::dataset::InMemoryDataset;
use crate::error::DataError;
use crate::image::Shape;

/// File extensions (lower case) read as images.
pub const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "ppm", "pgm"];
/// Folders nested deeper than this below a class folder are an error (a guard against loops).
const MAX_DEPTH: usize = 64;

/// How to turn image files into one dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderOptions {
    /// `Some((height, width))`: resize every image to this size (Triangle filter), in torchvision's
    /// `Resize((h, w))` order. `None`: keep the size, which must then be the same for all images.
    pub resize: Option<(u32, u32)>,
    /// Channels to store: 3 (RGB) or 1 (grey).
    pub channels: usize,
}

impl Default for FolderOptions {
    /// RGB at the files' own (common) size.
    fn default() -> Self {
        FolderOptions { resize: None, channels: 3 }
    }
}

impl FolderOptions {
    fn check(&self) -> Result<(), DataError> {
        if !matches!(self.channels, 1 | 3) {
            return Err(DataError::param("channels", format!("{} channels; expected 1 or 3", self.channels)));
        }
        if let Some((h, w)) = self.resize {
            if h == 0 || w == 0 {
                return Err(DataError::param("resize", format!("({h}, {w}) has no pixels")));
            }
        }
        Ok(())
    }
}

/// The image files found under a root, in load order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderListing {
    /// The root that was scanned.
    pub root: PathBuf,
    /// Class names (sorted; label `i` is `classes[i]`), or `None` for a flat folder.
    pub classes: Option<Vec<String>>,
    /// Every image file, in load order.
    pub files: Vec<PathBuf>,
    /// The label of each file (with `classes`).
    pub labels: Option<Vec<u32>>,
    /// Entries left out: images reached through a symbolic link that leads out of their class
    /// folder (they would be loaded again under the wrong label), and second links to an image
    /// already listed.
    pub skipped: Vec<PathBuf>,
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// One folder's non-hidden entries: (subfolders, image files), each sorted by name.
fn entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let io = |source| DataError::Io { path: dir.to_path_buf(), source };
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, like torchvision's os.walk(followlinks=True).
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => dirs.push(path),
            Ok(m) if m.is_file() && is_image(&path) => files.push(path),
            Ok(_) => {}
            Err(source) => return Err(DataError::Io { path, source }),
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

/// Every image below a class folder in torchvision's order: `sorted(os.walk(dir))`, i.e. folders
/// by path, then files by name.
fn walk(class_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut folders: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(class_dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(DataError::Format { path: dir, problem: format!("folders nest more than {MAX_DEPTH} deep below {}", class_dir.display()) });
        }
        let real = std::fs::canonicalize(&dir).map_err(|source| DataError::Io { path: dir.clone(), source })?;
        if !seen.insert(real) {
            continue; // a symbolic link back to a folder already walked
        }
        let (dirs, files) = entries(&dir)?;
        stack.extend(dirs.into_iter().map(|d| (d, depth + 1)));
        folders.push((dir, files));
    }
    folders.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    Ok(folders.into_iter().flat_map(|(_, f)| f).collect())
}

/// Finds the image files under `root` (class folders or flat) without decoding them.
pub fn scan_folder(root: impl AsRef<Path>) -> Result<FolderListing, DataError> {
    let root = root.as_ref();
    let (dirs, files) = entries(root)?;
    let bad = |problem: String| DataError::Format { path: root.to_path_buf(), problem };
    if dirs.is_empty() {
        if files.is_empty() {
            return Err(bad(format!("empty folder: no images ({}) and no class folders", EXTENSIONS.join(", "))));
        }
        return Ok(FolderListing { root: root.to_path_buf(), classes: None, files, labels: None, skipped: Vec::new() });
    }
    if !files.is_empty() {
        return Err(bad(format!(
            "holds both class folders ({} …) and image files ({} …): use one subfolder per class, or only images",
            dirs[0].display(),
            files[0].display()
        )));
    }
    let mut names: Vec<(String, PathBuf)> =
        dirs.into_iter().map(|d| (d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), d)).collect();
    names.sort();
    let (mut all, mut labels, mut classes, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut taken = HashSet::new();
    let real = |p: &Path| std::fs::canonicalize(p).map_err(|source| DataError::Io { path: p.to_path_buf(), source });
    for (label, (name, dir)) in names.into_iter().enumerate() {
        let class_real = real(&dir)?;
        let mut found = Vec::new();
        for file in walk(&dir)? {
            let target = real(&file)?;
            // A link out of the class folder (e.g. into another class) or a second link to one
            // image would load an image again, possibly under the wrong label.
            if target.starts_with(&class_real) && taken.insert(target) {
                found.push(file);
            } else {
                skipped.push(file);
            }
        }
        if found.is_empty() {
            return Err(DataError::Format { path: dir, problem: format!("class folder '{name}' holds no images ({})", EXTENSIONS.join(", ")) });
        }
        labels.extend(std::iter::repeat_n(label as u32, found.len()));
        all.extend(found);
        classes.push(name);
    }
    Ok(FolderListing { root: root.to_path_buf(), classes: Some(classes), files: all, labels: Some(labels), skipped })
}

/// PIL's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// Decodes one image file's bytes (PNG, JPEG, BMP, PPM/PGM; sniffed from the contents) to `u8`
/// HWC with `opts.channels` channels, resized when `opts.resize` is set. `path` only names the
/// file in errors.
pub fn decode_image(bytes: &[u8], path: &Path, opts: &FolderOptions) -> Result<(Shape, Vec<u8>), DataError> {
    opts.check()?;
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    let reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if reader.format().is_none() {
        return Err(bad(format!("not a PNG, JPEG, BMP or PNM image ({} bytes)", bytes.len())));
    }
    let img = reader.decode().map_err(|e| bad(format!("cannot decode image: {e}")))?;
    let resize = |w: u32, h: u32| opts.resize.map(|(rh, rw)| (rw, rh)).filter(|&s| s != (w, h));
    let (w, h, data) = if opts.channels == 3 {
        let mut rgb = img.into_rgb8();
        if let Some((rw, rh)) = resize(rgb.width(), rgb.height()) {
            rgb = image::imageops::resize(&rgb, rw, rh, FilterType::Triangle);
        }
        (rgb.width(), rgb.height(), rgb.into_raw())
    } else {
        let mut grey = if img.color().has_color() {
            let rgb = img.into_rgb8();
            let (w, h) = rgb.dimensions();
            let g = rgb.pixels().map(|p| luma(p[0], p[1], p[2])).collect();
            image::GrayImage::from_raw(w, h, g).expect("one byte per pixel")
        } else {
            img.into_luma8()
        };
        if let Some((rw, rh)) = resize(grey.width(), grey.height()) {
            grey = image::imageops::resize(&grey, rw, rh, FilterType::Triangle);
        }
        (grey.width(), grey.height(), grey.into_raw())
    };
    if w == 0 || h == 0 {
        return Err(bad(format!("image is {w}x{h}: no pixels")));
    }
    Ok((Shape { channels: opts.channels, height: h as usize, width: w as usize }, data))
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// The shape every image must have: from `resize`, else from the first file's header.
fn target_shape(first: &Path, opts: &FolderOptions) -> Result<Shape, DataError> {
    if let Some((h, w)) = opts.resize {
        return Ok(Shape { channels: opts.channels, height: h as usize, width: w as usize });
    }
    let bytes = read(first)?;
    let (w, h) = image::ImageReader::new(Cursor::new(&bytes[..]))
        .with_guessed_format()
        .map_err(|source| DataError::Io { path: first.to_path_buf(), source })?
        .into_dimensions()
        .map_err(|e| DataError::Format { path: first.to_path_buf(), problem: format!("cannot decode image: {e}") })?;
    Ok(Shape { channels: opts.channels, height: h as usize, width: w as usize })
}

/// Decodes the files of a listing (in parallel) into one dataset. Errors report the first bad file
/// in listing order, whatever order the threads ran in.
pub fn load_folder(listing: &FolderListing, opts: &FolderOptions) -> Result<InMemoryDataset, DataError> {
    opts.check()?;
    let Some(first) = listing.files.first() else {
        return Err(DataError::Format { path: listing.root.clone(), problem: "no image files".into() });
    };
    let shape = target_shape(first, opts)?;
    if shape.is_empty() {
        return Err(DataError::Format { path: first.clone(), problem: "image has no pixels".into() });
    }
    let total = shape.len().checked_mul(listing.files.len());
    let mut pixels = Vec::new();
    if total.is_none_or(|t| pixels.try_reserve_exact(t).is_err()) {
        return Err(DataError::Io {
            path: listing.root.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("{} images of {}x{}x{} do not fit in memory", listing.files.len(), shape.height, shape.width, shape.channels),
            ),
        });
    }
    pixels.resize(total.expect("checked"), 0);
    let results: Vec<Result<(), DataError>> = pixels
        .par_chunks_mut(shape.len())
        .zip(listing.files.par_iter())
        .map(|(dst, path)| {
            let (s, data) = decode_image(&read(path)?, path, opts)?;
            if s != shape {
                return Err(DataError::Format {
                    path: path.clone(),
                    problem: format!(
                        "image is {}x{} (width x height) but {} is {}x{}: all images must share one size unless `resize` is set",
                        s.width,
                        s.height,
                        first.display(),
                        shape.width,
                        shape.height
                    ),
                });
            }
            dst.copy_from_slice(&data);
            Ok(())
        })
        .collect();
    results.into_iter().collect::<Result<(), DataError>>()?;
    InMemoryDataset::new(shape, pixels, listing.labels.clone())
}

/// Loads a folder of images (class folders or flat; see the module page).
pub fn image_folder(root: impl AsRef<Path>, opts: &FolderOptions) -> Result<InMemoryDataset, DataError> {
    opts.check()?;
    load_folder(&scan_folder(root)?, opts)
}
