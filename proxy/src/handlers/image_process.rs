//! `POST /<key>?image_process` with Pic-Operations: process a stored object and write the
//! results (the original stays as it is).

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::store_writes::write_results;
use crate::xml;

use super::pic_common;

pub async fn handle(
    engine: &Engine,
    req: Request<'_>,
    identity: &Identity,
) -> Result<Reply, ApiError> {
    let mut call = pic_common::prepare(engine, &req, identity).await?;
    let (body, etag) = engine
        .fetch_source(
            call.dest.upstream,
            &mut call.budget,
            &call.dest.bucket,
            &req.route.key,
        )
        .await?;
    let processed = engine.process(body, call.rules, call.budget).await?;
    let (original, results) =
        write_results(&call.dest.target(&req.route), processed, Some(etag), None).await?;
    Ok(Reply::xml(200, xml::upload_result(&original, &results)))
}
