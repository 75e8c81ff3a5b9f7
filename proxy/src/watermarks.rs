//! Image watermarks name an object by URL (`watermark/1/image/<b64 url>`). picops fetches it
//! from the upstream only: the URL's host must address a bucket the way client requests do
//! (COS host, base domain, custom domain, or picops' own host with a path-style bucket), the
//! caller must be allowed to read that bucket, and nothing is ever fetched from elsewhere.

use crate::auth::{Identity, Keyring};
use crate::error::ApiError;
use crate::route::{self, Routing};
use crate::upstream::UpstreamClient;

/// Largest watermark image read.
pub const MAX_WATERMARK: u64 = 5 << 20;

/// The bucket and key a watermark URL names, or why it names none picops may read.
fn locate(url: &str, own_host: &str, routing: &Routing) -> Result<(String, String), ApiError> {
    let refuse = |why: &str| {
        ApiError::AccessDenied(format!(
            "watermark image {url:?}: {why}; picops only reads watermarks from buckets it serves"
        ))
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => return Err(refuse("no object key")),
    };
    let uri: http::Uri = path.parse().map_err(|_| refuse("not a valid URL path"))?;
    let host = if host.is_empty() { own_host } else { host };
    let r = route::route(&uri, Some(host), routing).map_err(|e| refuse(&e.to_string()))?;
    let is_ours = host.eq_ignore_ascii_case(own_host);
    match (r.bucket, r.path_style) {
        (Some(b), false) => Ok((b, r.key)),
        // A path-style URL only on picops' own host: any other host is the open internet.
        (Some(b), true) if is_ours => Ok((b, r.key)),
        _ => Err(refuse("its host is not one of picops' buckets")),
    }
    .and_then(|(b, k)| {
        if k.is_empty() {
            Err(refuse("no object key"))
        } else {
            Ok((b, k))
        }
    })
}

/// The bytes of the watermark image `url` names, read with the caller's rights.
pub async fn fetch(
    url: &str,
    identity: &Identity,
    keyring: &Keyring,
    upstream: &UpstreamClient,
    own_host: &str,
    routing: &Routing,
) -> Result<Vec<u8>, ApiError> {
    let (bucket, key) = locate(url, own_host, routing)?;
    identity.authorize(keyring, Some(&bucket), &http::Method::GET)?;
    let (bytes, _) = upstream
        .get(&bucket, &key, MAX_WATERMARK)
        .await
        .map_err(|e| match e {
            ApiError::NoSuchKey(_) => {
                ApiError::NoSuchKey(format!("watermark image {bucket}/{key} does not exist"))
            }
            other => other,
        })?;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bucket_hosts_are_read() {
        let routing = Routing {
            base_domains: vec!["img.internal".into()],
            domains: Default::default(),
        };
        let own = "127.0.0.1:8080";
        let ok = |u: &str| locate(u, own, &routing).unwrap();
        assert_eq!(
            ok("http://wm-1.cos.ap-x.myqcloud.com/a/logo.png"),
            ("wm-1".into(), "a/logo.png".into())
        );
        assert_eq!(
            ok("wm-1.cos.ap-x.myqcloud.com/logo.png"),
            ("wm-1".into(), "logo.png".into())
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/wm-1/logo.png"),
            ("wm-1".into(), "logo.png".into())
        );
        assert_eq!(
            ok("https://pics.img.internal/l.png"),
            ("pics".into(), "l.png".into())
        );
        for bad in [
            "http://example.com/wm-1/logo.png",
            "http://169.254.169.254/latest/meta-data",
            "wm-1.cos.ap-x.myqcloud.com/",
            "nohost",
            "http://127.0.0.1:8080/wm-1/../bob/mark.png",
            "http://127.0.0.1:8080/wm-1/%2e%2e/bob/mark.png",
            "http://wm-1.cos.ap-x.myqcloud.com/.picops/styles/s",
        ] {
            assert_eq!(
                locate(bad, own, &routing).unwrap_err().code(),
                "AccessDenied",
                "{bad}"
            );
        }
    }
}
