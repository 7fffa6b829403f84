//! Every augmentation op against torchvision 0.26 (`torchvision.transforms.v2.functional`) on
//! the same inputs and parameters (`fixtures/torchvision.json`, from `scripts/make_fixtures.py`):
//! maximum absolute difference within 1e-5 (the issue asks 1/255).

use std::collections::BTreeMap;

use ssl_data::augment::*;
use ssl_data::{ImageF32, Shape};

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
            "resized_crop" => {
                resized_crop(&img, CropBox { top: u("top"), left: u("left"), height: u("height"), width: u("width") }, u("out_h"), u("out_w"))
            }
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
        // The issue asks for 1/255; every op is in fact exact up to the fixture's 6-decimal rounding.
        assert!(diff <= 1e-5, "{op} on {} with {p}: max |rust − torchvision| = {diff}", case["image"]);
    }
    for (op, d) in &worst {
        println!("{op:<14} worst |rust − torchvision| = {d:.2e}");
    }
    assert_eq!(worst.len(), 13);
}
