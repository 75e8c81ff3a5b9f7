//! All-or-nothing writes of a processing call's objects: every result (and the original of
//! an upload) is written concurrently; after a failed write, the objects this request
//! created are deleted again, so a failure leaves the bucket as it was.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::engine::Processed;
use crate::error::ApiError;
use crate::pic_ops::PicOperations;
use crate::route::Route;
use crate::stored_headers::{Headers, StoredHeaders};
use crate::upstream::UpstreamClient;
use crate::xml::{OriginalInfo, ProcessedObject};

/// The uploaded original, as it will be written upstream.
pub struct Original {
    pub body: Bytes,
    /// Empty: taken from the decoded format.
    pub content_type: String,
    /// Its SHA-256 (hex), already checked against the client's signature.
    pub sha256: Option<String>,
}

/// One object to write upstream.
struct Write {
    bucket: String,
    key: String,
    body: Bytes,
    content_type: String,
    sha256: Option<String>,
    headers: Headers,
}

/// Where and how a processing call's objects are written.
pub struct Target<'a> {
    pub upstream: &'a UpstreamClient,
    /// The request's route: the original's key and the host of every `Location`.
    pub route: &'a Route,
    pub bucket: &'a str,
    pub ops: &'a PicOperations,
    pub stored: &'a StoredHeaders,
}

/// Write the results (and the original, when `original_body` is given), all or nothing:
/// after a failed write, objects this request created are deleted again.
pub async fn write_results(
    target: &Target<'_>,
    processed: Processed,
    stored_etag: Option<String>,
    original_body: Option<Original>,
) -> Result<(OriginalInfo, Vec<ProcessedObject>), ApiError> {
    let Target {
        upstream,
        route,
        bucket,
        ops,
        stored,
    } = *target;
    let source_key = route.key.clone();
    // Results' bytes move into the writes; their facts stay for the answer.
    let mut facts = Vec::with_capacity(processed.outputs.len());
    let mut writes: Vec<Write> = Vec::with_capacity(processed.outputs.len() + 1);
    for (op, out) in ops.operations.iter().zip(processed.outputs) {
        writes.push(Write {
            bucket: op.bucket.clone(),
            key: op.key.clone(),
            body: Bytes::from(out.bytes),
            content_type: out.facts.format.mime().to_string(),
            sha256: None,
            headers: stored.results.clone(),
        });
        facts.push(out.facts);
    }
    // A rule whose output replaces the source: the original is not written separately.
    let replaced = ops
        .operations
        .iter()
        .any(|op| op.bucket == bucket && op.key == source_key);
    if let (Some(original), false) = (original_body, replaced) {
        writes.push(Write {
            bucket: bucket.to_string(),
            key: source_key.clone(),
            body: original.body,
            content_type: original.content_type,
            sha256: original.sha256,
            headers: stored.original.clone(),
        });
    }

    let etags = write_all(upstream, writes).await?;
    let etag_of = |b: &str, k: &str| {
        etags
            .get(&(b.to_string(), k.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    let results = ops
        .operations
        .iter()
        .zip(facts)
        .map(|(op, facts)| ProcessedObject {
            location: route.location(&op.bucket, &op.key),
            key: op.key.clone(),
            etag: etag_of(&op.bucket, &op.key),
            facts,
        })
        .collect();
    let original_etag = if replaced {
        etag_of(bucket, &source_key)
    } else {
        stored_etag.unwrap_or_else(|| etag_of(bucket, &source_key))
    };
    let original = OriginalInfo {
        location: route.location(bucket, &source_key),
        key: source_key,
        image_info: ops.is_pic_info.then_some(processed.info),
        etag: original_etag,
    };
    Ok((original, results))
}

/// Write every object concurrently. If any write fails (after the SDK's retries), delete
/// the objects that did not exist before this request and were written by it.
async fn write_all(
    upstream: &UpstreamClient,
    writes: Vec<Write>,
) -> Result<HashMap<(String, String), String>, ApiError> {
    // Which destinations exist already: those are overwritten, never deleted on cleanup.
    let checks = writes.iter().map(|w| async move {
        let e = upstream.exists(&w.bucket, &w.key).await?;
        Ok::<_, ApiError>(((w.bucket.clone(), w.key.clone()), e))
    });
    let existed: HashMap<(String, String), bool> = futures_util::future::try_join_all(checks)
        .await?
        .into_iter()
        .collect();
    let mut set = JoinSet::new();
    for w in writes {
        let up = upstream.clone();
        set.spawn(async move {
            let r = up
                .put(
                    &w.bucket,
                    &w.key,
                    w.body,
                    &w.content_type,
                    w.sha256,
                    &w.headers,
                )
                .await;
            ((w.bucket, w.key), r)
        });
    }
    let mut etags = HashMap::new();
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((id, Ok(etag))) => {
                etags.insert(id, etag);
            }
            Ok((_, Err(e))) => failure = failure.or(Some(e)),
            Err(e) => {
                failure = failure.or(Some(ApiError::Internal(format!("write task failed: {e}"))))
            }
        }
    }
    let Some(err) = failure else { return Ok(etags) };
    // Every destination that did not exist before is deleted, not only the writes that
    // answered: a write that timed out or lost its connection may still have been stored.
    // (Deleting a key that is not there is a no-op in S3.)
    let cleanup = existed
        .iter()
        .filter(|(_, existed)| !**existed)
        .map(|((bucket, key), _)| async move {
            if let Err(e) = upstream.delete(bucket, key).await {
                tracing::error!(%bucket, %key, error = %e, "cleanup after a failed write also failed");
            }
        });
    futures_util::future::join_all(cleanup).await;
    Err(match err {
        ApiError::Upstream {
            status,
            code,
            message,
        } if status < 500 => ApiError::Upstream {
            status,
            code,
            message,
        },
        ApiError::Upstream { message, .. } | ApiError::Internal(message) => ApiError::Internal(
            format!("{message}; objects created by this request were removed"),
        ),
        other => other,
    })
}
