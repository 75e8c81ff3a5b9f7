//! Requests picops does not answer itself go to the store: re-addressed path-style to the
//! canonical (bucket, key), stripped of the client's signature, re-signed with picops' key,
//! and streamed both ways. The request body is verified as it passes; listings lose
//! picops' reserved keys on the way back.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::{Error as PError, ErrorType, Result as PResult};

use crate::access;
use crate::auth::{self, Identity};
use crate::body_guard::{self, BodyGuard};
use crate::config::Config;
use crate::cos_dialect;
use crate::error::ApiError;
use crate::listing::ListingFilter;
use crate::metrics::METRICS;
use crate::route::{upstream_path, CopySource, Route};
use crate::sign::Payload;
use crate::store_errors::ErrorBody;
use crate::store_features::store_view;
use crate::timeouts::BodyRate;
use crate::upstream::UpstreamSide;

/// What a passthrough carries from its request header to its body and its answer.
pub struct Passthrough {
    pub route: Route,
    pub identity: Identity,
    /// Checks the body against the signature while it streams.
    guard: Option<BodyGuard>,
    /// The authorised object a copy reads, forwarded in its canonical form.
    copy_source: Option<CopySource>,
    /// Removes picops' reserved keys from a bucket-level answer.
    listing: Option<ListingFilter>,
    /// The body's rate, checked as it streams.
    body_rate: BodyRate,
    /// A COS client's: headers translated both ways.
    cos: Option<Translated>,
    /// The store's error body, rewritten as COS answers errors.
    error_body: Option<ErrorBody>,
    /// The path the client asked for, the `Resource` of error answers.
    resource: String,
    head: bool,
}

/// Headers picops never forwards: the client's signature (picops signs anew) and hop-by-hop
/// proxy headers.
const DROPPED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-cos-security-token",
    "proxy-connection",
    "proxy-authorization",
];

/// How a COS client's headers change on the way to the store (`cos_dialect`).
#[derive(Default)]
struct Translated {
    removed: Vec<HeaderName>,
    added: Vec<(HeaderName, HeaderValue)>,
}

