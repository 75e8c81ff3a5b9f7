//! Decoders through the processor: any bytes, as an upload would bring them, with a
//! thumbnail rule. Limits are small so the fuzzer explores formats, not memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picops_processor::Limits;

const RULES: &[&str] = &[
    "imageMogr2/thumbnail/64x",
    "imageMogr2/auto-orient/crop/32x32/format/png",
    "imageView2/1/w/40/h/30/format/webp",
    "imageMogr2/thumbnail/50p/format/gif",
];

fuzz_target!(|image: &[u8]| {
    // The rule is chosen by the length, so real image files work as seeds unchanged.
    let selector = image.len();
    let limits = Limits {
        max_side: 4096,
        max_pixels: 4_000_000,
        max_frames: 16,
        max_output_side: 1024,
    };
    let rule = RULES[selector % RULES.len()];
    if let Ok(out) = picops_processor::process(image, rule, &limits) {
        assert!(!out.bytes.is_empty());
    }
    let _ = picops_processor::info(image, &limits);
});
