//! Arrays saved with numpy's `np.save` (`.npy`, format versions 1.0, 2.0 and 3.0;
//! <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>): the workspace's one
//! reader and writer.
//!
//! A `.npy` file is the magic string `\x93NUMPY`, a major and a minor version byte, the length of
//! the header (little-endian `u16` for version 1, `u32` for versions 2 and 3), then the header: a
//! Python dict literal such as `{'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }`
//! padded with spaces and a newline, then the array's bytes with no further framing.
//!
//! Reading (every function checks that the file holds exactly the bytes its shape and dtype need,
//! and every error names the file and what was expected):
//! * [`parse_header`]: the header of any array (fuzzed by `crates/ssl-data/fuzz`).
//! * [`read_u8`] / [`parse_u8`]: a `uint8` array of any shape.
//! * [`read_labels`] / [`parse_labels`]: a 1-D array of any integer type (`int64`, `int32`,
//!   `uint8`, … in either byte order), every value in `0..2³²`, as `u32`.
//! * [`read_matrix`] / [`parse_matrix`]: a 2-D `float32` or `float64` array (either byte order) as
//!   `f32`, rows = samples. [`read_matrix`] streams, so a matrix costs its own size in memory once.
//!
//! Fortran-ordered arrays come back in C (row-major) order. Structured and object dtypes are
//! refused.
//!
//! Writing: [`write_matrix`] (`float32`) and [`write_labels`] (`int64`) write files that
//! `np.load` reads, with a version 1.0 header padded so the data starts at a multiple of 64 bytes
//! as numpy's own; the file is replaced atomically ([`crate::atomic`]). [`write_matrix_to`] and
//! [`write_labels_to`] write the same bytes to any [`Write`].

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::atomic::{write_atomic, AtomicError};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Nesting allowed in the header literal (numpy's own headers nest at most 2 deep).
const MAX_DEPTH: usize = 16;
/// Bytes read (or written) at a time when streaming a matrix; a multiple of every item size.
const CHUNK: usize = 1 << 16;

/// A `.npy` file could not be read or written, or is not the array that was expected.
#[derive(Debug)]
pub enum NpyError {
    /// The file could not be opened, read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What could not be done: `"open"`, `"read"`, `"write"`, …
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The bytes are not a `.npy` array of the kind expected (or the values given to a writer do
    /// not fill the shape given with them).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected.
        problem: String,
    },
}

impl NpyError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            NpyError::Io { path, .. } | NpyError::Format { path, .. } => path,
        }
    }
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::Io { path, action, source } => write!(f, "{}: cannot {action}: {source}", path.display()),
            NpyError::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for NpyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NpyError::Io { source, .. } => Some(source),
            NpyError::Format { .. } => None,
        }
    }
}

fn format_err(path: &Path, problem: impl Into<String>) -> NpyError {
    NpyError::Format { path: path.to_path_buf(), problem: problem.into() }
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> NpyError + 'a {
    move |source| NpyError::Io { path: path.to_path_buf(), action, source }
}

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
    /// overflowing, which only a header that [`parse_header`] refused by size could reach).
    pub fn count(&self) -> usize {
        self.shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
    }

    /// Whether the data needs reordering to be read row-major: Fortran order, a numeric dtype
    /// (whose size [`parse_header`] checked) and more than one axis longer than 1.
    fn needs_reorder(&self, data_len: usize) -> bool {
        self.fortran_order
            && self.kind != NpyKind::Other
            && data_len == self.count().saturating_mul(self.item_size)
            && self.shape.iter().filter(|&&d| d > 1).count() > 1
    }

    /// The data of the file `bytes` (from which this header was parsed) in C (row-major) order:
    /// borrowed when it is stored so, reordered when it is Fortran-ordered. (For a dtype of kind
    /// [`NpyKind::Other`], whose size is not checked, the data comes back as stored.)
    pub fn c_order_data<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let data = &bytes[self.data_offset.min(bytes.len())..];
        if self.needs_reorder(data.len()) {
            Cow::Owned(fortran_to_c(data, &self.shape, self.item_size))
        } else {
            Cow::Borrowed(data)
        }
    }

    /// [`NpyHeader::c_order_data`] of a file read whole, reusing its buffer (no copy of a
    /// C-ordered array).
    pub fn into_c_order_data(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        let start = self.data_offset.min(bytes.len());
        if self.needs_reorder(bytes.len() - start) {
            return fortran_to_c(&bytes[start..], &self.shape, self.item_size);
        }
        bytes.drain(..start);
        bytes
    }
}

/// An array read from a `.npy` file: its shape and its elements in C (row-major) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyArray<T> {
    /// The shape, as in the file.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` elements, last axis fastest.
    pub data: Vec<T>,
}

