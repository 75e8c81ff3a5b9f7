//! A store's error answer, rewritten as COS answers errors: stores send `<Code>` and
//! `<Message>` (some only `<Code>`), and COS SDKs report an error without `Resource` and
//! `RequestId` as `Unknown`. The body is held (it is small) and written anew at its end.

use bytes::{Bytes, BytesMut};

use crate::xml;

/// Largest error body rewritten; a longer one is not an S3 error document and passes as is.
const MAX_ERROR_BODY: usize = 64 << 10;

pub struct ErrorBody {
    held: BytesMut,
    resource: String,
    request_id: String,
    /// Over the limit: passed through as it comes.
    passing: bool,
}

impl ErrorBody {
    pub fn new(resource: &str, request_id: &str) -> ErrorBody {
        ErrorBody {
            held: BytesMut::new(),
            resource: resource.to_string(),
            request_id: request_id.to_string(),
            passing: false,
        }
    }

    /// What to send for this piece of the store's body.
    pub fn push(&mut self, piece: Option<Bytes>, end: bool) -> Option<Bytes> {
        if self.passing {
            return piece;
        }
        if let Some(p) = piece {
            self.held.extend_from_slice(&p);
        }
        if self.held.len() > MAX_ERROR_BODY {
            self.passing = true;
            return Some(std::mem::take(&mut self.held).freeze());
        }
        if !end {
            return Some(Bytes::new());
        }
        let held = std::mem::take(&mut self.held).freeze();
        Some(match xml::parse_error(&held) {
            Some((code, message)) => {
                let message = if message.is_empty() {
                    code.clone()
                } else {
                    message
                };
                Bytes::from(xml::error(
                    &code,
                    &message,
                    &self.resource,
                    &self.request_id,
                ))
            }
            None => held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terse_store_error_gets_resource_and_request_id() {
        let mut e = ErrorBody::new("/b/k", "rid");
        assert_eq!(
            e.push(Some(Bytes::from_static(b"<Error><Code>NoSuch")), false),
            Some(Bytes::new())
        );
        let out = e
            .push(Some(Bytes::from_static(b"Key</Code></Error>")), true)
            .unwrap();
        let out = String::from_utf8(out.to_vec()).unwrap();
        assert!(out.contains("<Code>NoSuchKey</Code><Message>NoSuchKey</Message><Resource>/b/k</Resource><RequestId>rid</RequestId>"), "{out}");
    }

    #[test]
    fn other_bodies_pass_unchanged() {
        let mut e = ErrorBody::new("/b", "rid");
        assert_eq!(
            e.push(Some(Bytes::from_static(b"plain text")), true),
            Some(Bytes::from_static(b"plain text"))
        );
    }
}
