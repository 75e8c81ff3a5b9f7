//! imageMogr2's output parameters (format, the qualities, interlace, cgif, size-limit,
//! strip, ignore-error), its filters (blur, sharpen, bright, contrast, grayscale), unknown
//! names, and the order parameters are kept in.

use super::*;
use crate::format::Format;

fn output(params: &str) -> OutputOp {
    match mogr_op(params) {
        MogrOp::Output(o) => o,
        other => panic!("{params}: {other:?}"),
    }
}

#[test]
fn format_names() {
    let names = [
        ("jpg", Some(Format::Jpeg)),
        ("jpeg", Some(Format::Jpeg)),
        ("JPG", Some(Format::Jpeg)),
        ("png", Some(Format::Png)),
        ("webp", Some(Format::Webp)),
        ("gif", Some(Format::Gif)),
        ("bmp", Some(Format::Bmp)),
        ("src", None),
    ];
    for (name, want) in names {
        assert_eq!(
            output(&format!("format/{name}")),
            OutputOp::Format(want),
            "{name}"
        );
    }
    for v in ["tiff", "avif", "heic", "SRC", "jpg "] {
        rejects(
            &format!("imageMogr2/format/^{v}"),
            v,
            "unsupported output format",
        );
    }
    // Read but not written: the message says so.
    for v in ["avif", "heif", "HEIC"] {
        rejects(
            &format!("imageMogr2/thumbnail/100x/format/^{v}"),
            v,
            "reads HEIF/HEIC and AVIF images but does not write them",
        );
    }
}

#[test]
fn quality_family() {
    let q = |params: &str| match output(params) {
        OutputOp::Quality(q) => q,
        other => panic!("{params}: {other:?}"),
    };
    assert_eq!(q("quality/80"), QualitySpec::AtMost(80));
    assert_eq!(q("quality/80!"), QualitySpec::Forced(80));
    assert_eq!(q("quality/1"), QualitySpec::AtMost(1));
    assert_eq!(q("quality/100!"), QualitySpec::Forced(100));
    assert_eq!(q("rquality/50"), QualitySpec::Relative(50));
    assert_eq!(q("lquality/70"), QualitySpec::AtLeast(70));
}

#[test]
fn quality_errors() {
    for name in ["quality", "rquality", "lquality"] {
        for v in ["0", "101", "8.5", "abc", "-1"] {
            rejects(
                &format!("imageMogr2/{name}/^{v}"),
                v,
                "expected an integer in 1..=100",
            );
        }
    }
    // The number is named without its '!'.
    rejects(
        "imageMogr2/quality/^101!",
        "101",
        "expected an integer in 1..=100",
    );
    rejects(
        "imageMogr2/quality/^!",
        "",
        "expected an integer in 1..=100",
    );
    rejects(
        "imageMogr2/rquality/^50!",
        "50!",
        "'!' only applies to quality",
    );
    rejects(
        "imageMogr2/lquality/^50!",
        "50!",
        "'!' only applies to quality",
    );
}

#[test]
fn interlace_cgif_and_ignore_error() {
    assert_eq!(output("interlace/1"), OutputOp::Interlace(true));
    assert_eq!(output("interlace/0"), OutputOp::Interlace(false));
    rejects("imageMogr2/interlace/^2", "2", "expected 0 or 1");
    rejects("imageMogr2/interlace/^yes", "yes", "expected 0 or 1");
    assert_eq!(output("cgif/1"), OutputOp::FrameLimit(1));
    // COS: 1 (its default of 30 frames) or (1, 100].
    assert_eq!(output("cgif/100"), OutputOp::FrameLimit(100));
    rejects("imageMogr2/cgif/^0", "0", "expected an integer in 1..=100");
    rejects(
        "imageMogr2/cgif/^101",
        "101",
        "expected an integer in 1..=100",
    );
    assert_eq!(output("ignore-error/1"), OutputOp::IgnoreError);
    assert_eq!(mogr("ignore-error/0"), vec![]);
    rejects("imageMogr2/ignore-error/^2", "2", "expected 0 or 1");
}

#[test]
fn blur_radius_and_sigma() {
    assert_eq!(
        mogr_op("blur/3x2"),
        MogrOp::Blur {
            radius: 3,
            sigma: 2.0
        }
    );
    assert_eq!(
        mogr_op("blur/50x50"),
        MogrOp::Blur {
            radius: 50,
            sigma: 50.0
        }
    );
    // A sigma of 0 is taken as 1.
    assert_eq!(
        mogr_op("blur/1x0"),
        MogrOp::Blur {
            radius: 1,
            sigma: 1.0
        }
    );
    // Either half names itself, at the offset of the whole value.
    rejects("imageMogr2/blur/^0x1", "0", "expected an integer in 1..=50");
    rejects(
        "imageMogr2/blur/^51x1",
        "51",
        "expected an integer in 1..=50",
    );
    rejects(
        "imageMogr2/blur/^3x51",
        "51",
        "expected an integer in 0..=50",
    );
    rejects("imageMogr2/blur/^3x", "", "expected an integer in 0..=50");
    rejects("imageMogr2/blur/^3", "3", "expected <radius>x<sigma>");
}

