//! imageMogr2's geometry: thumbnail, pad and color, crop and gravity, cut, the radii,
//! rotate, flip and auto-orient.

use super::*;

fn thumb(v: &str) -> Thumbnail {
    match mogr_op(&format!("thumbnail/{v}")) {
        MogrOp::Thumbnail { spec, pad: None } => spec,
        other => panic!("thumbnail/{v}: {other:?}"),
    }
}

#[test]
fn thumbnail_percentages() {
    let scale = |width_pct, height_pct| Thumbnail::Scale {
        width_pct,
        height_pct,
    };
    assert_eq!(thumb("!50p"), scale(50.0, 50.0));
    assert_eq!(thumb("!50px"), scale(50.0, 100.0));
    assert_eq!(thumb("!x50p"), scale(100.0, 50.0));
    assert_eq!(thumb("!12.5p"), scale(12.5, 12.5));
    assert_eq!(thumb("!1000p"), scale(1000.0, 1000.0));
    assert_eq!(thumb("!0.1px"), scale(0.1, 100.0));
}

#[test]
fn thumbnail_percentages_out_of_range_are_refused() {
    for v in [
        "!0p", "!1001p", "!-5p", "!abcp", "!infp", "!NaNp", "!x0p", "!2000px", "!p",
    ] {
        rejects(
            &format!("imageMogr2/thumbnail/^{v}"),
            v,
            "percentage must be in (0, 1000]",
        );
    }
}

#[test]
fn thumbnail_fit_forms() {
    assert_eq!(thumb("300x200"), fit(Some(300), Some(200), Only::Any));
    assert_eq!(thumb("300x"), fit(Some(300), None, Only::Any));
    assert_eq!(thumb("x200"), fit(None, Some(200), Only::Any));
    assert_eq!(thumb("300x200>"), fit(Some(300), Some(200), Only::Shrink));
    assert_eq!(thumb("300x200<"), fit(Some(300), Some(200), Only::Enlarge));
    assert_eq!(thumb("300x>"), fit(Some(300), None, Only::Shrink));
    assert_eq!(thumb("x200<"), fit(None, Some(200), Only::Enlarge));
}

#[test]
fn thumbnail_cover_exact_and_area() {
    assert_eq!(
        thumb("!300x200r"),
        Thumbnail::Cover {
            width: 300,
            height: 200
        }
    );
    assert_eq!(
        thumb("300x200!"),
        Thumbnail::Exact {
            width: 300,
            height: 200
        }
    );
    assert_eq!(thumb("10000@"), Thumbnail::Area(10000));
    assert_eq!(thumb("1@"), Thumbnail::Area(1));
}

#[test]
fn thumbnail_malformed_sizes_are_refused() {
    let cases = [
        ("abc", "expected <W>x<H>"),
        ("300", "expected <W>x<H>"),
        ("x", "expected <W>x<H>"),
        ("x>", "expected <W>x<H>"),
        ("0x100", "sides must be positive integers"),
        ("100x0", "sides must be positive integers"),
        ("-1x100", "sides must be positive integers"),
        ("1.5x2", "sides must be positive integers"),
        ("+1x2", "sides must be positive integers"),
        ("4294967296x1", "sides must be positive integers"),
        ("!300xr", "cover needs both sides"),
        ("!x200r", "cover needs both sides"),
        ("300x!", "exact size needs both sides"),
        ("!300x200", "invalid thumbnail size"),
        ("!", "invalid thumbnail size"),
        ("0@", "invalid thumbnail size"),
        ("x@", "invalid thumbnail size"),
        ("-5@", "invalid thumbnail size"),
    ];
    for (v, fragment) in cases {
        rejects(&format!("imageMogr2/thumbnail/^{v}"), v, fragment);
    }
}

