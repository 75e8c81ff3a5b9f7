//! AWS Signature Version 4 verification: the `Authorization` header form and the pre-signed
//! query form. Key derivation and the final HMAC come from `aws-sigv4` (the AWS SDK's own
//! signer, already used for upstream signing); the canonical request is built here because
//! a verifier must follow the client's `SignedHeaders`, which `aws-sigv4` chooses itself.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use sha2::{Digest, Sha256};

use super::{
    constant_time_eq, encode, mismatch, time, BodyCheck, ChunkVerifier, Identity, Keyring, Request,
};
use crate::error::ApiError;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

pub const QUERY_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
];

const STREAMING: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
const MAX_PRESIGNED_EXPIRY: u64 = 7 * 24 * 3600;

/// `AK/20240101/region/s3/aws4_request`.
struct Scope {
    access_key: String,
    date: String,
    region: String,
    service: String,
}

impl Scope {
    fn parse(credential: &str) -> Result<Scope, ApiError> {
        let parts: Vec<&str> = credential.split('/').collect();
        match parts.as_slice() {
            [ak, date, region, service, "aws4_request"] => Ok(Scope {
                access_key: ak.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
            }),
            _ => Err(ApiError::AccessDenied(format!(
                "SigV4: malformed credential scope {credential:?}"
            ))),
        }
    }

    fn string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Everything a SigV4 signature is checked with, from either form.
struct Signed<'a> {
    scope: Scope,
    amz_date: String,
    signed_headers: Vec<String>,
    signature: String,
    payload: String,
    /// Query parameter left out of the canonical query (the signature itself).
    skip_param: Option<&'a str>,
}

pub fn verify_header(
    keyring: &Keyring,
    req: &Request,
    authorization: &str,
    now: SystemTime,
) -> Result<Identity, ApiError> {
    let rest = authorization[ALGORITHM.len()..].trim();
    let fields: HashMap<&str, &str> = rest
        .split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .collect();
    let field = |name: &str| {
        fields.get(name).copied().ok_or_else(|| {
            ApiError::AccessDenied(format!("SigV4 Authorization header is missing {name}"))
        })
    };
    let amz_date = req
        .header("x-amz-date")
        .ok_or_else(|| ApiError::AccessDenied("SigV4: x-amz-date header missing".into()))?
        .to_string();
    let date = time::parse_amz_date(&amz_date)
        .ok_or_else(|| ApiError::AccessDenied(format!("SigV4: bad x-amz-date {amz_date:?}")))?;
    if time::distance(date, now) > keyring.max_skew {
        return Err(ApiError::RequestTimeTooSkewed(format!(
            "x-amz-date {amz_date} is more than {} s from picops' clock",
            keyring.max_skew.as_secs()
        )));
    }
    let payload = req
        .header("x-amz-content-sha256")
        .ok_or_else(|| {
            ApiError::InvalidArgument(
                "SigV4: the x-amz-content-sha256 header is missing; S3 requires it (with curl \
                 --aws-sigv4, add -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')"
                    .into(),
            )
        })?
        .to_string();
    let signed = Signed {
        scope: Scope::parse(field("Credential")?)?,
        amz_date,
        signed_headers: field("SignedHeaders")?
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: field("Signature")?.to_ascii_lowercase(),
        payload,
        skip_param: None,
    };
    check(keyring, req, signed)
}

pub fn verify_presigned(
    keyring: &Keyring,
    req: &Request,
    now: SystemTime,
) -> Result<Identity, ApiError> {
    let param = |name: &str| {
        req.query_param(name)
            .ok_or_else(|| ApiError::AccessDenied(format!("pre-signed URL is missing {name}")))
    };
    if param("X-Amz-Algorithm")? != ALGORITHM {
        return Err(ApiError::AccessDenied(format!(
            "pre-signed URL: only {ALGORITHM} is supported"
        )));
    }
    let amz_date = param("X-Amz-Date")?;
    let date = time::parse_amz_date(&amz_date).ok_or_else(|| {
        ApiError::AccessDenied(format!("pre-signed URL: bad X-Amz-Date {amz_date:?}"))
    })?;
    let expires: u64 = param("X-Amz-Expires")?
        .parse()
        .ok()
        .filter(|e| (1..=MAX_PRESIGNED_EXPIRY).contains(e))
        .ok_or_else(|| {
            ApiError::AccessDenied("pre-signed URL: X-Amz-Expires must be 1..604800".into())
        })?;
    if date > now + keyring.max_skew {
        return Err(ApiError::AccessDenied(
            "pre-signed URL is not valid yet".into(),
        ));
    }
    if now > date + Duration::from_secs(expires) {
        return Err(ApiError::AccessDenied("request has expired".into()));
    }
    let signed = Signed {
        scope: Scope::parse(&param("X-Amz-Credential")?)?,
        amz_date,
        signed_headers: param("X-Amz-SignedHeaders")?
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: param("X-Amz-Signature")?.to_ascii_lowercase(),
        payload: req
            .header("x-amz-content-sha256")
            .unwrap_or(UNSIGNED)
            .to_string(),
        skip_param: Some("X-Amz-Signature"),
    };
    check(keyring, req, signed)
}

