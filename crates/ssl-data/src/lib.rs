//! # ssl-data
//!
//! Images in, multi-view `f32` batches out — the first stage of every self-supervised step
//! (dataset → views → tensor). This crate does not depend on libtorch: its batches are plain
//! contiguous buffers that any framework can wrap.
//!
//! * [`dataset`]: the [`Dataset`] trait (length, decoded `u8` image, optional label) and the
//!   in-memory store every loader fills ([`InMemoryDataset`]).
//! * [`idx`]: MNIST / Fashion-MNIST idx files, plain or `.gz`; [`cifar`]: CIFAR-10/100 binary;
//!   [`stl10`]: STL-10 binary (train, test, 100k unlabelled); [`folder`]: torchvision-style
//!   `ImageFolder` trees or flat folders of PNG/JPEG/BMP/PNM files, decoded in parallel;
//!   [`npy`]: `uint8` image arrays and integer labels saved with `np.save`. Each decodes once to
//!   an [`InMemoryDataset`] and reports a bad file as a [`DataError`] naming it.
//! * [`augment`]: augmentation ops with torchvision's semantics — each a plain function with
//!   explicit parameters, plus a random wrapper that draws them.
//! * [`view`]: view recipes (e.g. SimCLR's) that turn one image into one normalised `f32` view;
//!   [`PerView`] gives each view its own transform (BYOL's asymmetric pair).
//! * [`pipeline`]: view pipelines written as TOML (like solo-learn's augmentation YAML) and the
//!   published recipes (SimCLR at strength s, BYOL/Barlow's asymmetric pair, MMCR).
//! * [`toy`]: a colourful Moving-MNIST-style dataset with known factors (InfoMin §3.1) and view
//!   pairs sharing any chosen subset of them.
//! * [`colorspace`]: RGB ↔ Lab, YCbCr, YDbDr, YIQ, YPbPr, HSV (InfoMin's colour-space views) and
//!   their normalisation.
//! * [`batch`]: B images × k views → one contiguous buffer `[k, B, C, H, W]`, drawn in parallel
//!   with an RNG derived from (seed, epoch, index, view), so a batch is bit-identical whatever the
//!   thread count; [`Loader`] prepares the next batches on a background thread and draws them
//!   into the buffers the caller hands back ([`EpochIter::recycle`]).
//!
//! Speed: the per-pixel loops are compiled for AVX2 as well as the x86-64 baseline and chosen at
//! run time (`multiversion`; both do the same arithmetic in the same order); a pipeline that starts with a crop
//! resizes straight from the `u8` source (flip included) into per-thread buffers and normalises
//! into the batch. `docs/benchmarks.md` has views/s against torchvision v2 on the same machine.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ssl_data::{idx, pipeline, Loader, LoaderConfig, Split};
//!
//! let train = Arc::new(idx::fashion_mnist("data/fashion-mnist", Split::Train)?);
//! let view = Arc::new(pipeline::fashion_mnist(28));
//! let loader = Loader::new(train, view, LoaderConfig { batch_size: 256, views: 2, seed: 0, ..Default::default() })?;
//! let mut batches = loader.epoch(0);
//! while let Some(batch) = batches.next() {
//!     let batch = batch?;
//!     assert_eq!(batch.data.len(), 2 * 256 * 28 * 28); // [k, B, C, H, W]
//!     // ... copy into a tensor and train, then give the buffer back for a later batch:
//!     batches.recycle(batch.data);
//! }
//! # Ok::<(), ssl_data::DataError>(())
//! ```

pub mod augment;
pub mod batch;
pub mod cifar;
pub mod colorspace;
pub mod dataset;
pub mod error;
pub mod folder;
pub mod idx;
pub mod image;
pub mod npy;
pub mod pipeline;
pub mod rng;
pub mod stl10;
pub mod toy;
pub mod view;

pub use batch::{make_batch, make_batch_reusing, view_source_key, EpochIter, Loader, LoaderConfig, MultiViewBatch, Shard};
pub use dataset::{Dataset, InMemoryDataset, Split, ViewSource};
pub use error::DataError;
pub use image::{ImageF32, ImageRef, Shape};
pub use view::{PerView, ViewTransform};
