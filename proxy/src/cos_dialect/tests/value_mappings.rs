//! The translations of values that the two dialects spell differently.

use super::*;
use crate::cos_dialect::values::{COS_ALL_USERS, S3_ALL_USERS, TRAFFIC_LIMIT};

#[test]
fn acl() {
    for canned in [
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    ] {
        let h = sent(&[("x-cos-acl", canned)]);
        assert_eq!(h, headers(&[("x-amz-acl", canned)]));
    }
    // `default` is S3's absence of an ACL.
    assert!(sent(&[("x-cos-acl", "default")]).is_empty());
    for bad in ["aws-exec-read", "log-delivery-write", "public", ""] {
        assert_400(&reject(&[("x-cos-acl", bad)]), "x-cos-acl");
    }
}

#[test]
fn grants() {
    let cos_all = format!("uri=\"{COS_ALL_USERS}\"");
    let s3_all = format!("uri=\"{S3_ALL_USERS}\"");
    for name in [
        "x-cos-grant-read",
        "x-cos-grant-write",
        "x-cos-grant-read-acp",
        "x-cos-grant-write-acp",
        "x-cos-grant-full-control",
    ] {
        let s3 = name.replace("x-cos-", "x-amz-");
        for v in [cos_all.as_str(), s3_all.as_str()] {
            assert_eq!(sent(&[(name, v)]), headers(&[(&s3, &s3_all)]));
        }
        let accounts = [
            "id=\"100000000001\"".to_string(),
            "id=\"qcs::cam::uin/100000000001:uin/100000000001\"".into(),
            format!("{cos_all}, id=\"100000000001\""),
            "emailAddress=\"a@example.com\"".into(),
            "uri=\"http://cam.qcloud.com/groups/global/AuthenticatedUsers\"".into(),
        ];
        for v in &accounts {
            assert_501(&reject(&[(name, v)]), name);
        }
        for v in ["nonsense", "id=\"1", "id=\"1\",", ",id=\"1\"", "who=\"1\""] {
            assert_400(&reject(&[(name, v)]), name);
        }
    }
    let both = format!("{cos_all},{cos_all}");
    let h = sent(&[("x-cos-grant-read", &both)]);
    assert_eq!(
        values(&h, "x-amz-grant-read"),
        [format!("{s3_all}, {s3_all}")]
    );
}

#[test]
fn storage_class_to_s3_and_back() {
    for (cos, s3) in [
        ("STANDARD", "STANDARD"),
        ("standard", "STANDARD"),
        (" Standard_IA ", "STANDARD_IA"),
        ("INTELLIGENT_TIERING", "INTELLIGENT_TIERING"),
        ("ARCHIVE", "GLACIER"),
        ("archive", "GLACIER"),
        ("DEEP_ARCHIVE", "DEEP_ARCHIVE"),
        ("MAZ_STANDARD", "STANDARD"),
        ("MAZ_STANDARD_IA", "STANDARD_IA"),
        ("MAZ_INTELLIGENT_TIERING", "INTELLIGENT_TIERING"),
        ("maz_archive", "GLACIER"),
    ] {
        assert_eq!(storage_class_to_s3(cos).unwrap(), s3, "{cos}");
    }
    for bad in ["NOT_A_CLASS", "GLACIER", "REDUCED_REDUNDANCY", ""] {
        let e = storage_class_to_s3(bad).unwrap_err();
        assert!(matches!(e, ApiError::InvalidArgument(_)), "{bad}: {e:?}");
    }
    for unsupported in ["COLD", "cold", "MAZ_COLD"] {
        let e = storage_class_to_s3(unsupported).unwrap_err();
        assert!(
            matches!(e, ApiError::NotImplemented(_)),
            "{unsupported}: {e:?}"
        );
    }
    for (s3, cos) in [
        ("GLACIER", "ARCHIVE"),
        ("STANDARD", "STANDARD"),
        ("STANDARD_IA", "STANDARD_IA"),
        ("INTELLIGENT_TIERING", "INTELLIGENT_TIERING"),
        ("DEEP_ARCHIVE", "DEEP_ARCHIVE"),
        // Classes COS has no name for are passed on as they are.
        ("REDUCED_REDUNDANCY", "REDUCED_REDUNDANCY"),
        ("GLACIER_IR", "GLACIER_IR"),
    ] {
        assert_eq!(storage_class_to_cos(s3), cos, "{s3}");
    }
}

#[test]
fn storage_class_header() {
    let h = sent(&[("x-cos-storage-class", "archive")]);
    assert_eq!(h, headers(&[("x-amz-storage-class", "GLACIER")]));
    let h = sent(&[("x-cos-storage-class", "standard")]);
    assert_eq!(h, headers(&[("x-amz-storage-class", "STANDARD")]));
    let e = reject(&[("x-cos-storage-class", "NOT_A_CLASS")]);
    assert_400(&e, "x-cos-storage-class");
    assert_501(
        &reject(&[("x-cos-storage-class", "COLD")]),
        "x-cos-storage-class",
    );
}

