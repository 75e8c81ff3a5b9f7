//! The signature parsers: an arbitrary request line, headers and query (COS and SigV4
//! `Authorization`, pre-signed query strings) and an aws-chunked body must be refused or
//! accepted without panicking. The input is split on the first two NUL bytes into
//! `path?query`, `name: value` header lines, and a body.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use picops::auth::{AwsChunked, BodyCheck, Credential, Keyring, Request};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (Some(target), Some(headers)) = (parts.next(), parts.next()) else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let Ok(uri) = format!("/{}", target.trim_start_matches('/')).parse::<http::Uri>() else {
        return;
    };
    let mut map = http::HeaderMap::new();
    for line in String::from_utf8_lossy(headers).lines() {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (
                http::header::HeaderName::from_bytes(k.trim().as_bytes()),
                http::HeaderValue::from_str(v.trim()),
            ) {
                map.append(k, v);
            }
        }
    }
    let keyring = Keyring::new(
        vec![Credential {
            access_key: "AKIDfuzz".into(),
            secret_key: "fuzz-secret".into(),
            buckets: None,
            session_token: None,
        }],
            picops::auth::Policy {
                max_skew: Duration::from_secs(900),
                max_sign_window: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            },
        );
    let method = http::Method::PUT;
    let req = Request {
        method: &method,
        uri: &uri,
        headers: &map,
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let verifier = match keyring.authenticate(&req, now) {
        Ok(id) => match id.body {
            BodyCheck::SignedChunks(v) => Some(v),
            _ => None,
        },
        Err(_) => None,
    };
    let mut decoder = AwsChunked::new(verifier);
    for piece in body.chunks(7) {
        if decoder.push(piece).is_err() {
            return;
        }
    }
    let _ = decoder.finish();
});
