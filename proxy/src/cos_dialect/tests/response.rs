//! The store's answers for COS clients, and telling COS clients from S3 clients.

use super::*;

#[test]
fn response_to_cos_renames_maps_and_drops() {
    let mut h = headers(&[
        ("x-amz-meta-color", "red"),
        ("x-amz-meta-color", "blue"),
        ("x-amz-storage-class", "GLACIER"),
        ("x-amz-version-id", "v1"),
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "key"),
        ("x-amz-request-id", "r"),
        ("x-amz-id-2", "id2"),
        // Unknown to COS: not renamed to an x-cos name COS does not define, and (since
        // 1961fce, "COS clients never see an x-amz-* header") not passed on either.
        ("x-amz-checksum-crc32", "AAAAAA=="),
        ("x-amz-checksum-sha1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        ("etag", "\"e\""),
    ]);
    h.append(
        "x-amz-meta-bytes",
        HeaderValue::from_bytes("café".as_bytes()).unwrap(),
    );
    response_to_cos(&mut h);
    let mut want = headers(&[
        ("x-cos-meta-color", "red"),
        ("x-cos-meta-color", "blue"),
        ("x-cos-storage-class", "ARCHIVE"),
        ("x-cos-version-id", "v1"),
        ("x-cos-server-side-encryption", "cos/kms"),
        ("x-cos-server-side-encryption-cos-kms-key-id", "key"),
        ("etag", "\"e\""),
    ]);
    want.append(
        "x-cos-meta-bytes",
        HeaderValue::from_bytes("café".as_bytes()).unwrap(),
    );
    assert_eq!(h, want);

    for (s3, cos) in [
        ("STANDARD_IA", "STANDARD_IA"),
        ("REDUCED_REDUNDANCY", "REDUCED_REDUNDANCY"),
    ] {
        let mut h = headers(&[("x-amz-storage-class", s3)]);
        response_to_cos(&mut h);
        assert_eq!(h, headers(&[("x-cos-storage-class", cos)]));
    }
    let mut h = headers(&[("x-amz-server-side-encryption", "AES256")]);
    response_to_cos(&mut h);
    assert_eq!(h, headers(&[("x-cos-server-side-encryption", "AES256")]));
}

#[test]
fn cos_clients_are_told_from_s3_clients() {
    let cos_auth = "q-sign-algorithm=sha1&q-ak=AKID&q-sign-time=1;2&q-key-time=1;2\
                    &q-header-list=host&q-url-param-list=&q-signature=abc";
    assert!(is_cos_client(&headers(&[("authorization", cos_auth)]), ""));
    for query in [
        "q-sign-algorithm=sha1&q-ak=AKID&q-signature=abc",
        "imageMogr2/thumbnail/100x&q-sign-algorithm=sha1",
        "q-sign-algorithm",
    ] {
        assert!(is_cos_client(&HeaderMap::new(), query), "{query}");
    }
    for name in ["x-cos-meta-a", "x-cos-security-token", "x-cos-anything"] {
        assert!(is_cos_client(&headers(&[(name, "1")]), ""), "{name}");
    }

    let sigv4 = headers(&[
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"),
        ("x-amz-date", "20240101T000000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-meta-a", "1"),
    ]);
    assert!(!is_cos_client(&sigv4, ""));
    assert!(!is_cos_client(&sigv4, "versionId=1&xq-sign-algorithm=sha1"));
    let presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc";
    assert!(!is_cos_client(&HeaderMap::new(), presigned));
    assert!(!is_cos_client(&HeaderMap::new(), ""));
}
