//! COS's APPEND, which an S3 store cannot do safely, and a GET of an object with a query
//! parameter picops does not implement: answering the original would let the client take it
//! for what it asked, so the answer says what was not done instead.

use crate::error::ApiError;
use crate::reply::Reply;

/// Parameter names that ask COS for processing picops does not do.
const PROCESSING: &[&str] = &[
    "ci-process",
    "imageSlim",
    "imageAve",
    "image",
    "watermark",
    "avinfo",
    "videoinfo",
    "imageMogr",
    "imageView",
    "imageInfo",
    "tpl",
];

pub fn handle(param: &str) -> Result<Reply, ApiError> {
    if param == "append" {
        return Err(ApiError::NotImplemented(
            "APPEND (POST ?append) is not supported: S3 stores replace objects whole, and \
             rewriting an object to append to it would lose concurrent appends; upload the \
             whole object, or use a multipart upload"
                .into(),
        ));
    }
    let name = param.split('/').next().unwrap_or(param);
    let processing =
        PROCESSING.iter().any(|p| name == *p || name.starts_with(p)) || param.contains('/');
    if processing {
        return Err(ApiError::NotImplemented(format!(
            "?{param}: picops does not implement this processing (it implements imageMogr2, \
             imageView2, watermark, style, imageInfo, imageAve and exif); nothing was done"
        )));
    }
    Err(ApiError::InvalidArgument(format!(
        "?{param}: not a query parameter of a GET of an object, so nothing would be done with it"
    )))
}
