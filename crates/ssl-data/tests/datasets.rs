//! Every dataset loader on small files written byte by byte in the exact on-disk format: HWC
//! layout, labels and lengths; bad files (each error names the file); and garbled bytes fed to
//! every pure parser, which must return an error rather than panic.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ssl_data::cifar::{cifar10, cifar100, parse_cifar, Cifar100Labels};
use ssl_data::folder::{decode_image, image_folder, scan_folder, FolderOptions};
use ssl_data::idx::parse_idx;
use ssl_data::npy::{npy_images, npy_images_labels, parse_npy_header, parse_npy_images, parse_npy_labels};
use ssl_data::stl10::{parse_stl10_images, parse_stl10_labels, stl10, Stl10Split, IMAGE_BYTES};
use ssl_data::{DataError, Dataset, InMemoryDataset, Split};

fn err_text<T: std::fmt::Debug>(r: Result<T, DataError>) -> String {
    r.expect_err("expected an error").to_string()
}

/// Asserts that an error message names `file` and contains every one of `words`.
#[track_caller]
fn assert_names(e: &str, file: &str, words: &[&str]) {
    assert!(e.contains(file), "error does not name {file}: {e}");
    for w in words {
        assert!(e.contains(w), "error lacks {w:?}: {e}");
    }
}

/// (y, x, c) of image `i` in a dataset, HWC.
fn px(ds: &InMemoryDataset, i: usize, y: usize, x: usize, c: usize) -> u8 {
    let img = ds.image(i);
    img.data[(y * img.shape.width + x) * img.shape.channels + c]
}

// ---------------------------------------------------------------- CIFAR

/// A CIFAR record: label bytes, then planes where byte `k` is `k * 7 + seed`.
fn cifar_record(labels: &[u8], seed: u8) -> Vec<u8> {
    let mut r = labels.to_vec();
    r.extend((0..3072u32).map(|k| (k * 7 + u32::from(seed)) as u8));
    r
}

#[test]
fn cifar_pure_parser_layout() {
    let mut bytes = cifar_record(&[3], 0);
    bytes.extend(cifar_record(&[7], 5));
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    parse_cifar(&bytes, Path::new("b.bin"), 1, 0, 10, &mut pixels, &mut labels).unwrap();
    assert_eq!(labels, vec![3, 7]);
    assert_eq!(pixels.len(), 2 * 3072);
    for (i, seed) in [(0usize, 0u32), (1, 5)] {
        for (y, x, c) in [(1usize, 2usize, 0usize), (0, 0, 2), (31, 31, 1), (5, 17, 2)] {
            // Pixel (y, x), channel c is byte c·1024 + y·32 + x of the record's planes.
            let src = (c * 1024 + y * 32 + x) as u32;
            assert_eq!(pixels[i * 3072 + (y * 32 + x) * 3 + c], (src * 7 + seed) as u8, "image {i} ({y},{x},{c})");
        }
    }
    // A label_index outside the record is a parameter error, not a panic.
    let e = err_text(parse_cifar(&bytes, Path::new("b.bin"), 0, 0, 10, &mut pixels, &mut labels));
    assert!(e.contains("label_index"), "{e}");
}

#[test]
fn cifar_folders_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let inner = t.path().join("cifar-100-binary");
    std::fs::create_dir(&inner).unwrap();
    let mut bytes = cifar_record(&[19, 0], 1);
    bytes.extend(cifar_record(&[0, 99], 2));
    std::fs::write(inner.join("test.bin"), &bytes).unwrap();
    for dir in [t.path(), inner.as_path()] {
        let fine = cifar100(dir, Split::Test, Cifar100Labels::Fine).unwrap();
        assert_eq!(fine.labels(), Some(&[0, 99][..]));
        let coarse = cifar100(dir, Split::Test, Cifar100Labels::Coarse).unwrap();
        assert_eq!(coarse.labels(), Some(&[19, 0][..]));
        assert_eq!(px(&coarse, 1, 1, 2, 0), ((32 + 2) * 7 + 2) as u8);
    }
    // Coarse label 20 is out of range; fine label 100 too.
    std::fs::write(inner.join("train.bin"), cifar_record(&[20, 5], 0)).unwrap();
    let e = err_text(cifar100(t.path(), Split::Train, Cifar100Labels::Coarse));
    assert_names(&e, "train.bin", &["label 20", "0..20"]);
    assert!(cifar100(t.path(), Split::Train, Cifar100Labels::Fine).is_ok());
    // Truncated: the message gives both sizes.
    std::fs::write(inner.join("train.bin"), &bytes[..3074 + 100]).unwrap();
    let e = err_text(cifar100(t.path(), Split::Train, Cifar100Labels::Fine));
    assert_names(&e, "train.bin", &["3174 bytes", "3074-byte records"]);
    // Missing CIFAR-10 files; an empty one.
    let e = err_text(cifar10(t.path(), Split::Test));
    assert_names(&e, "test_batch.bin", &["cannot read"]);
    std::fs::write(t.path().join("test_batch.bin"), b"").unwrap();
    assert_names(&err_text(cifar10(t.path(), Split::Test)), "test_batch.bin", &["empty"]);
}

