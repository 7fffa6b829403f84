//! Multi-view batching: B images × k views → one contiguous `[k, B, C, H, W]` buffer, drawn in
//! parallel with per-(seed, epoch, index, view) RNGs, and a loader that prefetches batches on a
//! background thread with bounded memory.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::image::Shape;
use crate::rng::{derive_key, epoch_rng, view_rng};
use crate::view::ViewTransform;

/// k views of B images, views-major: `data[((v * B) + b) * C*H*W ..]` is view `v` of image `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiViewBatch {
    /// Views per image (k).
    pub views: usize,
    /// Dataset indices of the B images, in batch order.
    pub indices: Vec<usize>,
    /// Labels of the B images, when the dataset has them.
    pub labels: Option<Vec<u32>>,
    /// Shape of one view.
    pub shape: Shape,
    /// `k * B * C * H * W` values.
    pub data: Vec<f32>,
}

impl MultiViewBatch {
    /// Number of images (B).
    pub fn batch_size(&self) -> usize {
        self.indices.len()
    }

    /// The dimensions `[k, B, C, H, W]`.
    pub fn dims(&self) -> [usize; 5] {
        [self.views, self.indices.len(), self.shape.channels, self.shape.height, self.shape.width]
    }
}

/// Draws `views` views of each image in `indices`, in parallel; bit-identical for any thread count.
pub fn make_batch(dataset: &dyn Dataset, transform: &dyn ViewTransform, indices: &[usize], views: usize, seed: u64, epoch: u64) -> MultiViewBatch {
    make_batch_reusing(dataset, transform, indices, views, seed, epoch, Vec::new())
}

/// [`make_batch`] into the allocation of `buffer` (the data of a batch the consumer is done
/// with): a steady stream of batches then writes into memory it already has instead of
/// faulting in fresh pages for every batch. The batch is the one [`make_batch`] gives.
pub fn make_batch_reusing(
    dataset: &dyn Dataset,
    transform: &dyn ViewTransform,
    indices: &[usize],
    views: usize,
    seed: u64,
    epoch: u64,
    buffer: Vec<f32>,
) -> MultiViewBatch {
    let shape = transform.output_shape(dataset.shape());
    let per = shape.len();
    let b = indices.len();
    let mut data = buffer;
    if data.len() != views * b * per {
        // Every value is overwritten below; only a buffer of another size is re-made.
        data = vec![0f32; views * b * per];
    }
    let epoch_key = view_source_key(seed, epoch);
    data.par_chunks_mut(per.max(1)).enumerate().for_each(|(slot, out)| {
        let (v, i) = (slot / b, slot % b);
        let index = indices[i];
        let mut rng = view_rng(seed, epoch, index as u64, v as u64);
        let source = dataset.view_source(index, v, epoch_key);
        transform.apply_view(source.image(), v, &mut rng, out);
    });
    let labels = dataset.num_classes().map(|_| indices.iter().filter_map(|&i| dataset.label(i)).collect());
    MultiViewBatch { views, indices: indices.to_vec(), labels, shape, data }
}

/// The key of an epoch that [`Dataset::view_source`] receives from the batches of `seed`.
pub fn view_source_key(seed: u64, epoch: u64) -> u64 {
    derive_key(&[seed, epoch, 0x5ee])
}

/// How a [`Loader`] cuts epochs into batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Images per batch (B).
    pub batch_size: usize,
    /// Views per image (k).
    pub views: usize,
    /// Seed of the sample order and of every view.
    pub seed: u64,
    /// Shuffle each epoch with a permutation derived from (seed, epoch).
    pub shuffle: bool,
    /// Drop the last incomplete batch.
    pub drop_last: bool,
    /// Batches prepared ahead of the consumer (bounds memory).
    pub prefetch: usize,
    /// Data-parallel training: this process draws only its part of every batch.
    pub shard: Shard,
}

/// Part `index` of `count` equal, contiguous parts of every batch (data-parallel training: rank
/// `index` of `count` processes). The union of the parts over the ranks is exactly the
/// single-process batch, in order, and each image's views are the same draws (they are keyed
/// by image and epoch), so `count` processes see the single-process epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This part (the rank).
    pub index: usize,
    /// Parts per batch (the world size); `batch_size` must be a multiple of it.
    pub count: usize,
}

