//! Addressing (docs/protocol.md, Addressing): which bucket and key a request names, from the absolute URL of
//! a forward-proxy request, a COS or configured virtual host, a custom domain, or the path.

use std::collections::BTreeMap;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::ApiError;

/// How hosts map to buckets.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub base_domains: Vec<String>,
    /// Custom domain (with or without port) → bucket.
    pub domains: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None` for service-level requests (ListBuckets).
    pub bucket: Option<String>,
    /// The object key, percent-decoded; empty for bucket-level requests.
    pub key: String,
    /// The host the client used (with port), for `Location`.
    pub host: String,
    /// Whether the bucket came from the path (so `Location` is `<host>/<bucket>/<key>`).
    pub path_style: bool,
    /// The raw query string, if any.
    pub query: Option<String>,
}

impl Route {
    /// `Location` of `key` in `bucket`, as COS reports it.
    pub fn location(&self, bucket: &str, key: &str) -> String {
        if self.path_style {
            format!("{}/{}/{}", self.host, bucket, key)
        } else if self.bucket.as_deref() == Some(bucket) {
            format!("{}/{}", self.host, key)
        } else {
            // A rule wrote to another bucket: name it by path on the same host.
            format!("{}/{}/{}", self.host, bucket, key)
        }
    }

    /// Whether the query has parameter `name` (flag or valued).
    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// Every query parameter as (percent-decoded name, `name=value` as sent).
    pub fn params(&self) -> impl Iterator<Item = (String, &str)> {
        self.query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| (decode(kv.split_once('=').map_or(kv, |(k, _)| k)), kv))
    }

    /// The value of parameter `name`, matched on the decoded name as a store matches it
    /// (`?%64elete` is `?delete` to every store).
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k) == name).then(|| decode(v))
        })
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

pub fn route(
    uri: &http::Uri,
    host_header: Option<&str>,
    routing: &Routing,
) -> Result<Route, ApiError> {
    // Forward-proxy form: `PUT http://bucket.cos.region.myqcloud.com/key HTTP/1.1`. Its Host
    // header must name the same host: signatures cover the header, and the bucket comes from
    // the URL.
    if let (Some(authority), Some(header)) = (uri.authority(), host_header) {
        if !authority.as_str().eq_ignore_ascii_case(header.trim()) {
            return Err(ApiError::InvalidArgument(format!(
                "the request URL names host {:?} but the Host header {header:?}",
                authority.as_str()
            )));
        }
    }
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| host_header.map(str::to_string))
        .unwrap_or_default();
    let path = uri.path();
    let query = uri.query().map(str::to_string);

    let vhost_bucket = bucket_of_host(&host, routing);

    let route = match vhost_bucket {
        Some(bucket) => Route {
            bucket: Some(bucket),
            key: decode(path.trim_start_matches('/')),
            host,
            path_style: false,
            query,
        },
        None => {
            let trimmed = path.trim_start_matches('/');
            let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
            Route {
                bucket: (!bucket.is_empty()).then(|| decode(bucket)),
                key: decode(key),
                host,
                path_style: true,
                query,
            }
        }
    };
    if let Some(b) = &route.bucket {
        validate_bucket(b)?;
    }
    check_key(&route.key)?;
    Ok(route)
}

/// The object a copy reads (`x-amz-copy-source`, `x-cos-copy-source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

impl CopySource {
    /// The header value the upstream receives: exactly the object that was authorised,
    /// encoded as the path of a path-style request.
    pub fn upstream_value(&self) -> String {
        let mut v = upstream_path(Some(&self.bucket), &self.key);
        if let Some(id) = &self.version_id {
            v.push_str("?versionId=");
            v.push_str(&utf8_percent_encode(id, SEGMENT).to_string());
        }
        v
    }
}

