//! Processing on GET (COS, OSS and Qiniu call it real-time processing): `GET /<key>?<rule>`
//! answers the processed image without storing it. Results are kept in the result cache,
//! revalidated against the stored object's ETag with a conditional GET, so a changed
//! original is never answered from a stale result.

use std::sync::Arc;

use bytes::Bytes;

use crate::auth::Identity;
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::reply::Reply;
use crate::request::Request;
use crate::result_cache::{result_etag, Cached};
use crate::rule_resolver;

pub async fn handle(
    engine: &Engine,
    req: Request<'_>,
    identity: &Identity,
    query: &str,
) -> Result<Reply, ApiError> {
    let bucket = req.bucket()?;
    let key = &req.route.key;
    let upstream = engine.upstream(identity);
    // The rule is checked before anything is fetched.
    let (rule_text, mut rule) = rule_resolver::get_rule(engine, upstream, bucket, query).await?;
    // Processing on GET counts against the rate like uploads do; anonymous callers against
    // their address's own.
    let rate = engine.admit_get(bucket, identity)?;
    let mut memory = Budget::default();
    rule_resolver::fetch_watermarks(
        engine,
        std::slice::from_mut(&mut rule),
        identity,
        upstream,
        &req.route.host,
        &mut memory,
    )
    .await?;
    // The object is held from its first byte: reserved before it is read.
    let max = engine.config.max_body;
    memory.grow_to(&engine.memory, max).await?;
    let cache_key = (bucket.to_string(), key.clone(), rule_text.clone());
    let cached = engine.result_cache.get(&cache_key);
    let fetched = upstream
        .get_if_changed(
            bucket,
            key,
            max,
            cached.as_ref().map(|c| c.source_etag.as_str()),
        )
        .await
        .inspect_err(|e| {
            // Nothing gets processed for a missing source: probing missing keys must not
            // drain the budget of those asking for real ones.
            if e.status() == 404 {
                engine.refund(&rate)
            }
        })?;
    let result = match (fetched, cached) {
        // 304, or a store that ignores If-None-Match sent the same object again.
        (None, Some(hit)) => {
            METRICS.result_cache.with_label_values(&["hit"]).inc();
            hit
        }
        (Some((_, etag)), Some(hit)) if etag == hit.source_etag => {
            METRICS.result_cache.with_label_values(&["hit"]).inc();
            hit
        }
        (Some((data, source_etag)), _) => {
            METRICS.result_cache.with_label_values(&["miss"]).inc();
            let out = engine.process_one(data, rule, memory).await?;
            let fresh = Arc::new(Cached {
                etag: result_etag(&source_etag, &rule_text),
                source_etag,
                content_type: out.facts.format.mime().to_string(),
                body: Bytes::from(out.bytes),
            });
            engine.result_cache.put(cache_key, fresh.clone());
            fresh
        }
        (None, None) => {
            return Err(ApiError::Internal(
                "the store answered 304 to an unconditional read".into(),
            ))
        }
    };
    let headers = vec![
        ("ETag", result.etag.clone()),
        ("Cache-Control", engine.config.get_cache_control.clone()),
    ];
    let not_modified = req
        .headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == result.etag));
    Ok(Reply {
        status: if not_modified { 304 } else { 200 },
        body: if not_modified {
            Bytes::new()
        } else {
            result.body.clone()
        },
        content_type: result.content_type.clone(),
        headers,
    })
}
