//! The dataset trait and the in-memory store that every loader fills (decode once, keep `u8`).

use crate::error::DataError;
use crate::image::{ImageRef, Shape};

/// Which part of a dataset to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn name(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// A finite set of decoded images of one shape, each with an optional class label.
pub trait Dataset: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;
    /// True when there are no images.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Shape shared by all images.
    fn shape(&self) -> Shape;
    /// Image `index` (`index < len()`; a larger index is a programming error and panics).
    fn image(&self, index: usize) -> ImageRef<'_>;
    /// Class label of image `index`, if the dataset has labels.
    fn label(&self, index: usize) -> Option<u32>;
    /// Number of classes, if labelled.
    fn num_classes(&self) -> Option<usize>;
    /// The image that view `view` of sample `index` is drawn from, for the epoch whose key is
    /// `epoch_key`: the sample itself, except in datasets whose views are different renderings
    /// of one sample (the toy's factor-sharing pairs, [`crate::toy::ToyPairs`]).
    fn view_source(&self, index: usize, view: usize, epoch_key: u64) -> ViewSource<'_> {
        let _ = (view, epoch_key);
        ViewSource::Borrowed(self.image(index))
    }
}

/// The image a view starts from: borrowed from the dataset, or rendered for this view.
pub enum ViewSource<'a> {
    /// The dataset's own image.
    Borrowed(ImageRef<'a>),
    /// An image made for this view (HWC bytes of the dataset's shape).
    Owned(Shape, Vec<u8>),
}

impl ViewSource<'_> {
    /// The image.
    pub fn image(&self) -> ImageRef<'_> {
        match self {
            ViewSource::Borrowed(r) => *r,
            ViewSource::Owned(shape, data) => ImageRef { shape: *shape, data },
        }
    }
}

/// Decoded images of one shape in one contiguous `u8` buffer (HWC per image), with labels.
#[derive(Clone, Debug)]
pub struct InMemoryDataset {
    shape: Shape,
    pixels: Vec<u8>,
    labels: Option<Vec<u32>>,
    num_classes: Option<usize>,
}

impl InMemoryDataset {
    /// Wraps `pixels` (`n * shape.len()` bytes, HWC per image) and optional labels.
    pub fn new(shape: Shape, pixels: Vec<u8>, labels: Option<Vec<u32>>) -> Result<Self, DataError> {
        if shape.is_empty() {
            return Err(DataError::param("shape", format!("{shape:?} has no pixels")));
        }
        if !pixels.len().is_multiple_of(shape.len()) {
            return Err(DataError::Mismatch {
                problem: format!("{} bytes of pixels is not a whole number of {}x{}x{} images", pixels.len(), shape.height, shape.width, shape.channels),
            });
        }
        let n = pixels.len() / shape.len();
        let mut num_classes = None;
        if let Some(l) = &labels {
            if l.len() != n {
                return Err(DataError::Mismatch { problem: format!("{n} images but {} labels", l.len()) });
            }
            num_classes = l.iter().max().map(|&m| m as usize + 1);
        }
        Ok(InMemoryDataset { shape, pixels, labels, num_classes })
    }

    /// Keeps only the images at `indices` (in that order).
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DataError> {
        let n = self.len();
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            if i >= n {
                return Err(DataError::param("indices", format!("index {i} out of range for {n} images")));
            }
            pixels.extend_from_slice(self.image(i).data);
        }
        let labels = self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect());
        let mut out = InMemoryDataset::new(self.shape, pixels, labels)?;
        out.num_classes = self.num_classes;
        Ok(out)
    }

    /// All labels, if any.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }

    /// All pixels, `len() * shape().len()` bytes.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.pixels.len() / self.shape.len()
    }
    fn shape(&self) -> Shape {
        self.shape
    }
    fn image(&self, index: usize) -> ImageRef<'_> {
        let n = self.shape.len();
        ImageRef { shape: self.shape, data: &self.pixels[index * n..(index + 1) * n] }
    }
    fn label(&self, index: usize) -> Option<u32> {
        self.labels.as_ref().map(|l| l[index])
    }
    fn num_classes(&self) -> Option<usize> {
        self.num_classes
    }
}
