#![no_main]
//! Any bytes as a `.npy` file: header, `uint8` images and integer labels (ssl-data's dataset
//! layer) and `uint8` arrays and float matrices (ssl-io, where the parser lives) each an error or
//! a consistent array, never a panic.
use libfuzzer_sys::fuzz_target;
use ssl_data::npy::{parse_npy_header, parse_npy_images, parse_npy_labels, NpyKind};
use ssl_io::npy::{parse_matrix, parse_u8};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.npy");
    if let Ok(h) = parse_npy_header(data, path) {
        assert!(h.data_offset <= data.len());
        if h.kind != NpyKind::Other {
            assert_eq!(data.len() - h.data_offset, h.count() * h.item_size);
        }
    }
    if let Ok((shape, px)) = parse_npy_images(data, path) {
        assert!(!shape.is_empty() && !px.is_empty() && px.len() % shape.len() == 0);
    }
    if let Ok(labels) = parse_npy_labels(data, path) {
        assert!(labels.len() <= data.len());
    }
    if let Ok(a) = parse_u8(data, path) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
    if let Ok(m) = parse_matrix(data, path) {
        assert_eq!(m.data.len(), m.rows * m.cols);
    }
});
