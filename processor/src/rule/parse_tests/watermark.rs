//! watermark: image (mode 1) and text (mode 2) marks, their defaults, bounds and errors.

use super::*;

const URL: &str = "photos.cos.ap-x.myqcloud.com/mark.png";

#[test]
fn an_image_mark_with_its_defaults() {
    let w = watermark(&format!("watermark/1/image/{}", b64(URL)));
    assert_eq!(
        w,
        Watermark {
            mark: Mark::Image {
                source: MarkImage::Url(URL.into()),
                blogo: None,
                scale: None
            },
            gravity: Gravity::SouthEast,
            dx: 10,
            dy: 10,
            dissolve: 100,
            batch: false,
            degree: 0.0,
        }
    );
}

#[test]
fn an_image_mark_with_every_parameter() {
    let w = watermark(&format!(
        concat!(
            "watermark/1/image/{}/gravity/center/dx/0/dy/4096/dissolve/1",
            "/blogo/2/scatype/1/spcent/1000/batch/1/degree/360"
        ),
        b64(URL)
    ));
    assert_eq!(
        w,
        Watermark {
            mark: Mark::Image {
                source: MarkImage::Url(URL.into()),
                blogo: Some(2),
                scale: Some((ScaleBy::Width, 1000))
            },
            gravity: Gravity::Center,
            dx: 0,
            dy: 4096,
            dissolve: 1,
            batch: true,
            degree: 360.0,
        }
    );
}

#[test]
fn scatype_picks_the_side_spcent_scales_to() {
    let scale = |scatype: u32| match watermark(&format!(
        "watermark/1/image/{}/spcent/1/scatype/{scatype}",
        b64(URL)
    ))
    .mark
    {
        Mark::Image { scale, .. } => scale,
        other => panic!("{other:?}"),
    };
    assert_eq!(scale(1), Some((ScaleBy::Width, 1)));
    assert_eq!(scale(2), Some((ScaleBy::Height, 1)));
    assert_eq!(scale(3), Some((ScaleBy::Area, 1)));
}

#[test]
fn a_text_mark_with_its_defaults() {
    let w = watermark(&format!("watermark/2/text/{}", b64("picops")));
    assert_eq!(
        w,
        Watermark {
            mark: Mark::Text {
                text: "picops".into(),
                size: 40,
                fill: Rgb(0x3d, 0x3d, 0x3d),
                shadow: 0
            },
            gravity: Gravity::SouthEast,
            dx: 10,
            dy: 10,
            dissolve: 90,
            batch: false,
            degree: 0.0,
        }
    );
}

#[test]
fn a_text_mark_with_every_parameter() {
    let w = watermark(&format!(
        concat!(
            "watermark/2/text/{}/font/{}/fontsize/1000/fill/{}/shadow/100/dissolve/100",
            "/gravity/NorthWest/dx/1/dy/2/batch/0/degree/45"
        ),
        b64("水印 mark"),
        b64("DejaVu Sans"),
        b64("#FF0000")
    ));
    assert_eq!(
        w,
        Watermark {
            mark: Mark::Text {
                text: "水印 mark".into(),
                size: 1000,
                fill: Rgb(255, 0, 0),
                shadow: 100
            },
            gravity: Gravity::NorthWest,
            dx: 1,
            dy: 2,
            dissolve: 100,
            batch: false,
            degree: 45.0,
        }
    );
}

#[test]
fn text_is_counted_in_characters_not_bytes() {
    let max = "字".repeat(256);
    match watermark(&format!("watermark/2/text/{}", b64(&max))).mark {
        Mark::Text { text, .. } => assert_eq!(text, max),
        other => panic!("{other:?}"),
    }
    let long = b64(&"a".repeat(257));
    rejects(
        &format!("watermark/2/text/^{long}"),
        &long,
        "text must have 1 to 256 characters",
    );
    // Padding alone decodes to nothing.
    rejects(
        "watermark/2/text/^=",
        "=",
        "text must have 1 to 256 characters",
    );
}

#[test]
fn a_later_parameter_overrides_an_earlier_one() {
    let w = watermark(&format!(
        "watermark/2/text/{}/gravity/north/dx/5/gravity/south/dx/7",
        b64("a")
    ));
    assert_eq!((w.gravity, w.dx), (Gravity::South, 7));
}

#[test]
fn the_mode_is_1_or_2() {
    rejects("^watermark", "watermark", "missing value");
    for m in ["0", "3", "text", "01"] {
        rejects(
            &format!("watermark/^{m}/text/YQ"),
            m,
            "watermark mode must be 1 (image) or 2 (text)",
        );
    }
}

