//! Request authentication (docs/protocol.md, Authentication): who is asking, proven by a COS or an AWS SigV4
//! signature, and which buckets they may touch. The two signature algorithms live in their
//! own modules; this one holds the credentials table and the decision.

mod chunked;
mod cos;
mod encode;
mod sigv4;
pub mod time;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

pub use chunked::{is_aws_chunked, AwsChunked, ChunkVerifier};

/// One access key of the credentials table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    /// Buckets this key may use; `None` means every bucket.
    pub buckets: Option<Vec<String>>,
    /// When set, requests must carry this `x-cos-security-token` / `x-amz-security-token`.
    pub session_token: Option<String>,
}

/// The credentials table and the buckets anyone may read.
#[derive(Debug, Default)]
pub struct Keyring {
    by_key: HashMap<String, Arc<Credential>>,
    public_read: HashSet<String>,
    public_list: HashSet<String>,
    /// Largest accepted distance between a SigV4 `x-amz-date` and now.
    max_skew: Duration,
    /// Longest COS `q-sign-time` window accepted.
    max_sign_window: Duration,
}

/// Who may do what without signing, and how long a signature may live.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Buckets whose objects anyone may GET and HEAD.
    pub public_read: Vec<String>,
    /// Buckets anyone may list.
    pub public_list: Vec<String>,
    pub max_skew: Duration,
    pub max_sign_window: Duration,
}

/// What the request body must still prove once it is read.
#[derive(Debug, Clone)]
pub enum BodyCheck {
    /// Nothing (COS signatures, `UNSIGNED-PAYLOAD`, pre-signed URLs, no body).
    None,
    /// The SHA-256 (hex) the signature covers.
    Sha256(String),
    /// aws-chunked with a signature per chunk, chained from the seed signature.
    SignedChunks(ChunkVerifier),
}

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `None`: an anonymous request.
    pub credential: Option<Arc<Credential>>,
    /// Lower-case names of the headers the signature covers.
    pub signed_headers: Vec<String>,
    pub body: BodyCheck,
}

impl Identity {
    pub fn access_key(&self) -> Option<&str> {
        self.credential.as_deref().map(|c| c.access_key.as_str())
    }

    pub fn signs(&self, header: &str) -> bool {
        self.signed_headers.iter().any(|h| h == header)
    }

    /// May this caller use `bucket` with `method`? Anonymous callers may only read
    /// public-read buckets.
    pub fn authorize(
        &self,
        keyring: &Keyring,
        bucket: Option<&str>,
        method: &Method,
    ) -> Result<(), ApiError> {
        match (&self.credential, bucket) {
            (Some(c), Some(b)) => match &c.buckets {
                Some(list) if !list.iter().any(|x| x == b) => Err(ApiError::AccessDenied(format!(
                    "access key {} may not use bucket {b}",
                    c.access_key
                ))),
                _ => Ok(()),
            },
            // Listing all buckets would reveal the names of buckets a restricted key may not use.
            (Some(c), None) if c.buckets.is_some() => Err(ApiError::AccessDenied(format!(
                "access key {} is limited to some buckets and may not list all of them",
                c.access_key
            ))),
            (Some(_), None) => Ok(()),
            (None, Some(b))
                if keyring.public_read.contains(b)
                    && (method == Method::GET || method == Method::HEAD) =>
            {
                Ok(())
            }
            (None, _) => Err(ApiError::AccessDenied(
                "anonymous access is not allowed here: sign the request with a configured access key"
                    .into(),
            )),
        }
    }
}

/// The parts of a request a signature covers.
pub struct Request<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Query pairs as sent (still percent-encoded).
    fn raw_query(&self) -> Vec<(&str, &str)> {
        self.uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .collect()
    }

    fn query_param(&self, name: &str) -> Option<String> {
        self.raw_query()
            .into_iter()
            .find(|(k, _)| encode::decode(k).eq_ignore_ascii_case(name))
            .map(|(_, v)| encode::decode(v))
    }
}

/// Query parameters that carry a signature and are never forwarded upstream.
pub fn is_auth_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("q-") && cos::QUERY_PARAMS.contains(&n.as_str())
        || n.starts_with("x-amz-") && sigv4::QUERY_PARAMS.contains(&n.as_str())
        || n == "x-cos-security-token"
}

impl Keyring {
    pub fn new(credentials: Vec<Credential>, policy: Policy) -> Keyring {
        Keyring {
            by_key: credentials
                .into_iter()
                .map(|c| (c.access_key.clone(), Arc::new(c)))
                .collect(),
            public_read: policy.public_read.into_iter().collect(),
            public_list: policy.public_list.into_iter().collect(),
            max_skew: policy.max_skew,
            max_sign_window: policy.max_sign_window,
        }
    }

    /// Whether anyone may list `bucket`.
    pub fn is_public_list(&self, bucket: &str) -> bool {
        self.public_list.contains(bucket)
    }

