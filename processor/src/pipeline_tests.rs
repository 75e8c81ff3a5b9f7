//! The order the executor applies a rule in: processors left to right, imageMogr2's
//! parameters in the order written, output parameters gathered from wherever they stand
//! (the last one winning). Each test runs the same steps in two orders whose results differ,
//! so that a reordering in the executor fails it.

use image::{DynamicImage, RgbImage, Rgba, RgbaImage};

use crate::geometry::needed_size;
use crate::rule::parse_rule;
use crate::test_support::{jpeg, png};
use crate::{decode, probe, process, Format, Frames, Limits, Output, ProcessError};

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

/// A `w`×`h` image in four quadrants: red top left, green top right, blue bottom left,
/// white bottom right.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    })
}

/// URL-safe base64, as rules carry colours and texts.
fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn quadrants_png(w: u32, h: u32) -> Vec<u8> {
    png(&DynamicImage::ImageRgb8(quadrants(w, h)))
}

fn run(data: &[u8], rule: &str) -> Output {
    process(data, rule, &Limits::default()).unwrap_or_else(|e| panic!("{rule}: {e}"))
}

/// The first frame of a result, decoded to RGBA by the crate's own decoder (the `image`
/// crate is built here without JPEG).
fn rgba(bytes: &[u8]) -> image::RgbaImage {
    let decoded = decode(bytes, &Limits::default(), Frames::First).expect("output decodes");
    decoded.frames[0].image.to_rgba8()
}

fn size(data: &[u8], rule: &str) -> (u32, u32) {
    let out = run(data, rule);
    (out.facts.width, out.facts.height)
}

/// Every pixel of `img` is `rgb` (opaque).
fn all(img: &RgbaImage, rgb: [u8; 3]) -> bool {
    img.pixels()
        .all(|p| *p == Rgba([rgb[0], rgb[1], rgb[2], 255]))
}

/// `p` is `rgb` within `tolerance` levels per channel (for lossy or resampled results).
fn near(p: Rgba<u8>, rgb: [u8; 3], tolerance: u8) -> bool {
    (0..3).all(|c| p.0[c].abs_diff(rgb[c]) <= tolerance)
}

#[test]
fn a_crop_before_a_thumbnail_is_scaled_and_after_it_is_not() {
    let data = quadrants_png(40, 40);
    assert_eq!(size(&data, "imageMogr2/crop/20x10/thumbnail/!50p"), (10, 5));
    assert_eq!(
        size(&data, "imageMogr2/thumbnail/!50p/crop/20x10"),
        (20, 10)
    );
}

#[test]
fn a_rotate_before_a_crop_turns_the_box_the_crop_fits_in() {
    let data = quadrants_png(40, 20);
    assert_eq!(size(&data, "imageMogr2/rotate/90/crop/10x40"), (10, 40));
    assert_eq!(size(&data, "imageMogr2/crop/10x40/rotate/90"), (20, 10));
}

#[test]
fn a_flip_before_a_crop_changes_what_the_crop_keeps() {
    let data = quadrants_png(20, 20);
    let pixels = |rule: &str| rgba(&run(&data, rule).bytes);
    assert!(all(&pixels("imageMogr2/crop/10x10/flip/horizontal"), RED));
    assert!(all(&pixels("imageMogr2/flip/horizontal/crop/10x10"), GREEN));
    assert!(all(&pixels("imageMogr2/flip/vertical/crop/10x10"), BLUE));
}

#[test]
fn gravity_anchors_its_crop_wherever_it_is_written() {
    let data = quadrants_png(20, 20);
    let pixels = |rule: &str| rgba(&run(&data, rule).bytes);
    assert!(all(&pixels("imageMogr2/crop/10x10"), RED));
    assert!(all(
        &pixels("imageMogr2/gravity/southeast/crop/10x10"),
        WHITE
    ));
    assert!(all(
        &pixels("imageMogr2/crop/10x10/gravity/southeast"),
        WHITE
    ));
}

#[test]
fn a_cut_is_measured_on_the_image_the_steps_before_it_left() {
    let data = quadrants_png(40, 40);
    assert_eq!(
        size(&data, "imageMogr2/cut/10x10x25x25/thumbnail/!50p"),
        (5, 5)
    );
    match process(
        &data,
        "imageMogr2/thumbnail/!50p/cut/10x10x25x25",
        &Limits::default(),
    ) {
        Err(ProcessError::InvalidArgument(m)) => {
            assert!(
                m.contains("cut offset 25x25 is outside the 20x20 image"),
                "{m}"
            )
        }
        other => panic!("the cut was not refused: {:?}", other.map(|o| o.facts)),
    }
}

