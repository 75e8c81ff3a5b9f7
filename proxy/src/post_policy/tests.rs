//! The AWS documentation's POST example, a COS form signed with Python's `hmac`, and policy
//! documents.

use super::*;
use crate::auth::Policy as AuthPolicy;
use crate::form_data::FilePart;
use bytes::Bytes;
use std::time::UNIX_EPOCH;

fn keyring() -> Keyring {
    let cred = |ak: &str, sk: &str| Credential {
        access_key: ak.into(),
        secret_key: sk.into(),
        buckets: None,
        session_token: None,
    };
    Keyring::new(
        vec![
            cred(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            cred("AKIDtest", "picops-test-secret"),
        ],
        AuthPolicy::default(),
    )
}

fn form(fields: &[(&str, &str)], filename: &str, data: &'static [u8]) -> Form {
    Form {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        file: FilePart {
            filename: filename.into(),
            data: Bytes::from_static(data),
        },
    }
}

/// The POST example of the AWS S3 documentation ("Example: Browser-Based Upload using
/// HTTP POST (Using AWS Signature Version 4)"), whose signature is published there.
const AWS_POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";

fn aws_form(signature: &'static str, key: &'static str) -> Form {
    form(
        &[
            ("key", key),
            ("acl", "public-read"),
            (
                "success_action_redirect",
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
            ),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-amz-server-side-encryption", "AES256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Date", "20151229T000000Z"),
            ("x-amz-meta-tag", ""),
            ("Policy", AWS_POLICY),
            ("X-Amz-Signature", signature),
        ],
        "photo.jpg",
        b"jpeg bytes",
    )
}

const AWS_SIGNATURE: &str = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";

#[test]
fn aws_documentation_post_example() {
    let kr = keyring();
    let now = time::parse_amz_date("20151229T000000Z").unwrap();
    let f = aws_form(AWS_SIGNATURE, "user/user1/${filename}");
    let v = verify(&kr, &f, "sigv4examplebucket", now).unwrap();
    assert_eq!(v.key, "user/user1/photo.jpg");
    assert_eq!(v.dialect, Dialect::Aws);
    // Another bucket, another key prefix, a changed signature, a later time.
    let e = verify(&kr, &f, "otherbucket", now).unwrap_err();
    assert!(e.to_string().contains("bucket"), "{e}");
    let e = verify(
        &kr,
        &aws_form(AWS_SIGNATURE, "user/user2/a"),
        "sigv4examplebucket",
        now,
    );
    assert!(e.unwrap_err().to_string().contains("$key"));
    let bad = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699f";
    let e = verify(
        &kr,
        &aws_form(bad, "user/user1/a"),
        "sigv4examplebucket",
        now,
    );
    assert_eq!(e.unwrap_err().code(), "SignatureDoesNotMatch");
    let later = time::parse_amz_date("20151230T120001Z").unwrap();
    let e = verify(&kr, &f, "sigv4examplebucket", later).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}

const COS_POLICY: &str = "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3sicS1zaWduLWFsZ29yaXRobSI6InNoYTEifSx7InEtYWsiOiJBS0lEdGVzdCJ9LHsicS1zaWduLXRpbWUiOiIxNzAwMDAwMDAwOzE3MDAwMDM2MDAifSx7ImJ1Y2tldCI6ImItMTI1MDAwMDAwMCJ9LFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXAvIl0sWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsMSwxMF1dfQ==";
/// Computed with Python's `hmac` (HMAC-SHA1 of SHA1(policy JSON) with the key-time key).
const COS_SIGNATURE: &str = "92c43a666f9a5d92dbb8affedd484d6a2d27349e";

fn cos_form(extra: &[(&'static str, &'static str)], data: &'static [u8]) -> Form {
    let mut fields = vec![
        ("key", "up/a.jpg"),
        ("policy", COS_POLICY),
        ("q-sign-algorithm", "sha1"),
        ("q-ak", "AKIDtest"),
        ("q-key-time", "1700000000;1700003600"),
        ("q-signature", COS_SIGNATURE),
    ];
    fields.extend_from_slice(extra);
    form(&fields, "a.jpg", data)
}

#[test]
fn cos_form_signature_and_conditions() {
    let kr = keyring();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    let v = verify(&kr, &cos_form(&[], b"12345"), "b-1250000000", now).unwrap();
    assert_eq!((v.key.as_str(), v.dialect), ("up/a.jpg", Dialect::Cos));
    let e = verify(&kr, &cos_form(&[], b"12345678901"), "b-1250000000", now).unwrap_err();
    assert_eq!((e.status(), e.code()), (400, "EntityTooLarge"));
    let e = verify(&kr, &cos_form(&[], b""), "b-1250000000", now).unwrap_err();
    assert_eq!((e.status(), e.code()), (400, "EntityTooSmall"));
    // A field no condition covers.
    let e = verify(
        &kr,
        &cos_form(&[("x-cos-meta-a", "1")], b"1"),
        "b-1250000000",
        now,
    );
    assert!(e.unwrap_err().to_string().contains("x-cos-meta-a"));
    // x-ignore-* needs no condition.
    assert!(verify(
        &kr,
        &cos_form(&[("x-ignore-a", "1")], b"1"),
        "b-1250000000",
        now
    )
    .is_ok());
    let late = UNIX_EPOCH + Duration::from_secs(1_700_003_601);
    assert_eq!(
        verify(&kr, &cos_form(&[], b"1"), "b-1250000000", late)
            .unwrap_err()
            .code(),
        "AccessDenied"
    );
    let mut f = cos_form(&[], b"1");
    f.fields[0].1 = "up/b.jpg".into();
    assert!(verify(&kr, &f, "b-1250000000", now).is_ok());
    f.fields[0].1 = "down/b.jpg".into();
    assert_eq!(
        verify(&kr, &f, "b-1250000000", now).unwrap_err().code(),
        "AccessDenied"
    );
    f.fields[5].1 = "0".repeat(40);
    f.fields[0].1 = "up/b.jpg".into();
    assert_eq!(
        verify(&kr, &f, "b-1250000000", now).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn anonymous_and_unknown_keys_are_refused() {
    let kr = keyring();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    let anon = form(&[("key", "a"), ("policy", COS_POLICY)], "", b"x");
    assert_eq!(verify(&kr, &anon, "b", now).unwrap_err().status(), 403);
    let mut f = cos_form(&[], b"1");
    f.fields[3].1 = "AKIDnobody".into();
    assert_eq!(
        verify(&kr, &f, "b-1250000000", now).unwrap_err().code(),
        "InvalidAccessKeyId"
    );
}

#[test]
fn policy_documents() {
    let p = parse_policy(
        br#"{"expiration":"2030-01-02T03:04:05Z","conditions":[{"$Bucket":"b"},["eq","$Key","k"],["starts-with","$Content-Type","image/"],["content-length-range","1",5]]}"#,
    )
    .unwrap();
    assert_eq!(
        p.conditions,
        [
            Condition::Eq("bucket".into(), "b".into()),
            Condition::Eq("key".into(), "k".into()),
            Condition::StartsWith("content-type".into(), "image/".into()),
            Condition::LengthRange(1, 5),
        ]
    );
    assert_eq!(time::unix_secs(p.expiration), 1_893_553_445);
    for bad in [
        &br#"{"conditions":[]}"#[..],
        br#"{"expiration":"2030-01-02 03:04:05","conditions":[]}"#,
        br#"{"expiration":"2030-01-02T03:04:05Z"}"#,
        br#"{"expiration":"2030-01-02T03:04:05Z","conditions":[["in","$key","a"]]}"#,
        br#"{"expiration":"2030-01-02T03:04:05Z","conditions":[["eq","key","a"]]}"#,
        br#"{"expiration":"2030-01-02T03:04:05Z","conditions":[["content-length-range",5,1]]}"#,
        br#"{"expiration":"2030-01-02T03:04:05Z","conditions":[{"key":1}]}"#,
        b"not json",
    ] {
        let e = parse_policy(bad).unwrap_err();
        assert_eq!(
            e.code(),
            "InvalidPolicyDocument",
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(parse_iso8601("2030-01-02T03:04:05.123Z").is_some());
    assert!(parse_iso8601("2030-01-02T03:04:05.Z").is_none());
}
