//! The `Pic-Operations` header (docs/protocol.md, The Pic-Operations header): JSON (raw or
//! percent-encoded) → validated, parsed rules with their resolved destinations. Nothing here
//! touches the network.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use picops_processor::{parse_rule, Rule};
use serde::Deserialize;

use crate::error::ApiError;
use crate::route::{validate_bucket, validate_key};

pub const MAX_RULES: usize = 5;

#[derive(Debug, Deserialize)]
struct RawHeader {
    #[serde(default)]
    is_pic_info: Option<Flag>,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
}

/// `is_pic_info` as COS SDK users write it: `1`, `"1"`, `0`, `"0"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Int(i64),
    Str(String),
}

#[derive(Debug, Deserialize)]
struct RawRule {
    #[serde(default)]
    bucket: Option<String>,
    fileid: String,
    rule: String,
}

/// One rule, ready to run: where its output goes and the parsed rule.
#[derive(Debug, Clone)]
pub struct PicRule {
    pub bucket: String,
    pub key: String,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
pub struct PicOperations {
    pub is_pic_info: bool,
    pub operations: Vec<PicRule>,
}

fn raw_header(header: &str) -> Result<RawHeader, ApiError> {
    let bad = |m: String| ApiError::InvalidArgument(format!("Pic-Operations: {m}"));
    let trimmed = header.trim();
    let json = if trimmed.starts_with('{') {
        trimmed.to_string()
    } else {
        percent_decode_str(trimmed)
            .decode_utf8()
            .map_err(|_| bad("not UTF-8 after percent-decoding".into()))?
            .into_owned()
    };
    serde_json::from_str(&json).map_err(|e| bad(format!("invalid JSON: {e}")))
}

/// The names of the styles the header's rules use (`style/<name>`), to be resolved before
/// [`parse`]. A header that does not parse has none (parse reports the error).
pub fn style_names(header: &str) -> Vec<String> {
    raw_header(header)
        .ok()
        .and_then(|h| h.rules)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| style_name(&r.rule).map(str::to_string))
        .collect()
}

fn style_name(rule: &str) -> Option<&str> {
    rule.trim().strip_prefix("style/")
}

/// Parse the header for a source object `bucket`/`key`; `styles` maps the style names it
/// uses to their rules.
pub fn parse(
    header: &str,
    bucket: &str,
    key: &str,
    styles: &HashMap<String, String>,
) -> Result<PicOperations, ApiError> {
    let bad = |m: String| ApiError::InvalidArgument(format!("Pic-Operations: {m}"));
    let raw = raw_header(header)?;
    let is_pic_info = match raw.is_pic_info {
        None => false,
        Some(Flag::Int(0)) => false,
        Some(Flag::Int(1)) => true,
        Some(Flag::Str(s)) if s == "0" => false,
        Some(Flag::Str(s)) if s == "1" => true,
        Some(other) => return Err(bad(format!("is_pic_info must be 0 or 1, got {other:?}"))),
    };
    let rules = raw.rules.unwrap_or_default();
    if rules.len() > MAX_RULES {
        return Err(bad(format!(
            "{} rules given, at most {MAX_RULES} allowed",
            rules.len()
        )));
    }
    let operations = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key = resolve_fileid(&r.fileid, key)
                .map_err(|e| e.context(&format!("rule {}", i + 1)))?;
            let bucket = match r.bucket.as_deref().map(str::trim) {
                None | Some("") => bucket.to_string(),
                Some(b) => {
                    validate_bucket(b)?;
                    b.to_string()
                }
            };
            let text = match style_name(&r.rule) {
                Some(name) => styles.get(name).ok_or_else(|| {
                    ApiError::NoSuchStyle(format!(
                        "rule {}: no style named {name:?} is defined",
                        i + 1
                    ))
                })?,
                None => &r.rule,
            };
            let rule = parse_rule(text)
                .map_err(|e| ApiError::from(e).context(&format!("rule {}", i + 1)))?;
            Ok(PicRule { bucket, key, rule })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(PicOperations {
        is_pic_info,
        operations,
    })
}

/// `fileid` → output key: leading `/` is absolute, otherwise relative to the source key's
/// folder. Percent-decoded once (COS asks clients to encode it).
pub fn resolve_fileid(fileid: &str, source_key: &str) -> Result<String, ApiError> {
    let decoded = percent_decode_str(fileid)
        .decode_utf8()
        .map_err(|_| ApiError::InvalidArgument(format!("fileid {fileid:?} is not UTF-8")))?;
    if decoded.ends_with('/') || decoded.is_empty() {
        return Err(ApiError::InvalidArgument(format!(
            "fileid {fileid:?} must name an object, not a folder"
        )));
    }
    let key = match decoded.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => match source_key.rsplit_once('/') {
            Some((folder, _)) => format!("{folder}/{decoded}"),
            None => decoded.into_owned(),
        },
    };
    validate_key(&key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fileid_resolution() {
        assert_eq!(resolve_fileid("/p2/b.jpg", "p1/a.jpg").unwrap(), "p2/b.jpg");
        assert_eq!(
            resolve_fileid("p2/b.jpg", "p1/a.jpg").unwrap(),
            "p1/p2/b.jpg"
        );
        assert_eq!(resolve_fileid("b.jpg", "a.jpg").unwrap(), "b.jpg");
        assert_eq!(resolve_fileid("%E5%9B%BE.jpg", "a.jpg").unwrap(), "图.jpg");
        for bad in ["p2/", "/", "../x.jpg", "a/./b.jpg", "a//b.jpg", ""] {
            assert!(resolve_fileid(bad, "p1/a.jpg").is_err(), "{bad}");
        }
    }

    fn none() -> HashMap<String, String> {
        HashMap::new()
    }

    #[test]
    fn header_forms() {
        let raw =
            r#"{"is_pic_info":1,"rules":[{"fileid":"t.jpg","rule":"imageMogr2/thumbnail/10x"}]}"#;
        let p = parse(raw, "b", "d/a.jpg", &none()).unwrap();
        assert!(p.is_pic_info);
        assert_eq!(p.operations[0].key, "d/t.jpg");
        assert_eq!(p.operations[0].bucket, "b");
        let encoded: String =
            percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(
            parse(&encoded, "b", "d/a.jpg", &none())
                .unwrap()
                .operations
                .len(),
            1
        );
        assert!(
            parse(r#"{"is_pic_info":"1"}"#, "b", "a", &none())
                .unwrap()
                .is_pic_info
        );
        assert!(parse(r#"{"is_pic_info":1,"rules":"x"}"#, "b", "a", &none()).is_err());
        assert!(parse("{not json", "b", "a", &none()).is_err());
        let six = format!(
            r#"{{"rules":[{}]}}"#,
            [r#"{"fileid":"x.jpg","rule":"imageMogr2/strip"}"#; 6].join(",")
        );
        assert!(matches!(
            parse(&six, "b", "a", &none()),
            Err(ApiError::InvalidArgument(_))
        ));
        let style = r#"{"rules":[{"fileid":"x.jpg","rule":"style/thumb"}]}"#;
        assert_eq!(style_names(style), vec!["thumb".to_string()]);
        assert!(matches!(
            parse(style, "b", "a", &none()),
            Err(ApiError::NoSuchStyle(_))
        ));
        let styles = HashMap::from([("thumb".to_string(), "imageMogr2/thumbnail/20x".to_string())]);
        assert_eq!(parse(style, "b", "a", &styles).unwrap().operations.len(), 1);
    }
}
