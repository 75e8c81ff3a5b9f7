use super::*;
use crate::deadline::Deadline;
use crate::decode::Frame;
use crate::test_support::edge;
use crate::webp_encode;

/// A photo (the shared hopper picture) written by libwebp at `quality`, as cwebp would.
fn lossy(quality: u8) -> Vec<u8> {
    let img = image::load_from_memory(&edge("hopper.png")).expect("png");
    webp_encode::encode_still(&img, quality, false, Deadline::NONE).expect("encoded")
}

#[test]
fn libwebp_qualities_come_back_within_two() {
    for q in [10u8, 30, 50, 60, 75, 85, 90, 95] {
        let estimated = estimate(&lossy(q)).expect("a lossy WebP");
        assert!(estimated.abs_diff(q) <= 2, "q {q}: estimated {estimated}");
    }
}

#[test]
fn the_shared_lossy_webps_have_a_quality() {
    for name in ["hopper.webp", "lossy.webp", "flower.webp"] {
        let q = estimate(&edge(name));
        assert!(q.is_some_and(|q| (1..=100).contains(&q)), "{name}: {q:?}");
        assert!(!is_lossless(&edge(name)), "{name}");
    }
}

#[test]
fn lossless_and_damaged_webps_have_none() {
    let lossless = crate::test_support::lossless_webp("hopper.png");
    assert_eq!(estimate(&lossless), None);
    assert!(is_lossless(&lossless));
    let whole = lossy(75);
    assert_eq!(estimate(&whole[..20]), None);
    assert_eq!(estimate(b"RIFF\0\0\0\0WEBP"), None);
    assert_eq!(estimate(b"not a webp at all"), None);
}

#[test]
fn an_animation_is_estimated_from_its_first_frame() {
    let img = image::load_from_memory(&edge("hopper.png")).expect("png");
    let frames = [
        Frame {
            image: img.clone(),
            delay_ms: 100,
        },
        Frame {
            image: img.fliph(),
            delay_ms: 100,
        },
    ];
    let anim = webp_encode::encode_animation(&frames, 60, false, Deadline::NONE).expect("anim");
    let q = estimate(&anim).expect("lossy frames");
    assert!(q.abs_diff(60) <= 2, "estimated {q}");
}

/// The inverse mapping agrees with libwebp's forward formula at every quality.
#[test]
fn the_mapping_inverts_libwebps_formula() {
    for quality in 1..=100u8 {
        let q = f64::from(quality) / 100.0;
        let linear = if q < 0.75 {
            q * 2.0 / 3.0
        } else {
            2.0 * q - 1.0
        };
        assert_eq!(quality_of(linear.cbrt()), quality);
    }
}
