//! What a processed upload's objects are stored with, beside their bytes and type: the
//! original keeps everything a plain PUT of it would have kept (metadata, Content-*,
//! Cache-Control, Expires, ACL, storage class, tagging, encryption); each result gets how the
//! original is protected and kept (ACL, storage class, encryption) but not what describes the
//! original itself (its metadata, file name, tags), which would be wrong for a thumbnail.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ApiError;
use crate::store_features::{store_view, StoreFeatures};

pub type Headers = Vec<(HeaderName, HeaderValue)>;

#[derive(Debug, Default, Clone)]
pub struct StoredHeaders {
    pub original: Headers,
    pub results: Headers,
}

/// Standard headers a PUT stores with the object.
const CONTENT: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// S3 headers that say how an object is protected and kept: results get them too.
fn protects(name: &str) -> bool {
    name == "x-amz-acl"
        || name == "x-amz-storage-class"
        || name.starts_with("x-amz-grant-")
        || name.starts_with("x-amz-server-side-encryption")
}

/// S3 headers that describe the original itself.
fn describes(name: &str) -> bool {
    name.starts_with("x-amz-meta-")
        || name == "x-amz-tagging"
        || name == "x-amz-website-redirect-location"
        || name.starts_with("x-amz-object-lock-")
}

/// The stored headers a processing request asks for, in S3's dialect (a COS client's are
/// translated, and refused as a plain PUT's would be).
pub fn from_request(
    headers: &HeaderMap,
    features: &StoreFeatures,
) -> Result<StoredHeaders, ApiError> {
    let s3 = store_view(headers, features)?;
    // Conditions and checksums of a plain PUT would have to be carried to every write of the
    // request (and the checksum is of a body picops does not store as sent): refused rather
    // than dropped.
    for name in ["if-none-match", "if-match", "x-amz-checksum-sha1"] {
        if s3.contains_key(name) {
            return Err(ApiError::NotImplemented(format!(
                "{name} (or its COS form) is not supported on a processed or form upload"
            )));
        }
    }
    let mut out = StoredHeaders::default();
    for (name, value) in s3.iter() {
        let n = name.as_str();
        if protects(n) {
            out.original.push((name.clone(), value.clone()));
            out.results.push((name.clone(), value.clone()));
        } else if describes(n) || CONTENT.contains(&n) {
            out.original.push((name.clone(), value.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn names(h: &Headers) -> Vec<&str> {
        let mut n: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
        n.sort();
        n
    }

    #[test]
    fn the_original_keeps_everything_results_keep_protection() {
        let sse = StoreFeatures::parse(&[
            "sse-s3".into(),
            "acl".into(),
            "tagging".into(),
            "storage-classes".into(),
        ])
        .unwrap();
        let h = from_request(
            &map(&[
                ("x-cos-meta-origin", "cam"),
                ("cache-control", "max-age=60"),
                ("content-disposition", "attachment; filename=a.jpg"),
                ("x-cos-storage-class", "STANDARD_IA"),
                ("x-cos-acl", "public-read"),
                ("x-cos-tagging", "a=b"),
                ("x-cos-server-side-encryption", "AES256"),
                ("pic-operations", "{}"),
                ("authorization", "q-sign-algorithm=sha1&…"),
            ]),
            &sse,
        )
        .unwrap();
        assert_eq!(
            names(&h.original),
            [
                "cache-control",
                "content-disposition",
                "x-amz-acl",
                "x-amz-meta-origin",
                "x-amz-server-side-encryption",
                "x-amz-storage-class",
                "x-amz-tagging"
            ]
        );
        assert_eq!(
            names(&h.results),
            [
                "x-amz-acl",
                "x-amz-server-side-encryption",
                "x-amz-storage-class"
            ]
        );
    }

    #[test]
    fn what_a_plain_put_refuses_is_refused() {
        let none = StoreFeatures::default();
        let e = from_request(&map(&[("x-cos-storage-class", "NOT_A_CLASS")]), &none).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(from_request(&map(&[("x-cos-callback", "x")]), &none).is_err());
        for (name, value) in [
            ("x-cos-forbid-overwrite", "true"),
            (
                "x-cos-content-sha1",
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ),
        ] {
            let e = from_request(&map(&[(name, value)]), &none).unwrap_err();
            assert_eq!(e.status(), 501, "{name}");
        }
        let e = from_request(&map(&[("x-cos-server-side-encryption", "AES256")]), &none);
        assert_eq!(e.unwrap_err().status(), 501);
    }
}