/// Parse a copy source as S3 (`[/]<bucket>/<key>`) or COS (`<bucket>.cos.<region>.myqcloud.com/<key>`,
/// or any host that addresses a bucket) SDKs send it: percent-encoded, with an optional
/// `?versionId=`. The key passes [`check_key`] like any key in a request path.
pub fn copy_source(value: &str, routing: &Routing) -> Result<CopySource, ApiError> {
    let bad = |why: &str| ApiError::InvalidArgument(format!("copy source {value:?}: {why}"));
    let rest = value.trim();
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .unwrap_or(rest);
    let (target, version_id) = match rest.rsplit_once("?versionId=") {
        Some((t, v)) => (t, Some(decode(v)).filter(|v| !v.is_empty())),
        None => (rest, None),
    };
    if target.contains('?') {
        return Err(bad("only a versionId may follow the key"));
    }
    let trimmed = target.strip_prefix('/').unwrap_or(target);
    let (head, tail) = trimmed
        .split_once('/')
        .ok_or_else(|| bad("no object key"))?;
    // Decoded before it is matched against hosts, so that `%2e` cannot make a COS host pass
    // for a bucket name.
    let head = decode(head);
    let bucket = bucket_of_host(&head, routing).unwrap_or(head);
    // A bucket named like a host would be read back as that host's bucket: refused, so that
    // every copy source has one meaning.
    if bucket_of_host(&bucket, routing).is_some() {
        return Err(bad("the bucket name is itself a bucket's host name"));
    }
    let key = decode(tail);
    validate_bucket(&bucket)?;
    if key.is_empty() {
        return Err(bad("no object key"));
    }
    check_key(&key)?;
    Ok(CopySource {
        bucket,
        key,
        version_id,
    })
}

/// The bucket a host (with or without port) names: a custom domain, a COS host or a
/// subdomain of a base domain.
fn bucket_of_host(host: &str, routing: &Routing) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let bare = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    routing
        .domains
        .get(&host)
        .or_else(|| routing.domains.get(bare))
        .cloned()
        .or_else(|| cos_bucket(bare))
        .or_else(|| {
            routing.base_domains.iter().find_map(|d| {
                bare.strip_suffix(&format!(".{}", d.to_ascii_lowercase()))
                    .filter(|b| !b.is_empty())
                    .map(str::to_string)
            })
        })
}

/// `<bucket>.cos.<region>.myqcloud.com`, which COS SDKs send even when pointed at an IP, and
/// the image-processing endpoints `<bucket>.pic.<region>…` and `<bucket>.ci.<region>…` their
/// style and CI calls use.
fn cos_bucket(host: &str) -> Option<String> {
    let rest = host.strip_suffix(".myqcloud.com")?;
    [".cos.", ".pic.", ".ci."].iter().find_map(|service| {
        let (bucket, region) = rest.split_once(service)?;
        (!bucket.is_empty() && !region.is_empty() && !region.contains('.'))
            .then(|| bucket.to_string())
    })
}

/// The region of a COS host (`<bucket>.cos.<region>.myqcloud.com[:port]`), if it is one.
pub fn cos_region(host: &str) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let rest = host.to_ascii_lowercase();
    let rest = rest.strip_suffix(".myqcloud.com")?;
    let (_, region) = rest.split_once(".cos.")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_string())
}

pub fn validate_bucket(b: &str) -> Result<(), ApiError> {
    // First and last characters alphanumeric and no `..`: a bucket can never be a dot
    // segment a store would resolve against the path.
    let ok = (1..=255).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !b.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidArgument(format!(
            "invalid bucket name {b:?}"
        )))
    }
}

/// The prefix of keys picops keeps for itself (API styles); no client request reaches it.
pub const RESERVED_PREFIX: &str = ".picops/";

/// Whether `key` (percent-decoded) lies under picops' reserved prefix.
pub fn is_reserved(key: &str) -> bool {
    key.starts_with(RESERVED_PREFIX) || key == RESERVED_PREFIX.trim_end_matches('/')
}

