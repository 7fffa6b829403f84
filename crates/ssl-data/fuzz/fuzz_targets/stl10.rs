#![no_main]
//! Any bytes as an STL-10 `_X.bin` image file and as a `_y.bin` label file: an error or whole
//! 96x96x3 images / labels in 0..10, never a panic. The bytes are also tried zero-padded to whole
//! images, so that the column-major → HWC conversion runs on short fuzz inputs too.
use libfuzzer_sys::fuzz_target;
use ssl_data::stl10::{parse_stl10_images, parse_stl10_labels, IMAGE_BYTES};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.bin");
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(IMAGE_BYTES).max(1) * IMAGE_BYTES, 0);
    for bytes in [data, &padded[..]] {
        if let Ok(px) = parse_stl10_images(bytes, path) {
            assert_eq!(px.len(), bytes.len());
            assert_eq!(px.len() % IMAGE_BYTES, 0);
            // Pixel (y = 0, x = 1), channel 0 is byte 96 of the file (column-major plane).
            assert_eq!(px[3], bytes[96]);
        }
    }
    if let Ok(labels) = parse_stl10_labels(data, path) {
        assert_eq!(labels.len(), data.len());
        assert!(labels.iter().all(|&l| l < 10));
    }
});
