#![no_main]
//! Any bytes as a CIFAR-10 or CIFAR-100 binary file: an error or whole records, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.bin");
    for (label_bytes, index, classes) in [(1, 0, 10), (2, 1, 100), (2, 0, 20)] {
        let (mut px, mut labels) = (Vec::new(), Vec::new());
        if ssl_data::cifar::parse_cifar(data, path, label_bytes, index, classes, &mut px, &mut labels).is_ok() {
            assert_eq!(px.len(), labels.len() * 3072);
        }
    }
});
