//! A GET of an object with a query parameter picops does not implement. Answering the
//! original would let the client take it for what it asked; the answer says what was not
//! done instead.

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
