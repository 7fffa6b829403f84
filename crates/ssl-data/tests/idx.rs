//! The idx reader: round trip through plain and gzip files, and every kind of bad file.

use std::io::Write;

use ssl_data::idx::{load_images_labels, parse_idx, read_idx};
use ssl_data::Dataset;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn reads_plain_and_gz_images_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..3 * 2 * 4).map(|i| i as u8 * 5).collect();
    std::fs::write(dir.path().join("img"), idx_bytes(&[3, 2, 4], &pixels)).unwrap();
    std::fs::write(dir.path().join("lab.gz"), gz(&idx_bytes(&[3], &[7, 0, 9]))).unwrap();
    let ds = load_images_labels(dir.path().join("img"), dir.path().join("lab.gz")).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!((ds.shape().height, ds.shape().width, ds.shape().channels), (2, 4, 1));
    assert_eq!(ds.image(1).data, &pixels[8..16]);
    assert_eq!(ds.label(2), Some(9));
    assert_eq!(ds.num_classes(), Some(10));
}

#[test]
fn rejects_bad_magic_truncation_and_trailing_bytes() {
    let p = std::path::Path::new("x.idx");
    let err = parse_idx(&[0, 0, 9, 1, 0, 0, 0, 1, 5], p).unwrap_err().to_string();
    assert!(err.contains("x.idx") && err.contains("magic"), "{err}");
    let err = parse_idx(&idx_bytes(&[4], &[1, 2, 3]), p).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    let err = parse_idx(&idx_bytes(&[2], &[1, 2, 3]), p).unwrap_err().to_string();
    assert!(err.contains("trailing"), "{err}");
    let err = parse_idx(&[0, 0, 8, 3, 0, 0], p).unwrap_err().to_string();
    assert!(err.contains("truncated header"), "{err}");
    let err = parse_idx(&[0, 0], p).unwrap_err().to_string();
    assert!(err.contains("too short"), "{err}");
}

#[test]
fn rejects_corrupt_gzip_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = gz(&idx_bytes(&[3], &[1, 2, 3]));
    g.truncate(g.len() / 2);
    let path = dir.path().join("cut.gz");
    std::fs::write(&path, g).unwrap();
    let err = read_idx(&path).unwrap_err().to_string();
    assert!(err.contains("cut.gz") && err.contains("gzip"), "{err}");
    let err = read_idx(dir.path().join("absent")).unwrap_err().to_string();
    assert!(err.contains("absent") && err.contains("cannot read"), "{err}");
}

#[test]
fn rejects_label_count_mismatch_and_wrong_rank() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img"), idx_bytes(&[2, 1, 1], &[1, 2])).unwrap();
    std::fs::write(dir.path().join("lab"), idx_bytes(&[3], &[1, 2, 3])).unwrap();
    let err = load_images_labels(dir.path().join("img"), dir.path().join("lab")).unwrap_err().to_string();
    assert!(err.contains("2 images") && err.contains("3 labels"), "{err}");
    let err = load_images_labels(dir.path().join("lab"), dir.path().join("lab")).unwrap_err().to_string();
    assert!(err.contains("expected 3 dimensions"), "{err}");
}