#[test]
fn sharpen_bright_contrast_bounds() {
    assert_eq!(mogr_op("sharpen/10"), MogrOp::Sharpen(10));
    assert_eq!(mogr_op("sharpen/300"), MogrOp::Sharpen(300));
    rejects(
        "imageMogr2/sharpen/^9",
        "9",
        "expected an integer in 10..=300",
    );
    rejects(
        "imageMogr2/sharpen/^301",
        "301",
        "expected an integer in 10..=300",
    );
    for (name, op) in [
        ("bright", MogrOp::Bright as fn(i32) -> MogrOp),
        ("contrast", MogrOp::Contrast),
    ] {
        assert_eq!(mogr_op(&format!("{name}/-100")), op(-100));
        assert_eq!(mogr_op(&format!("{name}/100")), op(100));
        assert_eq!(mogr_op(&format!("{name}/+5")), op(5));
        for v in ["-101", "101", "1.5", "x"] {
            rejects(
                &format!("imageMogr2/{name}/^{v}"),
                v,
                "expected an integer in -100..=100",
            );
        }
    }
}

#[test]
fn grayscale_takes_a_flag() {
    assert_eq!(mogr_op("grayscale/1"), MogrOp::Grayscale);
    assert_eq!(mogr("grayscale/0"), vec![]);
    rejects("imageMogr2/grayscale/^2", "2", "expected 0 or 1");
    rejects("imageMogr2/^grayscale", "grayscale", "missing value");
}

#[test]
fn size_limit_units() {
    for (v, bytes, or_original) in [
        ("100", 100, false),
        ("30k", 30 * 1024, false),
        ("30K", 30 * 1024, false),
        ("2m", 2 << 20, false),
        ("2M", 2 << 20, false),
        ("30k!", 30 * 1024, true),
        ("100!", 100, true),
        ("2M!", 2 << 20, true),
        ("18446744073709551615", u64::MAX, false),
    ] {
        assert_eq!(
            output(&format!("size-limit/{v}")),
            OutputOp::SizeLimit { bytes, or_original },
            "{v}"
        );
    }
    for (v, fragment) in [
        ("0", "size limit must be positive"),
        ("0k", "size limit must be positive"),
        ("abc", "expected <n>[k|m]"),
        ("k", "expected <n>[k|m]"),
        ("1.5m", "expected <n>[k|m]"),
        ("1g", "expected <n>[k|m]"),
        ("18446744073709551615k", "size limit too large"),
        ("18446744073709551615m", "size limit too large"),
        ("!", "expected <n>[k|m]"),
        ("30k!!", "expected <n>[k|m]"),
        ("!30k", "expected <n>[k|m]"),
        ("0!", "size limit must be positive"),
    ] {
        rejects(&format!("imageMogr2/size-limit/^{v}"), v, fragment);
    }
}

#[test]
fn unknown_parameters_are_named_and_case_sensitive() {
    rejects("imageMogr2/^bogus/1", "bogus", "unknown parameter");
    rejects(
        "imageMogr2/^Thumbnail/100x",
        "Thumbnail",
        "unknown parameter",
    );
    rejects("imageMogr2/strip/^w/100", "w", "unknown parameter");
}

#[test]
fn parameters_keep_the_order_written_output_ones_included() {
    assert_eq!(
        mogr("rotate/90/format/png/thumbnail/100x/strip/flip/vertical/quality/80"),
        vec![
            MogrOp::Rotate(90.0),
            MogrOp::Output(OutputOp::Format(Some(Format::Png))),
            MogrOp::Thumbnail {
                spec: fit(Some(100), None, Only::Any),
                pad: None
            },
            MogrOp::Output(OutputOp::Strip),
            MogrOp::Flip(FlipAxis::Vertical),
            MogrOp::Output(OutputOp::Quality(QualitySpec::AtMost(80))),
        ]
    );
}

#[test]
fn a_repeated_output_parameter_is_kept_each_time() {
    // The pipeline lets the last one win (see pipeline tests); the parser keeps both.
    assert_eq!(
        mogr("format/png/format/jpg"),
        vec![
            MogrOp::Output(OutputOp::Format(Some(Format::Png))),
            MogrOp::Output(OutputOp::Format(Some(Format::Jpeg))),
        ]
    );
}
