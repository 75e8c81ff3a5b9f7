//! What holds across processors: the pipeline, segments and offsets, limits, the AST helpers.

use std::sync::Arc;

use super::*;

#[test]
fn an_empty_or_blank_rule_is_refused_at_offset_zero() {
    rejects("^", "", "empty rule");
    rejects("^   ", "   ", "empty rule");
}

#[test]
fn processors_are_kept_in_the_order_written() {
    let text = b64("picops");
    let rule = parse(&format!(
        "imageView2/format/png|watermark/2/text/{text}|imageMogr2/strip"
    ));
    assert_eq!(rule.processor_names(), "imageView2|watermark|imageMogr2");
    assert!(matches!(rule.processors[0], Processor::ImageView2(_)));
    assert!(matches!(rule.processors[1], Processor::Watermark(_)));
    assert_eq!(
        rule.processors[2],
        Processor::ImageMogr2(vec![MogrOp::Output(OutputOp::Strip)])
    );
}

#[test]
fn an_unknown_processor_is_named_with_its_offset() {
    rejects(
        "^imageMogr3/thumbnail/1x",
        "imageMogr3",
        "unknown processor",
    );
    rejects("^imagemogr2/strip", "imagemogr2", "unknown processor");
    rejects(
        "imageMogr2/strip|^style/small",
        "style",
        "unknown processor",
    );
}

#[test]
fn offsets_count_across_every_processor_before() {
    rejects(
        "imageMogr2/strip|imageMogr2/^bogus",
        "bogus",
        "unknown parameter",
    );
    rejects(
        "imageMogr2/thumbnail/10x|imageView2/2/w/5|imageMogr2/quality/^0",
        "0",
        "1..=100",
    );
}

#[test]
fn a_non_ascii_token_is_named_whole_at_its_byte_offset() {
    rejects("^é", "é", "unknown processor");
    rejects("imageMogr2/^é/strip", "é", "unknown parameter");
    rejects("imageMogr2/gravity/^Süd", "Süd", "unknown gravity");
}

#[test]
fn an_empty_processor_between_bars_is_refused_where_it_stands() {
    rejects("^|imageMogr2/strip", "", "empty processor");
    rejects("imageMogr2/strip|^|imageMogr2/strip", "", "empty processor");
    rejects("imageMogr2/strip|^", "", "empty processor");
}

#[test]
fn a_processor_without_parameters_is_an_empty_imagemogr2() {
    for rule in ["imageMogr2", "imageMogr2/"] {
        assert_eq!(
            parse(rule).processors,
            vec![Processor::ImageMogr2(vec![])],
            "{rule}"
        );
    }
}

#[test]
fn one_trailing_slash_is_tolerated_but_not_two() {
    assert_eq!(parse("imageMogr2/strip/"), parse("imageMogr2/strip"));
    assert_eq!(
        parse("imageView2/1/w/100/"),
        parse("imageView2/1/w/100"),
        "a trailing slash after a value"
    );
    rejects("imageMogr2/strip/^/", "", "empty parameter");
}

#[test]
fn an_empty_segment_inside_a_processor_is_refused() {
    rejects("imageMogr2/^/strip", "", "empty parameter");
    rejects("imageMogr2/strip/^/format/png", "", "empty parameter");
}

#[test]
fn at_most_sixteen_processors() {
    let sixteen = ["imageMogr2/strip"; 16].join("|");
    assert_eq!(parse(&sixteen).processors.len(), 16);
    let marked = format!("{sixteen}|^imageMogr2/strip");
    rejects(&marked, "imageMogr2/strip", "too many processors");
}

#[test]
fn the_error_says_message_token_and_offset() {
    let err = parse_rule("imageMogr2/bogus/1").err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("invalid rule: unknown parameter at 'bogus' (offset 11)")
    );
}

#[test]
fn watermark_urls_lists_unfetched_image_marks_in_order() {
    let (a, b) = ("a.example/a.png", "b.example/b.png");
    let rule = parse(&format!(
        "watermark/1/image/{}|watermark/2/text/{}|imageMogr2/strip|watermark/1/image/{}",
        b64(a),
        b64("hi"),
        b64(b)
    ));
    assert_eq!(rule.watermark_urls(), vec![a.to_string(), b.to_string()]);
}

#[test]
fn resolve_watermark_gives_bytes_to_every_mark_of_that_url() {
    let (a, b) = ("a.example/a.png", "b.example/b.png");
    let mut rule = parse(&format!(
        "watermark/1/image/{}|watermark/1/image/{}|watermark/1/image/{}",
        b64(a),
        b64(b),
        b64(a)
    ));
    let bytes = Arc::new(vec![1u8, 2, 3]);
    rule.resolve_watermark(a, bytes.clone());
    assert_eq!(rule.watermark_urls(), vec![b.to_string()]);
    let sources: Vec<MarkImage> = rule
        .processors
        .iter()
        .filter_map(|p| match p {
            Processor::Watermark(Watermark {
                mark: Mark::Image { source, .. },
                ..
            }) => Some(source.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sources,
        vec![
            MarkImage::Bytes(bytes.clone()),
            MarkImage::Url(b.to_string()),
            MarkImage::Bytes(bytes),
        ]
    );
}

#[test]
fn base64_values_take_either_alphabet_with_or_without_padding() {
    let want = vec![0xfbu8, 0xff];
    for v in ["-_8", "-_8=", "+/8", "+/8="] {
        assert_eq!(decode_base64(v, 0), Ok(want.clone()), "{v}");
    }
    assert_eq!(
        decode_base64("a*b", 7),
        Err(ProcessError::InvalidRule {
            token: "a*b".into(),
            offset: 7,
            message: "invalid base64".into(),
        })
    );
}
