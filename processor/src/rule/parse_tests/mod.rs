//! Unit tests of the rule grammar: for every parameter, the forms it accepts (checked on the
//! typed AST) and every error it gives, with the token and the byte offset the error names.
//! One file per processor, and one for what holds across them.

use base64::Engine;

use crate::error::ProcessError;
use crate::rule::*;

mod imagemogr2_geometry;
mod imagemogr2_output;
mod imageview2;
mod structure;
mod watermark;

/// `rule` parsed, or a panic naming it and the error.
fn parse(rule: &str) -> Rule {
    parse_rule(rule).unwrap_or_else(|e| panic!("{rule}: {e}"))
}

/// The operations of `imageMogr2/<params>`.
fn mogr(params: &str) -> Vec<MogrOp> {
    let rule = format!("imageMogr2/{params}");
    match parse(&rule).processors.as_slice() {
        [Processor::ImageMogr2(ops)] => ops.clone(),
        other => panic!("{rule}: {other:?}"),
    }
}

/// The one operation of `imageMogr2/<params>`.
fn mogr_op(params: &str) -> MogrOp {
    match mogr(params).as_slice() {
        [op] => op.clone(),
        other => panic!("{params}: expected one operation, got {other:?}"),
    }
}

/// `thumbnail/<W>x<H>` and its one-sided forms, as parsed.
fn fit(width: Option<u32>, height: Option<u32>, only: Only) -> Thumbnail {
    Thumbnail::Fit {
        width,
        height,
        only,
    }
}

/// The imageView2 processor of `rule`.
fn view2(rule: &str) -> View2 {
    match parse(rule).processors.as_slice() {
        [Processor::ImageView2(v)] => v.clone(),
        other => panic!("{rule}: {other:?}"),
    }
}

/// The watermark processor of `rule`.
fn watermark(rule: &str) -> Watermark {
    match parse(rule).processors.as_slice() {
        [Processor::Watermark(w)] => w.clone(),
        other => panic!("{rule}: {other:?}"),
    }
}

/// URL-safe base64 without padding, as rules carry it.
fn b64(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Assert that the rule written in `marked` is refused with an error naming `token`, whose
/// message contains `fragment`. The rule is `marked` without its one `^`, which stands where
/// the error's byte offset must point.
#[track_caller]
fn rejects(marked: &str, token: &str, fragment: &str) {
    assert_eq!(
        marked.matches('^').count(),
        1,
        "mark the offset once: {marked}"
    );
    let offset = marked.find('^').unwrap_or_default();
    let rule = marked.replacen('^', "", 1);
    match parse_rule(&rule) {
        Err(ProcessError::InvalidRule {
            token: t,
            offset: o,
            message,
        }) => {
            assert!(
                message.contains(fragment),
                "{rule}: message {message:?} lacks {fragment:?}"
            );
            assert_eq!(
                (t.as_str(), o),
                (token, offset),
                "{rule}: token and offset ({message})"
            );
        }
        other => panic!("{rule}: expected an invalid rule, got {other:?}"),
    }
}