#[test]
fn a_parameter_without_its_value_names_the_parameter() {
    // At the end: the parameter's own offset.
    rejects("imageMogr2/^thumbnail", "thumbnail", "missing value");
    rejects("imageMogr2/strip/^quality", "quality", "missing value");
    // Followed by an empty segment: that segment's offset.
    rejects("imageMogr2/thumbnail/^/strip", "thumbnail", "missing value");
    // A bare flag in the middle makes no difference.
    rejects("imageMogr2/auto-orient/^rotate", "rotate", "missing value");
}

#[test]
fn repeated_thumbnails_are_all_kept_in_order() {
    assert_eq!(
        mogr("thumbnail/100x/thumbnail/!50p"),
        vec![
            MogrOp::Thumbnail {
                spec: fit(Some(100), None, Only::Any),
                pad: None
            },
            MogrOp::Thumbnail {
                spec: Thumbnail::Scale {
                    width_pct: 50.0,
                    height_pct: 50.0
                },
                pad: None
            },
        ]
    );
}

#[test]
fn pad_fills_the_thumbnail_box_white_by_default() {
    assert_eq!(
        mogr("thumbnail/300x200/pad/1"),
        vec![MogrOp::Thumbnail {
            spec: fit(Some(300), Some(200), Only::Any),
            pad: Some(Rgb(255, 255, 255))
        }]
    );
    assert_eq!(
        mogr("thumbnail/300x200/pad/0"),
        vec![MogrOp::Thumbnail {
            spec: fit(Some(300), Some(200), Only::Any),
            pad: None
        }]
    );
}

#[test]
fn pad_and_color_may_come_before_the_thumbnail() {
    let red = b64("#FF0000");
    assert_eq!(
        mogr(&format!("color/{red}/pad/1/thumbnail/300x200")),
        vec![MogrOp::Thumbnail {
            spec: fit(Some(300), Some(200), Only::Any),
            pad: Some(Rgb(255, 0, 0))
        }]
    );
}

