//! Images and labels saved with numpy's `np.save` (`.npy`, format versions 1.0, 2.0 and 3.0;
//! <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>).
//!
//! A `.npy` file is the magic string `\x93NUMPY`, a major and a minor version byte, the length of
//! the header (little-endian `u16` for version 1, `u32` for versions 2 and 3), then the header: a
//! Python dict literal such as `{'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }`
//! padded with spaces and a newline, then the array's bytes with no further framing.
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

use crate::dataset::InMemoryDataset;
use crate::error::DataError;
use crate::image::Shape;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Nesting allowed in the header literal (numpy's own headers nest at most 2 deep).
const MAX_DEPTH: usize = 16;

/// The element type of a `.npy` array, as far as this crate reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyKind {
    /// `u`: unsigned integer.
    Unsigned,
    /// `i`: signed integer.
    Signed,
    /// `b`: boolean.
    Bool,
    /// `f`: floating point.
    Float,
    /// Anything else (complex, strings, datetimes, objects, …).
    Other,
}

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype string as written, e.g. `"|u1"` or `"<i8"`.
    pub descr: String,
    /// The element kind from `descr`.
    pub kind: NpyKind,
    /// Bytes per element.
    pub item_size: usize,
    /// True for big-endian multi-byte elements.
    pub big_endian: bool,
    /// True when the data is stored column-major.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Offset of the first data byte in the file.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Number of elements (the product of the shape; saturates at `usize::MAX` rather than
    /// overflowing, which only a header that [`parse_npy_header`] refused by size could reach).
    pub fn count(&self) -> usize {
        self.shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
    }
}

/// A value of the header's Python literal.
#[derive(Clone, Debug, PartialEq)]
enum Py {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Seq(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

struct Lit<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lit<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err(format!("expected '{}' at byte {} of the header, found '{}'", c as char, self.pos, x as char)),
            None => Err(format!("expected '{}' but the header ended", c as char)),
        }
    }

    /// `open` already consumed; items separated by commas, optional trailing comma.
    fn items(&mut self, close: u8, depth: usize, dict: bool) -> Result<Py, String> {
        let (mut seq, mut pairs) = (Vec::new(), Vec::new());
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            let v = self.value(depth + 1)?;
            if dict {
                self.expect(b':')?;
                pairs.push((v, self.value(depth + 1)?));
            } else {
                seq.push(v);
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                Some(c) => return Err(format!("unexpected '{}' at byte {} of the header", c as char, self.pos)),
                None => return Err("the header ends inside a bracket".into()),
            }
        }
        Ok(if dict { Py::Dict(pairs) } else { Py::Seq(seq) })
    }

    fn value(&mut self, depth: usize) -> Result<Py, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the header nests deeper than {MAX_DEPTH} levels"));
        }
        let Some(c) = self.peek() else { return Err("the header ends where a value was expected".into()) };
        match c {
            b'{' | b'(' | b'[' => {
                self.pos += 1;
                let close = match c {
                    b'{' => b'}',
                    b'(' => b')',
                    _ => b']',
                };
                self.items(close, depth, c == b'{')
            }
            b'\'' | b'"' => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.pos) {
                        None => return Err("unterminated string in the header".into()),
                        Some(&b'\\') => {
                            if let Some(&e) = self.s.get(self.pos + 1) {
                                out.push(e);
                            }
                            self.pos += 2;
                        }
                        Some(&x) if x == c => {
                            self.pos += 1;
                            break;
                        }
                        Some(&x) => {
                            out.push(x);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Py::Str(String::from_utf8_lossy(&out).into_owned()))
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let neg = c == b'-';
                if !c.is_ascii_digit() {
                    self.pos += 1;
                }
                let start = self.pos;
                let mut v: i128 = 0;
                while let Some(&d) = self.s.get(self.pos).filter(|d| d.is_ascii_digit()) {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i128::from(d - b'0')))
                        .ok_or("an integer in the header is too large")?;
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(format!("a sign without digits at byte {} of the header", start));
                }
                if matches!(self.s.get(self.pos), Some(b'L' | b'l')) {
                    self.pos += 1; // Python 2 long
                }
                Ok(Py::Int(if neg { -v } else { v }))
            }
            _ => {
                let start = self.pos;
                while self.s.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    _ => Err(format!("unexpected '{}' at byte {start} of the header", c as char)),
                }
            }
        }
    }
}

