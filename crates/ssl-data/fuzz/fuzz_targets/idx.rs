#![no_main]
//! Any bytes as an idx file (plain): an error or a well-formed array, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = ssl_data::idx::parse_idx(data, std::path::Path::new("fuzz.idx")) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
});