fn check(keyring: &Keyring, req: &Request, s: Signed) -> Result<Identity, ApiError> {
    let credential = keyring.lookup(&s.scope.access_key)?;
    if !s.amz_date.starts_with(&s.scope.date) || s.scope.service != "s3" {
        return Err(ApiError::AccessDenied(
            "SigV4: credential scope does not match the request date or service s3".into(),
        ));
    }
    if !s.signed_headers.iter().any(|h| h == "host") {
        return Err(ApiError::AccessDenied("SigV4: host must be signed".into()));
    }
    let date = time::parse_amz_date(&s.amz_date)
        .ok_or_else(|| ApiError::AccessDenied("SigV4: bad date".into()))?;
    let key = generate_signing_key(&credential.secret_key, date, &s.scope.region, "s3");
    // The query canonically re-encoded (what the AWS specification asks), and as sent (what
    // botocore signs when the URL it was given left `/` unencoded, as COS-style
    // `?imageMogr2/…` URLs do). Both forms cover exactly the bytes received.
    let mut matched = false;
    for form in [QueryForm::Canonical, QueryForm::AsSent] {
        let canonical = canonical_request(req, &s, form)?;
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{}\n{}",
            s.amz_date,
            s.scope.string(),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let expected = calculate_signature(key.as_ref(), string_to_sign.as_bytes());
        matched |= constant_time_eq(expected.as_bytes(), s.signature.as_bytes());
    }
    if !matched {
        return Err(mismatch("AWS4-HMAC-SHA256"));
    }
    let body = match s.payload.as_str() {
        STREAMING => BodyCheck::SignedChunks(ChunkVerifier::new(
            key.as_ref().to_vec(),
            s.amz_date.clone(),
            s.scope.string(),
            s.signature.clone(),
        )),
        p if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => {
            BodyCheck::Sha256(p.to_ascii_lowercase())
        }
        UNSIGNED | "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => BodyCheck::None,
        // Signed trailers (and anything else) would leave part of the body unchecked.
        other => {
            return Err(ApiError::NotImplemented(format!(
                "x-amz-content-sha256 {other:?} is not supported; use a SHA-256, \
                 UNSIGNED-PAYLOAD or STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
            )))
        }
    };
    Ok(Identity {
        credential: Some(credential),
        signed_headers: s.signed_headers,
        body,
    })
}

#[derive(Clone, Copy)]
enum QueryForm {
    Canonical,
    AsSent,
}

fn canonical_request(req: &Request, s: &Signed, form: QueryForm) -> Result<String, ApiError> {
    // S3 paths are encoded once, as the client did; decoding and re-encoding canonically
    // gives the same string whatever harmless variations the client's encoder had.
    let uri = encode::path(&encode::decode(req.uri.path()));
    let mut query: Vec<(String, String)> = req
        .raw_query()
        .into_iter()
        .filter(|(k, _)| Some(encode::decode(k).as_str()) != s.skip_param)
        .map(|(k, v)| match form {
            QueryForm::Canonical => (
                encode::strict(&encode::decode(k)),
                encode::strict(&encode::decode_query(v)),
            ),
            QueryForm::AsSent => (k.to_string(), v.to_string()),
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in &s.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                let v = String::from_utf8_lossy(v.as_bytes());
                v.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(ApiError::AccessDenied(format!(
                "SigV4: signed header {name} is not in the request"
            )));
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(format!(
        "{}\n{uri}\n{query}\n{headers}\n{}\n{}",
        req.method.as_str(),
        s.signed_headers.join(";"),
        s.payload
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credential;

    /// The key pair of the AWS documentation's examples.
    fn documentation_keyring() -> Keyring {
        Keyring::new(
            vec![Credential {
                access_key: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                buckets: None,
                session_token: None,
            }],
            crate::auth::Policy {
                max_skew: Duration::from_secs(900),
                max_sign_window: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            },
        )
    }

    /// The GET Object example of the AWS S3 SigV4 documentation ("Example: GET Object"),
    /// whose expected signature is published there.
    #[test]
    fn aws_documentation_example() {
        let kr = documentation_keyring();
        let uri: http::Uri = "/test.txt".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        headers.insert("range", "bytes=0-9".parse().unwrap());
        headers.insert(
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .unwrap(),
        );
        headers.insert("x-amz-date", "20130524T000000Z".parse().unwrap());
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        let method = http::Method::GET;
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        let then = time::parse_amz_date("20130524T000100Z").unwrap();
        let id = verify_header(&kr, &req, auth, then).unwrap();
        assert_eq!(id.access_key(), Some("AKIAIOSFODNN7EXAMPLE"));
        assert!(matches!(id.body, BodyCheck::Sha256(_)));

        headers.insert("range", "bytes=0-10".parse().unwrap());
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        assert_eq!(
            verify_header(&kr, &req, auth, then).unwrap_err().code(),
            "SignatureDoesNotMatch"
        );

        let later = then + Duration::from_secs(3600);
        assert_eq!(
            verify_header(&kr, &req, auth, later).unwrap_err().code(),
            "RequestTimeTooSkewed"
        );
    }

    /// The pre-signed URL example of the same documentation.
    #[test]
    fn aws_presigned_example() {
        let kr = documentation_keyring();
        let uri: http::Uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        let method = http::Method::GET;
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        let then = time::parse_amz_date("20130524T010000Z").unwrap();
        assert!(verify_presigned(&kr, &req, then).is_ok());
        let expired = time::parse_amz_date("20130525T000001Z").unwrap();
        assert_eq!(
            verify_presigned(&kr, &req, expired).unwrap_err().code(),
            "AccessDenied"
        );
    }
}
