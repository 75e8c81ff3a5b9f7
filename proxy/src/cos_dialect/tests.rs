//! Request direction row by row and as a whole; the value mappings are in `value_mappings`,
//! the response direction and `is_cos_client` in `response`.

use super::*;

mod response;
mod value_mappings;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// The headers a request that must be accepted is sent upstream with.
fn sent(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = headers(pairs);
    if let Err(e) = request_to_s3(&mut h) {
        panic!("{pairs:?} refused: {e}");
    }
    h
}

/// The error for headers that must be refused, after checking they were left as they were.
fn reject_map(h: HeaderMap) -> ApiError {
    let mut after = h.clone();
    let Err(e) = request_to_s3(&mut after) else {
        panic!("{h:?} accepted, as {after:?}");
    };
    assert_eq!(after, h, "a refused request's headers were changed ({e})");
    e
}

fn reject(pairs: &[(&str, &str)]) -> ApiError {
    reject_map(headers(pairs))
}

fn values<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// A 400 InvalidArgument whose message starts with the header it concerns.
fn assert_400(e: &ApiError, header: &str) {
    assert!(matches!(e, ApiError::InvalidArgument(_)), "{e:?}");
    assert_eq!(e.status(), 400);
    assert!(
        e.to_string().starts_with(header),
        "{e} does not name {header}"
    );
}

/// A 501 NotImplemented whose message starts with the header it concerns.
fn assert_501(e: &ApiError, header: &str) {
    assert!(matches!(e, ApiError::NotImplemented(_)), "{e:?}");
    assert_eq!(e.status(), 501);
    assert!(
        e.to_string().starts_with(header),
        "{e} does not name {header}"
    );
}

/// Values among which every mapped row finds one it translates to a header.
const SAMPLES: &[&str] = &[
    "private",
    "STANDARD",
    "Copy",
    "AES256",
    "true",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "uri=\"http://cam.qcloud.com/groups/global/AllUsers\"",
];

#[test]
fn every_row_is_handled_in_the_request_direction_as_it_says() {
    let mut kinds = [0; 6];
    for row in TABLE.iter().filter(|r| !r.cos.is_empty()) {
        let suffix = if row.prefix { "some-key" } else { "" };
        let (name, s3) = (
            format!("{}{suffix}", row.cos),
            format!("{}{suffix}", row.s3),
        );
        let (found, rest) = by_cos(&name).unwrap_or_else(|| panic!("{name} has no row"));
        assert_eq!(
            (found.cos, found.s3),
            (row.cos, row.s3),
            "{name} finds another row"
        );
        assert_eq!(rest, suffix);
        match row.to_s3 {
            ToS3::Rename => {
                kinds[0] += 1;
                let h = sent(&[(&name, "Value, 1"), ("content-type", "x/y")]);
                assert_eq!(values(&h, &s3), ["Value, 1"], "{name}");
                assert_eq!(values(&h, "content-type"), ["x/y"]);
                assert_eq!(h.len(), 2, "{name}: {h:?}");
            }
            ToS3::Map(map) => {
                kinds[1] += 1;
                let (v, want) = SAMPLES
                    .iter()
                    .find_map(|v| Some((*v, map(v).ok()??)))
                    .unwrap_or_else(|| panic!("no sample value {name} sends"));
                let h = sent(&[(&name, v)]);
                assert_eq!(values(&h, &s3), [want.as_str()], "{name}");
                assert_eq!(h.len(), 1, "{name}: {h:?}");
            }
            ToS3::Keep => {
                kinds[2] += 1;
                let h = sent(&[(&name, "token")]);
                assert_eq!(values(&h, &name), ["token"]);
                assert_eq!(h.len(), 1, "{name}: {h:?}");
            }
            ToS3::Remove => {
                kinds[3] += 1;
                let h = sent(&[(&name, "x"), ("content-type", "x/y")]);
                assert_eq!(h, headers(&[("content-type", "x/y")]), "{name}");
            }
            ToS3::Refuse(why) => {
                kinds[4] += 1;
                let e = reject(&[("x-cos-acl", "private"), (&name, "x")]);
                assert_501(&e, &name);
                assert!(e.to_string().contains(why), "{e}");
            }
            ToS3::Check(check) => {
                kinds[5] += 1;
                for v in ["not a number", "1048576"] {
                    let e = reject(&[("x-cos-meta-a", "1"), (&name, v)]);
                    let want = check(v);
                    assert_eq!(e.code(), want.code(), "{name}: {v}");
                    assert_eq!(e.to_string(), format!("{name}: {want}"));
                }
            }
        }
    }
    assert!(
        kinds.iter().all(|&n| n > 0),
        "a kind of row is untested: {kinds:?}"
    );
}

#[test]
fn every_row_is_handled_in_the_response_direction_as_it_says() {
    for row in TABLE.iter().filter(|r| r.s3.starts_with("x-amz-")) {
        let suffix = if row.prefix { "some-key" } else { "" };
        let (name, cos) = (
            format!("{}{suffix}", row.s3),
            format!("{}{suffix}", row.cos),
        );
        let mut h = headers(&[(&name, "GLACIER"), ("etag", "\"e\"")]);
        response_to_cos(&mut h);
        assert_eq!(values(&h, "etag"), ["\"e\""]);
        let want = match row.to_cos {
            ToCos::Rename => headers(&[(&cos, "GLACIER")]),
            ToCos::Map(map) => headers(&[(&cos, &map("GLACIER"))]),
            // A COS client never sees an `x-amz-*` header (commit 1961fce).
            ToCos::Keep | ToCos::Drop => HeaderMap::new(),
        };
        h.remove("etag");
        assert_eq!(h, want, "{name}");
    }
}