/// A 2-D float matrix read from a `.npy` file, as `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Rows (samples).
    pub rows: usize,
    /// Columns (features).
    pub cols: usize,
    /// `rows * cols` values, row-major: element `(r, c)` is `data[r * cols + c]`.
    pub data: Vec<f32>,
}

// ---------------------------------------------------------------- header

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
                    v = v.checked_mul(10).and_then(|v| v.checked_add(i128::from(d - b'0'))).ok_or("an integer in the header is too large")?;
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
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<NpyHeader, NpyError> {
    parse_header_of(bytes, bytes.len(), path)
}

/// [`parse_header`] of a file of `file_len` bytes of which `bytes` is the start: at least the
/// preamble and the header, or the whole file if it is shorter.
fn parse_header_of(bytes: &[u8], file_len: usize, path: &Path) -> Result<NpyHeader, NpyError> {
    let bad = |problem: String| format_err(path, problem);
    let file_len = file_len.max(bytes.len()); // a file that grew while it was read
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(format!(
            "not a .npy file: it does not start with the magic string \\x93NUMPY ({file_len} bytes{})",
            if bytes.starts_with(b"PK") { "; this looks like a zip, e.g. an .npz archive" } else { "" }
        )));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize, 12),
        2 | 3 => return Err(bad(format!("truncated header: {file_len} bytes"))),
        _ => return Err(bad(format!(".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)"))),
    };
    let end = start.checked_add(hlen).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        return Err(bad(format!("truncated header: it declares {hlen} bytes but the file has {} after the preamble", file_len - start)));
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
    let have = file_len - end;
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

/// Reads the preamble and header of an open file, leaving it at the first data byte.
fn read_header(file: &mut File, path: &Path) -> Result<NpyHeader, NpyError> {
    let len = file.metadata().map_err(io_err(path, "read"))?.len();
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut head = Vec::with_capacity(128);
    Read::take(&mut *file, 12).read_to_end(&mut head).map_err(io_err(path, "read"))?;
    let hlen = match head.get(6..) {
        Some([1, _, a, b, ..]) => Some(10 + usize::from(u16::from_le_bytes([*a, *b]))),
        Some([2 | 3, _, a, b, c, d]) => Some(12usize.saturating_add(u32::from_le_bytes([*a, *b, *c, *d]) as usize)),
        _ => None,
    };
    if let Some(end) = hlen.filter(|_| head.starts_with(MAGIC)) {
        let more = end.saturating_sub(head.len()) as u64;
        Read::take(&mut *file, more).read_to_end(&mut head).map_err(io_err(path, "read"))?;
    }
    parse_header_of(&head, len, path)
}

fn read_all(path: &Path) -> Result<Vec<u8>, NpyError> {
    let mut file = File::open(path).map_err(io_err(path, "open"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err(path, "read"))?;
    Ok(bytes)
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

// ---------------------------------------------------------------- u8 arrays

fn check_u8(h: &NpyHeader, path: &Path) -> Result<(), NpyError> {
    if h.kind != NpyKind::Unsigned || h.item_size != 1 {
        return Err(format_err(path, format!("dtype '{}': expected uint8 ('|u1')", h.descr)));
    }
    Ok(())
}

/// Parses `.npy` bytes holding a `uint8` array of any shape. `path` only names the file in errors.
pub fn parse_u8(bytes: &[u8], path: &Path) -> Result<NpyArray<u8>, NpyError> {
    let h = parse_header(bytes, path)?;
    check_u8(&h, path)?;
    Ok(NpyArray { data: h.c_order_data(bytes).into_owned(), shape: h.shape })
}

/// Reads a `uint8` array of any shape (a C-ordered one without a second copy).
pub fn read_u8(path: impl AsRef<Path>) -> Result<NpyArray<u8>, NpyError> {
    let path = path.as_ref();
    let bytes = read_all(path)?;
    let h = parse_header(&bytes, path)?;
    check_u8(&h, path)?;
    Ok(NpyArray { data: h.into_c_order_data(bytes), shape: h.shape })
}

// ---------------------------------------------------------------- labels

/// Parses `.npy` bytes holding a 1-D integer array of labels (any integer dtype, either byte
/// order); every label must be in `0..2³²`. `path` only names the file in errors.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>, NpyError> {
    let bad = |problem: String| format_err(path, problem);
    let h = parse_header(bytes, path)?;
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

/// Reads a 1-D `.npy` array of integer labels (`int64`, `int32`, `uint8`, … in either byte
/// order) as `u32`; every label must be in `0..2³²`.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u32>, NpyError> {
    let path = path.as_ref();
    parse_labels(&read_all(path)?, path)
}

// ---------------------------------------------------------------- float matrices

/// Checks that a header describes a 2-D float32 or float64 array; returns (rows, cols).
fn matrix_layout(h: &NpyHeader, path: &Path) -> Result<(usize, usize), NpyError> {
    if h.kind != NpyKind::Float || !matches!(h.item_size, 4 | 8) {
        return Err(format_err(path, format!("dtype '{}': expected a float32 or float64 array ('<f4' or '<f8')", h.descr)));
    }
    match h.shape[..] {
        [rows, cols] => Ok((rows, cols)),
        _ => Err(format_err(path, format!("expected a 2-D array (rows = samples, columns = features), found {}-D (shape {:?})", h.shape.len(), h.shape))),
    }
}

/// Appends the floats of `bytes` (whole items of the header's dtype) to `out` as `f32`.
fn push_floats(h: &NpyHeader, bytes: &[u8], out: &mut Vec<f32>) {
    match (h.item_size, h.big_endian) {
        (4, false) => out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))),
        (4, true) => out.extend(bytes.chunks_exact(4).map(|b| f32::from_be_bytes(b.try_into().expect("4 bytes")))),
        (_, false) => out.extend(bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)),
        (_, true) => out.extend(bytes.chunks_exact(8).map(|b| f64::from_be_bytes(b.try_into().expect("8 bytes")) as f32)),
    }
}