#[test]
fn pad_fills_around_the_thumbnail_it_follows() {
    let data = quadrants_png(20, 20);
    let black = b64("#000000");
    let out = run(
        &data,
        &format!("imageMogr2/thumbnail/20x10/pad/1/color/{black}"),
    );
    assert_eq!((out.facts.width, out.facts.height), (20, 10));
    let img = rgba(&out.bytes);
    // The 10×10 thumbnail is centred: five columns of pad on each side.
    assert!(near(*img.get_pixel(2, 5), [0, 0, 0], 0));
    assert!(near(*img.get_pixel(17, 5), [0, 0, 0], 0));
    assert!(near(*img.get_pixel(7, 2), RED, 8));
    assert!(near(*img.get_pixel(12, 7), WHITE, 8));
}

#[test]
fn auto_orient_turns_the_image_where_it_is_written() {
    // Stored 40×20, displayed 20×40 (EXIF orientation 6: turn 90° clockwise).
    let data = jpeg(&quadrants(40, 20), Some(6));
    assert_eq!(
        size(&data, "imageMogr2/auto-orient/thumbnail/x20"),
        (10, 20)
    );
    assert_eq!(
        size(&data, "imageMogr2/thumbnail/x20/auto-orient"),
        (20, 40)
    );
    // Without auto-orient the stored pixels are kept as they are.
    assert_eq!(size(&data, "imageMogr2/thumbnail/x20"), (40, 20));
    // Turned clockwise, the top-left quadrant lands top right.
    let img = rgba(&run(&data, "imageMogr2/auto-orient/format/png").bytes);
    assert_eq!(img.dimensions(), (20, 40));
    assert!(near(*img.get_pixel(15, 5), RED, 40));
    assert!(near(*img.get_pixel(5, 5), BLUE, 40));
}

#[test]
fn processors_apply_left_to_right() {
    let data = quadrants_png(40, 40);
    assert_eq!(
        size(&data, "imageMogr2/crop/20x10|imageView2/2/w/10"),
        (10, 5)
    );
    assert_eq!(
        size(&data, "imageView2/2/w/10|imageMogr2/crop/20x10"),
        (10, 10)
    );
    assert_eq!(
        size(&data, "imageMogr2/thumbnail/!50p|imageMogr2/crop/10x10"),
        (10, 10)
    );
    assert_eq!(
        size(&data, "imageMogr2/crop/10x10|imageMogr2/thumbnail/!50p"),
        (5, 5)
    );
}

#[test]
fn a_watermark_is_drawn_between_the_processors_around_it() {
    let white = png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(
        60,
        60,
        image::Rgb(WHITE),
    )));
    let mark = format!(
        "watermark/2/text/{}/fill/{}/fontsize/20",
        b64("X"),
        b64("#000000")
    );
    let dark = |img: &RgbaImage| img.pixels().any(|p| p.0[0] < 128);
    // Cropped first: the mark is drawn in the south-east of the crop.
    let after = rgba(&run(&white, &format!("imageMogr2/crop/20x20|{mark}")).bytes);
    assert!(dark(&after), "the mark is missing");
    // Drawn first, in the south-east of the whole image: the north-west crop leaves it out.
    let before = rgba(&run(&white, &format!("{mark}|imageMogr2/crop/20x20")).bytes);
    assert!(all(&before, WHITE), "the mark was drawn after the crop");
}

#[test]
fn output_parameters_count_wherever_written_and_the_last_wins() {
    let data = quadrants_png(20, 20);
    let format = |rule: &str| run(&data, rule).facts.format;
    assert_eq!(
        format("imageMogr2/format/png/thumbnail/10x/format/jpg"),
        Format::Jpeg
    );
    assert_eq!(
        format("imageMogr2/format/jpg|imageView2/format/webp"),
        Format::Webp
    );
    assert_eq!(
        format("imageView2/format/webp|imageMogr2/format/gif"),
        Format::Gif
    );
    // `src` is the input's format, also when it comes last.
    assert_eq!(format("imageMogr2/format/jpg/format/src"), Format::Png);
    // Output parameters move no pixel.
    let same = rgba(&run(&data, "imageMogr2/strip/format/png/interlace/1").bytes);
    assert_eq!(same, DynamicImage::ImageRgb8(quadrants(20, 20)).to_rgba8());
}

