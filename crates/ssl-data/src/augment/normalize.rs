//! Per-channel normalisation: mirrors `torchvision.transforms.v2.functional.normalize`,
//! `(x − mean_c) / std_c`. One mean/std value broadcasts to every channel (torchvision's
//! broadcasting of a one-element list); otherwise one per channel.

use crate::error::DataError;
use crate::image::ImageF32;

/// Checks `mean`/`std` against a channel count: one value (broadcast) or one per channel,
/// every std > 0 and finite.
pub fn check_normalization(mean: &[f32], std: &[f32], channels: usize) -> Result<(), DataError> {
    if mean.len() != std.len() || !(mean.len() == 1 || mean.len() == channels) {
        return Err(DataError::param(
            "mean/std",
            format!("{} mean and {} std values for {channels} channel(s): expected 1 or {channels} of each", mean.len(), std.len()),
        ));
    }
    if let Some(s) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
        return Err(DataError::param("std", format!("{s}: every std must be a finite value > 0")));
    }
    Ok(())
}

/// Normalises each channel in place (one `mean`/`std` value broadcasts to all channels).
pub fn normalize(img: &mut ImageF32, mean: &[f32], std: &[f32]) {
    for c in 0..img.shape.channels {
        let (m, s) = if mean.len() == 1 { (mean[0], std[0]) } else { (mean[c], std[c]) };
        for v in img.channel_mut(c) {
            *v = (*v - m) / s;
        }
    }
}

/// Writes the normalised image into `out` (`img.data.len()` values), leaving `img` as it is.
pub fn normalize_into(img: &ImageF32, mean: &[f32], std: &[f32], out: &mut [f32]) {
    let n = img.shape.height * img.shape.width;
    for (c, (src, dst)) in img.data.chunks_exact(n.max(1)).zip(out.chunks_exact_mut(n.max(1))).enumerate() {
        let (m, s) = if mean.len() == 1 { (mean[0], std[0]) } else { (mean[c], std[c]) };
        sub_div(src, m, s, dst);
    }
}

/// `dst = (src − m) / s`, element-wise.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn sub_div(src: &[f32], m: f32, s: f32, dst: &mut [f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = (v - m) / s;
    }
}
