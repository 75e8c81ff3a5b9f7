//! aws-chunked bodies (`<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n … 0…\r\n[trailers]\r\n`),
//! decoded incrementally so a passthrough upload streams, with each chunk's signature checked
//! before its bytes are released when the request was signed with
//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.

use aws_sigv4::sign::v4::calculate_signature;
use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use super::constant_time_eq;
use crate::error::ApiError;

/// SHA-256 of the empty string, part of every chunk's string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// A chunk is held whole until its signature is checked; SDKs use 8 KiB to 1 MiB.
const MAX_CHUNK: usize = 16 << 20;
/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Chains chunk signatures from the request's seed signature (AWS "Signature Calculations
/// for the Authorization Header: Transferring Payload in Multiple Chunks").
#[derive(Clone)]
pub struct ChunkVerifier {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkVerifier")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkVerifier {
    pub fn new(key: Vec<u8>, amz_date: String, scope: String, seed: String) -> ChunkVerifier {
        ChunkVerifier {
            key,
            amz_date,
            scope,
            previous: seed,
        }
    }

    fn verify(&mut self, data: &[u8], given: &str) -> Result<(), ApiError> {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(Sha256::digest(data))
        );
        let expected = calculate_signature(&self.key, string_to_sign.as_bytes());
        if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            return Err(ApiError::SignatureDoesNotMatch(
                "an aws-chunked chunk signature does not match its data".into(),
            ));
        }
        self.previous = expected;
        Ok(())
    }
}

enum Stage {
    Header,
    Data {
        size: usize,
        signature: Option<String>,
    },
    Trailers,
    Done,
}

/// Whether the request's headers declare an aws-chunked body (either header is enough).
pub fn is_aws_chunked(headers: &http::HeaderMap) -> Result<bool, ApiError> {
    let header = |name: &str| match headers.get(name) {
        None => Ok(""),
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::InvalidArgument(format!("header {name} is not ASCII"))),
    };
    Ok(header("content-encoding")?.contains("aws-chunked")
        || header("x-amz-content-sha256")?.starts_with("STREAMING-"))
}

/// Incremental decoder: feed it body pieces, get verified payload bytes back.
pub struct AwsChunked {
    pending: BytesMut,
    chunk: BytesMut,
    stage: Stage,
    verifier: Option<ChunkVerifier>,
}

fn malformed(why: &str) -> ApiError {
    ApiError::InvalidArgument(format!("malformed aws-chunked body: {why}"))
}

impl AwsChunked {
    /// `verifier`: `Some` for signed chunks (each must carry a valid `chunk-signature`).
    pub fn new(verifier: Option<ChunkVerifier>) -> AwsChunked {
        AwsChunked {
            pending: BytesMut::new(),
            chunk: BytesMut::new(),
            stage: Stage::Header,
            verifier,
        }
    }

    fn line(&mut self) -> Result<Option<String>, ApiError> {
        match self.pending.windows(2).position(|w| w == b"\r\n") {
            Some(end) => {
                let line = self.pending.split_to(end);
                self.pending.advance(2);
                String::from_utf8(line.to_vec())
                    .map(Some)
                    .map_err(|_| malformed("header line is not UTF-8"))
            }
            None if self.pending.len() > MAX_LINE => Err(malformed("header line too long")),
            None => Ok(None),
        }
    }

