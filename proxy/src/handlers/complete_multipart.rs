//! `POST /<key>?uploadId=…` with Pic-Operations: complete the multipart upload upstream,
//! then process the assembled object and write the results.

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::metrics::Buffered;
use crate::reply::Reply;
use crate::request::{Request, MAX_API_BODY};
use crate::store_writes::write_results;
use crate::xml;

use super::pic_common;

pub async fn handle(
    engine: &Engine,
    mut req: Request<'_>,
    identity: &Identity,
    upload_id: &str,
) -> Result<Reply, ApiError> {
    let mut call = pic_common::prepare(engine, &req, identity).await?;
    let body = req
        .read_body(MAX_API_BODY, &identity.body, &mut Buffered::default())
        .await?;
    let parts = xml::parse_complete_parts(&body)
        .map_err(|e| ApiError::InvalidArgument(format!("CompleteMultipartUpload body: {e}")))?;
    let key = &req.route.key;
    let etag = call
        .dest
        .upstream
        .complete_multipart(&call.dest.bucket, key, upload_id, parts)
        .await?;
    // From here on the original exists and cannot be un-completed: say so on failure.
    let stored = |e: ApiError| {
        e.context(
            "the multipart upload was completed and the original is stored, but processing failed",
        )
    };
    let (data, _) = engine
        .fetch_source(call.dest.upstream, &mut call.budget, &call.dest.bucket, key)
        .await
        .map_err(stored)?;
    let processed = engine
        .process(data, call.rules, call.budget)
        .await
        .map_err(stored)?;
    let (original, results) =
        write_results(&call.dest.target(&req.route), processed, Some(etag), None)
            .await
            .map_err(stored)?;
    Ok(Reply::xml(
        200,
        xml::complete_result(&call.dest.bucket, &original, &results),
    ))
}