fn parse_descr(descr: &str) -> Result<(NpyKind, usize, bool), String> {
    let b = descr.as_bytes();
    let (order, rest) = match b.first() {
        Some(&o @ (b'<' | b'>' | b'|' | b'=')) => (o, &b[1..]),
        _ => (b'=', b),
    };
    let Some((&k, digits)) = rest.split_first() else { return Err(format!("dtype '{descr}' is not a simple dtype")) };
    let kind = match k {
        b'u' => NpyKind::Unsigned,
        b'i' => NpyKind::Signed,
        b'b' => NpyKind::Bool,
        b'f' => NpyKind::Float,
        _ => NpyKind::Other,
    };
    let size = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<usize>().ok());
    let size = match (kind, size) {
        (NpyKind::Other, s) => s.unwrap_or(0),
        (_, Some(s @ (1 | 2 | 4 | 8 | 16))) => s,
        _ => return Err(format!("dtype '{descr}' is not a simple dtype")),
    };
    let big = order == b'>' || (order == b'=' && cfg!(target_endian = "big"));
    Ok((kind, size, big))
}

/// Parses and checks the header of `.npy` bytes: the magic string, the dict, and that the file
/// holds exactly the bytes its shape and dtype need. `path` only names the file in errors.
pub fn parse_npy_header(bytes: &[u8], path: &Path) -> Result<NpyHeader, DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(format!(
            "not a .npy file: it does not start with the magic string \\x93NUMPY ({} bytes{})",
            bytes.len(),
            if bytes.starts_with(b"PK") { "; this looks like a zip, e.g. an .npz archive" } else { "" }
        )));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize, 12),
        2 | 3 => return Err(bad(format!("truncated header: {} bytes", bytes.len()))),
        _ => return Err(bad(format!(".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)"))),
    };
    let end = start.checked_add(hlen).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        return Err(bad(format!("truncated header: it declares {hlen} bytes but the file has {} after the preamble", bytes.len() - start)));
    };
    let text = &bytes[start..end];
    let mut lit = Lit { s: text, pos: 0 };
    let dict = lit.value(0).map_err(|e| bad(format!("malformed header: {e}")))?;
    if lit.peek().is_some() {
        return Err(bad(format!("malformed header: unexpected bytes after the dict at byte {}", lit.pos)));
    }
    let Py::Dict(pairs) = dict else { return Err(bad("malformed header: not a dict".into())) };
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == Py::Str(key.into())).map(|(_, v)| v);
    let descr = match get("descr") {
        Some(Py::Str(s)) => s.clone(),
        Some(Py::Seq(_)) => return Err(bad("structured (record) dtypes are not supported: save a plain array".into())),
        _ => return Err(bad("malformed header: no 'descr' string".into())),
    };
    let fortran_order = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        _ => return Err(bad("malformed header: no 'fortran_order' True/False".into())),
    };
    let shape = match get("shape") {
        Some(Py::Seq(dims)) => dims
            .iter()
            .map(|d| match d {
                Py::Int(v) => usize::try_from(*v).map_err(|_| bad(format!("malformed header: shape entry {v}"))),
                _ => Err(bad("malformed header: a shape entry is not an integer".into())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(bad("malformed header: no 'shape' tuple".into())),
    };
    let (kind, item_size, big_endian) = parse_descr(&descr).map_err(bad)?;
    let header = NpyHeader { descr, kind, item_size, big_endian, fortran_order, shape, data_offset: end };
    if kind == NpyKind::Other {
        return Ok(header); // the caller refuses it by dtype, with a better message than a size check
    }
    let need = header.shape.iter().try_fold(item_size, |acc, &d| acc.checked_mul(d));
    let Some(need) = need else { return Err(bad(format!("shape {:?} overflows", header.shape))) };
    let have = bytes.len() - end;
    if have != need {
        return Err(bad(format!(
            "shape {:?} of '{}' needs {need} bytes of data but the file has {have} ({})",
            header.shape,
            header.descr,
            if have < need { "truncated" } else { "trailing bytes" }
        )));
    }
    Ok(header)
}

/// Reorders column-major elements (`item` bytes each) of an array of `shape` to row-major.
fn fortran_to_c(data: &[u8], shape: &[usize], item: usize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; n * item];
    if n == 0 {
        return out;
    }
    // Column-major strides (in elements) of each axis.
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut src = 0usize;
    for dst in out.chunks_exact_mut(item) {
        dst.copy_from_slice(&data[src * item..(src + 1) * item]);
        // Advance the row-major odometer (last axis fastest), tracking the column-major offset.
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            src += strides[k];
            if index[k] < shape[k] {
                break;
            }
            src -= strides[k] * shape[k];
            index[k] = 0;
        }
    }
    out
}

