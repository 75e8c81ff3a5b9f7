//! The one verifier of request bodies, for bodies streamed to the store and bodies picops
//! reads whole alike: checked against what the signature says of them (a SHA-256, chunk
//! signatures, the signed decoded length), and, for a DeleteObjects body, against the access
//! rules for every key it names.
//!
//! A streamed body is only as trustworthy as its end: each piece is released once the next
//! one has arrived, and the last piece only after the whole body has been verified, so an
//! upstream never receives a complete body that failed verification (it sees a short body
//! and acts on nothing). Holding back a whole piece, not a byte, forwards the pieces without
//! copying them.

use bytes::{Bytes, BytesMut};

use crate::auth::{self, AwsChunked, BodyCheck};
use crate::error::ApiError;
use crate::route;

/// Largest DeleteObjects body held for checking: S3 allows 1000 keys of at most 1024 bytes,
/// about 1.1 MB with their elements.
const MAX_DELETE_BODY: usize = 2 << 20;

pub struct BodyGuard {
    check: Check,
    held: Option<Bytes>,
    /// A DeleteObjects body is held whole until its keys are checked.
    delete: Option<BytesMut>,
}

enum Check {
    None,
    /// aws-chunked with chunk signatures: decoded and verified chunk by chunk; the decoded
    /// length must be the signed `x-amz-decoded-content-length`.
    SignedChunks {
        decoder: AwsChunked,
        declared: u64,
        seen: u64,
    },
    /// The signed `x-amz-content-sha256`.
    Sha256(sha2::Sha256, String),
    /// aws-chunked without chunk signatures, unframed because picops reads the body itself.
    UnsignedChunks(AwsChunked),
}

impl BodyGuard {
    /// `None` when nothing about the body needs checking. `decoded_length` is the signed
    /// `x-amz-decoded-content-length` of a chunk-signed body.
    pub fn new(
        body: &BodyCheck,
        decoded_length: Option<u64>,
        delete_objects: bool,
    ) -> Result<Option<BodyGuard>, ApiError> {
        let check = match body {
            BodyCheck::None => Check::None,
            BodyCheck::Sha256(hash) => Check::Sha256(Default::default(), hash.clone()),
            BodyCheck::SignedChunks(v) => Check::SignedChunks {
                decoder: AwsChunked::new(Some(v.clone())),
                declared: decoded_length.ok_or_else(|| {
                    ApiError::InvalidArgument(
                        "an aws-chunked body needs x-amz-decoded-content-length".into(),
                    )
                })?,
                seen: 0,
            },
        };
        if matches!(check, Check::None) && !delete_objects {
            return Ok(None);
        }
        Ok(Some(BodyGuard {
            check,
            held: None,
            delete: delete_objects.then(BytesMut::new),
        }))
    }

    /// For a body picops reads whole: like [`BodyGuard::new`], and aws-chunked framing is
    /// removed whether or not its chunks are signed.
    pub fn buffered(body: &BodyCheck, headers: &http::HeaderMap) -> Result<BodyGuard, ApiError> {
        let decoded = decoded_length(headers);
        let unsigned_chunks =
            !matches!(body, BodyCheck::SignedChunks(_)) && auth::is_aws_chunked(headers)?;
        let mut guard = match BodyGuard::new(body, decoded, false)? {
            Some(g) => g,
            None => BodyGuard {
                check: Check::None,
                held: None,
                delete: None,
            },
        };
        if unsigned_chunks && matches!(guard.check, Check::None) {
            guard.check = Check::UnsignedChunks(AwsChunked::new(None));
        }
        Ok(guard)
    }

    /// The length the body is forwarded with when it is forwarded decoded (its aws-chunked
    /// framing removed): the signed decoded length the guard holds it to.
    pub fn decoded_length(&self) -> Option<u64> {
        match self.check {
            Check::SignedChunks { declared, .. } => Some(declared),
            _ => None,
        }
    }