// ---------------------------------------------------------------- STL-10

/// Value of raw byte (image i, channel c, column x, row y) in the STL-10 files we write.
fn stl_value(i: usize, c: usize, x: usize, y: usize) -> u8 {
    (i * 41 + c * 101 + x * 7 + y * 3) as u8
}

/// `n` STL-10 images in the file layout: planes R, G, B, each column-major (byte x·96 + y).
fn stl_images(n: usize, first: usize) -> Vec<u8> {
    let mut out = vec![0u8; n * IMAGE_BYTES];
    for i in 0..n {
        for c in 0..3 {
            for x in 0..96 {
                for y in 0..96 {
                    out[i * IMAGE_BYTES + c * 9216 + x * 96 + y] = stl_value(first + i, c, x, y);
                }
            }
        }
    }
    out
}

#[test]
fn stl10_layout_is_column_major_planes() {
    let raw = stl_images(2, 0);
    let hwc = parse_stl10_images(&raw, Path::new("train_X.bin")).unwrap();
    assert_eq!(hwc.len(), 2 * IMAGE_BYTES);
    // Pixel (y = 1, x = 2), channel 0 comes from byte 0·9216 + 2·96 + 1 (numpy's transpose(0, 3, 2, 1)).
    assert_eq!(hwc[(96 + 2) * 3], raw[2 * 96 + 1]);
    assert_ne!(raw[2 * 96 + 1], raw[96 + 2], "the test must tell rows from columns");
    for i in 0..2 {
        for y in 0..96 {
            for x in 0..96 {
                for c in 0..3 {
                    assert_eq!(hwc[i * IMAGE_BYTES + (y * 96 + x) * 3 + c], stl_value(i, c, x, y));
                }
            }
        }
    }
    assert_eq!(parse_stl10_labels(&[1, 10, 5], Path::new("y.bin")).unwrap(), vec![0, 9, 4]);
}

#[test]
fn stl10_splits() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("stl10_binary");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("train_X.bin"), stl_images(2, 0)).unwrap();
    std::fs::write(d.join("train_y.bin"), [1u8, 10]).unwrap();
    std::fs::write(d.join("test_X.bin"), stl_images(1, 7)).unwrap();
    std::fs::write(d.join("test_y.bin"), [4u8]).unwrap();
    std::fs::write(d.join("unlabeled_X.bin"), stl_images(3, 2)).unwrap();

    let train = stl10(t.path(), Stl10Split::Train).unwrap();
    assert_eq!((train.len(), train.labels()), (2, Some(&[0, 9][..])));
    let s = train.shape();
    assert_eq!((s.height, s.width, s.channels), (96, 96, 3));
    assert_eq!(px(&train, 1, 1, 2, 0), stl_value(1, 0, 2, 1));
    let test = stl10(&d, Stl10Split::Test).unwrap();
    assert_eq!((test.len(), test.label(0)), (1, Some(3)));
    assert_eq!(px(&test, 0, 50, 3, 2), stl_value(7, 2, 3, 50));
    let unl = stl10(&d, Stl10Split::Unlabeled).unwrap();
    assert_eq!((unl.len(), unl.label(0), unl.num_classes()), (3, None, None));
    assert_eq!(px(&unl, 2, 95, 0, 1), stl_value(4, 1, 0, 95));
    let both = stl10(t.path(), Stl10Split::TrainUnlabeled).unwrap();
    assert_eq!((both.len(), both.labels()), (5, None));
    assert_eq!(both.image(1).data, train.image(1).data, "train images come first");
    assert_eq!(both.image(2).data, unl.image(0).data);
}

