//! CIFAR binary files built byte by byte: layout, labels, and bad files.

use ssl_data::cifar::{cifar10, cifar100, Cifar100Labels};
use ssl_data::{Dataset, Split};

fn record(label: &[u8], seed: u8) -> Vec<u8> {
    let mut r = label.to_vec();
    r.extend((0..3072).map(|i| (i as u32 * 7 + seed as u32) as u8));
    r
}

#[test]
fn cifar10_layout_and_labels() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&d).unwrap();
    for i in 1..=5u8 {
        let mut bytes = record(&[i], i);
        bytes.extend(record(&[9], 100 + i));
        std::fs::write(d.join(format!("data_batch_{i}.bin")), bytes).unwrap();
    }
    std::fs::write(d.join("test_batch.bin"), record(&[3], 0)).unwrap();
    let train = cifar10(t.path(), Split::Train).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!((0..10).map(|i| train.label(i).unwrap()).collect::<Vec<_>>(), vec![1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    let test = cifar10(&d, Split::Test).unwrap();
    let img = test.image(0);
    assert_eq!((img.shape.channels, img.shape.height, img.shape.width), (3, 32, 32));
    // Pixel (y = 1, x = 2), channel c comes from byte c·1024 + 1·32 + 2 of the planes.
    for c in 0..3 {
        let src = c * 1024 + 32 + 2;
        assert_eq!(img.data[(32 + 2) * 3 + c], (src as u32 * 7) as u8);
    }
}

#[test]
fn cifar100_fine_and_coarse() {
    let t = tempfile::tempdir().unwrap();
    let mut bytes = record(&[4, 42], 1);
    bytes.extend(record(&[19, 99], 2));
    std::fs::write(t.path().join("train.bin"), &bytes).unwrap();
    let fine = cifar100(t.path(), Split::Train, Cifar100Labels::default()).unwrap();
    assert_eq!((fine.label(0), fine.label(1)), (Some(42), Some(99)));
    let coarse = cifar100(t.path(), Split::Train, Cifar100Labels::Coarse).unwrap();
    assert_eq!((coarse.label(0), coarse.label(1)), (Some(4), Some(19)));
}

#[test]
fn bad_files_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("test_batch.bin"), &record(&[1], 0)[..3000]).unwrap();
    let e = cifar10(t.path(), Split::Test).unwrap_err().to_string();
    assert!(e.contains("test_batch.bin") && e.contains("3000 bytes"), "{e}");
    std::fs::write(t.path().join("test_batch.bin"), record(&[10], 0)).unwrap();
    let e = cifar10(t.path(), Split::Test).unwrap_err().to_string();
    assert!(e.contains("label 10"), "{e}");
    let e = cifar10(t.path(), Split::Train).unwrap_err().to_string();
    assert!(e.contains("data_batch_1.bin"), "{e}");
    std::fs::write(t.path().join("test.bin"), record(&[1, 100], 0)).unwrap();
    assert!(cifar100(t.path(), Split::Test, Cifar100Labels::Fine).unwrap_err().to_string().contains("label 100"));
}