impl Translated {
    /// What changes from the client's headers to the store's view of them.
    fn between(headers: &HeaderMap, s3: &HeaderMap) -> Translated {
        Translated {
            removed: headers
                .keys()
                .filter(|k| !s3.contains_key(*k))
                .cloned()
                .collect(),
            added: s3
                .iter()
                .filter(|(k, _)| !headers.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl Passthrough {
    /// Everything decided before the first byte of the body: which body checks apply, and
    /// whether the answer is a listing to filter.
    pub fn new(
        route: Route,
        identity: Identity,
        copy_source: Option<CopySource>,
        method: &Method,
        headers: &http::HeaderMap,
        resource: &str,
        config: &Config,
    ) -> Result<Passthrough, ApiError> {
        let delete_objects = access::bucket_post(&route, method, headers)?;
        let decoded_length = body_guard::decoded_length(headers);
        let guard = BodyGuard::new(&identity.body, decoded_length, delete_objects)?;
        let listing = (method == Method::GET && route.bucket.is_some() && route.key.is_empty())
            .then(ListingFilter::default);
        let query = route.query.as_deref().unwrap_or("");
        let s3 = store_view(headers, &config.store_features)?;
        let cos =
            cos_dialect::is_cos_client(headers, query).then(|| Translated::between(headers, &s3));
        Ok(Passthrough {
            cos,
            error_body: None,
            resource: resource.to_string(),
            head: method == Method::HEAD,
            route,
            identity,
            guard,
            copy_source,
            listing,
            body_rate: BodyRate::new(config.slow_clients),
        })
    }

    /// A piece of the request body: counted, rate-checked, verified; `body` is replaced by
    /// what may be forwarded now.
    pub fn request_body(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), ApiError> {
        if let Some(b) = body.as_ref() {
            METRICS.bytes_in.inc_by(b.len() as u64);
            self.body_rate.add(b.len())?;
        }
        let Some(guard) = self.guard.as_mut() else {
            return Ok(());
        };
        // `None` would tell pingora the body ended; an empty piece is simply not written.
        let input = body.take().unwrap_or_default();
        *body = Some(guard.filter(input, end)?);
        Ok(())
    }

    /// The request header as the store gets it.
    pub fn upstream_request(
        &self,
        upstream: &mut RequestHeader,
        side: &UpstreamSide,
    ) -> PResult<()> {
        let mut path = upstream_path(self.route.bucket.as_deref(), &self.route.key);
        // The client's signature parameters mean nothing upstream (picops signs anew). An
        // empty `delimiter=` (COS SDKs always send one) means no delimiter in S3, but some
        // stores group by the empty string: it is not forwarded.
        let query: Vec<&str> = self
            .route
            .params()
            .filter(|(name, pair)| {
                let empty = pair.split_once('=').is_none_or(|(_, v)| v.is_empty());
                !(auth::is_auth_param(name) || name == "delimiter" && empty)
            })
            .map(|(_, pair)| pair)
            .collect();
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        let declared = upstream
            .headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        for h in DROPPED {
            upstream.remove_header(*h);
        }
        if let Some(t) = &self.cos {
            for name in &t.removed {
                upstream.remove_header(name);
            }
            for (name, value) in &t.added {
                upstream.append_header(name.clone(), value.clone())?;
            }
        }
        // The store copies exactly the object that was authorised, however the client
        // spelled it.
        if let Some(source) = &self.copy_source {
            upstream.insert_header("x-amz-copy-source", source.upstream_value())?;
        }
        upstream.set_uri(
            path.parse()
                .map_err(|_| PError::explain(ErrorType::InternalError, "bad upstream path"))?,
        );
        upstream.insert_header("host", side.authority())?;
        let decoded_length = self.guard.as_ref().and_then(BodyGuard::decoded_length);
        if let Some(decoded) = decoded_length {
            // Forwarded decoded: the chunk signatures were for picops' key, not the upstream's.
            // The guard holds the body to exactly this length.
            upstream.remove_header("x-amz-decoded-content-length");
            upstream.remove_header("transfer-encoding");
            upstream.insert_header("content-length", decoded.to_string())?;
            let encodings: Vec<String> = upstream
                .headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && *e != "aws-chunked")
                .map(str::to_string)
                .collect();
            upstream.remove_header("content-encoding");
            if !encodings.is_empty() {
                upstream.insert_header("content-encoding", encodings.join(","))?;
            }
        }
        let payload = match declared {
            _ if decoded_length.is_some() => Payload::Unsigned,
            Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Payload::Declared(v)
            }
            Some(v) if v == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || v == "UNSIGNED-PAYLOAD" => {
                Payload::Declared(v)
            }
            _ => Payload::Unsigned,
        };
        // Every x-amz-* header is signed: stores such as Garage refuse unsigned ones.
        let mut signed_headers = vec![("host".to_string(), side.authority().to_string())];
        for (k, v) in upstream.headers.iter() {
            let name = k.as_str();
            if name.starts_with("x-amz-") || name == "content-md5" {
                if let Ok(v) = v.to_str() {
                    signed_headers.push((name.to_string(), v.to_string()));
                }
            }
        }
        let url = format!("http://{}{}", side.authority(), path);
        let added = side
            .signer()
            .sign(upstream.method.as_str(), &url, &signed_headers, payload)
            .map_err(|e| PError::explain(ErrorType::InternalError, format!("signing: {e}")))?;
        for (k, v) in added {
            upstream.insert_header(k, v)?;
        }
        Ok(())
    }

    /// The store's answer header as the client gets it.
    pub fn response(&mut self, response: &mut ResponseHeader, request_id: &str) -> PResult<()> {
        let mut headers = response.headers.clone();
        for name in headers.keys() {
            response.remove_header(name);
        }
        if self.cos.is_some() {
            cos_dialect::response_to_cos(&mut headers);
        }
        // hyper-based stores send lower-case names; COS SDKs copy headers into a plain dict
        // and look up `ETag`, so answer with the case COS itself uses.
        for (name, value) in headers.iter() {
            response.append_header(cos_case(name.as_str()), value.clone())?;
        }
        response.insert_header("x-cos-request-id", request_id)?;
        if self.listing.is_some() {
            if response.status == 200 {
                // The filtered body is shorter than the store's: its length is known only at
                // the end.
                response.remove_header("content-length");
                response.insert_header("transfer-encoding", "chunked")?;
            } else {
                self.listing = None;
            }
        }
        let failed = response.status.is_client_error() || response.status.is_server_error();
        if failed && !self.head {
            self.error_body = Some(ErrorBody::new(&self.resource, request_id));
            // The rewritten body's length is known only at its end.
            response.remove_header("content-length");
            response.insert_header("transfer-encoding", "chunked")?;
        }
        if response.status.is_server_error() {
            METRICS.upstream_error("status_5xx");
        }
        Ok(())
    }

    /// A piece of the store's answer body, as the client gets it.
    pub fn response_body(&mut self, body: &mut Option<Bytes>, end: bool) -> PResult<()> {
        if let Some(filter) = self.listing.as_mut() {
            *body = filter
                .push(body.take(), end)
                .map_err(|e| PError::explain(ErrorType::InternalError, e.to_string()))?;
        }
        if let Some(error) = self.error_body.as_mut() {
            *body = error.push(body.take(), end);
        }
        if let Some(b) = body.as_ref() {
            METRICS.bytes_out.inc_by(b.len() as u64);
        }
        Ok(())
    }
}

/// `etag` → `ETag`, `content-type` → `Content-Type`; `x-…` names stay lower-case, as COS
/// sends them.
fn cos_case(name: &str) -> String {
    if name == "etag" {
        return "ETag".into();
    }
    if name.starts_with("x-") {
        return name.into();
    }
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
