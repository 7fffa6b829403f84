//! Horizontal flip: mirrors `torchvision.transforms.v2.functional.horizontal_flip` (the op of
//! `RandomHorizontalFlip`, whose probability the view recipes draw themselves).

use crate::image::ImageF32;

/// Mirrors the image left ↔ right (torchvision `horizontal_flip`).
pub fn hflip(img: &mut ImageF32) {
    let w = img.shape.width;
    if w == 0 {
        return;
    }
    for row in img.data.chunks_mut(w) {
        row.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Shape;

    #[test]
    fn flips_rows() {
        let mut img = ImageF32 { shape: Shape { channels: 2, height: 1, width: 3 }, data: vec![1., 2., 3., 4., 5., 6.] };
        hflip(&mut img);
        assert_eq!(img.data, vec![3., 2., 1., 6., 5., 4.]);
    }
}
