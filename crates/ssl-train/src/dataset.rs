//! Which datasets a recipe can name (`[data] dataset`), and loading one split of them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use ssl_data::cifar::{cifar10, cifar100, Cifar100Labels};
use ssl_data::toy::ToyDataset;
use ssl_data::{idx, Dataset, InMemoryDataset, Split};

use crate::config::RunConfig;

/// The datasets the runner reads (`data/README.md` gives each layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Fashion-MNIST idx files (`cargo xtask setup` fetches them).
    FashionMnist,
    /// MNIST idx files (the same layout).
    Mnist,
    /// CIFAR-10, binary version (`cifar-10-batches-bin`).
    Cifar10,
    /// CIFAR-100, binary version, fine labels.
    Cifar100,
    /// CIFAR-100, binary version, coarse labels.
    Cifar100Coarse,
    /// STL-10, binary version, the labelled splits.
    Stl10,
    /// `root/{train,test}/<class>/*.png|jpg|…` (torchvision's ImageFolder layout).
    Imagefolder,
    /// `root/{train,test}_images.npy` (uint8 N×H×W[×C]) and `root/{train,test}_labels.npy`.
    Npy,
    /// InfoMin's colourful Moving-MNIST on Fashion-MNIST objects from `root`.
    Toy,
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&name)
    }
}

/// Dataset selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Which dataset.
    pub dataset: DatasetKind,
    /// Its folder.
    pub root: PathBuf,
    /// Train on the first N training images (0 = all).
    #[serde(default)]
    pub train_limit: usize,
    /// Evaluate on the first N test images (0 = all).
    #[serde(default)]
    pub test_limit: usize,
}

/// Loads a split of `cfg.data.dataset`, keeping the first `limit` images when `limit > 0`.
pub fn load_split(cfg: &RunConfig, split: Split, limit: usize) -> Result<InMemoryDataset> {
    let root = &cfg.data.root;
    let ds = match cfg.data.dataset {
        DatasetKind::FashionMnist | DatasetKind::Mnist => idx::fashion_mnist(root, split).with_context(|| {
            format!("cannot load the {} split of {} from {} (for Fashion-MNIST run `cargo xtask setup`)", split.name(), cfg.data.dataset, root.display())
        })?,
        DatasetKind::Cifar10 => {
            cifar10(root, split).with_context(|| format!("cannot load CIFAR-10 from {} (the binary version: cifar-10-batches-bin)", root.display()))?
        }
        DatasetKind::Cifar100 | DatasetKind::Cifar100Coarse => {
            let which = if cfg.data.dataset == DatasetKind::Cifar100 { Cifar100Labels::Fine } else { Cifar100Labels::Coarse };
            cifar100(root, split, which).with_context(|| format!("cannot load CIFAR-100 from {} (the binary version: cifar-100-binary)", root.display()))?
        }
        DatasetKind::Stl10 => {
            // The labelled splits (5,000 train / 8,000 test): the kNN bank needs labels.
            let s = if split == Split::Train { ssl_data::stl10::Stl10Split::Train } else { ssl_data::stl10::Stl10Split::Test };
            ssl_data::stl10::stl10(root, s).with_context(|| format!("cannot load STL-10 from {} (the binary version: stl10_binary)", root.display()))?
        }
        DatasetKind::Imagefolder => {
            // `root/train/<class>/*.png|jpg…` and `root/test/<class>/…` (torchvision's ImageFolder
            // layout); every image must have one size; channels as model.in_channels.
            let dir = root.join(split.name());
            let opts = ssl_data::folder::FolderOptions { resize: None, channels: cfg.model.in_channels as usize };
            let listing = ssl_data::folder::scan_folder(&dir).with_context(|| format!("cannot load the image folder {}", dir.display()))?;
            if !listing.skipped.is_empty() {
                eprintln!(
                    "{}: skipped {} image(s) reached through a symbolic link out of their class folder or a second link to one image (first: {})",
                    dir.display(),
                    listing.skipped.len(),
                    listing.skipped[0].display()
                );
            }
            ssl_data::folder::load_folder(&listing, &opts).with_context(|| format!("cannot load the image folder {}", dir.display()))?
        }
        DatasetKind::Npy => {
            // `root/{train,test}_images.npy` (uint8 N×H×W[×C]) and `root/{train,test}_labels.npy`.
            let (x, y) = (root.join(format!("{}_images.npy", split.name())), root.join(format!("{}_labels.npy", split.name())));
            ssl_data::npy::npy_images_labels(&x, &y)?
        }
        DatasetKind::Toy => toy_images(cfg, &load_toy(cfg, split, limit)?)?,
    };
    if ds.is_empty() {
        bail!("the {} split of {} in {} holds no images", split.name(), cfg.data.dataset, root.display());
    }
    if limit > 0 && limit < ds.len() {
        Ok(ds.subset(&(0..limit).collect::<Vec<_>>())?)
    } else {
        Ok(ds)
    }
}

/// The factors of toy samples as `factors.npy` rows (object class, background class, x, y): row
/// `r` holds those of sample `sample(r)`.
pub fn toy_factor_matrix(toy: &ToyDataset, rows: usize, sample: impl Fn(usize) -> usize) -> ndarray::Array2<f32> {
    ndarray::Array2::from_shape_fn((rows, 4), |(r, c)| {
        let f = toy.factors(sample(r));
        [f.object_class as f32, f.background as f32, f.position.1 as f32, f.position.0 as f32][c]
    })
}

/// The images a run reads from a toy dataset: its renderings, or with `views.frames` each
/// sample's past frames and its own frame stacked along the channels.
pub fn toy_images(cfg: &RunConfig, toy: &ToyDataset) -> Result<InMemoryDataset> {
    Ok(match cfg.views.frames {
        Some(frames) => toy.sequences(frames)?,
        None => toy.images().clone(),
    })
}

/// InfoMin's colourful Moving-MNIST: Fashion-MNIST objects from `data.root` moving over
/// procedural backgrounds; label = object class. 10,000 train / 2,000 test samples unless
/// limited; train and test use the matching Fashion-MNIST split and seeds.
pub fn load_toy(cfg: &RunConfig, split: Split, limit: usize) -> Result<ToyDataset> {
    let root = &cfg.data.root;
    let objects = idx::fashion_mnist(root, split).with_context(|| format!("the toy dataset draws its objects from Fashion-MNIST in {}", root.display()))?;
    let n = if limit > 0 {
        limit
    } else if split == Split::Train {
        10_000
    } else {
        2_000
    };
    let seed = cfg.seed.wrapping_add(if split == Split::Train { 0 } else { 1_000_003 });
    Ok(ToyDataset::new(objects, None, n, seed)?)
}