#[test]
fn stl10_bad_files() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Truncated images.
    std::fs::write(d.join("train_X.bin"), &stl_images(2, 0)[..IMAGE_BYTES + 10]).unwrap();
    std::fs::write(d.join("train_y.bin"), [1u8, 2]).unwrap();
    assert_names(&err_text(stl10(d, Stl10Split::Train)), "train_X.bin", &["27658 bytes", "27648-byte images"]);
    // Labels 0 and 11 are out of range.
    std::fs::write(d.join("train_X.bin"), stl_images(2, 0)).unwrap();
    std::fs::write(d.join("train_y.bin"), [1u8, 0]).unwrap();
    assert_names(&err_text(stl10(d, Stl10Split::Train)), "train_y.bin", &["label 1 is 0", "1..=10"]);
    assert_names(&err_text(parse_stl10_labels(&[11], Path::new("test_y.bin"))), "test_y.bin", &["is 11"]);
    // Count mismatch names both files.
    std::fs::write(d.join("train_y.bin"), [1u8, 2, 3]).unwrap();
    let e = err_text(stl10(d, Stl10Split::Train));
    assert_names(&e, "train_X.bin", &["train_y.bin", "2 images", "3 labels"]);
    // Missing files.
    assert_names(&err_text(stl10(d, Stl10Split::Test)), "test_X.bin", &["cannot read"]);
    assert_names(&err_text(stl10(d, Stl10Split::TrainUnlabeled)), "unlabeled_X.bin", &["cannot read"]);
    assert_names(&err_text(parse_stl10_images(&[], Path::new("e_X.bin"))), "e_X.bin", &["empty"]);
}

// ---------------------------------------------------------------- ImageFolder

/// An RGB image whose pixel (y, x) is `(base + 10y + x, 2·(10y + x), 255 - base)`.
fn rgb(w: u32, h: u32, base: u8) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = (10 * y + x) as u8;
        image::Rgb([base.wrapping_add(v), v.wrapping_mul(2), 255 - base])
    })
}

