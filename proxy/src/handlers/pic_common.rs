//! What the three Pic-Operations calls do before they read any image: everything that can
//! be checked without reading or writing (docs/protocol.md, the three calls).

use std::sync::Arc;

use picops_processor::Rule;

use crate::auth::Identity;
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::pic_ops::PicOperations;
use crate::request::Request;
use crate::route::{validate_key, Route};
use crate::rule_resolver;
use crate::store_writes::Target;
use crate::stored_headers::{self, StoredHeaders};
use crate::upstream::UpstreamClient;

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
