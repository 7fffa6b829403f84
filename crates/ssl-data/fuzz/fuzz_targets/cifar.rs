#![no_main]
//! Any bytes as a CIFAR-10 or CIFAR-100 binary file: an error or whole records, never a panic.
//! The bytes are tried as given (length checks) and zero-padded to whole records (label checks
//! and the CHW → HWC conversion), since libFuzzer's inputs are rarely an exact multiple of 3073.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.bin");
    for (label_bytes, index, classes) in [(1, 0, 10), (2, 1, 100), (2, 0, 20)] {
        let record = label_bytes + 3072;
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(record).max(1) * record, 0);
        for bytes in [data, &padded[..]] {
            let (mut px, mut labels) = (Vec::new(), Vec::new());
            if ssl_data::cifar::parse_cifar(bytes, path, label_bytes, index, classes, &mut px, &mut labels).is_ok() {
                assert_eq!(px.len(), labels.len() * 3072);
                assert_eq!(labels.len() * record, bytes.len());
                assert!(labels.iter().all(|&l| l < classes));
            }
        }
    }
});