fn ppm(img: &image::RgbImage) -> Vec<u8> {
    let mut out = format!("P6\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    out.extend_from_slice(img.as_raw());
    out
}

#[test]
fn image_folder_classes_layout_and_order() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for class in ["dog", "cat", "Zebra", "cat/more", ".hidden_class"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    rgb(4, 3, 10).save(root.join("cat/b.png")).unwrap();
    rgb(4, 3, 20).save(root.join("cat/A.PNG")).unwrap(); // upper-case extension
    rgb(4, 3, 30).save(root.join("cat/more/c.bmp")).unwrap(); // nested: after cat's own files
    std::fs::write(root.join("dog/d.ppm"), ppm(&rgb(4, 3, 40))).unwrap();
    rgb(4, 3, 50).save(root.join("Zebra/z.png")).unwrap();
    std::fs::write(root.join("cat/notes.txt"), b"not an image").unwrap();
    std::fs::write(root.join("cat/.hidden.png"), b"garbage that would fail to decode").unwrap();
    std::fs::write(root.join(".hidden_class/x.png"), b"garbage").unwrap();

    let listing = scan_folder(root).unwrap();
    // Code point order, like torchvision's sorted(): upper case first.
    assert_eq!(listing.classes.as_deref(), Some(&["Zebra".to_string(), "cat".into(), "dog".into()][..]));
    let names: Vec<String> = listing.files.iter().map(|f| f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/")).collect();
    assert_eq!(names, ["Zebra/z.png", "cat/A.PNG", "cat/b.png", "cat/more/c.bmp", "dog/d.ppm"]);

    let ds = image_folder(root, &FolderOptions::default()).unwrap();
    assert_eq!(ds.len(), 5);
    assert_eq!(ds.labels(), Some(&[0, 1, 1, 1, 2][..]));
    assert_eq!(ds.num_classes(), Some(3));
    let s = ds.shape();
    assert_eq!((s.height, s.width, s.channels), (3, 4, 3));
    for (i, base) in [50u8, 20, 10, 30, 40].into_iter().enumerate() {
        // Pixel (y = 1, x = 2): R = base + 12, G = 24, B = 255 - base.
        assert_eq!([px(&ds, i, 1, 2, 0), px(&ds, i, 1, 2, 1), px(&ds, i, 1, 2, 2)], [base + 12, 24, 255 - base]);
        assert_eq!(ds.image(i).data, rgb(4, 3, base).as_raw().as_slice(), "image {i}");
    }

    // Grey, with PIL's convert("L") weights.
    let grey = image_folder(root, &FolderOptions { channels: 1, ..Default::default() }).unwrap();
    assert_eq!(grey.shape().channels, 1);
    let (r, g, b) = (50u32 + 12, 24u32, 255u32 - 50);
    assert_eq!(px(&grey, 0, 1, 2, 0), ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8);

    // Resize to (height, width) = (6, 5).
    let big = image_folder(root, &FolderOptions { resize: Some((6, 5)), channels: 3 }).unwrap();
    let s = big.shape();
    assert_eq!((big.len(), s.height, s.width, s.channels), (5, 6, 5, 3));
}

/// A symbolic link out of a class folder (into another class) or a second link to one image is
/// skipped and reported, never loaded again under the wrong label; a link within the class is
/// followed (torchvision's followlinks=True).
#[cfg(unix)]
#[test]
fn image_folder_links_out_of_a_class_are_skipped() {
    use std::os::unix::fs::symlink;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("data");
    for class in ["a", "b", "b/inner"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    rgb(4, 3, 10).save(root.join("a/x.png")).unwrap();
    rgb(4, 3, 20).save(root.join("a/y.png")).unwrap();
    rgb(4, 3, 30).save(root.join("b/z.png")).unwrap();
    symlink(root.join("a"), root.join("b/into_a")).unwrap(); // a folder link into class a
    symlink(root.join("a/x.png"), root.join("b/x_again.png")).unwrap(); // a file link into class a
    symlink(root.join("b/z.png"), root.join("b/inner/z_again.png")).unwrap(); // a second link to z
    let outside = t.path().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    rgb(4, 3, 40).save(outside.join("w.png")).unwrap();
    symlink(outside.join("w.png"), root.join("b/w.png")).unwrap(); // out of the dataset: skipped too
    let listing = scan_folder(&root).unwrap();
    let names: Vec<String> = listing.files.iter().map(|f| f.strip_prefix(&root).unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["a/x.png", "a/y.png", "b/z.png"]);
    assert_eq!(listing.labels.as_deref(), Some(&[0, 0, 1][..]));
    let mut skipped: Vec<String> = listing.skipped.iter().map(|f| f.strip_prefix(&root).unwrap().to_string_lossy().into_owned()).collect();
    skipped.sort();
    assert_eq!(skipped, ["b/inner/z_again.png", "b/into_a/x.png", "b/into_a/y.png", "b/w.png", "b/x_again.png"]);
    assert_eq!(image_folder(&root, &FolderOptions::default()).unwrap().len(), 3);
}

#[test]
fn image_folder_flat_jpeg_and_grey_sources() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // A flat JPEG of one flat colour (JPEG is lossy; a flat colour survives almost exactly).
    image::RgbImage::from_pixel(16, 8, image::Rgb([200, 100, 50])).save(root.join("a.jpg")).unwrap();
    image::GrayImage::from_fn(16, 8, |x, y| image::Luma([(x + 16 * y) as u8])).save(root.join("b.png")).unwrap();
    std::fs::write(root.join("c.pgm"), {
        let mut v = b"P5\n16 8\n255\n".to_vec();
        v.extend((0..128u32).map(|i| (255 - i) as u8));
        v
    })
    .unwrap();
    let ds = image_folder(root, &FolderOptions::default()).unwrap();
    assert_eq!((ds.len(), ds.labels(), ds.num_classes()), (3, None, None));
    let jpg = &ds.image(0).data[(8 + 3) * 3..(8 + 3) * 3 + 3];
    assert!(jpg.iter().zip([200u8, 100, 50]).all(|(&a, b)| a.abs_diff(b) <= 3), "{jpg:?}");
    // Grey sources are repeated into three channels; as grey they are kept exactly.
    assert_eq!([px(&ds, 1, 1, 2, 0), px(&ds, 1, 1, 2, 1), px(&ds, 1, 1, 2, 2)], [18, 18, 18]);
    let grey = image_folder(root, &FolderOptions { channels: 1, resize: None }).unwrap();
    assert_eq!((px(&grey, 1, 1, 2, 0), px(&grey, 2, 1, 2, 0)), (18, 255 - 18));
}

#[test]
fn image_folder_errors_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // Empty folder (hidden files and non-images do not count).
    std::fs::write(root.join(".DS_Store"), b"x").unwrap();
    std::fs::write(root.join("readme.txt"), b"x").unwrap();
    let e = err_text(image_folder(root, &FolderOptions::default()));
    assert_names(&e, &root.display().to_string(), &["empty folder"]);
    // Mismatched sizes: the first file that differs is named.
    rgb(4, 3, 0).save(root.join("a.png")).unwrap();
    rgb(5, 3, 0).save(root.join("b.png")).unwrap();
    rgb(6, 6, 0).save(root.join("c.png")).unwrap();
    let e = err_text(image_folder(root, &FolderOptions::default()));
    assert_names(&e, "b.png", &["5x3", "a.png", "4x3", "resize"]);
    assert!(!e.contains("c.png"), "{e}");
    // ... unless resized.
    assert_eq!(image_folder(root, &FolderOptions { resize: Some((2, 2)), channels: 3 }).unwrap().len(), 3);
    // Undecodable: garbage, and a PNG cut short.
    let png = std::fs::read(root.join("a.png")).unwrap();
    std::fs::write(root.join("b.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(root.join("c.png"), b"this is not an image").unwrap();
    let e = err_text(image_folder(root, &FolderOptions { resize: Some((2, 2)), channels: 3 }));
    assert_names(&e, "b.png", &["cannot decode"]);
    std::fs::remove_file(root.join("b.png")).unwrap();
    let e = err_text(image_folder(root, &FolderOptions::default()));
    assert_names(&e, "c.png", &["not a PNG, JPEG, BMP or PNM image"]);
    // A class folder without images; a root mixing images and class folders.
    let classes = root.join("classes");
    std::fs::create_dir_all(classes.join("cat")).unwrap();
    std::fs::create_dir_all(classes.join("dog")).unwrap();
    rgb(4, 3, 0).save(classes.join("cat/x.png")).unwrap();
    std::fs::write(classes.join("dog/notes.txt"), b"x").unwrap();
    let e = err_text(image_folder(&classes, &FolderOptions::default()));
    assert_names(&e, "dog", &["class folder 'dog' holds no images"]);
    let e = err_text(image_folder(root, &FolderOptions::default()));
    assert_names(&e, "classes", &["both class folders", "a.png"]);
    // Missing root; bad options.
    assert_names(&err_text(image_folder(root.join("nope"), &FolderOptions::default())), "nope", &["cannot read"]);
    let e = err_text(image_folder(&classes, &FolderOptions { channels: 2, resize: None }));
    assert!(e.contains("channels"), "{e}");
    let e = err_text(image_folder(&classes, &FolderOptions { channels: 3, resize: Some((0, 4)) }));
    assert!(e.contains("resize"), "{e}");
}

// ---------------------------------------------------------------- .npy

/// `.npy` bytes exactly as `np.save` writes them (header padded so the data starts at a multiple
/// of 64, ending in a newline).
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8], version: u8) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let fortran = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    npy_raw(&header, version, data)
}

