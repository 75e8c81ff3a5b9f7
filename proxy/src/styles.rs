//! Styles (docs/protocol.md, styles): `style/<name>` stands for a rule defined per bucket, in
//! `picops.toml` (`[styles.<bucket>]`) or through the COS style API (`PUT/GET/DELETE /?style`).
//! API-defined styles are objects under [`PREFIX`] in the bucket itself, so they are as
//! durable as the data and every replica sees them at once (they are read per request, never
//! cached). Config styles win over stored ones of the same name.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{escape, ApiError};
use crate::upstream::UpstreamClient;

/// Where API-defined styles live in a bucket. Clients cannot read or write below it except
/// through the style API.
pub const PREFIX: &str = ".picops/styles/";

/// Styles from the configuration: bucket → name → rule.
#[derive(Debug, Clone, Default)]
pub struct ConfigStyles(pub BTreeMap<String, BTreeMap<String, String>>);

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    // A name becomes a key segment under the reserved prefix: it must not be a dot segment.
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidArgument(format!(
            "style name {name:?}: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )))
    }
}

/// A style body must be a rule of its own (no style of a style).
pub fn validate_body(body: &str) -> Result<(), ApiError> {
    if body.trim_start().starts_with("style/") {
        return Err(ApiError::InvalidArgument(
            "a style cannot refer to another style".into(),
        ));
    }
    picops_processor::parse_rule(body)
        .map(|_| ())
        .map_err(|e| ApiError::from(e).context("style body"))
}

/// Resolve every `style/<name>` among `names` for `bucket`: name → rule text.
pub async fn resolve(
    config: &ConfigStyles,
    upstream: &UpstreamClient,
    bucket: &str,
    names: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for name in names {
        if out.contains_key(name) {
            continue;
        }
        validate_name(name)?;
        if let Some(rule) = config.0.get(bucket).and_then(|s| s.get(name)) {
            out.insert(name.clone(), rule.clone());
            continue;
        }
        match upstream
            .get(bucket, &format!("{PREFIX}{name}"), 64 * 1024)
            .await
        {
            Ok((body, _)) => {
                out.insert(name.clone(), String::from_utf8_lossy(&body).into_owned());
            }
            Err(ApiError::NoSuchKey(_)) => {
                return Err(ApiError::NoSuchStyle(format!(
                    "no style named {name:?} is defined for bucket {bucket}"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StyleRequest {
    style_name: Option<String>,
    style_body: Option<String>,
}

fn parse_request(body: &[u8]) -> Result<StyleRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StyleRequest {
            style_name: None,
            style_body: None,
        });
    }
    quick_xml::de::from_reader(body)
        .map_err(|e| ApiError::InvalidArgument(format!("style request XML: {e}")))
}

/// Which style API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleCall {
    Add,
    List,
    Delete,
}

/// Answer a style API call; returns the XML body (empty for add and delete).
pub async fn handle(
    call: StyleCall,
    config: &ConfigStyles,
    upstream: &UpstreamClient,
    bucket: &str,
    body: &[u8],
) -> Result<String, ApiError> {
    let req = parse_request(body)?;
    match call {
        StyleCall::Add => {
            let name = req
                .style_name
                .ok_or_else(|| ApiError::InvalidArgument("AddStyle needs a StyleName".into()))?;
            let rule = req
                .style_body
                .ok_or_else(|| ApiError::InvalidArgument("AddStyle needs a StyleBody".into()))?;
            validate_name(&name)?;
            validate_body(&rule)?;
            upstream
                .put(
                    bucket,
                    &format!("{PREFIX}{name}"),
                    rule.into_bytes().into(),
                    "text/plain",
                    None,
                )
                .await?;
            Ok(String::new())
        }
        StyleCall::Delete => {
            let name = req
                .style_name
                .ok_or_else(|| ApiError::InvalidArgument("DeleteStyle needs a StyleName".into()))?;
            validate_name(&name)?;
            upstream.delete(bucket, &format!("{PREFIX}{name}")).await?;
            Ok(String::new())
        }
        StyleCall::List => {
            let mut styles: BTreeMap<String, String> = BTreeMap::new();
            for key in upstream.list_keys(bucket, PREFIX).await? {
                let name = key.trim_start_matches(PREFIX).to_string();
                if let Ok((body, _)) = upstream.get(bucket, &key, 64 * 1024).await {
                    styles.insert(name, String::from_utf8_lossy(&body).into_owned());
                }
            }
            if let Some(from_config) = config.0.get(bucket) {
                styles.extend(from_config.clone());
            }
            if let Some(only) = req.style_name {
                styles.retain(|name, _| *name == only);
            }
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<StyleList>");
            for (name, body) in styles {
                xml.push_str(&format!(
                    "<StyleRule><StyleName>{}</StyleName><StyleBody>{}</StyleBody></StyleRule>",
                    escape(&name),
                    escape(&body)
                ));
            }
            xml.push_str("</StyleList>");
            Ok(xml)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bodies() {
        assert!(validate_name("thumb_200-x.v2").is_ok());
        assert!(validate_name("../x").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name(".hidden").is_err());
        assert!(validate_name("").is_err());
        assert!(validate_body("imageMogr2/thumbnail/200x").is_ok());
        assert!(validate_body("style/other").is_err());
        assert!(validate_body("imageMogr2/bogus/1").is_err());
    }

    #[test]
    fn parses_the_sdk_bodies() {
        let r = parse_request(
            b"<AddStyle><StyleName>t</StyleName><StyleBody>imageMogr2/thumbnail/!50px</StyleBody></AddStyle>",
        )
        .unwrap();
        assert_eq!(r.style_name.as_deref(), Some("t"));
        assert_eq!(r.style_body.as_deref(), Some("imageMogr2/thumbnail/!50px"));
        let r = parse_request(b"<DeleteStyle><StyleName>t</StyleName></DeleteStyle>").unwrap();
        assert_eq!(r.style_name.as_deref(), Some("t"));
        assert!(parse_request(b"").unwrap().style_name.is_none());
    }
}
