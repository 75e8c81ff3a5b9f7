//! SigV4 signing of the requests picops forwards upstream (aws-sigv4, the SDK's own signer).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use crate::config::Upstream;

#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
}

/// How the body of a forwarded request is declared in `x-amz-content-sha256`.
pub enum Payload {
    /// Unknown or not worth hashing: the body is streamed unsigned.
    Unsigned,
    /// A value the client already put in `x-amz-content-sha256` (a hex SHA-256 or
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`), still true of the body we forward unchanged.
    Declared(String),
}

impl Signer {
    pub fn new(u: &Upstream) -> Signer {
        Signer {
            credentials: Credentials::new(
                &u.access_key,
                &u.secret_key,
                None,
                None,
                "picops-config",
            ),
            region: u.region.clone(),
        }
    }

    /// Headers to add to a request to `url` (`http://host/path?query`) carrying `headers`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        payload: Payload,
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.credentials.clone().into();
        let mut settings = SigningSettings::default();
        // The path is already encoded exactly once, canonically (route::upstream_path).
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let body = match payload {
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::Declared(v) => SignableBody::Precomputed(v),
        };
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let (out, _) = instructions.into_parts();
        Ok(out
            .into_iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect())
    }
}
