//! Styles (docs/protocol.md, styles): `style/<name>` stands for a rule defined per bucket, in
//! `picops.toml` (`[styles.<bucket>]`) or through the COS style API (`PUT/GET/DELETE /?style`).
//! API-defined styles are objects under [`PREFIX`] in the bucket itself, so they are as
//! durable as the data and every replica sees them at once (they are read per request, never
//! cached). Config styles win over stored ones of the same name.
//!
//! This module reads and writes them; the style API's handler is `handlers/style_api.rs`.

use std::collections::{BTreeMap, HashMap};

pub use crate::style_rules::{validate_body, validate_name, ConfigStyles, PREFIX};

use crate::error::ApiError;
use crate::upstream::UpstreamClient;

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

/// Store (or replace) a style in `bucket`.
pub async fn put(
    upstream: &UpstreamClient,
    bucket: &str,
    name: &str,
    rule: String,
) -> Result<(), ApiError> {
    validate_name(name)?;
    validate_body(&rule)?;
    upstream
        .put(
            bucket,
            &format!("{PREFIX}{name}"),
            rule.into_bytes().into(),
            "text/plain",
            None,
            &[],
        )
        .await
        .map(|_| ())
}

pub async fn delete(upstream: &UpstreamClient, bucket: &str, name: &str) -> Result<(), ApiError> {
    validate_name(name)?;
    upstream.delete(bucket, &format!("{PREFIX}{name}")).await
}

/// Every style of `bucket`, stored and configured (configured ones win): name → rule.
pub async fn list(
    config: &ConfigStyles,
    upstream: &UpstreamClient,
    bucket: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
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
    Ok(styles)
}
