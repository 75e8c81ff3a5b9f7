use super::*;
use image::{AnimationDecoder, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

fn pattern(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let v = (x * 7 + y * 13) as u8;
        image::Rgba([v, v.wrapping_mul(3), (x ^ y) as u8, 255 - (x * y) as u8])
    })
}

/// Noise from a fixed LCG: deflate cannot shrink it, so the stored fallback is taken.
fn noise(w: u32, h: u32) -> RgbImage {
    let mut state = 0x2545_f491_u32;
    RgbImage::from_fn(w, h, |_, _| {
        let mut next = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        image::Rgb([next(), next(), next()])
    })
}

fn layouts(w: u32, h: u32) -> Vec<DynamicImage> {
    let rgba = pattern(w, h);
    vec![
        DynamicImage::ImageRgba8(rgba.clone()),
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba.clone()).to_rgb8()),
        DynamicImage::ImageLumaA8(GrayAlphaImage::from_fn(w, h, |x, y| {
            image::LumaA([(x * 5 + y) as u8, (x + y * 3) as u8])
        })),
        DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
            image::Luma([(x * 11 + y * 7) as u8])
        })),
    ]
}

/// IHDR's interlace method byte (the 29th byte of the file).
fn png_interlace_method(png: &[u8]) -> u8 {
    assert_eq!(&png[12..16], b"IHDR");
    png[28]
}

#[test]
fn adam7_png_decodes_to_the_same_pixels_in_every_layout_and_size() {
    // Sizes where some of the seven passes are empty (narrower or shorter than 5, 3, 2).
    for (w, h) in [
        (1, 1),
        (1, 9),
        (9, 1),
        (2, 2),
        (3, 2),
        (5, 5),
        (17, 13),
        (64, 33),
    ] {
        for img in layouts(w, h) {
            let png = png(&img, None, Deadline::NONE).expect("encoded");
            assert_eq!(png_interlace_method(&png), 1);
            let back = image::load_from_memory(&png).expect("decodes");
            assert_eq!(back, img, "{w}x{h} {:?}", img.color());
        }
    }
}

#[test]
fn incompressible_rows_are_stored_and_still_read_right() {
    let img = DynamicImage::ImageRgb8(noise(61, 47));
    let png = png(&img, None, Deadline::NONE).expect("encoded");
    assert_eq!(png_interlace_method(&png), 1);
    assert_eq!(image::load_from_memory(&png).expect("decodes"), img);
}

#[test]
fn sixteen_bit_pictures_are_written_in_eight_bits() {
    let img = DynamicImage::ImageRgba16(DynamicImage::ImageRgba8(pattern(10, 10)).to_rgba16());
    let png = png(&img, None, Deadline::NONE).expect("encoded");
    let back = image::load_from_memory(&png).expect("decodes");
    assert_eq!(back.to_rgba8(), pattern(10, 10));
}

#[test]
fn the_icc_profile_is_written() {
    let icc = b"not a real profile, but bytes to carry".to_vec();
    let img = DynamicImage::ImageRgb8(noise(8, 8));
    let png = png(&img, Some(&icc), Deadline::NONE).expect("encoded");
    let mut decoder = png::Decoder::new(Cursor::new(&png))
        .read_info()
        .expect("header");
    assert!(decoder.info().interlaced);
    assert_eq!(decoder.info().icc_profile.as_deref(), Some(&icc[..]));
    let mut buf = vec![0; decoder.output_buffer_size().expect("size")];
    decoder.next_frame(&mut buf).expect("pixels");
    assert_eq!(buf, img.as_bytes());
}

#[test]
fn a_past_deadline_stops_the_png() {
    let img = DynamicImage::ImageRgb8(noise(8, 8));
    let past = Deadline::at(std::time::Instant::now() - std::time::Duration::from_secs(1));
    assert_eq!(png(&img, None, past).err(), Some(ProcessError::Deadline));
}

#[test]
fn gif_rows_are_a_permutation_in_pass_order() {
    assert_eq!(
        gif_rows(10).collect::<Vec<_>>(),
        vec![0, 8, 4, 2, 6, 1, 3, 5, 7, 9]
    );
    for h in 0..40 {
        let mut rows: Vec<usize> = gif_rows(h).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..h).collect::<Vec<_>>(), "height {h}");
    }
}

/// `frames` decoded back (the `gif` crate deinterlaces), as RGBA with delays in ms.
fn decode_gif(bytes: &[u8]) -> Vec<(RgbaImage, u32)> {
    let decoder = image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).expect("gif");
    decoder
        .into_frames()
        .map(|f| {
            let f = f.expect("frame");
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), n / d)
        })
        .collect()
}

#[test]
fn interlaced_gif_frames_read_as_the_plain_encoders_do() {
    let frames: Vec<Frame> = [(23u32, 19u32, 70u32), (23, 19, 130)]
        .iter()
        .enumerate()
        .map(|(i, &(w, h, delay_ms))| Frame {
            image: DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
                let v = ((x * 9 + y * 5) as u8).wrapping_add(i as u8 * 40);
                image::Rgba([v, 255 - v, (y * 12) as u8, if x == 3 { 0 } else { 255 }])
            })),
            delay_ms,
        })
        .collect();
    let interlaced = gif(&frames, Deadline::NONE).expect("encoded");
    // The image descriptor's flags: bit 6 is the interlace flag.
    let descriptor = interlaced
        .windows(10)
        .position(|w| w[0] == 0x2c && w[5] == 23 && w[7] == 19)
        .expect("image descriptor");
    assert_ne!(interlaced[descriptor + 9] & 0x40, 0);
    let plain = crate::encode::encode(
        &frames,
        Format::Gif,
        &crate::encode::Settings::default(),
        Deadline::NONE,
    )
    .expect("encoded");
    assert_ne!(interlaced, plain);
    let (ours, theirs) = (decode_gif(&interlaced), decode_gif(&plain));
    assert_eq!(ours.len(), 2);
    assert_eq!(ours, theirs);
    assert_eq!(ours[1].1, 130);
}