#[test]
fn npy_helper_matches_numpy_bytes() {
    // Header written by numpy 2.4: np.save(f, np.zeros((2, 3, 4, 3), np.uint8)).
    let mut numpy = b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 3), }".to_vec();
    numpy.extend([b' '; 52]);
    numpy.push(b'\n');
    assert_eq!(npy("|u1", false, &[2, 3, 4, 3], &[], 1), numpy);
}

#[test]
fn npy_images_and_labels() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // (N, H, W, C) = (2, 3, 4, 3); value = index in C order.
    let data: Vec<u8> = (0..72).collect();
    std::fs::write(d.join("x.npy"), npy("|u1", false, &[2, 3, 4, 3], &data, 1)).unwrap();
    let labels64: Vec<u8> = [5i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(d.join("y.npy"), npy("<i8", false, &[2], &labels64, 1)).unwrap();
    let ds = npy_images_labels(d.join("x.npy"), d.join("y.npy")).unwrap();
    let s = ds.shape();
    assert_eq!((ds.len(), s.height, s.width, s.channels), (2, 3, 4, 3));
    assert_eq!(ds.labels(), Some(&[5, 0][..]));
    // Pixel (y = 1, x = 2, c = 0) of image 1 is element [1, 1, 2, 0] = 36 + 12 + 6.
    assert_eq!(px(&ds, 1, 1, 2, 0), 54);
    assert_eq!(ds.pixels(), &data[..]);

    // Other label dtypes and byte orders; format version 2.
    let be32: Vec<u8> = [7i32, 1].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(parse_npy_labels(&npy(">i4", false, &[2], &be32, 2), Path::new("y")).unwrap(), vec![7, 1]);
    let le32: Vec<u8> = [3i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(parse_npy_labels(&npy("<i4", false, &[2], &le32, 1), Path::new("y")).unwrap(), vec![3, 9]);
    assert_eq!(parse_npy_labels(&npy("|u1", false, &[3], &[0, 255, 9], 3), Path::new("y")).unwrap(), vec![0, 255, 9]);

    // (N, H, W) grey, unlabelled, stored Fortran-order: element [n, y, x] at n + 2·y + 6·x.
    let (n, h, w) = (2usize, 3usize, 4usize);
    let mut f = vec![0u8; n * h * w];
    for i in 0..n {
        for y in 0..h {
            for x in 0..w {
                f[i + n * y + n * h * x] = (100 * i + 10 * y + x) as u8;
            }
        }
    }
    std::fs::write(d.join("g.npy"), npy("|u1", true, &[n, h, w], &f, 1)).unwrap();
    let g = npy_images(d.join("g.npy")).unwrap();
    assert_eq!((g.len(), g.shape().channels, g.labels()), (2, 1, None));
    assert_eq!((px(&g, 1, 1, 2, 0), px(&g, 0, 2, 3, 0)), (112, 23));
    // (N, H, W, 1) is grey too.
    let (shape, _) = parse_npy_images(&npy("|u1", false, &[1, 2, 2, 1], &[1, 2, 3, 4], 1), Path::new("x")).unwrap();
    assert_eq!((shape.height, shape.width, shape.channels), (2, 2, 1));
}

#[test]
fn npy_errors_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(d.join(name), bytes).unwrap();
        d.join(name)
    };
    let e = err_text(npy_images(write("plain.npy", b"P6 not numpy at all")));
    assert_names(&e, "plain.npy", &["not a .npy file"]);
    let e = err_text(npy_images(write("zip.npz", b"PK\x03\x04 and then some more")));
    assert_names(&e, "zip.npz", &[".npz"]);
    let e = err_text(npy_images(write("flat.npy", &npy("|u1", false, &[6, 4], &[0; 24], 1))));
    assert_names(&e, "flat.npy", &["2 dimensions", "(N, H, W)"]);
    let e = err_text(npy_images(write("five.npy", &npy("|u1", false, &[1, 1, 1, 1, 1], &[0], 1))));
    assert_names(&e, "five.npy", &["5 dimensions"]);
    let e = err_text(npy_images(write("float.npy", &npy("<f4", false, &[1, 1, 1], &[0; 4], 1))));
    assert_names(&e, "float.npy", &["'<f4'", "uint8"]);
    let e = err_text(npy_images(write("nchw.npy", &npy("|u1", false, &[1, 3, 4, 4], &[0; 48], 1))));
    assert_names(&e, "nchw.npy", &["(N, C, H, W)", "transpose(0, 2, 3, 1)"]);
    let e = err_text(npy_images(write("c2.npy", &npy("|u1", false, &[1, 4, 4, 2], &[0; 32], 1))));
    assert_names(&e, "c2.npy", &["2 channels"]);
    let e = err_text(npy_images(write("short.npy", &npy("|u1", false, &[2, 2, 2], &[0; 7], 1))));
    assert_names(&e, "short.npy", &["needs 8 bytes", "has 7", "truncated"]);
    let e = err_text(npy_images(write("none.npy", &npy("|u1", false, &[0, 2, 2], &[], 1))));
    assert_names(&e, "none.npy", &["no pixels"]);
    let mut cut = npy("|u1", false, &[1, 1, 1], &[0], 1);
    cut.truncate(40);
    assert_names(&err_text(npy_images(write("cut.npy", &cut))), "cut.npy", &["truncated header"]);
    let mut weird = npy("|u1", false, &[1, 1, 1], &[0], 1);
    let at = weird.windows(7).position(|w| w == b"'shape'").unwrap();
    weird[at + 5] = b'x'; // 'shaxe'
    assert_names(&err_text(npy_images(write("weird.npy", &weird))), "weird.npy", &["no 'shape'"]);

    let x = write("x.npy", &npy("|u1", false, &[2, 1, 1], &[1, 2], 1));
    let lab = |name: &str, descr: &str, shape: &[usize], data: &[u8]| err_text(npy_images_labels(&x, write(name, &npy(descr, false, shape, data, 1))));
    let e = lab("y3.npy", "|u1", &[3], &[0, 1, 2]);
    assert_names(&e, "x.npy", &["y3.npy", "2 images", "3 labels"]);
    let e = lab("y2d.npy", "|u1", &[2, 1], &[0, 1]);
    assert_names(&e, "y2d.npy", &["1-D", "2 dimensions"]);
    let e = lab("yf.npy", "<f8", &[2], &[0; 16]);
    assert_names(&e, "yf.npy", &["'<f8'", "integers"]);
    let neg: Vec<u8> = [1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let e = lab("yneg.npy", "<i8", &[2], &neg);
    assert_names(&e, "yneg.npy", &["label 1 is -1"]);
    let e = lab("ystr.npy", "<U3", &[2], &[0; 24]);
    assert_names(&e, "ystr.npy", &["'<U3'"]);
    let e = err_text(npy_images_labels(&x, d.join("missing.npy")));
    assert_names(&e, "missing.npy", &["cannot read"]);
}

