//! The S3 client picops uses for its own upstream calls (writes of results, reads of
//! stored originals, multipart completion, cleanup). aws-sdk-s3, path style, SigV4 with the
//! configured keys, the SDK's standard retries.

use aws_credential_types::Credentials;
use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Intercept, Region, RequestChecksumCalculation,
    ResponseChecksumValidation, RuntimeComponents,
};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Identity;
use crate::config::Upstream;
use crate::error::ApiError;
use crate::metrics::METRICS;
use crate::sign::Signer;

#[derive(Clone)]
pub struct UpstreamClient {
    client: aws_sdk_s3::Client,
    sign_payload: bool,
}

/// Upstream failure → API error: the upstream's own code and status when it answered,
/// InternalError when it could not be reached.
fn map_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    e: SdkError<E, HttpResponse>,
) -> ApiError {
    // A 4xx is the caller's problem (missing key, refused), not an upstream failure.
    let kind = match &e {
        SdkError::ServiceError(s) if s.raw().status().as_u16() < 500 => None,
        SdkError::ServiceError(_) => Some("status_5xx"),
        SdkError::TimeoutError(_) => Some("timeout"),
        SdkError::DispatchFailure(_) => Some("unreachable"),
        _ => Some("other"),
    };
    if let Some(kind) = kind {
        METRICS.upstream_error(kind);
    }
    match &e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            let meta = s.err();
            match meta.code() {
                Some("NoSuchKey") => {
                    ApiError::NoSuchKey(format!("{what}: the object does not exist"))
                }
                Some("NoSuchBucket") => {
                    ApiError::NoSuchBucket(format!("{what}: the bucket does not exist"))
                }
                code => ApiError::Upstream {
                    status,
                    code: code
                        .unwrap_or(if status == 404 {
                            "NoSuchKey"
                        } else {
                            "UpstreamError"
                        })
                        .to_string(),
                    message: format!("{what}: {}", meta.message().unwrap_or("upstream error")),
                },
            }
        }
        SdkError::DispatchFailure(d) => {
            ApiError::Internal(format!("{what}: upstream unreachable: {d:?}"))
        }
        SdkError::TimeoutError(_) => ApiError::Internal(format!("{what}: upstream timed out")),
        other => ApiError::Internal(format!("{what}: {other:?}").chars().take(400).collect()),
    }
}

/// Signs a request with a payload hash computed earlier (`PayloadSigningOverride::Precomputed`),
/// so that the SDK does not read the whole body again to hash it. The SDK's signer reads the
/// override from the config bag, which interceptors may write to before signing.
#[derive(Debug)]
struct KnownPayloadHash(String);

impl Intercept for KnownPayloadHash {
    fn name(&self) -> &'static str {
        "KnownPayloadHash"
    }

    fn modify_before_signing(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(PayloadSigningOverride::Precomputed(self.0.clone()));
        Ok(())
    }
}

