//! What the unit tests of several modules share: the shared test images, small encoders
//! of test pictures, and a pixel metric. Depends on no module of the crate.

use std::path::PathBuf;

/// `tests/images` in the repository.
pub(crate) fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

/// One of the shared edge-case images.
pub(crate) fn edge(name: &str) -> Vec<u8> {
    std::fs::read(images().join("edge").join(name)).expect("test image")
}

/// Mean absolute difference of two equally long sample buffers, in levels.
pub(crate) fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len() as f64
}

/// A lossless WebP (the shared images hold none) of the shared PNG `png`, written by
/// image-webp's encoder.
pub(crate) fn lossless_webp(png: &str) -> Vec<u8> {
    let picture = image::load_from_memory(&edge(png)).expect("png");
    let mut out = Vec::new();
    picture
        .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        .expect("encode");
    out
}

/// `img` written as a PNG (lossless: pixels come back exactly).
pub(crate) fn png(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png encoded");
    out
}

/// `img` written as a quality-90 JPEG whose EXIF, when given, holds only `orientation`.
pub(crate) fn jpeg(img: &image::RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    if let Some(o) = orientation {
        // Big-endian TIFF, IFD0 at 8 with one SHORT entry (tag 0x0112), no next IFD.
        let mut app1 = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        app1.extend_from_slice(&o.to_be_bytes());
        app1.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        enc.add_app_segment(1, app1).expect("EXIF segment");
    }
    let (w, h) = (img.width() as u16, img.height() as u16);
    enc.encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg encoded");
    out
}
