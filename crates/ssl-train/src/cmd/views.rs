//! `cargo xtask views --recipe <name> --out grid.png`: a grid of the training views a recipe
//! draws — one row per image: the original, then its k views (un-normalised with the recipe's
//! mean/std for display, clamped to [0, 1]) — so a user sees their augmentations (and, with
//! `views.shared` on the toy dataset, the factor-sharing partners each view is drawn from).

use std::path::Path;

use anyhow::{bail, Context, Result};
use ssl_data::{make_batch, Dataset};

use crate::config::Config;
use crate::trainer::training_data_limited;

/// Writes the grid; returns (rows, columns).
pub fn views_grid(cfg: &Config, images: usize, views: usize, seed: u64, out: &Path) -> Result<(usize, usize)> {
    if out.exists() {
        bail!("{} already exists; choose another --out (nothing was written)", out.display());
    }
    if images == 0 || views == 0 || views > 64 {
        bail!("--images must be >= 1 and --views between 1 and 64");
    }
    // What the trainer draws views from: the images, or the toy's factor-sharing renderings.
    let (ds, source) = training_data_limited(cfg, images)?;
    let n = images.min(ds.len());
    let idx: Vec<usize> = (0..n).collect();
    let transform = cfg.views.train_view();
    cfg.check_views(ds.shape())?;
    let batch = make_batch(source.as_ref(), transform.as_ref(), &idx, views, seed, 0);
    let [_, _, c, h, w] = batch.dims();
    let src = ds.shape();
    let side = h.max(w).max(src.height).max(src.width);
    let zoom = (96 / side).max(1);
    let cell = side * zoom + 4;
    let (cols, rows) = (views + 1, n);
    let mut grid = image::RgbImage::from_pixel((cols * cell) as u32, (rows * cell) as u32, image::Rgb([255, 255, 255]));
    let (mean, std) = cfg.views.eval_normalization().unwrap_or((&[0.0], &[1.0]));
    let put = |grid: &mut image::RgbImage, row: usize, col: usize, hh: usize, ww: usize, px: &dyn Fn(usize, usize) -> [f32; 3]| {
        for y in 0..hh * zoom {
            for x in 0..ww * zoom {
                let v = px(y / zoom, x / zoom).map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
                grid.put_pixel((col * cell + 2 + x) as u32, (row * cell + 2 + y) as u32, image::Rgb(v));
            }
        }
    };
    for (row, &i) in idx.iter().enumerate() {
        let img = ds.image(i);
        put(&mut grid, row, 0, src.height, src.width, &|y, x| {
            let p = &img.data[(y * src.width + x) * src.channels..];
            if src.channels >= 3 {
                [0, 1, 2].map(|k| f32::from(p[k]) / 255.0)
            } else {
                [f32::from(p[0]) / 255.0; 3]
            }
        });
        for v in 0..views {
            let off = (v * n + row) * c * h * w;
            let data = &batch.data[off..off + c * h * w];
            let un = |ch: usize, val: f32| {
                let (m, s) = if mean.len() == 1 { (mean[0], std[0]) } else { (mean[ch.min(mean.len() - 1)], std[ch.min(std.len() - 1)]) };
                val * s + m
            };
            put(&mut grid, row, v + 1, h, w, &|y, x| {
                if c >= 3 {
                    [0, 1, 2].map(|k| un(k, data[k * h * w + y * w + x]))
                } else {
                    [un(0, data[y * w + x]); 3]
                }
            });
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    grid.save(out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((rows, cols))
}
