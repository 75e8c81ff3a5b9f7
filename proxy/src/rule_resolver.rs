//! The one place rule text becomes runnable rules: `style/<name>` is looked up (in the
//! configuration, then in the bucket), the rule is parsed, and the image watermarks it names
//! are fetched with the caller's rights, their memory reserved before they are read.

use std::collections::{HashMap, HashSet};

use picops_processor::{parse_rule, Rule};

use crate::auth::Identity;
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::pic_ops::{self, PicOperations};
use crate::styles;
use crate::upstream::UpstreamClient;
use crate::watermarks;

/// A Pic-Operations header, its styles resolved, parsed, with every destination bucket
/// authorised for writing.
pub async fn pic_operations(
    engine: &Engine,
    upstream: &UpstreamClient,
    identity: &Identity,
    header: &str,
    bucket: &str,
    key: &str,
) -> Result<PicOperations, ApiError> {
    let styles = styles::resolve(
        &engine.config.styles,
        upstream,
        bucket,
        &pic_ops::style_names(header),
    )
    .await?;
    let ops = pic_ops::parse(header, bucket, key, &styles)?;
    for op in &ops.operations {
        identity.authorize(&engine.keyring, Some(&op.bucket), &http::Method::PUT)?;
    }
    Ok(ops)
}

/// The rule text of a GET's query (`style/<name>` replaced by the style's rule), and the
/// rule parsed from it.
pub async fn get_rule(
    engine: &Engine,
    upstream: &UpstreamClient,
    bucket: &str,
    query: &str,
) -> Result<(String, Rule), ApiError> {
    let text = match query.strip_prefix("style/") {
        Some(name) => {
            let names = [name.to_string()];
            let mut styles =
                styles::resolve(&engine.config.styles, upstream, bucket, &names).await?;
            styles.remove(name).unwrap_or_default()
        }
        None => query.to_string(),
    };
    let rule = parse_rule(&text)?;
    Ok((text, rule))
}

/// Fetch the image watermarks `rules` name, with the caller's rights, and hand the bytes to
/// the rules. The fetched images are held until the answer: reserved before they are read.
pub async fn fetch_watermarks(
    engine: &Engine,
    rules: &mut [Rule],
    identity: &Identity,
    upstream: &UpstreamClient,
    own_host: &str,
    budget: &mut Budget,
) -> Result<(), ApiError> {
    let urls: HashSet<String> = rules.iter().flat_map(|r| r.watermark_urls()).collect();
    budget
        .hold_extra(
            &engine.memory,
            urls.len() as u64 * watermarks::MAX_WATERMARK,
        )
        .await?;
    let mut fetched: HashMap<String, std::sync::Arc<Vec<u8>>> = HashMap::new();
    for url in urls {
        let bytes = watermarks::fetch(
            &url,
            identity,
            &engine.keyring,
            upstream,
            own_host,
            &engine.routing,
        )
        .await?;
        fetched.insert(url, std::sync::Arc::new(bytes));
    }
    for rule in rules.iter_mut() {
        for url in rule.watermark_urls() {
            if let Some(bytes) = fetched.get(&url) {
                rule.resolve_watermark(&url, bytes.clone());
            }
        }
    }
    Ok(())
}
