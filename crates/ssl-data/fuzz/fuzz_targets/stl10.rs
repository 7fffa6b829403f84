#![no_main]
//! Any bytes as an STL-10 `_X.bin` image file and as a `_y.bin` label file: an error or whole
//! 96x96x3 images / labels in 0..10, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.bin");
    if let Ok(px) = ssl_data::stl10::parse_stl10_images(data, path) {
        assert_eq!(px.len(), data.len());
        assert_eq!(px.len() % ssl_data::stl10::IMAGE_BYTES, 0);
    }
    if let Ok(labels) = ssl_data::stl10::parse_stl10_labels(data, path) {
        assert_eq!(labels.len(), data.len());
        assert!(labels.iter().all(|&l| l < 10));
    }
});