impl Shard {
    /// The whole batch: a single process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig { batch_size: 256, views: 2, seed: 0, shuffle: true, drop_last: true, prefetch: 2, shard: Shard::WHOLE }
    }
}

/// Produces the batches of an epoch on a background thread while the caller trains.
pub struct Loader {
    dataset: Arc<dyn Dataset>,
    transform: Arc<dyn ViewTransform>,
    config: LoaderConfig,
}

impl Loader {
    /// Checks the configuration against the dataset.
    pub fn new(dataset: Arc<dyn Dataset>, transform: Arc<dyn ViewTransform>, config: LoaderConfig) -> Result<Self, DataError> {
        if config.views == 0 || config.views > 64 {
            return Err(DataError::param("views", format!("{}: expected 1..=64 views per image", config.views)));
        }
        if config.batch_size == 0 {
            return Err(DataError::param("batch_size", "must be at least 1"));
        }
        if config.drop_last && config.batch_size > dataset.len() {
            return Err(DataError::param(
                "batch_size",
                format!("{} is larger than the dataset ({} images) and drop_last is set", config.batch_size, dataset.len()),
            ));
        }
        let shard = config.shard;
        if shard.count == 0 || shard.index >= shard.count {
            return Err(DataError::param("shard", format!("part {} of {}: expected a part below a count >= 1", shard.index, shard.count)));
        }
        if shard.count > 1 && (!config.batch_size.is_multiple_of(shard.count) || !config.drop_last) {
            return Err(DataError::param(
                "batch_size",
                format!("{} over {} processes: expected a multiple of the number of processes (and whole batches only)", config.batch_size, shard.count),
            ));
        }
        Ok(Loader { dataset, transform, config })
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if self.config.drop_last {
            n / self.config.batch_size
        } else {
            n.div_ceil(self.config.batch_size)
        }
    }

    /// The sample order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut epoch_rng(self.config.seed, epoch));
        }
        order
    }

    /// Iterates over the batches of `epoch`, prepared `prefetch` ahead on a background thread.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` from batch `start` on (a resumed run skips what it already
    /// trained on without drawing those views); the batches are those [`Loader::epoch`] yields.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter {
        let order = self.order(epoch);
        let (tx, rx) = sync_channel(self.config.prefetch.max(1));
        let (spare_tx, spare_rx) = sync_channel::<Vec<f32>>(self.config.prefetch.max(1) + 1);
        let (dataset, transform, cfg) = (self.dataset.clone(), self.transform.clone(), self.config.clone());
        let batches = self.batches_per_epoch();
        let worker = std::thread::spawn(move || {
            let part = cfg.batch_size / cfg.shard.count;
            for batch in order.chunks(cfg.batch_size).take(batches).skip(start) {
                let chunk = if cfg.shard.count > 1 { &batch[cfg.shard.index * part..(cfg.shard.index + 1) * part] } else { batch };
                let spare = spare_rx.try_recv().unwrap_or_default();
                let batch = make_batch_reusing(dataset.as_ref(), transform.as_ref(), chunk, cfg.views, cfg.seed, epoch, spare);
                if tx.send(Ok(batch)).is_err() {
                    return; // consumer went away
                }
            }
        });
        EpochIter { rx, spare_tx, worker: Some(worker) }
    }
}

/// The batches of one epoch; dropping it stops the background thread after its current batch.
pub struct EpochIter {
    rx: Receiver<Result<MultiViewBatch, DataError>>,
    spare_tx: SyncSender<Vec<f32>>,
    worker: Option<JoinHandle<()>>,
}

impl EpochIter {
    /// Hands the data of a batch the caller is done with back to the loader, which draws a
    /// later batch into it (optional; at most `prefetch + 1` buffers are kept, others dropped).
    pub fn recycle(&self, data: Vec<f32>) {
        let _ = self.spare_tx.try_send(data);
    }
}

impl Iterator for EpochIter {
    type Item = Result<MultiViewBatch, DataError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Drain so a blocked sender wakes up, then join.
        while self.rx.try_recv().is_ok() {}
        let rx = std::mem::replace(&mut self.rx, sync_channel(1).1);
        drop(rx);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