#[test]
fn the_image_or_text_is_required_and_named_at_the_processor() {
    rejects("^watermark/1", "watermark/1", "image is required");
    rejects(
        "^watermark/1/gravity/center",
        "watermark/1",
        "image is required",
    );
    rejects(
        "imageMogr2/strip|^watermark/2/fontsize/20",
        "watermark/2",
        "text is required",
    );
}

#[test]
fn base64_values_that_do_not_decode() {
    rejects("watermark/1/image/^a*b", "a*b", "invalid base64");
    rejects("watermark/2/text/^a*b", "a*b", "invalid base64");
    rejects("watermark/2/text/YQ/font/^a*b", "a*b", "invalid base64");
    rejects("watermark/2/text/YQ/fill/^a*b", "a*b", "invalid base64");
    // `__4` decodes to the bytes ff fe.
    rejects("watermark/1/image/^__4", "__4", "URL is not UTF-8");
    rejects("watermark/2/text/^__4", "__4", "text is not UTF-8");
    let red = b64("red");
    rejects(
        &format!("watermark/2/text/YQ/fill/^{red}"),
        &red,
        "colour must be base64 of #RRGGBB",
    );
}

#[test]
fn numeric_bounds() {
    let image = format!("watermark/1/image/{}", b64(URL));
    let cases = [
        ("blogo", "0", "1..=2"),
        ("blogo", "3", "1..=2"),
        ("scatype", "4", "1..=3"),
        ("spcent", "0", "1..=1000"),
        ("spcent", "1001", "1..=1000"),
        ("dx", "4097", "0..=4096"),
        ("dy", "-1", "0..=4096"),
        ("dissolve", "0", "1..=100"),
        ("dissolve", "101", "1..=100"),
        ("batch", "2", "0..=1"),
        ("degree", "361", "0..=360"),
        ("degree", "45.5", "0..=360"),
    ];
    for (name, v, range) in cases {
        rejects(
            &format!("{image}/{name}/^{v}"),
            v,
            &format!("expected an integer in {range}"),
        );
    }
    let text = "watermark/2/text/YQ";
    for (name, v, range) in [
        ("fontsize", "0", "1..=1000"),
        ("fontsize", "1001", "1..=1000"),
        ("shadow", "101", "0..=100"),
    ] {
        rejects(
            &format!("{text}/{name}/^{v}"),
            v,
            &format!("expected an integer in {range}"),
        );
    }
    rejects(
        &format!("{text}/gravity/^middle"),
        "middle",
        "unknown gravity",
    );
}

#[test]
fn scatype_and_spcent_go_together() {
    let image = format!("watermark/1/image/{}", b64(URL));
    rejects(
        &format!("^{image}/scatype/1"),
        "scatype",
        "scatype and spcent go together",
    );
    rejects(
        &format!("imageMogr2/strip|^{image}/spcent/10"),
        "scatype",
        "scatype and spcent go together",
    );
}

#[test]
fn parameters_of_the_other_mode_are_unknown() {
    let image = format!("watermark/1/image/{}", b64(URL));
    for name in ["text", "font", "fontsize", "fill", "shadow"] {
        rejects(
            &format!("{image}/^{name}/YQ"),
            name,
            "unknown watermark parameter",
        );
    }
    for name in ["image", "blogo", "scatype", "spcent"] {
        rejects(
            &format!("watermark/2/text/YQ/^{name}/1"),
            name,
            "unknown watermark parameter",
        );
    }
    rejects(
        "watermark/2/text/YQ/^bogus/1",
        "bogus",
        "unknown watermark parameter",
    );
}

#[test]
fn a_parameter_without_its_value() {
    rejects("watermark/2/text/YQ/^dx", "dx", "missing value");
    rejects("watermark/2/^text", "text", "missing value");
    rejects("watermark/2/text/^/dx/1", "text", "missing value");
}

#[test]
fn at_most_ten_image_watermarks_and_text_marks_do_not_count() {
    let image = format!("watermark/1/image/{}", b64(URL));
    let text = format!("watermark/2/text/{}", b64("a"));
    let ten = [image.as_str(); 10].join("|");
    let with_text = format!("{ten}|{text}|{text}");
    assert_eq!(parse(&with_text).processors.len(), 12);
    rejects(
        &format!("{with_text}|^{image}"),
        &image,
        "at most 10 image watermarks",
    );
}