/// Checks that a header describes `uint8` images and returns their shape (HWC) and count.
fn image_layout(h: &NpyHeader, path: &Path) -> Result<(Shape, usize), DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    if h.kind != NpyKind::Unsigned || h.item_size != 1 {
        return Err(bad(format!(
            "dtype '{}': images must be uint8 ('|u1'), e.g. np.save(f, x.astype(np.uint8)) for values in 0..=255",
            h.descr
        )));
    }
    let (n, height, width, channels) = match h.shape[..] {
        [n, hh, ww] => (n, hh, ww, 1),
        [n, hh, ww, c @ (1 | 3)] => (n, hh, ww, c),
        [_, 1 | 3, _, _] => {
            return Err(bad(format!(
                "shape {:?} looks like (N, C, H, W); images must be (N, H, W, C): save x.transpose(0, 2, 3, 1)",
                h.shape
            )))
        }
        [_, _, _, c] => return Err(bad(format!("shape {:?} has {c} channels; expected 1 or 3", h.shape))),
        _ => {
            return Err(bad(format!(
                "{} dimensions {:?}; images must be (N, H, W) or (N, H, W, C)",
                h.shape.len(),
                h.shape
            )))
        }
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
    let data = &bytes[h.data_offset..];
    let pixels = if h.fortran_order { fortran_to_c(data, &h.shape, 1) } else { data.to_vec() };
    Ok((shape, pixels))
}

/// Parses `.npy` bytes holding a 1-D integer array of labels (any integer dtype, either byte
/// order); every label must be in `0..2³²`. `path` only names the file in errors.
pub fn parse_npy_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>, DataError> {
    let bad = |problem: String| DataError::Format { path: path.to_path_buf(), problem };
    let h = parse_npy_header(bytes, path)?;
    if !matches!(h.kind, NpyKind::Unsigned | NpyKind::Signed) || h.item_size > 8 {
        return Err(bad(format!("dtype '{}': labels must be integers (e.g. int64, int32, uint8)", h.descr)));
    }
    if h.shape.len() != 1 {
        return Err(bad(format!("labels must be 1-D, found {} dimensions {:?}", h.shape.len(), h.shape)));
    }
    let size = h.item_size;
    bytes[h.data_offset..]
        .chunks_exact(size)
        .enumerate()
        .map(|(i, b)| {
            let mut le = [0u8; 8];
            le[..size].copy_from_slice(b);
            if h.big_endian {
                le[..size].reverse();
            }
            let v = if h.kind == NpyKind::Signed {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                i128::from((i64::from_le_bytes(le) << shift) >> shift)
            } else {
                i128::from(u64::from_le_bytes(le))
            };
            u32::try_from(v).map_err(|_| bad(format!("label {i} is {v}; labels must be in 0..=4294967295")))
        })
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// Reads an image `.npy` without a second copy of a C-ordered array.
fn read_images(path: &Path) -> Result<(Shape, Vec<u8>), DataError> {
    let mut bytes = read(path)?;
    let h = parse_npy_header(&bytes, path)?;
    let (shape, _) = image_layout(&h, path)?;
    if h.fortran_order {
        return Ok((shape, fortran_to_c(&bytes[h.data_offset..], &h.shape, 1)));
    }
    bytes.drain(..h.data_offset);
    Ok((shape, bytes))
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
        return Err(DataError::Mismatch {
            problem: format!("{} holds {n} images but {} holds {} labels", images.display(), labels.display(), y.len()),
        });
    }
    InMemoryDataset::new(shape, pixels, Some(y))
}
