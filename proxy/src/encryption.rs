//! Server-side encryption, asked for only where the store performs it. A store that does
//! not know the headers ignores them and answers success with the object in plaintext, so
//! picops refuses a request for encryption the configuration does not say the store does.

use http::HeaderMap;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encryption {
    pub sse_s3: bool,
    pub sse_kms: bool,
    pub sse_c: bool,
}

impl Encryption {
    pub fn parse(kinds: &[String]) -> Result<Encryption, String> {
        let mut e = Encryption::default();
        for kind in kinds {
            match kind.trim().to_ascii_lowercase().as_str() {
                "sse-s3" => e.sse_s3 = true,
                "sse-kms" => e.sse_kms = true,
                "sse-c" => e.sse_c = true,
                "" => {}
                other => {
                    return Err(format!(
                        "upstream encryption {other:?}: expected sse-s3, sse-kms or sse-c"
                    ))
                }
            }
        }
        Ok(e)
    }

    /// Refuse a request (in S3's dialect) asking for encryption the store does not do.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let asked = |name: &str| headers.contains_key(name);
        let refuse = |kind: &str| {
            Err(ApiError::NotImplemented(format!(
                "{kind} was asked for, but the store behind picops is not configured as \
                 performing it (upstream.encryption); the object would be stored unencrypted"
            )))
        };
        if let Some(v) = headers.get("x-amz-server-side-encryption") {
            let kms = v.as_bytes().starts_with(b"aws:kms");
            match (kms, self.sse_kms, self.sse_s3) {
                (true, false, _) => return refuse("SSE-KMS"),
                (false, _, false) => return refuse("SSE-S3 (AES256)"),
                _ => {}
            }
        }
        let customer = asked("x-amz-server-side-encryption-customer-algorithm")
            || asked("x-amz-copy-source-server-side-encryption-customer-algorithm");
        if customer && !self.sse_c {
            return refuse("SSE-C");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &'static str, value: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, http::HeaderValue::from_static(value));
        m
    }

    #[test]
    fn only_what_the_store_does_is_asked_for() {
        let none = Encryption::default();
        let sse_c = Encryption::parse(&["SSE-C".into()]).unwrap();
        let aes = h("x-amz-server-side-encryption", "AES256");
        let kms = h("x-amz-server-side-encryption", "aws:kms");
        let customer = h("x-amz-server-side-encryption-customer-algorithm", "AES256");
        assert_eq!(none.check(&aes).unwrap_err().status(), 501);
        assert_eq!(sse_c.check(&kms).unwrap_err().status(), 501);
        assert!(sse_c.check(&customer).is_ok());
        assert!(none.check(&customer).is_err());
        assert!(none.check(&HeaderMap::new()).is_ok());
        let all = Encryption::parse(&["sse-s3".into(), "sse-kms".into()]).unwrap();
        assert!(all.check(&aes).is_ok() && all.check(&kms).is_ok());
        assert!(Encryption::parse(&["rot13".into()]).is_err());
    }
}
