//! `GET /<key>?imageInfo` and `?imageAve`: facts of a stored image as JSON.

use crate::auth::Identity;
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
    let (data, memory) = engine
        .fetch_for_get(identity, req.bucket()?, &req.route.key)
        .await?;
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