/// The matrix from its values as stored (column-major if the header says so).
fn finish_matrix(h: &NpyHeader, rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
    if !h.fortran_order || rows <= 1 || cols <= 1 {
        return Matrix { rows, cols, data };
    }
    let mut c = Vec::with_capacity(data.len());
    for r in 0..rows {
        c.extend((0..cols).map(|j| data[j * rows + r]));
    }
    Matrix { rows, cols, data: c }
}

/// Parses `.npy` bytes holding a 2-D `float32` or `float64` array (either byte order, C or
/// Fortran order) as row-major `f32` (`float64` values are rounded). `path` only names the file
/// in errors.
pub fn parse_matrix(bytes: &[u8], path: &Path) -> Result<Matrix, NpyError> {
    let h = parse_header(bytes, path)?;
    let (rows, cols) = matrix_layout(&h, path)?;
    let mut data = Vec::with_capacity(h.count());
    push_floats(&h, &bytes[h.data_offset..], &mut data);
    Ok(finish_matrix(&h, rows, cols, data))
}

/// Reads a 2-D `.npy` array of `float32` or `float64` (either byte order, C or Fortran order) as
/// row-major `f32`, streaming: the file is not held in memory beside the matrix.
pub fn read_matrix(path: impl AsRef<Path>) -> Result<Matrix, NpyError> {
    let path = path.as_ref();
    let mut file = File::open(path).map_err(io_err(path, "open"))?;
    let h = read_header(&mut file, path)?;
    let (rows, cols) = matrix_layout(&h, path)?;
    // parse_header checked that the file holds exactly this many bytes.
    let mut left = h.count() * h.item_size;
    let mut data = Vec::with_capacity(h.count());
    let mut buf = vec![0u8; CHUNK.min(left)];
    while left > 0 {
        let n = left.min(buf.len());
        file.read_exact(&mut buf[..n]).map_err(io_err(path, "read"))?;
        push_floats(&h, &buf[..n], &mut data);
        left -= n;
    }
    Ok(finish_matrix(&h, rows, cols, data))
}

// ---------------------------------------------------------------- writing

/// The preamble and header numpy writes for an array of `descr` and `shape`: version 1.0 (2.0
/// only if the header does not fit in 65535 bytes), padded with spaces and a final newline so
/// the data starts at a multiple of 64 bytes.
pub fn header_bytes(descr: &str, fortran_order: bool, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let fortran = if fortran_order { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    let v1 = (10 + header.len() + 1).next_multiple_of(64) - 10 <= usize::from(u16::MAX);
    let pre = if v1 { 10 } else { 12 };
    let total = (pre + header.len() + 1).next_multiple_of(64);
    header.extend(std::iter::repeat_n(' ', total - pre - header.len() - 1));
    header.push('\n');
    let mut out = MAGIC.to_vec();
    if v1 {
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend([2, 0]);
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out
}

/// Writes a `rows x cols` row-major `f32` matrix as `.npy` bytes (`'<f4'`, C order) to `w`.
/// Fails with [`io::ErrorKind::InvalidInput`] if `data` does not hold `rows * cols` values.
pub fn write_matrix_to(w: &mut impl Write, rows: usize, cols: usize, data: &[f32]) -> io::Result<()> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} values do not fill a {rows} x {cols} matrix", data.len())));
    }
    w.write_all(&header_bytes("<f4", false, &[rows, cols]))?;
    let mut buf = Vec::with_capacity(CHUNK);
    for chunk in data.chunks(CHUNK / 4) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Writes labels as a 1-D `int64` (`'<i8'`) array in `.npy` bytes to `w`.