/// The one rule every key a request names must pass before it is authorised: no `.`, `..`
/// or empty segment (one trailing `/`, a folder marker, is allowed), and nothing under the
/// reserved prefix. Stores disagree on such segments (a file-backed store resolves them,
/// Garage and AWS keep them literally, MinIO refuses them); refusing them, as MinIO does,
/// makes the (bucket, key) picops authorises the one every store acts on.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Ok(());
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    if body
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(ApiError::InvalidArgument(format!(
            "invalid key {key:?}: empty, '.' or '..' path segment"
        )));
    }
    if is_reserved(key) {
        return Err(ApiError::AccessDenied(format!(
            "keys under {RESERVED_PREFIX} are reserved for picops; use the style API (/?style)"
        )));
    }
    Ok(())
}

/// Keys picops writes must be plain paths: no `.`/`..` or empty segments, no control
/// characters, at most 1024 bytes (docs/protocol.md, the Pic-Operations header; ours).
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::InvalidArgument(format!(
            "invalid key {key:?}: {why}"
        )))
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control()) {
        return bad("control character");
    }
    if key.ends_with('/') {
        return bad("ends with '/'");
    }
    check_key(key)
}

/// Characters kept as-is in an S3 canonical path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `/<bucket>/<key>` encoded the way SigV4 canonicalises it, so the request line and the
/// signature agree byte for byte.
pub fn upstream_path(bucket: Option<&str>, key: &str) -> String {
    let mut out = String::from("/");
    if let Some(b) = bucket {
        out.push_str(&utf8_percent_encode(b, SEGMENT).to_string());
        if !key.is_empty() {
            out.push('/');
        }
    }
    let segments: Vec<String> = key
        .split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    out.push_str(&segments.join("/"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(uri: &str, host: Option<&str>) -> Route {
        let mut routing = Routing {
            base_domains: vec!["s3.local".into()],
            ..Default::default()
        };
        routing
            .domains
            .insert("img.example.com".into(), "photos".into());
        route(&uri.parse().unwrap(), host, &routing).unwrap()
    }

    #[test]
    fn routes_every_addressing_style() {
        let cos = r("/p1/a%20b.jpg", Some("ex-125.cos.ap-chengdu.myqcloud.com"));
        assert_eq!(
            (cos.bucket.as_deref(), cos.key.as_str()),
            (Some("ex-125"), "p1/a b.jpg")
        );
        assert!(!cos.path_style);
        let path = r("/bkt/dir/k.png?uploadId=1", Some("127.0.0.1:8080"));
        assert_eq!(
            (path.bucket.as_deref(), path.key.as_str()),
            (Some("bkt"), "dir/k.png")
        );
        assert_eq!(path.param("uploadId").as_deref(), Some("1"));
        assert!(r("/bkt?%64elete", Some("127.0.0.1")).has_param("delete"));
        assert_eq!(
            path.location("bkt", "dir/k.png"),
            "127.0.0.1:8080/bkt/dir/k.png"
        );
        let custom = r("/k.jpg", Some("img.example.com:8080"));
        assert_eq!(custom.bucket.as_deref(), Some("photos"));
        let base = r("/k.jpg", Some("b1.s3.local"));
        assert_eq!(base.bucket.as_deref(), Some("b1"));
        let proxy = r(
            "http://b2.cos.ap-beijing.myqcloud.com/x/y.jpg",
            Some("b2.cos.ap-beijing.myqcloud.com"),
        );
        assert_eq!(
            (proxy.bucket.as_deref(), proxy.key.as_str()),
            (Some("b2"), "x/y.jpg")
        );
        let service = r("/", Some("127.0.0.1"));
        assert_eq!(service.bucket, None);
        // A signature covers the Host header; the URL may not name another bucket.
        assert!(route(
            &"http://bob.cos.ap-x.myqcloud.com/k".parse().unwrap(),
            Some("alice.cos.ap-x.myqcloud.com"),
            &Routing::default()
        )
        .is_err());
    }

    #[test]
    fn keys_with_path_tricks_are_refused() {
        for k in [
            "a/../b",
            "./a",
            "a//b",
            "a/",
            "",
            "a\u{1}b",
            &"x".repeat(1025),
        ] {
            assert!(validate_key(k).is_err(), "{k:?}");
        }
        assert!(validate_key("p1/p2/b.jpg").is_ok());
    }

    #[test]
    fn dot_segments_and_reserved_keys_are_refused_in_every_spelling() {
        let routing = Routing::default();
        for (uri, host) in [
            ("/pub/../bob/secret.txt", "127.0.0.1"),
            ("/pub/%2e%2e/bob/secret.txt", "127.0.0.1"),
            ("/pub/.%2E/bob/secret.txt", "127.0.0.1"),
            ("/pub/x%2F..%2Fbob", "127.0.0.1"),
            ("/pub/a//b", "127.0.0.1"),
            ("/pub/./a", "127.0.0.1"),
            ("/../bob/x", "127.0.0.1"),
            ("/%2e%2e/bob/x", "127.0.0.1"),
            ("/../bob/x", "pub.cos.ap-x.myqcloud.com"),
            ("/x/../y", "pub.cos.ap-x.myqcloud.com"),
            ("/pub/.picops/styles/x", "127.0.0.1"),
            ("/pub/.picops", "127.0.0.1"),
            ("/pub/%2Epicops/styles/x", "127.0.0.1"),
            ("/.picops/styles/x", "pub.cos.ap-x.myqcloud.com"),
        ] {
            assert!(
                route(&uri.parse().unwrap(), Some(host), &routing).is_err(),
                "{uri} on {host}"
            );
        }
        for (uri, key) in [
            ("/pub/dir/", "dir/"),
            ("/pub/a..b/c.", "a..b/c."),
            ("/pub/.picopsx", ".picopsx"),
        ] {
            assert_eq!(
                route(&uri.parse().unwrap(), Some("127.0.0.1"), &routing)
                    .unwrap()
                    .key,
                key
            );
        }
        for b in ["..", ".", "-a", "a.", "a..b"] {
            assert!(validate_bucket(b).is_err(), "{b}");
        }
    }

    #[test]
    fn copy_sources_are_parsed_as_sdks_send_them() {
        let routing = Routing {
            base_domains: vec!["s3.local".into()],
            ..Default::default()
        };
        let c = |v: &str| copy_source(v, &routing);
        let want = |b: &str, k: &str| CopySource {
            bucket: b.into(),
            key: k.into(),
            version_id: None,
        };
        assert_eq!(c("/bob/secret.txt").unwrap(), want("bob", "secret.txt"));
        assert_eq!(c("bob/a%20b/c.txt").unwrap(), want("bob", "a b/c.txt"));
        assert_eq!(
            c("bob-125.cos.ap-x.myqcloud.com/p/k.jpg").unwrap(),
            want("bob-125", "p/k.jpg")
        );
        let v = c("/bob/k?versionId=v1").unwrap();
        assert_eq!(v.version_id.as_deref(), Some("v1"));
        assert_eq!(v.upstream_value(), "/bob/k?versionId=v1");
        assert_eq!(
            c("bob/a b+.txt").unwrap().upstream_value(),
            "/bob/a%20b%2B.txt"
        );
        for bad in [
            "bob.cos.ap-x.myqcloud.com.s3.local/k",
            "/bob/../alice/x",
            "bob/%2e%2e/x",
            "/bob/.picops/styles/s",
            "/bob/",
            "bob",
            "/../x",
            "/bob/k?acl",
        ] {
            assert!(c(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upstream_paths_are_canonically_encoded() {
        assert_eq!(
            upstream_path(Some("b"), "up/a b+(1).jpg"),
            "/b/up/a%20b%2B%281%29.jpg"
        );
        assert_eq!(upstream_path(Some("b"), ""), "/b");
        assert_eq!(upstream_path(None, ""), "/");
    }
}
