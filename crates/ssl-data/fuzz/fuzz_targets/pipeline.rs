#![no_main]
//! Any text as a TOML view pipeline: parse, check against a 3x20x24 image, run if valid.
use libfuzzer_sys::fuzz_target;
use ssl_data::{make_batch, InMemoryDataset, Shape};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = toml::from_str::<ssl_data::pipeline::Pipeline>(text) else { return };
    let shape = Shape { channels: 3, height: 20, width: 24 };
    if let Ok(out) = p.checked_shape(shape) {
        if out.len() > 1 << 20 {
            return; // a huge crop is valid but slow; not what this target looks for
        }
        let ds = InMemoryDataset::new(shape, vec![128; shape.len()], None).unwrap();
        let b = make_batch(&ds, &p, &[0], 2, 0, 0);
        assert_eq!(b.data.len(), 2 * out.len());
    }
});