pub fn write_labels_to(w: &mut impl Write, labels: &[u32]) -> io::Result<()> {
    w.write_all(&header_bytes("<i8", false, &[labels.len()]))?;
    let mut buf = Vec::with_capacity(CHUNK);
    for chunk in labels.chunks(CHUNK / 8) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|&v| i64::from(v).to_le_bytes()));
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Writes a `.npy` file atomically through a buffered writer.
fn write_file(path: &Path, body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> Result<(), NpyError> {
    write_atomic(path, |tmp| {
        let mut w = BufWriter::new(File::create(tmp)?);
        body(&mut w)?;
        w.flush()
    })
    .map_err(|e| match e {
        AtomicError::Write { path, source } => NpyError::Io { path, action: "write", source },
        AtomicError::Io { path, action, source } => NpyError::Io { path, action, source },
        AtomicError::Exists { path } => NpyError::Io { path, action: "write", source: io::Error::new(io::ErrorKind::AlreadyExists, "the file exists") },
    })
}

/// Writes a `rows x cols` row-major `f32` matrix as a `float32` `.npy` file, replacing `path`
/// atomically. Fails (naming `path`) if `data` does not hold `rows * cols` values.
pub fn write_matrix(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f32]) -> Result<(), NpyError> {
    let path = path.as_ref();
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(format_err(path, format!("cannot write {} values as a {rows} x {cols} matrix", data.len())));
    }
    write_file(path, |w| write_matrix_to(w, rows, cols, data))
}

/// Writes labels as a 1-D `int64` `.npy` file, replacing `path` atomically.
pub fn write_labels(path: impl AsRef<Path>, labels: &[u32]) -> Result<(), NpyError> {
    write_file(path.as_ref(), |w| write_labels_to(w, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_reorder_matches_the_odometer() {
        // (2, 3) stored column-major: element [r, c] at r + 2c.
        let f = [0u8, 10, 1, 11, 2, 12];
        assert_eq!(fortran_to_c(&f, &[2, 3], 1), vec![0, 1, 2, 10, 11, 12]);
        // Two-byte items move whole.
        let f2: Vec<u8> = f.iter().flat_map(|&v| [v, 100 + v]).collect();
        let c2: Vec<u8> = [0u8, 1, 2, 10, 11, 12].iter().flat_map(|&v| [v, 100 + v]).collect();
        assert_eq!(fortran_to_c(&f2, &[2, 3], 2), c2);
        assert_eq!(fortran_to_c(&[], &[0, 3], 4), Vec::<u8>::new());
        assert_eq!(fortran_to_c(&[7], &[], 1), vec![7]);
    }

    #[test]
    fn descr_kinds_sizes_and_byte_orders() {
        assert_eq!(parse_descr("|u1"), Ok((NpyKind::Unsigned, 1, false)));
        assert_eq!(parse_descr(">i4"), Ok((NpyKind::Signed, 4, true)));
        assert_eq!(parse_descr("<f8"), Ok((NpyKind::Float, 8, false)));
        assert_eq!(parse_descr("|b1"), Ok((NpyKind::Bool, 1, false)));
        assert_eq!(parse_descr("u1"), Ok((NpyKind::Unsigned, 1, cfg!(target_endian = "big"))));
        assert_eq!(parse_descr("<U3").map(|d| d.0), Ok(NpyKind::Other));
        assert!(parse_descr("<i3").is_err() && parse_descr("<").is_err() && parse_descr("").is_err());
    }

    #[test]
    fn headers_are_padded_to_64_bytes_and_parse_back() {
        for shape in [&[][..], &[5], &[2, 3], &[1, 2, 3, 4, 5, 6, 7, 8]] {
            let h = header_bytes("<f4", false, shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(h.last(), Some(&b'\n'));
            let mut file = h.clone();
            file.extend(vec![0u8; 4 * shape.iter().product::<usize>()]);
            let parsed = parse_header(&file, Path::new("h.npy")).unwrap();
            assert_eq!((parsed.shape.as_slice(), parsed.data_offset, parsed.kind), (shape, h.len(), NpyKind::Float));
        }
        // A header too long for version 1.0 switches to 2.0, as numpy does.
        let long = header_bytes("|u1", false, &[1; 30000]);
        assert_eq!((long[6], long.len() % 64), (2, 0));
        assert_eq!(parse_header(&[long, vec![0]].concat(), Path::new("l")).unwrap().shape.len(), 30000);
    }
}