#[test]
fn ignore_error_counts_even_when_written_before_the_step_that_fails() {
    let data = quadrants_png(40, 40);
    let out = run(
        &data,
        "imageMogr2/ignore-error/1/thumbnail/!50p/cut/10x10x25x25",
    );
    assert_eq!(out.bytes, data);
    assert_eq!((out.facts.width, out.facts.height), (40, 40));
    let why = out.ignored_error.unwrap_or_default();
    assert!(why.contains("cut offset"), "{why}");
}

#[test]
fn shrink_on_load_keeps_the_order_of_a_thumbnail_and_the_steps_around_it() {
    let data = jpeg(&quadrants(400, 200), None);
    assert_eq!(
        size(&data, "imageMogr2/thumbnail/100x/crop/50x50"),
        (50, 50)
    );
    assert_eq!(
        size(&data, "imageMogr2/crop/50x50/thumbnail/100x"),
        (100, 100)
    );
    assert_eq!(size(&data, "imageMogr2/rotate/90/thumbnail/50x"), (50, 100));
    assert_eq!(size(&data, "imageMogr2/thumbnail/50x/rotate/90"), (25, 50));
}

#[test]
fn imageview2_without_a_mode_converts_without_resizing() {
    let data = jpeg(&quadrants(40, 30), None);
    let out = run(&data, "imageView2/format/png");
    assert_eq!(out.facts.format, Format::Png);
    assert_eq!((out.facts.width, out.facts.height), (40, 30));
    // The same pixels as the input, decoded by the same decoder: nothing was resampled.
    assert_eq!(rgba(&out.bytes), rgba(&data));

    let out = run(&data, "imageView2/q/50");
    assert_eq!(out.facts.format, Format::Jpeg);
    assert_eq!((out.facts.width, out.facts.height), (40, 30));
    assert_eq!(out.facts.quality, 50);

    // With a mode and one side, the other follows the aspect ratio.
    assert_eq!(size(&data, "imageView2/2/w/20"), (20, 15));
    // In a pipeline, the earlier processors' size is kept.
    let out = run(&data, "imageMogr2/thumbnail/20x|imageView2/format/png");
    assert_eq!(
        (out.facts.format, out.facts.width, out.facts.height),
        (Format::Png, 20, 15)
    );
}

#[test]
fn imageview2_without_a_mode_needs_the_full_decode() {
    let data = jpeg(&quadrants(400, 200), None);
    let source = probe(&data, &Limits::default()).expect("probed");
    let needed = |rule: &str| needed_size(&parse_rule(rule).expect(rule), &source);
    assert_eq!(needed("imageView2/format/png"), (400, 200));
    assert_eq!(
        needed("imageView2/q/80|imageMogr2/thumbnail/50x"),
        (400, 200)
    );
    assert_eq!(needed("imageView2/2/w/100"), (100, 50));
}

/// Noise from a fixed LCG, which no encoder shrinks much.
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 7u32;
    png(&DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
        let mut next = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        image::Rgb([next(), next(), next()])
    })))
}

#[test]
fn size_limit_with_a_bang_answers_the_input_unless_the_result_is_smaller() {
    // A flat PNG is a few hundred bytes; its JPEG is larger: the input is the answer.
    let flat = quadrants_png(64, 64);
    let out = run(&flat, "imageMogr2/format/jpg/size-limit/100k!");
    assert_eq!(out.bytes, flat);
    assert_eq!(
        (out.facts.format, out.facts.size, out.facts.width),
        (Format::Png, flat.len() as u64, 64)
    );
    assert_eq!(out.ignored_error, None);
    // Without the bang, the JPEG.
    let out = run(&flat, "imageMogr2/format/jpg/size-limit/100k");
    assert_eq!(out.facts.format, Format::Jpeg);
    assert!(out.bytes.len() > flat.len());
    // The last size-limit wins, bang and all.
    let out = run(
        &flat,
        "imageMogr2/format/jpg/size-limit/1k!/size-limit/100k",
    );
    assert_eq!(out.facts.format, Format::Jpeg);
    // Noise as PNG is larger than its JPEG: the JPEG is the answer.
    let noisy = noise_png(64, 64);
    let out = run(&noisy, "imageMogr2/format/jpg/size-limit/100k!");
    assert_eq!(out.facts.format, Format::Jpeg);
    assert!(out.bytes.len() < noisy.len());
    // A resize that still comes out larger than the input answers the input, whatever
    // the format.
    let out = run(&flat, "imageMogr2/thumbnail/200x/size-limit/1m!");
    assert_eq!(out.bytes, flat);
}
