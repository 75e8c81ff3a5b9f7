//! `GET /?location` from a COS client: COS answers the region the bucket lives in, which
//! COS clients take from the host they address (`<bucket>.cos.<region>.myqcloud.com`);
//! otherwise the store's region.

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::route;
use crate::xml;

pub async fn handle(
    engine: &Engine,
    req: Request<'_>,
    identity: &Identity,
) -> Result<Reply, ApiError> {
    let bucket = req.bucket()?;
    // A missing bucket is NoSuchBucket, as COS answers it.
    engine.upstream(identity).bucket_exists(bucket).await?;
    let region = route::cos_region(&req.route.host)
        .unwrap_or_else(|| engine.upstreams.service().region().to_string());
    Ok(Reply::xml(200, xml::location(&region)))
}
