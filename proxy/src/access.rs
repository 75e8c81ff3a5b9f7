//! What an authenticated (or anonymous) request may touch, decided once per request before
//! anything reaches the store: the bucket and key of its path, what anonymous callers may do
//! there, the object a copy reads, and the headers it must have signed.

use http::{HeaderMap, Method};

use crate::auth::{Identity, Keyring};
use crate::error::ApiError;
use crate::route::{self, CopySource, Route, Routing};

/// Query parameters of a plain object read: nothing that changes the answer's headers or
/// reads a sub-resource (ACL, tagging, parts).
const OBJECT_READ_PARAMS: &[&str] = &["versionId", "partNumber"];

/// Query parameters of a bucket listing (ListObjects, ListObjectsV2).
const LIST_PARAMS: &[&str] = &[
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "list-type",
    "start-after",
    "continuation-token",
    "fetch-owner",
];

/// Headers that may go unsigned: they carry the signature itself and are never forwarded.
const UNSIGNED_ALLOWED: &[&str] = &[
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
    "x-cos-security-token",
];

/// May `identity` send this request? `image_query` tells whether the query is a processing
/// request picops answers itself (anonymous callers may ask for those on public buckets).
pub fn authorize(
    keyring: &Keyring,
    identity: &Identity,
    route: &Route,
    method: &Method,
    image_query: bool,
) -> Result<(), ApiError> {
    if identity.credential.is_some() {
        return identity.authorize(keyring, route.bucket.as_deref(), method);
    }
    let denied = |why: &str| {
        ApiError::AccessDenied(format!(
            "anonymous access: {why}; sign the request with a configured access key"
        ))
    };
    let Some(bucket) = route.bucket.as_deref() else {
        return Err(denied("buckets cannot be listed"));
    };
    let names: Vec<String> = route.params().map(|(name, _)| name).collect();
    if route.key.is_empty() {
        let listing =
            *method == Method::GET && names.iter().all(|n| LIST_PARAMS.contains(&n.as_str()));
        return if listing && keyring.is_public_list(bucket) {
            Ok(())
        } else {
            Err(denied(&format!(
                "bucket {bucket} allows anonymous object reads only (listing needs public_list)"
            )))
        };
    }
    if !image_query {
        if let Some(n) = names
            .iter()
            .find(|n| !OBJECT_READ_PARAMS.contains(&n.as_str()))
        {
            return Err(denied(&format!(
                "query parameter {n:?} is not allowed on an anonymous read"
            )));
        }
    }
    identity.authorize(keyring, Some(bucket), method)
}

/// The object a copy (CopyObject, UploadPartCopy) reads, checked like the request's own key
/// and readable by the caller. Both the S3 and the COS header are understood; naming two
/// different sources is refused.
pub fn copy_source(
    keyring: &Keyring,
    identity: &Identity,
    headers: &HeaderMap,
    routing: &Routing,
) -> Result<Option<CopySource>, ApiError> {
    let mut found: Option<CopySource> = None;
    for name in ["x-amz-copy-source", "x-cos-copy-source"] {
        for value in headers.get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| ApiError::InvalidArgument(format!("header {name} is not ASCII")))?;
            let source = route::copy_source(value, routing)?;
            match &found {
                Some(f) if *f != source => {
                    return Err(ApiError::InvalidArgument(
                        "the request names two different copy sources".into(),
                    ))
                }
                _ => found = Some(source),
            }
        }
    }
    if let Some(source) = &found {
        identity.authorize(keyring, Some(&source.bucket), &Method::GET)?;
    }
    Ok(found)
}

/// Every `x-amz-*` and `x-cos-*` header must be covered by the signature: picops re-signs
/// what it forwards with its own key, so an unsigned one (a copy source, metadata, an ACL, a
/// storage class, a length) would be trusted by the store although the caller never signed
/// it. Anonymous requests sign nothing, so they may carry none.
pub fn check_signed_headers(identity: &Identity, headers: &HeaderMap) -> Result<(), ApiError> {
    for name in headers.keys() {
        let n = name.as_str();
        let ours = n.starts_with("x-amz-") || n.starts_with("x-cos-") || n == "pic-operations";
        if ours && !UNSIGNED_ALLOWED.contains(&n) && !identity.signs(n) {
            let shown = if n == "pic-operations" {
                "Pic-Operations"
            } else {
                n
            };
            return Err(ApiError::AccessDenied(format!(
                "header {shown} is not covered by the request's signature; sign it or leave it out"
            )));
        }
    }
    Ok(())
}

