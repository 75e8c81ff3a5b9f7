//! Object features asked for by headers, sent only to a store that performs them. A store
//! that does not know such a header ignores it and answers success, so the client would
//! believe its object encrypted, public, tagged or archived when it is not: picops refuses
//! (501) what the configuration does not say the store does. Values that mean the same as no
//! header (a private ACL, the standard storage class) pass everywhere.

use std::borrow::Cow;

use http::HeaderMap;

use crate::cos_dialect;
use crate::error::ApiError;

/// A request's headers as the store will read them (a COS client's translated to S3's
/// dialect), refused when they ask for what the store does not perform.
pub fn store_view<'h>(
    headers: &'h HeaderMap,
    features: &StoreFeatures,
) -> Result<Cow<'h, HeaderMap>, ApiError> {
    let view = if headers.keys().any(|k| k.as_str().starts_with("x-cos-")) {
        let mut s3 = headers.clone();
        cos_dialect::request_to_s3(&mut s3)?;
        Cow::Owned(s3)
    } else {
        Cow::Borrowed(headers)
    };
    features.check(&view)?;
    Ok(view)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreFeatures {
    pub sse_s3: bool,
    pub sse_kms: bool,
    pub sse_c: bool,
    pub acl: bool,
    pub tagging: bool,
    pub storage_classes: bool,
}

/// The names `upstream.features` accepts.
pub const NAMES: &str = "sse-s3, sse-kms, sse-c, acl, tagging, storage-classes";

impl StoreFeatures {
    pub fn parse(names: &[String]) -> Result<StoreFeatures, String> {
        let mut f = StoreFeatures::default();
        for name in names {
            match name.trim().to_ascii_lowercase().as_str() {
                "sse-s3" => f.sse_s3 = true,
                "sse-kms" => f.sse_kms = true,
                "sse-c" => f.sse_c = true,
                "acl" => f.acl = true,
                "tagging" => f.tagging = true,
                "storage-classes" => f.storage_classes = true,
                "" => {}
                other => {
                    return Err(format!(
                        "upstream feature {other:?}: expected some of {NAMES}"
                    ))
                }
            }
        }
        Ok(f)
    }

    /// Refuse a request (in S3's dialect) asking for what the store does not do.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        // Every value of a repeated header is checked: the store gets them all, so a
        // harmless first value (`x-amz-acl: private`) must not vouch for the next one.
        for name in headers.keys() {
            if headers.get_all(name).iter().nth(1).is_none() {
                continue;
            }
            for value in headers.get_all(name) {
                let mut one = HeaderMap::new();
                one.insert(name.clone(), value.clone());
                self.check(&one)?;
            }
        }
        let value = |name: &str| headers.get(name).map(|v| v.as_bytes());
        let refuse = |what: &str, feature: &str| {
            Err(ApiError::NotImplemented(format!(
                "{what} was asked for, but the store behind picops is not configured as \
                 performing it (upstream.features does not list {feature:?}); the store \
                 would ignore it and the object would not be what the request says"
            )))
        };
        if let Some(v) = value("x-amz-server-side-encryption") {
            match (v.starts_with(b"aws:kms"), self.sse_kms, self.sse_s3) {
                (true, false, _) => return refuse("SSE-KMS encryption", "sse-kms"),
                (false, _, false) => return refuse("SSE-S3 (AES256) encryption", "sse-s3"),
                _ => {}
            }
        }
        let customer = value("x-amz-server-side-encryption-customer-algorithm").is_some()
            || value("x-amz-copy-source-server-side-encryption-customer-algorithm").is_some();
        if customer && !self.sse_c {
            return refuse("SSE-C encryption", "sse-c");
        }
        let default_acl = |v: &[u8]| v == b"private" || v == b"bucket-owner-full-control";
        let grants = headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-grant-"));
        if !self.acl && (value("x-amz-acl").is_some_and(|v| !default_acl(v)) || grants) {
            return refuse(
                "An ACL (use picops' public_read for anonymous reading)",
                "acl",
            );
        }
        if !self.tagging && value("x-amz-tagging").is_some_and(|v| !v.is_empty()) {
            return refuse("Object tagging", "tagging");
        }
        if !self.storage_classes && value("x-amz-storage-class").is_some_and(|v| v != b"STANDARD") {
            return refuse("A storage class other than STANDARD", "storage-classes");
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
        let none = StoreFeatures::default();
        let sse_c = StoreFeatures::parse(&["SSE-C".into()]).unwrap();
        let aes = h("x-amz-server-side-encryption", "AES256");
        let kms = h("x-amz-server-side-encryption", "aws:kms");
        let customer = h("x-amz-server-side-encryption-customer-algorithm", "AES256");
        assert_eq!(none.check(&aes).unwrap_err().status(), 501);
        assert_eq!(sse_c.check(&kms).unwrap_err().status(), 501);
        assert!(sse_c.check(&customer).is_ok());
        assert!(none.check(&customer).is_err());
        assert!(none.check(&HeaderMap::new()).is_ok());
        let all = StoreFeatures::parse(&["sse-s3".into(), "sse-kms".into()]).unwrap();
        assert!(all.check(&aes).is_ok() && all.check(&kms).is_ok());
        assert!(StoreFeatures::parse(&["rot13".into()]).is_err());
    }

    #[test]
    fn every_value_of_a_repeated_header_is_checked() {
        let none = StoreFeatures::default();
        for (name, first, second) in [
            ("x-amz-acl", "private", "public-read"),
            ("x-amz-storage-class", "STANDARD", "GLACIER"),
            ("x-amz-tagging", "", "a=b"),
        ] {
            let mut m = HeaderMap::new();
            m.append(name, http::HeaderValue::from_static(first));
            m.append(name, http::HeaderValue::from_static(second));
            assert_eq!(none.check(&m).unwrap_err().status(), 501, "{name}");
            m.remove(name);
            m.append(name, http::HeaderValue::from_static(first));
            m.append(name, http::HeaderValue::from_static(first));
            assert!(none.check(&m).is_ok(), "{name}");
        }
    }

    #[test]
    fn acl_tagging_and_classes_only_where_kept() {
        let none = StoreFeatures::default();
        for (name, value) in [
            ("x-amz-acl", "public-read"),
            (
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            ),
            ("x-amz-tagging", "a=b"),
            ("x-amz-storage-class", "STANDARD_IA"),
        ] {
            assert_eq!(
                none.check(&h(name, value)).unwrap_err().status(),
                501,
                "{name}"
            );
        }
        // What means the same as no header passes everywhere.
        for (name, value) in [
            ("x-amz-acl", "private"),
            ("x-amz-acl", "bucket-owner-full-control"),
            ("x-amz-storage-class", "STANDARD"),
        ] {
            assert!(none.check(&h(name, value)).is_ok(), "{name}: {value}");
        }
        let all = StoreFeatures::parse(&["acl".into(), "tagging".into(), "storage-classes".into()])
            .unwrap();
        assert!(all.check(&h("x-amz-acl", "public-read")).is_ok());
        assert!(all.check(&h("x-amz-tagging", "a=b")).is_ok());
        assert!(all.check(&h("x-amz-storage-class", "GLACIER")).is_ok());
    }
}