    /// The credential of `access_key`, or 403 InvalidAccessKeyId (form uploads, which carry
    /// their signature in the body, look theirs up here).
    pub fn lookup(&self, access_key: &str) -> Result<Arc<Credential>, ApiError> {
        self.by_key.get(access_key).cloned().ok_or_else(|| {
            ApiError::InvalidAccessKeyId(format!(
                "the access key {access_key:?} does not exist in picops' credentials"
            ))
        })
    }

    /// Verify the request's signature, whichever form it takes; no signature at all is an
    /// anonymous request (allowed or not by [`Identity::authorize`]).
    pub fn authenticate(&self, req: &Request, now: SystemTime) -> Result<Identity, ApiError> {
        let authorization = req.header("authorization").unwrap_or("").trim();
        let identity = if authorization.starts_with("q-sign-algorithm=") {
            cos::verify(self, req, cos::Source::Header(authorization), now)?
        } else if authorization.starts_with(sigv4::ALGORITHM) {
            sigv4::verify_header(self, req, authorization, now)?
        } else if !authorization.is_empty() && !authorization.starts_with("AWS ") {
            return Err(ApiError::AccessDenied(
                "unsupported Authorization scheme: use a COS (q-sign-algorithm=sha1) or AWS Signature V4 signature"
                    .into(),
            ));
        } else if req.query_param("q-sign-algorithm").is_some() {
            cos::verify(self, req, cos::Source::Query, now)?
        } else if req.query_param("X-Amz-Algorithm").is_some() {
            sigv4::verify_presigned(self, req, now)?
        } else if req.query_param("AWSAccessKeyId").is_some() || authorization.starts_with("AWS ") {
            return Err(ApiError::AccessDenied(
                "AWS Signature Version 2 is not accepted: sign with Signature Version 4 \
                 (boto3: Config(signature_version='s3v4'))"
                    .into(),
            ));
        } else {
            return Ok(Identity {
                credential: None,
                signed_headers: Vec::new(),
                body: BodyCheck::None,
            });
        };
        self.check_token(&identity, req)?;
        Ok(identity)
    }

    /// A credential with a session token only counts with that token.
    fn check_token(&self, identity: &Identity, req: &Request) -> Result<(), ApiError> {
        let Some(expected) = identity
            .credential
            .as_ref()
            .and_then(|c| c.session_token.as_deref())
        else {
            return Ok(());
        };
        let given = req
            .header("x-cos-security-token")
            .or_else(|| req.header("x-amz-security-token"))
            .map(str::to_string)
            .or_else(|| req.query_param("x-cos-security-token"))
            .or_else(|| req.query_param("X-Amz-Security-Token"))
            .unwrap_or_default();
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::InvalidAccessKeyId(
                "the security token is missing or does not belong to this access key".into(),
            ))
        }
    }
}

/// Signature comparison that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The end of a body hashed as it arrived: it must be what the signature's
/// `x-amz-content-sha256` (hex) declared.
pub fn verify_body_sha256(hashed: sha2::Sha256, expected: &str) -> Result<(), ApiError> {
    use sha2::Digest;
    let actual = hex::encode(hashed.finalize());
    if constant_time_eq(actual.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::SignatureDoesNotMatch(
            "the body does not match the x-amz-content-sha256 the request was signed with".into(),
        ))
    }
}

fn mismatch(algorithm: &str) -> ApiError {
    ApiError::SignatureDoesNotMatch(format!(
        "the request signature we calculated does not match the signature you provided \
         ({algorithm}); check your secret key and signing method"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_params_are_recognised() {
        for p in [
            "q-sign-algorithm",
            "q-signature",
            "X-Amz-Signature",
            "x-amz-credential",
            "x-cos-security-token",
        ] {
            assert!(is_auth_param(p), "{p}");
        }
        for p in [
            "uploadId",
            "x-amz-meta-a",
            "q-other",
            "response-content-type",
        ] {
            assert!(!is_auth_param(p), "{p}");
        }
    }

    #[test]
    fn restricted_keys_stay_in_their_buckets() {
        let kr = Keyring::new(
            vec![],
            Policy {
                public_read: vec!["pub".into()],
                max_skew: Duration::from_secs(900),
                ..Policy::default()
            },
        );
        let c = Arc::new(Credential {
            access_key: "a".into(),
            secret_key: "s".into(),
            buckets: Some(vec!["mine".into()]),
            session_token: None,
        });
        let id = Identity {
            credential: Some(c),
            signed_headers: vec![],
            body: BodyCheck::None,
        };
        assert!(id.authorize(&kr, Some("mine"), &Method::PUT).is_ok());
        assert!(id.authorize(&kr, Some("other"), &Method::GET).is_err());
        assert!(id.authorize(&kr, None, &Method::GET).is_err());
        let anon = Identity {
            credential: None,
            signed_headers: vec![],
            body: BodyCheck::None,
        };
        assert!(anon.authorize(&kr, Some("pub"), &Method::GET).is_ok());
        assert!(anon.authorize(&kr, Some("pub"), &Method::PUT).is_err());
        assert!(anon.authorize(&kr, Some("mine"), &Method::GET).is_err());
    }
}
