//! What a request is, decided once from its method, route and headers: the operation picops
//! answers itself (with its typed inputs) or the S3 operation it passes through. The same
//! value names the request in metrics and logs.

use http::Method;

use crate::auth::is_auth_param;
use crate::form_data::is_form_data;
use crate::route::Route;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `PUT` with Pic-Operations: store the original and its processed results.
    PicPut,
    /// `POST ?image_process` with Pic-Operations: process a stored object.
    PicImageProcess,
    /// `POST ?uploadId=…` with Pic-Operations: complete a multipart upload, then process it.
    PicCompleteMultipart { upload_id: String },
    /// The COS style API on a bucket (`/?style`).
    Style(StyleCall),
    /// `GET /<key>?imageInfo`.
    ImageInfo,
    /// `GET /<key>?imageAve`.
    ImageAve,
    /// `GET /<key>?exif`.
    ImageExif,
    /// `GET /<key>?<rule>` (a rule, a pipeline or `style/<name>`): processing on GET.
    ProcessOnGet { rule: String },
    /// `GET /?location` from a COS client: COS answers the bucket's region.
    BucketLocation,
    /// `POST /` on a bucket, no query, `multipart/form-data`: a browser form upload, which
    /// carries its signature in the form (its handler authenticates it).
    PostObject,
    /// A GET of an object with a query parameter picops does not implement (refused, so a
    /// client never takes the original for a processed result), or COS's APPEND.
    Unsupported { param: String },
    /// Anything else: streamed to the store; the S3 operation name, for metrics.
    Passthrough(&'static str),
}

/// Which style API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleCall {
    Add,
    List,
    Delete,
}

/// Query names that start a processing rule on GET.
const RULE_PREFIXES: [&str; 4] = ["imageMogr2/", "imageView2/", "watermark/", "style/"];

impl Operation {
    pub fn classify(
        method: &Method,
        route: &Route,
        has_pic_ops: bool,
        cos_client: bool,
        content_type: Option<&str>,
    ) -> Operation {
        let bucket = route.bucket.is_some();
        let object = bucket && !route.key.is_empty();
        // The one request the gateway lets in unsigned to its handler: nothing else may
        // take this shape (no key, no query parameter at all).
        if bucket
            && !object
            && method == Method::POST
            && route.params().next().is_none()
            && content_type.is_some_and(is_form_data)
        {
            return Operation::PostObject;
        }
        if cos_client && bucket && !object && method == Method::GET && route.has_param("location") {
            return Operation::BucketLocation;
        }
        if bucket && !object && route.has_param("style") {
            match *method {
                Method::PUT => return Operation::Style(StyleCall::Add),
                Method::GET => return Operation::Style(StyleCall::List),
                Method::DELETE => return Operation::Style(StyleCall::Delete),
                _ => {}
            }
        }
        if object && method == Method::POST && route.has_param("append") {
            return Operation::Unsupported {
                param: "append".into(),
            };
        }
        if object && (method == Method::GET || method == Method::HEAD) {
            if let Some(op) = image_query(route) {
                return op;
            }
            if let Some(param) = unsupported_param(route) {
                return Operation::Unsupported { param };
            }
        }
        if object && has_pic_ops {
            if method == Method::PUT
                && !route.has_param("partNumber")
                && !route.has_param("uploadId")
            {
                return Operation::PicPut;
            }
            if method == Method::POST {
                if route.has_param("image_process") {
                    return Operation::PicImageProcess;
                }
                if let Some(upload_id) = route.param("uploadId") {
                    return Operation::PicCompleteMultipart { upload_id };
                }
            }
        }
        Operation::Passthrough(s3_operation(method, route))
    }

    /// The `operation` label of `picops_requests_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Operation::PicPut => "PicPutObject",
            Operation::PicImageProcess => "PicImageProcess",
            Operation::PicCompleteMultipart { .. } => "PicCompleteMultipartUpload",
            Operation::Style(StyleCall::Add) => "PutImageStyle",
            Operation::Style(StyleCall::List) => "GetImageStyle",
            Operation::Style(StyleCall::Delete) => "DeleteImageStyle",
            Operation::ImageInfo => "GetImageInfo",
            Operation::ImageAve => "GetImageAve",
            Operation::ImageExif => "GetImageExif",
            Operation::ProcessOnGet { .. } => "GetProcessedImage",
            Operation::BucketLocation => "GetBucketLocation",
            Operation::PostObject => "PostObject",
            Operation::Unsupported { .. } => "Unsupported",
            Operation::Passthrough(name) => name,
        }
    }

    /// Processing on GET, which anonymous readers of a public bucket may also ask for.
    pub fn is_image_query(&self) -> bool {
        matches!(
            self,
            Operation::ImageInfo
                | Operation::ImageAve
                | Operation::ImageExif
                | Operation::ProcessOnGet { .. }
        )
    }
}

