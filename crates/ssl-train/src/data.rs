//! Which datasets a recipe can name, and loading one split of them.

use anyhow::{bail, Context, Result};
use ssl_data::cifar::{cifar10, cifar100, Cifar100Labels};
use ssl_data::{idx, Dataset, InMemoryDataset, Split};

use crate::config::Config;

/// The values `data.dataset` accepts.
pub const DATASETS: &[&str] = &["fashion-mnist", "mnist", "cifar10", "cifar100", "cifar100-coarse", "stl10", "imagefolder", "npy", "toy"];

/// Loads a split of `cfg.data.dataset`, keeping the first `limit` images when `limit > 0`.
pub fn load_split(cfg: &Config, split: Split, limit: usize) -> Result<InMemoryDataset> {
    let root = &cfg.data.root;
    let ds = match cfg.data.dataset.as_str() {
        "fashion-mnist" | "mnist" => idx::fashion_mnist(root, split).with_context(|| {
            format!(
                "cannot load the {} split of {} from {} (for Fashion-MNIST run `cargo xtask setup`)",
                split.name(),
                cfg.data.dataset,
                root.display()
            )
        })?,
        "cifar10" => cifar10(root, split).with_context(|| format!("cannot load CIFAR-10 from {} (the binary version: cifar-10-batches-bin)", root.display()))?,
        "cifar100" | "cifar100-coarse" => {
            let which = if cfg.data.dataset == "cifar100" { Cifar100Labels::Fine } else { Cifar100Labels::Coarse };
            cifar100(root, split, which).with_context(|| format!("cannot load CIFAR-100 from {} (the binary version: cifar-100-binary)", root.display()))?
        }
        "stl10" => {
            // The labelled splits (5,000 train / 8,000 test): the kNN bank needs labels.
            let s = if split == Split::Train { ssl_data::stl10::Stl10Split::Train } else { ssl_data::stl10::Stl10Split::Test };
            ssl_data::stl10::stl10(root, s).with_context(|| format!("cannot load STL-10 from {} (the binary version: stl10_binary)", root.display()))?
        }
        "imagefolder" => {
            // `root/train/<class>/*.png|jpg…` and `root/test/<class>/…` (torchvision's ImageFolder
            // layout); every image must have one size; channels as model.in_channels.
            let dir = root.join(split.name());
            let opts = ssl_data::folder::FolderOptions { resize: None, channels: cfg.model.in_channels as usize };
            ssl_data::folder::image_folder(&dir, &opts).with_context(|| format!("cannot load the image folder {}", dir.display()))?
        }
        "npy" => {
            // `root/{train,test}_images.npy` (uint8 N×H×W[×C]) and `root/{train,test}_labels.npy`.
            let (x, y) = (root.join(format!("{}_images.npy", split.name())), root.join(format!("{}_labels.npy", split.name())));
            ssl_data::npy::npy_images_labels(&x, &y)?
        }
        "toy" => {
            // InfoMin's colourful Moving-MNIST: Fashion-MNIST objects from `root` moving over
            // procedural backgrounds; label = object class. 10,000 train / 2,000 test samples
            // unless limited; train and test use the matching Fashion-MNIST split and seeds.
            let objects = idx::fashion_mnist(root, split).with_context(|| format!("the toy dataset draws its objects from Fashion-MNIST in {}", root.display()))?;
            let n = if limit > 0 { limit } else if split == Split::Train { 10_000 } else { 2_000 };
            let seed = cfg.seed.wrapping_add(if split == Split::Train { 0 } else { 1_000_003 });
            ssl_data::toy::ToyDataset::new(objects, None, n, seed)?.images().clone()
        }
        other => bail!("data.dataset = `{other}`: expected one of {}", DATASETS.join(", ")),
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
