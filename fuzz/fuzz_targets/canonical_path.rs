//! Differential: for any request path, host and copy source, the (bucket, key) picops
//! authorises is the one the store acts on. The store side is an S3 server's path parser
//! (s3s, which percent-decodes the path picops sends) followed by the lexical resolution a
//! file-backed store applies when it joins the key to its data directory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picops::route::{self, Routing};
use s3s::path::S3Path;

/// `bucket/key` resolved as a filesystem would: `.` dropped, `..` pops, empty segments
/// collapse; `None` when `..` climbs above the data directory.
fn resolve(bucket: &str, key: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for seg in bucket.split('/').chain(key.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// What the store does with the path picops forwards: the object it names and the file
/// it resolves to must be exactly the authorised one.
fn store_agrees(bucket: &str, key: &str) {
    let path = route::upstream_path(Some(bucket), key);
    let decoded = percent_encoding::percent_decode_str(&path).decode_utf8_lossy();
    match s3s::path::parse_path_style(&decoded) {
        Ok(S3Path::Object { bucket: b, key: k }) => {
            assert_eq!((&*b, &*k), (bucket, key), "{path}");
        }
        Ok(S3Path::Bucket { bucket: b }) => assert!(key.is_empty() && &*b == bucket, "{path}"),
        // The store refusing the name is safe: nothing is acted on.
        Ok(S3Path::Root) => panic!("{path} reached the service level"),
        Err(_) => {}
    }
    let expected = format!("{bucket}/{}", key.trim_end_matches('/'));
    assert_eq!(
        resolve(bucket, key).as_deref(),
        Some(expected.trim_end_matches('/')),
        "{bucket:?} {key:?} resolves elsewhere"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (host, rest) = text.split_once('\n').unwrap_or(("127.0.0.1:8080", text));
    let (path, copy) = rest.split_once('\n').unwrap_or((rest, ""));
    let routing = Routing {
        base_domains: vec!["s3.local".into()],
        ..Default::default()
    };
    if let Ok(uri) = path.parse::<http::Uri>() {
        if let Ok(r) = route::route(&uri, Some(host), &routing) {
            assert!(!route::is_reserved(&r.key), "{:?}", r.key);
            if let Some(bucket) = r.bucket.as_deref() {
                store_agrees(bucket, &r.key);
            }
        }
    }
    if let Ok(source) = route::copy_source(copy, &routing) {
        assert!(!route::is_reserved(&source.key));
        store_agrees(&source.bucket, &source.key);
        // The header the store receives names the same object again.
        let again = route::copy_source(&source.upstream_value(), &routing).ok();
        assert_eq!(again.as_ref(), Some(&source));
    }
});