/// Bucket configurations that name other buckets or destinations (log targets, replicas,
/// inventory and analytics exports): only a key that may use every bucket may set them.
const CROSS_BUCKET_CONFIGS: &[&str] = &["logging", "replication", "inventory", "analytics"];

/// What a bucket-level POST passed through may be: DeleteObjects only, with its body
/// readable as sent. (A form upload, `multipart/form-data` without a query, is the
/// `PostObject` operation, answered by its handler and never passed through.) Returns whether
/// the request is a DeleteObjects whose keys the body guard must check.
pub fn bucket_post(route: &Route, method: &Method, headers: &HeaderMap) -> Result<bool, ApiError> {
    if *method != Method::POST || route.bucket.is_none() || !route.key.is_empty() {
        return Ok(false);
    }
    if !route.has_param("delete") {
        return Err(ApiError::InvalidArgument(
            "a POST to a bucket is either DeleteObjects (?delete) or a browser form upload \
             (POST Object: multipart/form-data, no query parameters)"
                .into(),
        ));
    }
    let signed_chunks = headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    if crate::auth::is_aws_chunked(headers)? && !signed_chunks {
        return Err(ApiError::InvalidArgument(
            "DeleteObjects with an unsigned aws-chunked body is not accepted; send the XML as is"
                .into(),
        ));
    }
    Ok(true)
}

/// A key limited to some buckets may not point a bucket's configuration at another one.
pub fn check_bucket_config(identity: &Identity, route: &Route) -> Result<(), ApiError> {
    let limited = identity
        .credential
        .as_ref()
        .is_some_and(|c| c.buckets.is_some());
    if !limited || !route.key.is_empty() {
        return Ok(());
    }
    match CROSS_BUCKET_CONFIGS.iter().find(|c| route.has_param(c)) {
        Some(c) => Err(ApiError::AccessDenied(format!(
            "a key limited to some buckets may not use the ?{c} configuration, which names other buckets"
        ))),
        None => Ok(()),
    }
}