#[test]
fn table_names_are_lower_case_headers_each_with_one_row() {
    for (i, row) in TABLE.iter().enumerate() {
        assert!(
            row.cos.is_empty() || row.cos.starts_with("x-cos-"),
            "{}",
            row.cos
        );
        for n in [row.cos, row.s3].into_iter().filter(|n| !n.is_empty()) {
            assert_eq!(HeaderName::from_bytes(n.as_bytes()).unwrap().as_str(), n);
        }
        for other in &TABLE[i + 1..] {
            assert!(row.cos.is_empty() || row.cos != other.cos, "{}", row.cos);
            assert!(row.s3.is_empty() || row.s3 != other.s3, "{}", row.s3);
        }
    }
}

#[test]
fn unknown_cos_header_is_refused_by_name() {
    let e = reject(&[("x-cos-acl", "private"), ("x-cos-new-feature", "on")]);
    assert_501(&e, "x-cos-new-feature");
    // The prefix row's prefix must match whole: `x-cos-meta` is not metadata.
    assert_501(&reject(&[("x-cos-meta", "v")]), "x-cos-meta");
}

#[test]
fn non_ascii_value_is_refused() {
    for name in ["x-cos-meta-name", "x-cos-acl", "x-cos-tagging"] {
        let mut h = headers(&[("x-cos-storage-class", "ARCHIVE")]);
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_bytes("café".as_bytes()).unwrap(),
        );
        assert_400(&reject_map(h), name);
    }
}

#[test]
fn all_or_nothing() {
    let translatable = [
        ("x-cos-meta-a", "1"),
        ("x-cos-acl", "default"),
        ("x-cos-storage-class", "ARCHIVE"),
        ("x-cos-sdk-retry", "1"),
        ("x-cos-tagging", "k=v"),
    ];
    for bad in [
        ("x-cos-callback", "e30="),
        ("x-cos-forbid-overwrite", "maybe"),
        ("x-cos-server-side-encryption", "SM4"),
        ("x-cos-whatever", "1"),
    ] {
        // The refused header first and last, so that it is met before and after the others.
        let mut first = vec![bad];
        first.extend(translatable);
        let mut last = translatable.to_vec();
        last.push(bad);
        for pairs in [first, last] {
            let e = reject(&pairs);
            assert!(e.to_string().starts_with(bad.0), "{e}");
        }
    }
}

#[test]
fn both_spellings() {
    // Saying the same thing after translation: sent once.
    let h = sent(&[
        ("x-cos-storage-class", "ARCHIVE"),
        ("x-amz-storage-class", "GLACIER"),
    ]);
    assert_eq!(h, headers(&[("x-amz-storage-class", "GLACIER")]));
    let h = sent(&[
        ("x-cos-meta-a", "1"),
        ("x-amz-meta-a", "1"),
        ("x-cos-acl", "private"),
    ]);
    assert_eq!(
        h,
        headers(&[("x-amz-meta-a", "1"), ("x-amz-acl", "private")])
    );
    let h = sent(&[("x-cos-forbid-overwrite", "true"), ("if-none-match", "*")]);
    assert_eq!(h, headers(&[("if-none-match", "*")]));

    // Saying different things: refused, naming both.
    for pairs in [
        [("x-cos-acl", "private"), ("x-amz-acl", "public-read")],
        [("x-cos-meta-a", "1"), ("x-amz-meta-a", "2")],
        [
            ("x-cos-storage-class", "ARCHIVE"),
            ("x-amz-storage-class", "STANDARD"),
        ],
        [
            ("x-cos-server-side-encryption", "cos/kms"),
            ("x-amz-server-side-encryption", "AES256"),
        ],
        // One translates to no header, the other is a header.
        [("x-cos-acl", "default"), ("x-amz-acl", "public-read")],
        [("x-cos-forbid-overwrite", "false"), ("if-none-match", "*")],
    ] {
        let e = reject(&pairs);
        assert_400(&e, pairs[0].0);
        assert!(e.to_string().contains(pairs[1].0), "{e}");
    }
}

#[test]
fn s3_and_standard_headers_are_left_alone() {
    let pairs = [
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=a/b, Signature=c",
        ),
        ("x-amz-date", "20240101T000000Z"),
        ("x-amz-storage-class", "GLACIER"),
        ("content-type", "image/png"),
        ("if-none-match", "\"etag\""),
    ];
    assert_eq!(sent(&pairs), headers(&pairs));
}

/// `name` in `doc` as a whole name (a prefix name may be followed by anything, as `*`).
fn named_in(doc: &str, name: &str, prefix: bool) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    doc.match_indices(name).any(|(i, _)| {
        !part(doc[..i].chars().next_back())
            && (prefix || !part(doc[i + name.len()..].chars().next()))
    })
}

#[test]
fn every_table_name_is_in_the_doc() {
    let doc = include_str!("../../../docs/cos-dialect.md");
    let missing: Vec<&str> = TABLE
        .iter()
        .flat_map(|r| [(r.cos, r.prefix), (r.s3, r.prefix)])
        .filter(|(n, prefix)| !n.is_empty() && !named_in(doc, n, *prefix))
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/cos-dialect.md: {missing:?}"
    );
    // The check itself tells names apart.
    assert!(!named_in("`x-cos-callback-var`", "x-cos-callback", false));
}