impl UpstreamClient {
    pub fn new(u: &Upstream) -> UpstreamClient {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(u.timeout.min(Duration::from_secs(5)))
            .operation_attempt_timeout(u.timeout)
            .build();
        // Every call picops makes is idempotent (PUT, GET, HEAD, DELETE of one key, and
        // CompleteMultipartUpload, which S3 answers the same way when repeated): up to three
        // attempts with the SDK's jittered exponential backoff.
        let retries = RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(200));
        let creds = Credentials::new(&u.access_key, &u.secret_key, None, None, "picops-config");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .region(Region::new(u.region.clone()))
            .endpoint_url(&u.endpoint)
            .credentials_provider(creds)
            .force_path_style(true)
            .timeout_config(timeouts)
            .retry_config(retries)
            // Plain Content-MD5-free PUTs: every S3 server understands them.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        UpstreamClient {
            client: aws_sdk_s3::Client::from_conf(conf),
            sign_payload: u.sign_payload,
        }
    }

    /// Write an object; returns its ETag (quoted, as S3 gives it). `sha256` (hex), when the
    /// body's hash is already known and checked, signs the payload without hashing it again.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        sha256: Option<String>,
        headers: &[(http::HeaderName, http::HeaderValue)],
    ) -> Result<String, ApiError> {
        let request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        // Stored headers (metadata, ACL, storage class, encryption…) exactly as the client
        // asked for them in S3's dialect; added before signing, so they are signed.
        let stored: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut request = request.customize().mutate_request(move |r| {
            for (k, v) in &stored {
                r.headers_mut().append(k.clone(), v.clone());
            }
        });
        request = match sha256 {
            _ if !self.sign_payload => request.disable_payload_signing(),
            Some(hash) => request.interceptor(KnownPayloadHash(hash)),
            None => request,
        };
        let sent = request.send().await;
        let out = sent.map_err(|e| map_err(&format!("writing {bucket}/{key}"), e))?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }

    /// Read a whole object of at most `max` bytes (checked from its length before reading);
    /// returns it with its ETag.
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        max: u64,
    ) -> Result<(Bytes, String), ApiError> {
        self.get_if_changed(bucket, key, max, None)
            .await?
            .ok_or_else(|| {
                ApiError::Internal("the store answered 304 to an unconditional read".into())
            })
    }

    /// As [`get`](Self::get), but `None` when the object's ETag is still `etag` (the store
    /// answers 304 and sends no body).
    pub async fn get_if_changed(
        &self,
        bucket: &str,
        key: &str,
        max: u64,
        etag: Option<&str>,
    ) -> Result<Option<(Bytes, String)>, ApiError> {
        let sent = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(etag.map(str::to_string))
            .send()
            .await;
        let out = match sent {
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 304 => return Ok(None),
            Err(e) => return Err(map_err(&format!("reading {bucket}/{key}"), e)),
            Ok(out) => out,
        };
        let len = out.content_length().unwrap_or(0).max(0) as u64;
        if len > max {
            return Err(ApiError::EntityTooLarge(format!(
                "{bucket}/{key} is {len} bytes; at most {max} can be processed"
            )));
        }
        let etag = out.e_tag().unwrap_or_default().to_string();
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| ApiError::Internal(format!("reading {bucket}/{key}: {e}")))?;
        Ok(Some((data.into_bytes(), etag)))
    }

    /// Whether the upstream answers at all (any S3 answer, even an error, means it is up).
    pub async fn ping(&self, within: std::time::Duration) -> Result<(), String> {
        match tokio::time::timeout(within, self.client.list_buckets().send()).await {
            Err(_) => Err(format!("no answer within {within:?}")),
            Ok(Ok(_)) | Ok(Err(SdkError::ServiceError(_))) => Ok(()),
            Ok(Err(e)) => Err(format!("{e}")),
        }
    }

    pub async fn exists(&self, bucket: &str, key: &str) -> Result<bool, ApiError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => Ok(false),
            Err(e) => Err(map_err(&format!("checking {bucket}/{key}"), e)),
        }
    }

    /// `Ok` when `bucket` exists; NoSuchBucket when it does not.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<(), ApiError> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => Err(
                ApiError::NoSuchBucket(format!("the bucket {bucket} does not exist")),
            ),
            Err(e) => Err(map_err(&format!("checking bucket {bucket}"), e)),
        }
    }

    /// Every key under `prefix` (all pages).
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, ApiError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| map_err(&format!("listing {bucket}/{prefix}"), e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(keys),
            }
        }
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), ApiError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err(&format!("deleting {bucket}/{key}"), e))?;
        Ok(())
    }

    /// Complete a multipart upload; returns the assembled object's ETag.
    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<(i32, String)>,
    ) -> Result<String, ApiError> {
        let parts = parts
            .into_iter()
            .map(|(n, etag)| CompletedPart::builder().part_number(n).e_tag(etag).build())
            .collect();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| map_err(&format!("completing {bucket}/{key}"), e))?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }
}