// ---------------------------------------------------------------- garbled bytes

/// Mutates `base` in one of several ways: truncate, flip bytes, insert, overwrite a run, append,
/// splice with noise, or replace with noise.
fn garble(rng: &mut ChaCha8Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    if rng.random_bool(0.3) {
        // Length-preserving: a few flipped bits, so that size checks pass and later checks run.
        for _ in 0..rng.random_range(1..4) {
            if !v.is_empty() {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
        }
        return v;
    }
    let rounds = rng.random_range(1..4);
    for _ in 0..rounds {
        let len = v.len();
        match rng.random_range(0..7) {
            0 => v.truncate(rng.random_range(0..=len)),
            1 => {
                for _ in 0..rng.random_range(1..9) {
                    if !v.is_empty() {
                        let i = rng.random_range(0..v.len());
                        v[i] ^= 1 << rng.random_range(0..8);
                    }
                }
            }
            2 => {
                let at = rng.random_range(0..=len);
                let extra: Vec<u8> = (0..rng.random_range(1..40)).map(|_| rng.random()).collect();
                v.splice(at..at, extra);
            }
            3 if len > 0 => {
                // Overwrite a run near the start (headers, labels) with random or boundary bytes.
                let at = rng.random_range(0..len.min(160));
                let k = rng.random_range(1..9).min(len - at);
                let fill = [0u8, 0xff, b'(', b'{', b'\'', b',', b'9', b'-'][rng.random_range(0..8)];
                for b in &mut v[at..at + k] {
                    *b = if rng.random_bool(0.5) { fill } else { rng.random() };
                }
            }
            4 => v.extend((0..rng.random_range(1..3100)).map(|_| rng.random::<u8>())),
            5 if len > 1 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..len);
                v.drain(a..b);
            }
            _ => v = (0..rng.random_range(0..200)).map(|_| rng.random()).collect(),
        }
    }
    v
}

