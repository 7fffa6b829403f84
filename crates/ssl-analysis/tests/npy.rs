//! `.npy` round trips and bad files (hand-written headers, as numpy writes them).

use ndarray::array;
use ssl_analysis::npy::{read_labels, read_matrix, write_labels, write_matrix};

fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn round_trip_and_f64_input() {
    let dir = tempfile::tempdir().unwrap();
    let x = array![[1.0f32, 2.0], [3.0, 4.5]];
    write_matrix(dir.path().join("x.npy"), &x).unwrap();
    assert_eq!(read_matrix(dir.path().join("x.npy")).unwrap(), x);
    write_labels(dir.path().join("y.npy"), &[3, 1, 4]).unwrap();
    assert_eq!(read_labels(dir.path().join("y.npy")).unwrap(), vec![3, 1, 4]);
    let payload: Vec<u8> = [1.5f64, -2.0, 0.25].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.path().join("f64.npy"), npy("<f8", "(3, 1)", &payload)).unwrap();
    assert_eq!(read_matrix(dir.path().join("f64.npy")).unwrap(), array![[1.5f32], [-2.0], [0.25]]);
}

#[test]
fn wrong_rank_garbage_and_missing_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let one_d = dir.path().join("one_d.npy");
    std::fs::write(&one_d, npy("<f4", "(3,)", &payload)).unwrap();
    let e = read_matrix(&one_d).unwrap_err().to_string();
    assert!(e.contains("one_d.npy") && e.contains("2-D"), "{e}");
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"not numpy at all").unwrap();
    let e = read_matrix(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.npy"), "{e}");
    let e = read_matrix(dir.path().join("absent.npy")).unwrap_err().to_string();
    assert!(e.contains("absent.npy") && e.contains("cannot open"), "{e}");
    let floats = dir.path().join("float_labels.npy");
    std::fs::write(&floats, npy("<f4", "(3,)", &payload)).unwrap();
    let e = read_labels(&floats).unwrap_err().to_string();
    assert!(e.contains("integer"), "{e}");
}
