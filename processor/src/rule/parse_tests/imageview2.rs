//! imageView2: the optional mode and box, the output parameters, and their errors.

use super::*;
use crate::format::Format;

fn resize(mode: u8, width: Option<u32>, height: Option<u32>) -> Option<View2Resize> {
    Some(View2Resize {
        mode,
        width,
        height,
    })
}

#[test]
fn every_mode_with_both_sides_or_one() {
    for mode in 0..=5u8 {
        let both = view2(&format!("imageView2/{mode}/w/500/h/400"));
        assert_eq!(both.resize, resize(mode, Some(500), Some(400)), "{mode}");
        assert_eq!(both.output, vec![]);
        let w = view2(&format!("imageView2/{mode}/w/200"));
        assert_eq!(w.resize, resize(mode, Some(200), None), "{mode}");
        let h = view2(&format!("imageView2/{mode}/h/100"));
        assert_eq!(h.resize, resize(mode, None, Some(100)), "{mode}");
    }
    // The sides in either order; a mode written with a leading zero.
    assert_eq!(
        view2("imageView2/1/h/4/w/5").resize,
        resize(1, Some(5), Some(4))
    );
    assert_eq!(view2("imageView2/03/w/5").resize, resize(3, Some(5), None));
}

#[test]
fn the_mode_and_box_are_optional_as_in_the_cos_example() {
    // The source document's own example: convert, keep the size.
    assert_eq!(
        view2("imageView2/format/png"),
        View2 {
            resize: None,
            output: vec![OutputOp::Format(Some(Format::Png))]
        }
    );
    assert_eq!(
        view2("imageView2/q/80"),
        View2 {
            resize: None,
            output: vec![OutputOp::Quality(QualitySpec::AtMost(80))]
        }
    );
    assert_eq!(
        view2("imageView2/2/w/200"),
        View2 {
            resize: resize(2, Some(200), None),
            output: vec![]
        }
    );
    assert_eq!(
        view2("imageView2/format/src/interlace/0").output,
        vec![OutputOp::Format(None), OutputOp::Interlace(false)]
    );
}

#[test]
fn output_parameters_in_the_order_written() {
    let v = view2("imageView2/1/w/100/format/webp/q/80!/rq/50/lq/30/interlace/1/ignore-error/1");
    assert_eq!(v.resize, resize(1, Some(100), None));
    assert_eq!(
        v.output,
        vec![
            OutputOp::Format(Some(Format::Webp)),
            OutputOp::Quality(QualitySpec::Forced(80)),
            OutputOp::Quality(QualitySpec::Relative(50)),
            OutputOp::Quality(QualitySpec::AtLeast(30)),
            OutputOp::Interlace(true),
            OutputOp::IgnoreError,
        ]
    );
    // ignore-error/0 adds nothing.
    assert_eq!(
        view2("imageView2/format/png/ignore-error/0").output.len(),
        1
    );
}

#[test]
fn the_box_may_come_after_output_parameters_and_a_repeated_side_wins_last() {
    assert_eq!(
        view2("imageView2/2/format/png/w/100").resize,
        resize(2, Some(100), None)
    );
    assert_eq!(
        view2("imageView2/2/w/100/w/200").resize,
        resize(2, Some(200), None)
    );
}

#[test]
fn a_bare_imageview2_is_refused() {
    rejects("^imageView2", "imageView2", "missing mode or parameter");
    rejects("^imageView2/", "imageView2", "missing mode or parameter");
    rejects(
        "imageMogr2/strip|^imageView2",
        "imageView2",
        "missing mode or parameter",
    );
}

#[test]
fn a_mode_outside_0_to_5_is_refused() {
    for m in ["6", "9", "256", "99999999999"] {
        rejects(&format!("imageView2/^{m}/w/1"), m, "mode must be 0-5");
    }
    rejects("imageView2/^6/format/png", "6", "mode must be 0-5");
}

#[test]
fn a_mode_needs_a_side() {
    rejects("imageView2/^2", "2", "a mode needs at least one of w and h");
    rejects(
        "imageView2/^0/format/png",
        "0",
        "needs at least one of w and h",
    );
    rejects(
        "imageMogr2/strip|imageView2/^5/q/80",
        "5",
        "needs at least one of w and h",
    );
}

#[test]
fn a_side_needs_a_mode() {
    rejects("imageView2/^w/200", "w", "w and h need a mode");
    rejects("imageView2/format/png/^h/10", "h", "w and h need a mode");
}

#[test]
fn only_the_first_parameter_is_a_mode() {
    rejects("imageView2/1/w/10/^2/h/5", "2", "unknown parameter");
    rejects("imageView2/format/png/^1/w/10", "1", "unknown parameter");
    // Only digits make a mode.
    rejects("imageView2/^+1/w/10", "+1", "unknown parameter");
    rejects("imageView2/^-1/w/10", "-1", "unknown parameter");
}

#[test]
fn sides_are_positive_integers() {
    for v in ["0", "-1", "abc", "1.5", "+3", "4294967296"] {
        rejects(
            &format!("imageView2/1/w/^{v}"),
            v,
            "expected an integer in 1..=4294967295",
        );
        rejects(
            &format!("imageView2/1/h/^{v}"),
            v,
            "expected an integer in 1..=4294967295",
        );
    }
}

#[test]
fn missing_values_and_empty_or_unknown_parameters() {
    rejects("imageView2/1/^w", "w", "missing value");
    rejects("imageView2/1/w/^/h/5", "w", "missing value");
    rejects("imageView2/^format", "format", "missing value");
    rejects("imageView2/^/w/10", "", "empty parameter");
    rejects("imageView2/1/w/10/^/q/5", "", "empty parameter");
    rejects("imageView2/1/w/10/^bogus/1", "bogus", "unknown parameter");
    // An unknown name is reported as such even without a value.
    rejects("imageView2/1/w/10/^bogus", "bogus", "unknown parameter");
    // imageMogr2's long names are not imageView2's.
    rejects(
        "imageView2/1/w/10/^quality/80",
        "quality",
        "unknown parameter",
    );
    rejects("imageView2/1/w/10/^strip", "strip", "unknown parameter");
}

#[test]
fn output_values_are_checked_as_in_imagemogr2() {
    rejects(
        "imageView2/format/^tiff",
        "tiff",
        "unsupported output format",
    );
    rejects("imageView2/q/^0", "0", "expected an integer in 1..=100");
    rejects(
        "imageView2/q/^101!",
        "101",
        "expected an integer in 1..=100",
    );
    rejects("imageView2/rq/^50!", "50!", "'!' only applies to quality");
    rejects("imageView2/lq/^50!", "50!", "'!' only applies to quality");
    rejects("imageView2/interlace/^2", "2", "expected 0 or 1");
    rejects("imageView2/ignore-error/^yes", "yes", "expected 0 or 1");
}