/// Runs every pure parser on `bytes`, checking what an `Ok` promises.
fn parse_everything(bytes: &[u8]) {
    let p = Path::new("garbled.bin");
    for (label_bytes, index, classes) in [(1, 0, 10), (2, 1, 100), (2, 0, 20), (0, 0, 1), (3, 5, 7)] {
        let (mut px, mut labels) = (Vec::new(), Vec::new());
        match parse_cifar(bytes, p, label_bytes, index, classes, &mut px, &mut labels) {
            Ok(()) => {
                assert_eq!(px.len(), labels.len() * 3072);
                assert!(labels.iter().all(|&l| l < classes));
            }
            Err(e) => assert!(e.to_string().contains("garbled.bin") || label_bytes <= index),
        }
    }
    match parse_stl10_images(bytes, p) {
        Ok(px) => assert_eq!(px.len(), bytes.len()),
        Err(e) => assert!(e.to_string().contains("garbled.bin")),
    }
    if let Ok(l) = parse_stl10_labels(bytes, p) {
        assert!(l.len() == bytes.len() && l.iter().all(|&l| l < 10));
    }
    match parse_idx(bytes, p) {
        Ok(a) => assert_eq!(a.data.len(), a.dims.iter().product::<usize>()),
        Err(e) => assert!(e.to_string().contains("garbled.bin")),
    }
    match parse_npy_header(bytes, p) {
        Ok(h) => assert!(h.data_offset <= bytes.len()),
        Err(e) => assert!(e.to_string().contains("garbled.bin")),
    }
    if let Ok((shape, px)) = parse_npy_images(bytes, p) {
        assert!(!px.is_empty() && px.len() % shape.len() == 0);
    }
    let _ = parse_npy_labels(bytes, p);
    let opts = FolderOptions { resize: None, channels: 1 };
    if let Ok((shape, px)) = decode_image(bytes, p, &opts) {
        assert_eq!(px.len(), shape.len());
    }
}

