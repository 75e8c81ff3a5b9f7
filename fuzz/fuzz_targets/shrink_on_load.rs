//! JPEG shrink-on-load (picops' own sequential and progressive DCT-domain decoders, and the
//! fallback to the general one): any bytes, decoded at 1/2, 1/4 or 1/8 as a thumbnail rule
//! would ask. Real JPEGs work as seeds unchanged: the scale is chosen by the length.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picops_processor::{Frames, Limits};

fuzz_target!(|image: &[u8]| {
    let limits = Limits {
        max_side: 4096,
        max_pixels: 4_000_000,
        max_frames: 1,
        max_output_side: 1024,
    };
    let Ok(source) = picops_processor::probe(image, &limits) else {
        return;
    };
    let denom = [2, 4, 8][image.len() % 3];
    let min = ((source.width / denom).max(1), (source.height / denom).max(1));
    if let Ok(decoded) = picops_processor::decode_at_least(image, &limits, Frames::First, Some(min)) {
        let frame = &decoded.frames[0].image;
        assert!(frame.width() >= min.0.min(source.width) && frame.height() >= min.1.min(source.height));
    }
});
