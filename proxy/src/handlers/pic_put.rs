//! `PUT /<key>` with Pic-Operations: read the body (capped, verified), decode it once, run
//! every rule, write the original and every result (all or nothing), answer UploadResult.

use crate::auth::{BodyCheck, Identity};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::metrics::Buffered;
use crate::reply::Reply;
use crate::request::Request;

use super::pic_common;

pub async fn handle(
    engine: &Engine,
    mut req: Request<'_>,
    identity: &Identity,
) -> Result<Reply, ApiError> {
    let call = pic_common::prepare(engine, &req, identity).await?;
    let max_body = engine.config.max_body;
    let declared = req.declared_within(max_body)?;
    let mut budget = call.budget;
    budget
        .grow_to(&engine.memory, declared.unwrap_or(max_body))
        .await?;
    let mut held = Buffered::default();
    let body = req.read_body(max_body, &identity.body, &mut held).await?;
    // The body's SHA-256, when the signature declared one and the body verifier checked it,
    // signs the original's upstream write too: one hash of a large upload, not two.
    let sha256 = match &identity.body {
        BodyCheck::Sha256(hash) => Some(hash.clone()),
        _ => None,
    };
    let upload = pic_common::Upload {
        body,
        content_type: req.header("content-type")?.unwrap_or_default().to_string(),
        sha256,
    };
    let reply =
        pic_common::process_upload(engine, &call.dest, &req.route, call.rules, budget, upload)
            .await;
    drop(held);
    reply
}