#[test]
fn garbled_bytes_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(20240611);
    let mut png = Vec::new();
    rgb(5, 4, 7).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let mut bmp = Vec::new();
    rgb(3, 2, 9).write_to(&mut std::io::Cursor::new(&mut bmp), image::ImageFormat::Bmp).unwrap();
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2];
    idx.extend(0..12u8);
    let seeds: Vec<Vec<u8>> = vec![
        cifar_record(&[3], 1),
        [cifar_record(&[1, 50], 2), cifar_record(&[19, 99], 3)].concat(),
        stl_images(1, 0),
        vec![1, 2, 10, 5],
        idx,
        npy("|u1", false, &[2, 3, 4, 3], &[9; 72], 1),
        npy("|u1", true, &[2, 3, 4], &[9; 24], 2),
        npy("<i8", false, &[3], &[1; 24], 1),
        npy(">i2", false, &[2], &[0, 1, 0, 2], 3),
        png,
        bmp,
        ppm(&rgb(3, 3, 1)),
    ];
    for seed in &seeds {
        parse_everything(seed);
    }
    let mut ok = 0;
    for i in 0..2000 {
        let bytes = garble(&mut rng, &seeds[i % seeds.len()]);
        parse_everything(&bytes);
        ok += usize::from(parse_npy_header(&bytes, Path::new("x")).is_ok());
    }
    // The mutations are mild enough that some headers survive (the test is not all trivial errors).
    assert!(ok > 20, "only {ok} garbled inputs still had a valid .npy header");
}

/// Random `.npy` headers built from the literal's own tokens, with the data the header asks for
/// when it can be computed: exercises the header parser far more than byte noise does.
#[test]
fn random_npy_headers_never_panic() {
    const TOKENS: [&str; 28] = [
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        " ",
        "'descr'",
        "'|u1'",
        "'<i8'",
        "'>u2'",
        "'<f4'",
        "'|b1'",
        "'fortran_order'",
        "True",
        "False",
        "'shape'",
        "None",
        "1",
        "2",
        "3",
        "0",
        "-1",
        "18446744073709551617",
        "99999999999999999999999999999999999999999999",
        "'unterminated",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut ok = 0;
    for i in 0..2000 {
        let mut n = rng.random_range(0..100);
        let text = if i % 2 == 0 {
            // A well-formed dict with random values.
            let pick = |rng: &mut ChaCha8Rng| TOKENS[rng.random_range(9..TOKENS.len())];
            let dims: Vec<usize> = (0..rng.random_range(0..6)).map(|_| rng.random_range(0..4)).collect();
            let (descr, size) =
                [("'|u1'", 1), ("'<i8'", 8), ("'>i2'", 2), ("'<u4'", 4), ("'<f4'", 4), ("'|b1'", 1), ("'u1'", 1), ("'<U3'", 12)][rng.random_range(0..8)];
            // Usually exactly the data the header asks for.
            if rng.random_bool(0.7) {
                n = size * dims.iter().product::<usize>();
            }
            let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!(
                "{{'descr': {descr}, 'fortran_order': {}, 'shape': ({}{}), }}",
                if rng.random_bool(0.9) { ["True", "False"][rng.random_range(0..2)] } else { pick(&mut rng) },
                dims.join(", "),
                if dims.len() == 1 { "," } else { "" }
            )
        } else {
            (0..rng.random_range(0..30)).map(|_| TOKENS[rng.random_range(0..TOKENS.len())]).collect()
        };
        let version = [1u8, 2, 3, 4][rng.random_range(0..4)];
        let bytes = npy_raw(&text, version, &vec![1u8; n]);
        parse_everything(&bytes);
        if let Ok(h) = parse_npy_header(&bytes, Path::new("h")) {
            if h.kind != ssl_data::npy::NpyKind::Other {
                ok += 1;
                assert_eq!(bytes.len() - h.data_offset, h.count() * h.item_size);
            }
        }
    }
    assert!(ok > 20, "only {ok} random headers parsed");
}

/// `.npy` bytes with an arbitrary header text.
fn npy_raw(header: &str, version: u8, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(data);
    out
}
