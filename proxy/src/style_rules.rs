//! Style names and bodies as picops accepts them, and the styles a configuration defines:
//! checked the same way whether they come from `picops.toml` or the style API.

use std::collections::BTreeMap;

use crate::error::ApiError;

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
}
