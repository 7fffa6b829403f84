//! Augmentation ops with torchvision's semantics (`torchvision.transforms.v2.functional`).
//!
//! Each op is a plain function on an [`ImageF32`](crate::ImageF32) with explicit parameters;
//! the random versions draw those parameters exactly as torchvision's transforms do. The
//! `tests/torchvision_fixtures.rs` test compares every op with torchvision on the same inputs.

pub mod blur;
pub mod color;
pub mod crop;
pub mod erase;
pub mod flip;
pub mod normalize;
pub mod rotate;
pub mod sobel;
pub mod solarize;

pub use blur::{gaussian_blur, gaussian_kernel, RandomGaussianBlur};
pub use color::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, grayscale, ColorJitter};
pub use crop::{resized_crop, CropBox, RandomResizedCrop};
pub use erase::{erase, RandomErasing};
pub use flip::hflip;
pub use normalize::{check_normalization, normalize};
pub use rotate::{random_rot90, rot90};
pub use sobel::sobel;
pub use solarize::{solarize, RandomSolarize};
