//! The requests picops answers itself, one file each. A handler gets the engine, the typed
//! request and the authenticated caller, and returns a [`Reply`] or an [`ApiError`]; the
//! gateway writes either.

mod bucket_location;
mod complete_multipart;
mod image_exif;
mod image_info;
mod image_process;
mod pic_common;
mod pic_put;
mod post_object;
mod process_on_get;
mod style_api;
mod unsupported;

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::operation::Operation;
use crate::reply::Reply;
use crate::request::Request;

pub async fn handle(
    engine: &Engine,
    operation: Operation,
    req: Request<'_>,
    identity: &Identity,
) -> Result<Reply, ApiError> {
    match operation {
        Operation::PicPut => pic_put::handle(engine, req, identity).await,
        Operation::PicImageProcess => image_process::handle(engine, req, identity).await,
        Operation::PicCompleteMultipart { upload_id } => {
            complete_multipart::handle(engine, req, identity, &upload_id).await
        }
        Operation::Style(call) => style_api::handle(engine, req, identity, call).await,
        Operation::ImageInfo => image_info::handle(engine, req, identity, false).await,
        Operation::ImageAve => image_info::handle(engine, req, identity, true).await,
        Operation::ImageExif => image_exif::handle(engine, req, identity).await,
        Operation::ProcessOnGet { rule } => {
            process_on_get::handle(engine, req, identity, &rule).await
        }
        Operation::BucketLocation => bucket_location::handle(engine, req, identity).await,
        Operation::PostObject => post_object::handle(engine, req).await,
        Operation::Unsupported { param } => unsupported::handle(&param),
        Operation::Passthrough(name) => Err(ApiError::Internal(format!(
            "{name} is passed through, not handled"
        ))),
    }
}