#[test]
fn directives() {
    for (cos, s3) in [
        ("x-cos-metadata-directive", "x-amz-metadata-directive"),
        ("x-cos-tagging-directive", "x-amz-tagging-directive"),
    ] {
        for (v, want) in [
            ("Copy", "COPY"),
            ("Replaced", "REPLACE"),
            ("replaced", "REPLACE"),
        ] {
            assert_eq!(sent(&[(cos, v)]), headers(&[(s3, want)]), "{cos}: {v}");
        }
        for bad in ["REPLACE", "Move", ""] {
            assert_400(&reject(&[(cos, bad)]), cos);
        }
    }
}

#[test]
fn server_side_encryption() {
    let name = "x-cos-server-side-encryption";
    for (v, want) in [("AES256", "AES256"), ("cos/kms", "aws:kms")] {
        let h = sent(&[(name, v)]);
        assert_eq!(h, headers(&[("x-amz-server-side-encryption", want)]));
    }
    assert_501(&reject(&[(name, "SM4")]), name);
    assert_400(&reject(&[(name, "aws:kms")]), name);
    assert_400(&reject(&[(name, "rot13")]), name);

    let kms_and_sse_c = [
        (
            "x-cos-server-side-encryption-cos-kms-key-id",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ),
        (
            "x-cos-server-side-encryption-context",
            "x-amz-server-side-encryption-context",
        ),
        (
            "x-cos-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-algorithm",
        ),
        (
            "x-cos-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key",
        ),
        (
            "x-cos-server-side-encryption-customer-key-md5",
            "x-amz-server-side-encryption-customer-key-md5",
        ),
        (
            "x-cos-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
        ),
        (
            "x-cos-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key",
        ),
        (
            "x-cos-copy-source-server-side-encryption-customer-key-md5",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
        ),
    ];
    let cos: Vec<(&str, &str)> = kms_and_sse_c
        .iter()
        .map(|(c, _)| (*c, "K+ey/Zz=="))
        .collect();
    let s3: Vec<(&str, &str)> = kms_and_sse_c
        .iter()
        .map(|(_, s)| (*s, "K+ey/Zz=="))
        .collect();
    assert_eq!(sent(&cos), headers(&s3));
}

#[test]
fn forbid_overwrite() {
    let name = "x-cos-forbid-overwrite";
    for v in ["true", "TRUE"] {
        assert_eq!(sent(&[(name, v)]), headers(&[("if-none-match", "*")]));
    }
    assert!(sent(&[(name, "false")]).is_empty());
    for bad in ["yes", "1", ""] {
        assert_400(&reject(&[(name, bad)]), name);
    }
}

#[test]
fn content_sha1() {
    let name = "x-cos-content-sha1";
    // SHA-1 of nothing, in hex and in base64.
    for hex in [
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    ] {
        let h = sent(&[(name, hex)]);
        assert_eq!(
            h,
            headers(&[("x-amz-checksum-sha1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=")])
        );
    }
    for bad in [
        "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
        "da39a3ee5e6b4b0d3255bfef95601890afd807",
        "da39a3ee5e6b4b0d3255bfef95601890afd8070900",
        "zz39a3ee5e6b4b0d3255bfef95601890afd80709",
    ] {
        assert_400(&reject(&[(name, bad)]), name);
    }
}

#[test]
fn traffic_limit() {
    let name = "x-cos-traffic-limit";
    let (low, high) = (*TRAFFIC_LIMIT.start(), *TRAFFIC_LIMIT.end());
    assert_eq!((low, high), (819_200, 838_860_800));
    for bad in [
        (low - 1).to_string(),
        (high + 1).to_string(),
        "-1".into(),
        "fast".into(),
    ] {
        assert_400(&reject(&[(name, &bad)]), name);
    }
    for ok in [low, 8_388_608, high] {
        let e = reject(&[(name, &ok.to_string())]);
        assert_501(&e, name);
        assert!(e.to_string().contains("bandwidth"), "{e}");
    }
}

#[test]
fn metadata_keeps_the_suffix_and_every_value() {
    let h = sent(&[
        ("x-cos-meta-color", "red"),
        ("x-cos-meta-color", "Blue, green"),
        ("x-cos-meta-x-cos-meta-odd", "1"),
        ("x-cos-meta-empty", ""),
        ("x-amz-meta-s3", "kept"),
    ]);
    let want = headers(&[
        ("x-amz-meta-color", "red"),
        ("x-amz-meta-color", "Blue, green"),
        ("x-amz-meta-x-cos-meta-odd", "1"),
        ("x-amz-meta-empty", ""),
        ("x-amz-meta-s3", "kept"),
    ]);
    assert_eq!(h, want);
    // Nothing after the prefix is no metadata name.
    assert_400(&reject(&[("x-cos-meta-", "v")]), "x-cos-meta-");
}

#[test]
fn an_empty_copy_source_range_is_the_whole_object() {
    assert!(sent(&[("x-cos-copy-source-range", "")]).is_empty());
    let h = sent(&[("x-cos-copy-source-range", "bytes=0-9")]);
    assert_eq!(values(&h, "x-amz-copy-source-range"), ["bytes=0-9"]);
}
