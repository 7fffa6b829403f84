//! Augmentation ops with torchvision's semantics (`torchvision.transforms.v2.functional`, on float
//! images in `[0, 1]`, planar CHW).
//!
//! Each op is a plain function on an [`ImageF32`](crate::ImageF32) with explicit parameters;
//! where torchvision has a random transform, a small struct with `validate()` (a typed
//! [`DataError::Param`](crate::DataError::Param) for out-of-range parameters) and
//! `apply(&self, img, rng)` draws those parameters the way torchvision's `make_params` does.
//!
//! | op (function) | random struct | mirrors |
//! |---|---|---|
//! | [`resized_crop()`] | [`RandomResizedCrop`] | `resized_crop(bilinear, antialias=True)`, `RandomResizedCrop` |
//! | [`hflip()`] | (a probability in the view recipes) | `horizontal_flip`, `RandomHorizontalFlip` |
//! | [`adjust_brightness()`], [`adjust_contrast()`], [`adjust_saturation()`], [`adjust_hue()`] | [`ColorJitter`] | `adjust_*`, `ColorJitter` |
//! | [`grayscale()`] | (a probability) | `rgb_to_grayscale(num_output_channels=3)`, `RandomGrayscale` |
//! | [`gaussian_blur()`] | [`RandomGaussianBlur`] | `gaussian_blur`, `GaussianBlur` (+ `RandomApply`) |
//! | [`solarize()`] | [`RandomSolarize`] | `solarize`, `RandomSolarize` |
//! | [`rot90()`] | [`RandomRotation90`] | `torch.rot90(x, k, dims=(-2, -1))` |
//! | [`erase()`] | [`RandomErasing`] | `erase`, `RandomErasing` (cutout) |
//! | [`sobel()`] | — | grey + `conv2d` with DeepCluster's Sobel kernels, zero padding 1 |
//! | [`normalize()`] | — | `normalize` |
//! | [`patch_pair()`] | [`RandomPatchPair`] | two patches at a set distance, stacked along channels (InfoMin's spatial sweep) |
//!
//! Colour-space conversions (InfoMin) live in [`crate::colorspace`]. The
//! `tests/torchvision_fixtures.rs` test compares every op with torchvision 0.26 (and the colour
//! spaces with scikit-image 0.26) on the same inputs (`fixtures/torchvision.json`, written by
//! `scripts/make_fixtures.py`).

pub mod blur;
pub mod color;
pub mod crop;
pub mod erase;
pub mod flip;
pub mod normalize;
pub mod patches;
pub mod rotate;
pub mod sobel;
pub mod solarize;

pub use blur::{check_blur, gaussian_blur, gaussian_kernel, RandomGaussianBlur};
pub use color::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, grayscale, ColorJitter};
pub use crop::{resized_crop, resized_crop_u8, CropBox, RandomResizedCrop};
pub use erase::{erase, RandomErasing};
pub use flip::hflip;
pub use normalize::{check_normalization, normalize, normalize_into};
pub use patches::{patch_pair, RandomPatchPair};
pub use rotate::{random_rot90, rot90, RandomRotation90};
pub use sobel::{sobel, sobel_grey};
pub use solarize::{solarize, RandomSolarize};