/// The client and signer picops uses for one upstream identity.
pub struct UpstreamSide {
    client: Arc<UpstreamClient>,
    signer: Signer,
    /// `host:port` of the upstream.
    authority: String,
    timeout: Duration,
    region: String,
}

impl UpstreamSide {
    pub fn new(u: &Upstream) -> UpstreamSide {
        UpstreamSide {
            client: Arc::new(UpstreamClient::new(u)),
            signer: Signer::new(u),
            authority: u
                .endpoint
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            timeout: u.timeout,
            region: u.region.clone(),
        }
    }

    /// The store's region, as picops signs for it.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Connect, read and write timeout of passthrough requests.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn client(&self) -> &UpstreamClient {
        &self.client
    }

    pub fn shared_client(&self) -> Arc<UpstreamClient> {
        self.client.clone()
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// Which keys upstream requests are signed with: the configured service key, or each
/// caller's own key (so the upstream's per-user policies still apply).
pub struct Upstreams {
    service: UpstreamSide,
    callers: HashMap<String, UpstreamSide>,
}

impl Upstreams {
    /// `callers`: access key → upstream identity, empty when everything goes out under the
    /// service key.
    pub fn new(service: &Upstream, callers: &[(String, Upstream)]) -> Upstreams {
        Upstreams {
            service: UpstreamSide::new(service),
            callers: callers
                .iter()
                .map(|(k, u)| (k.clone(), UpstreamSide::new(u)))
                .collect(),
        }
    }

    pub fn service(&self) -> &UpstreamSide {
        &self.service
    }

    pub fn for_identity(&self, identity: &Identity) -> &UpstreamSide {
        identity
            .access_key()
            .and_then(|k| self.callers.get(k))
            .unwrap_or(&self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The write is signed with the hash it is given, not one the SDK computes: the store
    /// (the embedded Garage, which checks signed payloads) refuses a wrong one. Needs the
    /// Garage binary (`PICOPS_STORE_BIN`, as scripts/test sets it).
    #[tokio::test]
    async fn a_known_payload_hash_signs_the_write() {
        let Some(bin) = std::env::var_os("PICOPS_STORE_BIN") else {
            eprintln!("skipped: PICOPS_STORE_BIN is not set");
            return;
        };
        let dir = std::env::temp_dir().join(format!("picops-hash-{}", uuid::Uuid::new_v4()));
        let embedded = crate::embedded::start(
            &dir,
            std::path::Path::new(&bin),
            &[],
            Duration::from_secs(10),
        )
        .expect("store");
        let mut store = embedded.service.clone();
        // As for a store across a network.
        store.sign_payload = true;
        let up = UpstreamClient::new(&store);
        up.client
            .create_bucket()
            .bucket("hashes")
            .send()
            .await
            .expect("bucket");
        let body = Bytes::from_static(b"picops payload");
        let right = hex::encode(Sha256::digest(&body));
        let wrong = hex::encode(Sha256::digest(b"something else"));
        up.put("hashes", "k", body.clone(), "text/plain", Some(right), &[])
            .await
            .expect("the right hash is accepted");
        let refused = up
            .put("hashes", "k2", body.clone(), "text/plain", Some(wrong), &[])
            .await;
        assert!(
            refused.is_err(),
            "a wrong hash must be refused: {refused:?}"
        );
        up.put("hashes", "k3", body.clone(), "text/plain", None, &[])
            .await
            .expect("without a hash, the SDK computes one");
        // The embedded store's own client sends UNSIGNED-PAYLOAD: nothing is hashed at all.
        store.sign_payload = false;
        let wrong = hex::encode(Sha256::digest(b"something else"));
        UpstreamClient::new(&store)
            .put("hashes", "k4", body, "text/plain", Some(wrong), &[])
            .await
            .expect("an unsigned payload is not checked against any hash");
        let _ = std::fs::remove_dir_all(dir);
    }
}
