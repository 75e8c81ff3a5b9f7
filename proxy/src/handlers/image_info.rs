//! `GET /<key>?imageInfo` and `?imageAve`: facts of a stored image as JSON.

use crate::auth::Identity;
use crate::budget::Budget;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;

pub async fn handle(
    engine: &Engine,
    req: Request<'_>,
    identity: &Identity,
    average_only: bool,
) -> Result<Reply, ApiError> {
    let bucket = req.bucket()?;
    let upstream = engine.upstream(identity);
    // Decoding for ImageInfo costs like processing: the same token, the same refund.
    let rate = engine.admit_get(bucket, identity)?;
    let mut memory = Budget::default();
    let (data, _) = engine
        .fetch_source(upstream, &mut memory, bucket, &req.route.key)
        .await
        .inspect_err(|e| {
            // Probing missing keys must not drain the budget of those asking for real ones.
            if e.status() == 404 {
                engine.refund(&rate)
            }
        })?;
    let size = data.len();
    let info = engine.image_info(data, memory).await?;
    Ok(Reply::json(if average_only {
        serde_json::json!({ "RGB": info.ave })
    } else {
        serde_json::json!({
            "format": info.format.extension(),
            "width": info.width.to_string(),
            "height": info.height.to_string(),
            "size": size.to_string(),
            "frame_count": info.frames.to_string(),
            "orientation": info.orientation.to_string(),
            "quality": info.quality.to_string(),
        })
    }))
}