#[test]
fn pad_goes_to_the_first_thumbnail_with_both_sides() {
    let ops = mogr("thumbnail/!50p/thumbnail/300x/thumbnail/300x200/thumbnail/10x10/pad/1");
    let pads: Vec<Option<Rgb>> = ops
        .iter()
        .map(|op| match op {
            MogrOp::Thumbnail { pad, .. } => *pad,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(pads, vec![None, None, Some(Rgb(255, 255, 255)), None]);
}

#[test]
fn a_color_without_pad_changes_nothing() {
    let red = b64("#FF0000");
    assert_eq!(
        mogr(&format!("thumbnail/300x200/color/{red}")),
        mogr("thumbnail/300x200")
    );
}

#[test]
fn pad_without_a_boxed_thumbnail_is_refused_at_pad() {
    rejects(
        "imageMogr2/^pad/1",
        "pad",
        "pad needs thumbnail/<W>x<H> in the same processor",
    );
    rejects("imageMogr2/thumbnail/300x/^pad/1", "pad", "pad needs");
    rejects("imageMogr2/thumbnail/!50p/^pad/1", "pad", "pad needs");
    // The thumbnail must be in the same processor.
    rejects(
        "imageMogr2/thumbnail/300x200|imageMogr2/^pad/1",
        "pad",
        "pad needs",
    );
    rejects(
        "imageMogr2/thumbnail/300x200/pad/^2",
        "2",
        "expected 0 or 1",
    );
}

#[test]
fn pad_colours() {
    let pad_of = |color: &str| match mogr_op(&format!("thumbnail/10x10/pad/1/color/{color}")) {
        MogrOp::Thumbnail { pad, .. } => pad,
        other => panic!("{other:?}"),
    };
    assert_eq!(pad_of(&b64("#FF0000")), Some(Rgb(255, 0, 0)));
    // Without '#', in lower case, with padding.
    assert_eq!(pad_of(&b64("00ff00")), Some(Rgb(0, 255, 0)));
    assert_eq!(pad_of("IzNEM0QzRA=="), Some(Rgb(0x3d, 0x3d, 0x3d)));
}

#[test]
fn bad_colours_are_refused_at_their_value() {
    let prefix = "imageMogr2/thumbnail/10x10/pad/1/color/";
    let red_word = b64("red");
    let short = b64("#FF00");
    let not_hex = b64("#GG0000");
    for (v, fragment) in [
        ("a*b", "invalid base64"),
        (red_word.as_str(), "colour must be base64 of #RRGGBB"),
        (short.as_str(), "colour must be base64 of #RRGGBB"),
        (not_hex.as_str(), "colour must be base64 of #RRGGBB"),
        // Decodes to the bytes ff fe: not UTF-8.
        ("__4", "invalid colour"),
    ] {
        rejects(&format!("{prefix}^{v}"), v, fragment);
    }
}

#[test]
fn crop_forms() {
    let crop = |v: &str| match mogr_op(&format!("crop/{v}")) {
        MogrOp::Crop { spec, gravity } => {
            assert_eq!(gravity, Gravity::NorthWest, "crop/{v}: the default gravity");
            spec
        }
        other => panic!("{other:?}"),
    };
    let c = |width, height, dx, dy| Crop {
        width,
        height,
        dx,
        dy,
    };
    assert_eq!(crop("300x200"), c(Some(300), Some(200), 0, 0));
    assert_eq!(crop("300x"), c(Some(300), None, 0, 0));
    assert_eq!(crop("x200"), c(None, Some(200), 0, 0));
    assert_eq!(crop("!300x200a10a20"), c(Some(300), Some(200), 10, 20));
    assert_eq!(crop("!300x200a10"), c(Some(300), Some(200), 10, 0));
    assert_eq!(crop("!300x200"), c(Some(300), Some(200), 0, 0));
    assert_eq!(crop("!300xa5a6"), c(Some(300), None, 5, 6));
    assert_eq!(crop("!x200a0a7"), c(None, Some(200), 0, 7));
}

#[test]
fn crop_errors() {
    rejects("imageMogr2/crop/^abc", "abc", "expected <W>x<H>");
    rejects("imageMogr2/crop/^x", "x", "expected <W>x<H>");
    rejects(
        "imageMogr2/crop/^0x10",
        "0x10",
        "sides must be positive integers",
    );
    rejects("imageMogr2/crop/^!a1a1", "!a1a1", "expected <W>x<H>");
    // An offset names itself, at the offset of the whole value.
    rejects(
        "imageMogr2/crop/^!300x200aXa1",
        "X",
        "expected an integer in 0..=",
    );
    rejects(
        "imageMogr2/crop/^!300x200a1a-2",
        "-2",
        "expected an integer in 0..=",
    );
    rejects(
        "imageMogr2/crop/^!300x200a1a2a3",
        "2a3",
        "expected an integer in 0..=",
    );
    rejects("imageMogr2/^crop", "crop", "missing value");
}

#[test]
fn every_gravity_name_case_insensitively() {
    let names = [
        ("northwest", Gravity::NorthWest),
        ("north", Gravity::North),
        ("northeast", Gravity::NorthEast),
        ("west", Gravity::West),
        ("center", Gravity::Center),
        ("east", Gravity::East),
        ("southwest", Gravity::SouthWest),
        ("south", Gravity::South),
        ("SouthEast", Gravity::SouthEast),
    ];
    for (name, want) in names {
        assert_eq!(
            mogr_op(&format!("crop/10x10/gravity/{name}")),
            MogrOp::Crop {
                spec: Crop {
                    width: Some(10),
                    height: Some(10),
                    dx: 0,
                    dy: 0
                },
                gravity: want
            },
            "{name}"
        );
    }
    rejects(
        "imageMogr2/crop/10x10/gravity/^middle",
        "middle",
        "unknown gravity",
    );
    rejects("imageMogr2/gravity/^centre", "centre", "unknown gravity");
}

#[test]
fn gravity_applies_to_every_crop_of_its_processor_and_the_last_one_wins() {
    let gravities = |params: &str| -> Vec<Gravity> {
        mogr(params)
            .iter()
            .filter_map(|op| match op {
                MogrOp::Crop { gravity, .. } => Some(*gravity),
                _ => None,
            })
            .collect()
    };
    // Before or after its crop.
    assert_eq!(gravities("gravity/south/crop/10x10"), vec![Gravity::South]);
    assert_eq!(
        gravities("crop/10x10/gravity/east/crop/5x5"),
        vec![Gravity::East, Gravity::East]
    );
    assert_eq!(
        gravities("gravity/north/crop/1x1/gravity/south"),
        vec![Gravity::South]
    );
    // Without a crop it adds no operation.
    assert_eq!(mogr("gravity/center"), vec![]);
}

#[test]
fn cut_takes_four_numbers() {
    assert_eq!(
        mogr_op("cut/10x20x3x4"),
        MogrOp::Cut {
            width: 10,
            height: 20,
            dx: 3,
            dy: 4
        }
    );
    rejects(
        "imageMogr2/cut/^0x10x0x0",
        "0x10x0x0",
        "cut size must be positive",
    );
    rejects(
        "imageMogr2/cut/^10x0x0x0",
        "10x0x0x0",
        "cut size must be positive",
    );
    rejects(
        "imageMogr2/cut/^10x10x1",
        "10x10x1",
        "wrong number of values",
    );
    rejects(
        "imageMogr2/cut/^10x10x1x1x1",
        "10x10x1x1x1",
        "wrong number of values",
    );
    rejects(
        "imageMogr2/cut/^10x10xax1",
        "a",
        "expected an integer in 0..=",
    );
}

#[test]
fn radii_are_positive_integers() {
    assert_eq!(mogr_op("iradius/20"), MogrOp::IRadius(20));
    assert_eq!(mogr_op("rradius/1"), MogrOp::RRadius(1));
    for v in ["0", "-1", "abc", "+5", "1.5"] {
        rejects(
            &format!("imageMogr2/iradius/^{v}"),
            v,
            "expected an integer in 1..=4294967295",
        );
        rejects(
            &format!("imageMogr2/rradius/^{v}"),
            v,
            "expected an integer in 1..=4294967295",
        );
    }
}

#[test]
fn rotate_takes_any_angle_from_0_to_360() {
    for (v, deg) in [("0", 0.0), ("90", 90.0), ("45.5", 45.5), ("360", 360.0)] {
        assert_eq!(mogr_op(&format!("rotate/{v}")), MogrOp::Rotate(deg), "{v}");
    }
    for v in ["361", "-1", "abc", "NaN", "inf", "360.5"] {
        rejects(
            &format!("imageMogr2/rotate/^{v}"),
            v,
            "expected degrees 0-360",
        );
    }
}

#[test]
fn auto_orient_and_strip_are_bare_flags() {
    assert_eq!(mogr_op("auto-orient"), MogrOp::AutoOrient);
    assert_eq!(mogr_op("strip"), MogrOp::Output(OutputOp::Strip));
    // A value after them is read as the next parameter.
    rejects("imageMogr2/auto-orient/^1", "1", "unknown parameter");
    rejects("imageMogr2/strip/^1", "1", "unknown parameter");
}

#[test]
fn flip_axes() {
    assert_eq!(mogr_op("flip/vertical"), MogrOp::Flip(FlipAxis::Vertical));
    assert_eq!(
        mogr_op("flip/horizontal"),
        MogrOp::Flip(FlipAxis::Horizontal)
    );
    for v in ["both", "Vertical", "x"] {
        rejects(
            &format!("imageMogr2/flip/^{v}"),
            v,
            "expected vertical or horizontal",
        );
    }
}
