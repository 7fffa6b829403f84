//! Augmentation ops with torchvision's semantics (`torchvision.transforms.v2.functional`).
//!
//! Each op is a plain function on an [`ImageF32`](crate::ImageF32) with explicit parameters;
//! the random versions draw those parameters exactly as torchvision's transforms do.

pub mod color;
pub mod crop;
pub mod flip;

pub use color::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, grayscale, ColorJitter};
pub use crop::{resized_crop, CropBox, RandomResizedCrop};
pub use flip::hflip;
