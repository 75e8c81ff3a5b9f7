//! Processing on GET (COS, OSS and Qiniu call it real-time processing): `GET /<key>?<rule>`
//! answers the processed image without storing it; `?imageInfo` and `?imageAve` answer JSON.
//! Results are kept in a bounded in-memory cache keyed by object and rule, revalidated against
//! the stored object's ETag with a conditional GET, so a changed original is never answered
//! from a stale result.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use picops_processor::parse_rule;
use sha2::{Digest, Sha256};

use crate::auth::Identity;
use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::proxy::Reply;
use crate::rate_limit::RateBudget;
use crate::route::Route;
use crate::upload::{self, State};
use crate::upstream::UpstreamClient;

/// What a GET asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageQuery {
    /// A rule (`imageMogr2/…`, `imageView2/…`, pipelines with `|`) or `style/<name>`.
    Rule(String),
    /// `?imageInfo`: ImageInfo as JSON.
    Info,
    /// `?imageAve`: the average colour as JSON.
    Ave,
}

/// The processing part of a GET's query, if any: the first parameter that is a rule (other
/// parameters, such as a pre-signed URL's, are ignored here).
pub fn image_query(route: &Route) -> Option<ImageQuery> {
    // A signature's parameters (`q-…`, `X-Amz-…`) match none of these names.
    route.params().find_map(|(name, _)| match name.as_ref() {
        "imageInfo" => Some(ImageQuery::Info),
        "imageAve" => Some(ImageQuery::Ave),
        n if ["imageMogr2/", "imageView2/", "watermark/", "style/"]
            .iter()
            .any(|p| n.starts_with(p)) =>
        {
            Some(ImageQuery::Rule(n.to_string()))
        }
        _ => None,
    })
}

struct Cached {
    source_etag: String,
    body: Bytes,
    content_type: String,
    etag: String,
}

/// A bounded cache of recent results, by bytes held (least recently used goes first).
pub struct ResultCache {
    inner: Mutex<(lru::LruCache<CacheKey, Arc<Cached>>, usize)>,
    capacity: usize,
}

/// Bucket, key and rule text.
type CacheKey = (String, String, String);

impl ResultCache {
    pub fn new(capacity_bytes: usize) -> ResultCache {
        ResultCache {
            inner: Mutex::new((lru::LruCache::unbounded(), 0)),
            capacity: capacity_bytes,
        }
    }

    fn get(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.get(key).cloned()
    }

    fn put(&self, key: CacheKey, value: Arc<Cached>) {
        let len = value.body.len();
        if len > self.capacity / 4 {
            return; // one result may not push out most of the others
        }
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (entries, held) = &mut *guard;
        if let Some(old) = entries.put(key, value) {
            *held -= old.body.len();
        }
        *held += len;
        while *held > self.capacity {
            match entries.pop_lru() {
                Some((_, v)) => *held -= v.body.len(),
                None => break,
            }
        }
    }
}

fn result_etag(source_etag: &str, rule: &str) -> String {
    let digest = Sha256::digest(format!("{source_etag}\n{rule}").as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn json_reply(value: serde_json::Value) -> Reply {
    Reply {
        status: 200,
        body: Bytes::from(value.to_string()),
        content_type: "application/json".into(),
        headers: Vec::new(),
    }
}

/// Gives the rate token back when the source object is missing: nothing gets processed for
/// it, and probing missing keys must not drain the budget of those asking for real ones.
fn refund_if_missing<'a>(state: &'a State, budget: &'a RateBudget) -> impl Fn(&ApiError) + 'a {
    move |e| {
        if e.status() == 404 {
            state.refund(budget);
        }
    }
}

pub async fn handle(
    state: &State,
    upstream: &UpstreamClient,
    identity: &Identity,
    route: &Route,
    query: ImageQuery,
    if_none_match: Option<&str>,
) -> Result<Reply, ApiError> {
    let bucket = route.bucket.as_deref().unwrap_or_default();
    let key = &route.key;
    let max = state.config.max_body;
    let rule_text = match &query {
        ImageQuery::Rule(r) => match r.strip_prefix("style/") {
            Some(name) => {
                let names = [name.to_string()];
                let styles =
                    crate::styles::resolve(&state.config.styles, upstream, bucket, &names).await?;
                styles.get(name).cloned().unwrap_or_default()
            }
            None => r.clone(),
        },
        ImageQuery::Info | ImageQuery::Ave => {
            // Decoding for ImageInfo costs like processing: the same token, the same refund.
            let budget = state.admit_get(bucket, identity)?;
            // The object is held from its first byte: reserved before it is read.
            let mut memory = upload::Budget::default();
            memory.grow_to(state, max).await?;
            let (data, _) = upstream
                .get(bucket, key, max)
                .await
                .inspect_err(refund_if_missing(state, &budget))?;
            let size = data.len();
            let info = upload::image_info(state, data, memory).await?;
            return Ok(json_reply(match query {
                ImageQuery::Ave => serde_json::json!({ "RGB": info.ave }),
                _ => serde_json::json!({
                    "format": info.format.extension(),
                    "width": info.width.to_string(),
                    "height": info.height.to_string(),
                    "size": size.to_string(),
                    "frame_count": info.frames.to_string(),
                    "orientation": info.orientation.to_string(),
                    "quality": info.quality.to_string(),
                }),
            }));
        }
    };
    // The rule is checked before anything is fetched.
    let mut rule = parse_rule(&rule_text)?;
    // Processing on GET counts against the rate like uploads do; anonymous callers against
    // their address's own.
    let budget = state.admit_get(bucket, identity)?;
    let mut memory = upload::Budget::default();
    state
        .fetch_watermarks(
            std::slice::from_mut(&mut rule),
            identity,
            upstream,
            &route.host,
            &mut memory,
        )
        .await?;
    // The object is held from its first byte: reserved before it is read.
    memory.grow_to(state, max).await?;
    let cache_key = (bucket.to_string(), key.clone(), rule_text.clone());
    let cached = state.result_cache.get(&cache_key);
    let fetched = upstream
        .get_if_changed(
            bucket,
            key,
            max,
            cached.as_ref().map(|c| c.source_etag.as_str()),
        )
        .await
        .inspect_err(refund_if_missing(state, &budget))?;
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
            let out = upload::process_one(state, data, rule, memory).await?;
            let fresh = Arc::new(Cached {
                etag: result_etag(&source_etag, &rule_text),
                source_etag,
                content_type: out.facts.format.mime().to_string(),
                body: Bytes::from(out.bytes),
            });
            state.result_cache.put(cache_key, fresh.clone());
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
        ("Cache-Control", state.config.get_cache_control.clone()),
    ];
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == result.etag)) {
        return Ok(Reply {
            status: 304,
            body: Bytes::new(),
            content_type: result.content_type.clone(),
            headers,
        });
    }
    Ok(Reply {
        status: 200,
        body: result.body.clone(),
        content_type: result.content_type.clone(),
        headers,
    })
}