    /// The bytes to forward for `input`; an empty result is forwarded as nothing.
    pub fn filter(&mut self, input: Bytes, end: bool) -> Result<Bytes, ApiError> {
        let verified = self.verify(input, end)?;
        if let Some(whole) = self.delete.as_mut() {
            if whole.len() + verified.len() > MAX_DELETE_BODY {
                return Err(ApiError::EntityTooLarge(format!(
                    "a DeleteObjects body is at most {MAX_DELETE_BODY} bytes"
                )));
            }
            whole.extend_from_slice(&verified);
            if !end {
                return Ok(Bytes::new());
            }
            let whole = std::mem::take(whole).freeze();
            check_delete_keys(&whole)?;
            return Ok(whole);
        }
        if !end {
            // An empty piece stays unsent; the held one waits for a non-empty successor.
            if verified.is_empty() {
                return Ok(Bytes::new());
            }
            return Ok(self.held.replace(verified).unwrap_or_default());
        }
        Ok(match self.held.take() {
            None => verified,
            Some(held) if verified.is_empty() => held,
            Some(held) => {
                let mut out = BytesMut::with_capacity(held.len() + verified.len());
                out.extend_from_slice(&held);
                out.extend_from_slice(&verified);
                out.freeze()
            }
        })
    }

    fn verify(&mut self, input: Bytes, end: bool) -> Result<Bytes, ApiError> {
        use sha2::Digest;
        let out = match &mut self.check {
            Check::None => input,
            Check::Sha256(h, _) => {
                h.update(&input);
                input
            }
            Check::UnsignedChunks(decoder) => decoder.push(&input)?,
            Check::SignedChunks {
                decoder,
                declared,
                seen,
            } => {
                let out = decoder.push(&input)?;
                *seen += out.len() as u64;
                if *seen > *declared {
                    return Err(length_mismatch(*declared));
                }
                out
            }
        };
        if end {
            match &mut self.check {
                Check::None => {}
                Check::Sha256(h, expected) => {
                    auth::verify_body_sha256(std::mem::take(h), expected)?;
                }
                Check::UnsignedChunks(decoder) => decoder.finish()?,
                Check::SignedChunks {
                    decoder,
                    declared,
                    seen,
                } => {
                    decoder.finish()?;
                    if seen != declared {
                        return Err(length_mismatch(*declared));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The signed `x-amz-decoded-content-length` of an aws-chunked body, if any.
pub fn decoded_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn length_mismatch(declared: u64) -> ApiError {
    ApiError::InvalidArgument(format!(
        "the decoded aws-chunked body is not the {declared} bytes x-amz-decoded-content-length declared"
    ))
}

/// Every key a DeleteObjects body names passes the same check as a key in a request path;
/// one bad key refuses the whole request, so nothing is deleted.
fn check_delete_keys(body: &[u8]) -> Result<(), ApiError> {
    let keys = crate::xml::parse_delete_keys(body)
        .map_err(|e| ApiError::InvalidArgument(format!("DeleteObjects body: {e}")))?;
    for key in &keys {
        if key.is_empty() {
            return Err(ApiError::InvalidArgument(
                "DeleteObjects body: an empty key".into(),
            ));
        }
        route::check_key(key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(guard: &mut BodyGuard, pieces: &[&[u8]]) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let end = i + 1 == pieces.len();
            out.extend_from_slice(&guard.filter(Bytes::copy_from_slice(p), end)?);
        }
        Ok(out)
    }

    #[test]
    fn delete_bodies_are_released_only_when_every_key_is_allowed() {
        let good: &[&[u8]] = &[b"<Delete><Object><Key>a/b</Key></Object>", b"</Delete>"];
        let mut g = BodyGuard::new(&BodyCheck::None, None, true)
            .unwrap()
            .unwrap();
        assert_eq!(
            g.filter(Bytes::from_static(good[0]), false).unwrap().len(),
            0
        );
        assert_eq!(
            g.filter(Bytes::from_static(good[1]), true).unwrap().len(),
            good[0].len() + good[1].len()
        );
        for bad in ["../bob/x", "a/./b", ".picops/styles/s", "a//b"] {
            let body = format!(
                "<Delete><Object><Key>ok</Key></Object><Object><Key>{bad}</Key></Object></Delete>"
            );
            let mut g = BodyGuard::new(&BodyCheck::None, None, true)
                .unwrap()
                .unwrap();
            assert!(run(&mut g, &[body.as_bytes()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn unchecked_bodies_need_no_guard() {
        assert!(BodyGuard::new(&BodyCheck::None, None, false)
            .unwrap()
            .is_none());
    }
}
