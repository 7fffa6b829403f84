//! Every augmentation op against torchvision 0.26 (`torchvision.transforms.v2.functional`) and
//! every colour space against scikit-image 0.26 (`skimage.color`) and PIL, on the same inputs and
//! parameters (`fixtures/torchvision.json`, from `scripts/make_fixtures.py`). The bound asked for
//! is 1/255; the ops are in fact exact up to f32 rounding and the fixture's 6 decimals, so the
//! tests hold them to 1e-5 (relative to the value's size for the colour spaces, whose channels
//! reach 100), and 1 level for PIL's integer YCbCr. `--nocapture` prints the worst difference.

use std::collections::BTreeMap;

use ssl_data::augment::*;
use ssl_data::colorspace::ColorSpace;
use ssl_data::{ImageF32, ImageRef, Shape};

fn load() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/torchvision.json")).unwrap()
}

fn image(v: &serde_json::Value) -> ImageF32 {
    let s: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let data = v["data"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as f32 / 255.0).collect();
    ImageF32 { shape: Shape { channels: s[0], height: s[1], width: s[2] }, data }
}

#[test]
fn every_op_matches_torchvision_within_one_level() {
    let fx = load();
    let images: BTreeMap<String, ImageF32> = fx["images"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), image(v))).collect();
    let mut worst: BTreeMap<String, f32> = BTreeMap::new();
    for case in fx["cases"].as_array().unwrap() {
        let op = case["op"].as_str().unwrap();
        let p = &case["params"];
        let f = |k: &str| p[k].as_f64().unwrap() as f32;
        let u = |k: &str| p[k].as_u64().unwrap() as usize;
        let mut img = images[case["image"].as_str().unwrap()].clone();
        let out = match op {
            "resized_crop" => resized_crop(&img, CropBox { top: u("top"), left: u("left"), height: u("height"), width: u("width") }, u("out_h"), u("out_w")),
            "hflip" => {
                hflip(&mut img);
                img
            }
            "brightness" => {
                adjust_brightness(&mut img, f("factor"));
                img
            }
            "contrast" => {
                adjust_contrast(&mut img, f("factor"));
                img
            }
            "saturation" => {
                adjust_saturation(&mut img, f("factor"));
                img
            }
            "hue" => {
                adjust_hue(&mut img, f("shift"));
                img
            }
            "grayscale" => {
                grayscale(&mut img);
                img
            }
            "gaussian_blur" => {
                gaussian_blur(&mut img, u("kernel"), f("sigma"));
                img
            }
            "solarize" => {
                solarize(&mut img, f("threshold"));
                img
            }
            "rot90" => rot90(&img, u("k")),
            "erase" => {
                erase(&mut img, u("top"), u("left"), u("height"), u("width"), f("value"));
                img
            }
            "normalize" => {
                let v = |k: &str| p[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
                normalize(&mut img, &v("mean"), &v("std"));
                img
            }
            "sobel" => sobel(&img),
            other => panic!("unknown op {other}"),
        };
        let shape: Vec<usize> = case["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        assert_eq!(vec![out.shape.channels, out.shape.height, out.shape.width], shape, "{op} {p}");
        let expect: Vec<f32> = case["output"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let diff = out.data.iter().zip(&expect).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let e = worst.entry(op.to_string()).or_insert(0.0);
        *e = e.max(diff);
        if op == "resized_crop" {
            // The pipelines' path: straight from the u8 source (HWC), plain and mirrored.
            let source = &images[case["image"].as_str().unwrap()];
            let src = source.to_u8_hwc();
            let src = ImageRef { shape: source.shape, data: &src };
            let bx = CropBox { top: u("top"), left: u("left"), height: u("height"), width: u("width") };
            for mirror in [false, true] {
                let got = resized_crop_u8(src, bx, u("out_h"), u("out_w"), mirror);
                let mut want = ImageF32 { shape: out.shape, data: expect.clone() };
                if mirror {
                    hflip(&mut want);
                }
                let d = got.data.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(got.shape == out.shape && d <= 1e-5, "resized_crop_u8 (mirror {mirror}) with {p}: max diff {d}");
            }
        }
        // The issue asks for 1/255; every op is in fact exact up to the fixture's 6-decimal rounding.
        assert!(diff <= 1e-5, "{op} on {} with {p}: max |rust − torchvision| = {diff}", case["image"]);
    }
    for (op, d) in &worst {
        println!("{op:<14} worst |rust − torchvision| = {d:.2e}");
    }
    assert_eq!(worst.len(), 13);
    assert!(worst.values().all(|&d| d <= 1.0 / 255.0));
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// skimage's studio-range YCbCr (0–255 scale) to this crate's JPEG full range and back.
fn studio_to_full(c: usize, v: f32) -> f32 {
    if c == 0 {
        (v - 16.0) / 219.0
    } else {
        (v - 128.0) / 224.0 + 0.5
    }
}

#[test]
fn every_colour_space_matches_skimage() {
    let fx = load();
    let rgb = image(&fx["images"]["rgb"]);
    let n = rgb.shape.height * rgb.shape.width;
    let mut worst: BTreeMap<String, f32> = BTreeMap::new();
    let cases = fx["colorspace"].as_array().unwrap();
    if cases.is_empty() {
        // make_fixtures.py ran without scikit-image and had no earlier cases to keep.
        println!("no colour-space cases in the fixture file: skipped");
        return;
    }
    for case in cases {
        let name = case["space"].as_str().unwrap();
        let dir = case["dir"].as_str().unwrap();
        let expect = floats(&case["output"]);
        if name == "ycbcr_pil" {
            // PIL converts u8 to u8 with fixed-point arithmetic: within one level.
            let ours = ColorSpace::Ycbcr.from_rgb(&rgb).unwrap();
            let d = ours.data.iter().zip(&expect).map(|(a, b)| (a * 255.0 - b).abs()).fold(0f32, f32::max);
            worst.insert("ycbcr vs PIL (levels)".into(), d);
            assert!(d <= 1.0, "YCbCr vs PIL: {d} levels");
            continue;
        }
        let space: ColorSpace = serde_json::from_value(serde_json::Value::String(name.into())).unwrap();
        let (ours, expect) = match dir {
            "from_rgb" => {
                let mut expect = expect;
                if space == ColorSpace::Ycbcr {
                    for (i, v) in expect.iter_mut().enumerate() {
                        *v = studio_to_full(i / n, *v);
                    }
                }
                (space.from_rgb(&rgb).unwrap(), expect)
            }
            "to_rgb" => {
                let mut input = floats(&case["input"]);
                if space == ColorSpace::Ycbcr {
                    for (i, v) in input.iter_mut().enumerate() {
                        *v = studio_to_full(i / n, *v);
                    }
                }
                (space.to_rgb(&ImageF32 { shape: rgb.shape, data: input }).unwrap(), expect)
            }
            other => panic!("unknown direction {other}"),
        };
        assert_eq!(ours.data.len(), expect.len());
        let mut d_abs = 0f32;
        for (i, (a, b)) in ours.data.iter().zip(&expect).enumerate() {
            let d = (a - b).abs();
            d_abs = d_abs.max(d);
            assert!(d <= 1e-5 * b.abs().max(1.0), "{name} {dir}: value {i}: rust {a} vs skimage {b}");
        }
        worst.insert(format!("{name} {dir}"), d_abs);
    }
    for (k, d) in &worst {
        println!("{k:<22} worst |rust − reference| = {d:.2e}");
    }
    assert_eq!(worst.len(), 13);
}