    /// Feed `input`; returns the payload bytes that are now complete (and verified).
    pub fn push(&mut self, input: &[u8]) -> Result<Bytes, ApiError> {
        self.pending.extend_from_slice(input);
        let mut out = BytesMut::new();
        loop {
            match &mut self.stage {
                Stage::Header => {
                    let Some(line) = self.line()? else { break };
                    let (size, ext) = line.split_once(';').unwrap_or((line.as_str(), ""));
                    let size = usize::from_str_radix(size.trim(), 16)
                        .map_err(|_| malformed("chunk size is not hex"))?;
                    if size > MAX_CHUNK {
                        return Err(malformed("chunk larger than 16 MiB"));
                    }
                    let signature = ext
                        .split(';')
                        .find_map(|e| e.trim().strip_prefix("chunk-signature="))
                        .map(str::to_string);
                    if self.verifier.is_some() && signature.is_none() {
                        return Err(ApiError::SignatureDoesNotMatch(
                            "a signed aws-chunked body has a chunk without chunk-signature".into(),
                        ));
                    }
                    self.stage = Stage::Data { size, signature };
                }
                Stage::Data { size, signature } => {
                    let want = *size - self.chunk.len();
                    let take = want.min(self.pending.len());
                    self.chunk.extend_from_slice(&self.pending.split_to(take));
                    let last = *size == 0;
                    // The data and its CRLF must both be here; the final chunk is followed
                    // by the trailer section instead, which ends with an empty line.
                    if !last {
                        if self.chunk.len() < *size || self.pending.len() < 2 {
                            break;
                        }
                        if &self.pending[..2] != b"\r\n" {
                            return Err(malformed("chunk data not followed by CRLF"));
                        }
                        self.pending.advance(2);
                    }
                    if let (Some(v), Some(sig)) = (self.verifier.as_mut(), signature.as_deref()) {
                        v.verify(&self.chunk, sig)?;
                    }
                    out.extend_from_slice(&self.chunk.split());
                    self.stage = if last { Stage::Trailers } else { Stage::Header };
                }
                Stage::Trailers => {
                    let Some(line) = self.line()? else { break };
                    if line.is_empty() {
                        self.stage = Stage::Done;
                    }
                }
                Stage::Done => {
                    if !self.pending.is_empty() {
                        return Err(malformed("data after the final chunk"));
                    }
                    break;
                }
            }
        }
        Ok(out.freeze())
    }

    /// The body ended: it must have ended with the final (zero-size) chunk.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        match self.stage {
            Stage::Done => Ok(()),
            // Some clients end right after `0\r\n` (unsigned trailer streams without trailers).
            Stage::Trailers if self.pending.is_empty() => {
                self.stage = Stage::Done;
                Ok(())
            }
            _ => Err(malformed("body ended before the final chunk")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_across_arbitrary_splits() {
        let body = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        for split in 0..body.len() {
            let mut d = AwsChunked::new(None);
            let mut out = d.push(&body[..split]).unwrap().to_vec();
            out.extend_from_slice(&d.push(&body[split..]).unwrap());
            d.finish().unwrap();
            assert_eq!(out, b"hello world");
        }
    }

    #[test]
    fn rejects_truncation_and_garbage() {
        let mut d = AwsChunked::new(None);
        d.push(b"5\r\nhel").unwrap();
        assert!(d.finish().is_err());
        assert!(AwsChunked::new(None).push(b"zz\r\n").is_err());
        assert!(AwsChunked::new(None).push(b"2\r\nabXY").is_err());
    }

    /// The example of the AWS documentation for STREAMING-AWS4-HMAC-SHA256-PAYLOAD:
    /// 65 KiB of 'a' in a 64 KiB chunk, a 1 KiB chunk and the final chunk.
    #[test]
    fn aws_documentation_chunk_signatures() {
        let date = crate::auth::time::parse_amz_date("20130524T000000Z").unwrap();
        let key = aws_sigv4::sign::v4::generate_signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            date,
            "us-east-1",
            "s3",
        );
        let verifier = ChunkVerifier::new(
            key.as_ref().to_vec(),
            "20130524T000000Z".into(),
            "20130524/us-east-1/s3/aws4_request".into(),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        );
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        body.extend(std::iter::repeat_n(b'a', 65536));
        body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        body.extend(std::iter::repeat_n(b'a', 1024));
        body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        let mut d = AwsChunked::new(Some(verifier.clone()));
        let out = d.push(&body).unwrap();
        d.finish().unwrap();
        assert_eq!(out.len(), 66560);

        let mut tampered = body.clone();
        tampered[200] = b'b';
        assert_eq!(
            AwsChunked::new(Some(verifier))
                .push(&tampered)
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );
    }
}