/// A signature that does not cover `Host` may not name its bucket through the Host: it
/// could be replayed against any other bucket's virtual host.
pub fn check_host_signed(identity: &Identity, route: &Route) -> Result<(), ApiError> {
    if identity.credential.is_some() && !route.path_style && !identity.signs("host") {
        return Err(ApiError::AccessDenied(
            "the signature must cover the Host header when the bucket is named by the host".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{BodyCheck, Credential, Policy};
    use std::sync::Arc;

    fn keyring() -> Keyring {
        Keyring::new(
            vec![],
            Policy {
                public_read: vec!["pub".into(), "lst".into()],
                public_list: vec!["lst".into()],
                ..Policy::default()
            },
        )
    }

    fn anon() -> Identity {
        Identity {
            credential: None,
            signed_headers: vec![],
            body: BodyCheck::None,
        }
    }

    fn limited(signed: &[&str]) -> Identity {
        Identity {
            credential: Some(Arc::new(Credential {
                access_key: "alice".into(),
                secret_key: "s".into(),
                buckets: Some(vec!["alice".into()]),
                session_token: None,
            })),
            signed_headers: signed.iter().map(|s| s.to_string()).collect(),
            body: BodyCheck::None,
        }
    }

    fn r(uri: &str) -> Route {
        route::route(
            &uri.parse().unwrap(),
            Some("127.0.0.1"),
            &Routing::default(),
        )
        .unwrap()
    }

    #[test]
    fn anonymous_callers_read_public_objects_only() {
        let kr = keyring();
        let ok = |uri: &str, m: Method| authorize(&kr, &anon(), &r(uri), &m, false).is_ok();
        assert!(ok("/pub/a.jpg", Method::GET));
        assert!(ok("/pub/a.jpg?versionId=3", Method::HEAD));
        assert!(!ok("/pub/a.jpg", Method::PUT));
        assert!(!ok("/pub/a.jpg?acl", Method::GET));
        assert!(!ok(
            "/pub/a.jpg?response-content-type=text/html",
            Method::GET
        ));
        assert!(!ok("/pub/", Method::GET));
        assert!(!ok("/pub/?style", Method::GET));
        assert!(ok("/lst/?list-type=2&prefix=a", Method::GET));
        assert!(!ok("/lst/?policy", Method::GET));
        assert!(!ok("/lst/?style", Method::GET));
        assert!(!ok("/", Method::GET));
        assert!(!ok("/private/a.jpg", Method::GET));
        assert!(authorize(&kr, &anon(), &r("/pub/a.jpg?imageInfo"), &Method::GET, true).is_ok());
    }

    #[test]
    fn copies_need_read_on_the_source() {
        let kr = keyring();
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "/bob/secret.txt".parse().unwrap());
        let id = limited(&["host", "x-amz-copy-source"]);
        let routing = Routing::default();
        assert_eq!(
            copy_source(&kr, &id, &h, &routing).unwrap_err().code(),
            "AccessDenied"
        );
        h.insert("x-amz-copy-source", "/alice/a%20b.txt".parse().unwrap());
        let src = copy_source(&kr, &id, &h, &routing).unwrap().unwrap();
        assert_eq!(
            (src.bucket.as_str(), src.key.as_str()),
            ("alice", "a b.txt")
        );
        h.insert(
            "x-cos-copy-source",
            "bob.cos.ap-x.myqcloud.com/secret.txt".parse().unwrap(),
        );
        assert!(copy_source(&kr, &id, &h, &routing).is_err());
    }

    #[test]
    fn unsigned_headers_that_change_the_request_are_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-date", "20260101T000000Z".parse().unwrap());
        h.insert("content-type", "image/png".parse().unwrap());
        assert!(check_signed_headers(&limited(&["host"]), &h).is_ok());
        for name in [
            "x-amz-copy-source",
            "x-amz-meta-evil",
            "x-amz-decoded-content-length",
            "x-cos-acl",
            "pic-operations",
        ] {
            let mut h = h.clone();
            h.insert(http::HeaderName::from_static(name), "1".parse().unwrap());
            assert!(
                check_signed_headers(&limited(&["host"]), &h).is_err(),
                "{name}"
            );
            assert!(
                check_signed_headers(&limited(&["host", name]), &h).is_ok(),
                "{name}"
            );
            assert!(check_signed_headers(&anon(), &h).is_err(), "{name}");
        }
    }

    #[test]
    fn bucket_posts_are_delete_objects_only() {
        let h = HeaderMap::new();
        assert!(bucket_post(&r("/alice?delete"), &Method::POST, &h).unwrap());
        assert!(bucket_post(&r("/alice?%64elete"), &Method::POST, &h).unwrap());
        assert!(bucket_post(&r("/alice"), &Method::POST, &h).is_err());
        assert!(!bucket_post(&r("/alice/k?uploads"), &Method::POST, &h).unwrap());
        let mut chunked = HeaderMap::new();
        chunked.insert(
            "x-amz-content-sha256",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER".parse().unwrap(),
        );
        assert!(bucket_post(&r("/alice?delete"), &Method::POST, &chunked).is_err());
        assert!(check_bucket_config(&limited(&[]), &r("/alice?logging")).is_err());
        assert!(check_bucket_config(&limited(&[]), &r("/alice?tagging")).is_ok());
    }

    #[test]
    fn virtual_host_requests_must_sign_the_host() {
        let vhost = route::route(
            &"/k".parse().unwrap(),
            Some("bob.cos.ap-x.myqcloud.com"),
            &Routing::default(),
        )
        .unwrap();
        assert!(check_host_signed(&limited(&[]), &vhost).is_err());
        assert!(check_host_signed(&limited(&["host"]), &vhost).is_ok());
        assert!(check_host_signed(&limited(&[]), &r("/alice/k")).is_ok());
        assert!(check_host_signed(&anon(), &vhost).is_ok());
    }
}
