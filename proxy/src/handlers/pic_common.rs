//! What the three Pic-Operations calls do before they read any image: everything that can
//! be checked without reading or writing (docs/protocol.md, the three calls).

use std::sync::Arc;

use bytes::Bytes;
use picops_processor::Rule;

use crate::auth::Identity;
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::pic_ops::PicOperations;
use crate::reply::Reply;
use crate::request::Request;
use crate::route::{validate_key, Route};
use crate::rule_resolver;
use crate::store_writes::{write_results, Original, Target};
use crate::stored_headers::{self, StoredHeaders};
use crate::upstream::UpstreamClient;
use crate::xml;

pub struct PicCall<'e> {
    /// Where the call writes.
    pub dest: Destination<'e>,
    /// Shared by the plan and the parallel rule jobs.
    pub rules: Arc<Vec<Rule>>,
    /// Memory is reserved before bytes are read, and pixels before they are decoded; both
    /// are held until the answer is written (and until the last processing job has ended).
    pub budget: Budget,
}

pub struct Destination<'e> {
    pub bucket: String,
    pub ops: PicOperations,
    pub upstream: &'e UpstreamClient,
    /// What the written objects are stored with.
    pub stored: StoredHeaders,
}

impl Destination<'_> {
    /// Where the call's objects are written.
    pub fn target<'a>(&'a self, route: &'a Route) -> Target<'a> {
        Target {
            upstream: self.upstream,
            route,
            bucket: &self.bucket,
            ops: &self.ops,
            stored: &self.stored,
        }
    }
}

/// An uploaded original as the client sent it, before it is processed.
pub struct Upload {
    pub body: Bytes,
    /// Empty: the decoded format's type.
    pub content_type: String,
    /// Its SHA-256 (hex), already checked against the client's signature.
    pub sha256: Option<String>,
}

/// Process an uploaded original and write it with every result, all or nothing; answered
/// as a PUT with Pic-Operations is: UploadResult, with the stored original's ETag also in
/// the header (S3 SDKs read it there). `budget` must already hold the body.
pub async fn process_upload(
    engine: &Engine,
    dest: &Destination<'_>,
    route: &Route,
    rules: Arc<Vec<Rule>>,
    budget: Budget,
    upload: Upload,
) -> Result<Reply, ApiError> {
    let processed = engine.process(upload.body.clone(), rules, budget).await?;
    let original = Original {
        content_type: if upload.content_type.is_empty() {
            processed.info.format.mime().to_string()
        } else {
            upload.content_type
        },
        body: upload.body,
        sha256: upload.sha256,
    };
    let (original, results) =
        write_results(&dest.target(route), processed, None, Some(original)).await?;
    let reply = Reply::xml(200, xml::upload_result(&original, &results));
    Ok(if original.etag.is_empty() {
        reply
    } else {
        reply.with_header("ETag", original.etag.clone())
    })
}

pub async fn prepare<'e>(
    engine: &'e Engine,
    req: &Request<'_>,
    identity: &Identity,
) -> Result<PicCall<'e>, ApiError> {
    let bucket = req.bucket()?.to_string();
    validate_key(&req.route.key)?;
    let header = req
        .header("pic-operations")?
        .ok_or_else(|| ApiError::InvalidArgument("Pic-Operations header missing".into()))?;
    // As COS does: rules a signature does not cover could be swapped in transit.
    if !identity.signs("pic-operations") {
        return Err(ApiError::AccessDenied(
            "the request signature must cover the Pic-Operations header".into(),
        ));
    }
    let stored = stored_headers::from_request(&req.headers, &engine.config.store_features)?;
    engine.admit(&bucket)?;
    let upstream = engine.upstream(identity);
    let ops =
        rule_resolver::pic_operations(engine, upstream, identity, header, &bucket, &req.route.key)
            .await?;
    let mut rules: Vec<Rule> = ops.operations.iter().map(|o| o.rule.clone()).collect();
    let mut budget = Budget::default();
    rule_resolver::fetch_watermarks(
        engine,
        &mut rules,
        identity,
        upstream,
        &req.route.host,
        &mut budget,
    )
    .await?;
    Ok(PicCall {
        dest: Destination {
            bucket,
            ops,
            upstream,
            stored,
        },
        rules: Arc::new(rules),
        budget,
    })
}