/// The processing part of a GET's query, if any: the first parameter that is a rule (other
/// parameters, such as a pre-signed URL's, are ignored here).
fn image_query(route: &Route) -> Option<Operation> {
    // A signature's parameters (`q-…`, `X-Amz-…`) match none of these names.
    route.params().find_map(|(name, _)| match name.as_ref() {
        "imageInfo" => Some(Operation::ImageInfo),
        "imageAve" => Some(Operation::ImageAve),
        "exif" => Some(Operation::ImageExif),
        n if RULE_PREFIXES.iter().any(|p| n.starts_with(p)) => Some(Operation::ProcessOnGet {
            rule: n.to_string(),
        }),
        _ => None,
    })
}

/// Query parameters of an object GET or HEAD that S3 defines (sub-resources and response
/// overrides), plus the operation marker AWS SDKs add (`x-id`).
const OBJECT_GET_PARAMS: &[&str] = &[
    "versionId",
    "partNumber",
    "uploadId",
    "max-parts",
    "part-number-marker",
    "encoding-type",
    "acl",
    "tagging",
    "torrent",
    "retention",
    "legal-hold",
    "attributes",
    "x-id",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// The first parameter of an object GET that is neither S3's nor a signature's. `x-amz-*`
/// parameters are S3 headers written in the query (pre-signed URLs carry them) and go to
/// the store as they are.
fn unsupported_param(route: &Route) -> Option<String> {
    route.params().map(|(name, _)| name).find(|name| {
        !OBJECT_GET_PARAMS.contains(&name.as_str())
            && !is_auth_param(name)
            && !name.to_ascii_lowercase().starts_with("x-amz-")
    })
}

fn s3_operation(method: &Method, route: &Route) -> &'static str {
    let object = !route.key.is_empty();
    match (method.as_str(), route.bucket.is_some(), object) {
        (_, false, _) => "ListBuckets",
        ("GET", true, true) => "GetObject",
        ("HEAD", true, true) => "HeadObject",
        ("PUT", true, true) if route.has_param("partNumber") => "UploadPart",
        ("PUT", true, true) => "PutObject",
        ("DELETE", true, true) => "DeleteObject",
        ("POST", true, true) if route.has_param("uploads") => "CreateMultipartUpload",
        ("POST", true, true) if route.has_param("uploadId") => "CompleteMultipartUpload",
        ("GET", true, false) => "ListObjects",
        ("HEAD", true, false) => "HeadBucket",
        ("PUT", true, false) => "CreateBucket",
        ("DELETE", true, false) => "DeleteBucket",
        ("POST", true, false) if route.has_param("delete") => "DeleteObjects",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{self, Routing};

    fn classify(method: Method, uri: &str, content_type: Option<&str>) -> Operation {
        let route = route::route(
            &uri.parse().unwrap(),
            Some("127.0.0.1"),
            &Routing::default(),
        )
        .unwrap();
        Operation::classify(&method, &route, false, false, content_type)
    }

    #[test]
    fn only_a_bare_bucket_form_post_is_a_form_upload() {
        let form = Some("multipart/form-data; boundary=x");
        assert_eq!(classify(Method::POST, "/b", form), Operation::PostObject);
        assert_eq!(classify(Method::POST, "/b/", form), Operation::PostObject);
        assert_eq!(
            classify(Method::POST, "/b", Some("Multipart/Form-Data;boundary=x")),
            Operation::PostObject
        );
        for (method, uri, ct) in [
            (Method::POST, "/b?delete", form),
            (Method::POST, "/b?uploads", form),
            (Method::POST, "/b?x-id=PostObject", form),
            (Method::POST, "/b/k", form),
            (Method::POST, "/b/k?uploads", form),
            (Method::POST, "/", form),
            (Method::PUT, "/b", form),
            (Method::POST, "/b", Some("application/xml")),
            (Method::POST, "/b", Some("multipart/mixed; boundary=x")),
            (Method::POST, "/b", None),
        ] {
            assert_ne!(
                classify(method.clone(), uri, ct),
                Operation::PostObject,
                "{method} {uri} {ct:?}"
            );
        }
    }
}
