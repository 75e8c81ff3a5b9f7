//! Tencent COS request signatures (`q-sign-algorithm=sha1`), in the `Authorization` header or
//! in the query string of a pre-signed URL. Written from the COS documentation and checked
//! against what `cos-python-sdk-v5` and `cos-nodejs-sdk-v5` send (docs/protocol.md, Authentication).

use std::collections::HashMap;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

use super::{constant_time_eq, encode, mismatch, time, BodyCheck, Identity, Keyring, Request};
use crate::error::ApiError;

pub const QUERY_PARAMS: &[&str] = &[
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
];

pub enum Source<'a> {
    /// The `Authorization` header's value (not percent-encoded).
    Header(&'a str),
    /// `q-*` parameters of the query string (percent-encoded).
    Query,
}

fn hmac_sha1_hex(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// The `k=v&…` list COS builds from headers or parameters: keys lower-cased and encoded,
/// values encoded, sorted.
fn canonical_list(pairs: &mut [(String, String)]) -> String {
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn verify(
    keyring: &Keyring,
    req: &Request,
    source: Source,
    now: SystemTime,
) -> Result<Identity, ApiError> {
    let fields: HashMap<String, String> = match source {
        Source::Header(value) => value
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect(),
        Source::Query => req
            .raw_query()
            .into_iter()
            .map(|(k, v)| {
                (
                    encode::decode(k).to_ascii_lowercase(),
                    encode::decode_query(v),
                )
            })
            .filter(|(k, _)| QUERY_PARAMS.contains(&k.as_str()))
            .collect(),
    };
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::AccessDenied(format!("COS signature is missing {name}")))
    };
    if !field("q-sign-algorithm")?.eq_ignore_ascii_case("sha1") {
        return Err(ApiError::AccessDenied(
            "COS signature: only q-sign-algorithm=sha1 exists".into(),
        ));
    }
    let credential = keyring.lookup(field("q-ak")?)?;
    let sign_time = field("q-sign-time")?;
    let key_time = field("q-key-time")?;
    let window = |t: &str| -> Option<(u64, u64)> {
        let (a, b) = t.split_once(';')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    let (start, end) = window(sign_time).ok_or_else(|| {
        ApiError::AccessDenied(format!("COS signature: bad q-sign-time {sign_time:?}"))
    })?;
    let now_secs = time::unix_secs(now);
    if end.saturating_sub(start) > keyring.max_sign_window.as_secs() {
        return Err(ApiError::AccessDenied(format!(
            "COS signature: q-sign-time {start};{end} spans more than the {} s picops accepts",
            keyring.max_sign_window.as_secs()
        )));
    }
    if now_secs < start || now_secs > end {
        return Err(ApiError::AccessDenied(format!(
            "request has expired or is not yet valid: q-sign-time {start};{end}, now {now_secs}"
        )));
    }
    let header_list: Vec<String> = split_list(field("q-header-list")?);
    let param_list: Vec<String> = split_list(field("q-url-param-list")?);
    // Only what the signature covers is acted on: an unsigned parameter could turn a signed
    // GET into a response override or a processing request.
    for (k, _) in req.raw_query() {
        let name = encode::decode(k);
        let signed_as = encode::strict(&name).to_ascii_lowercase();
        if !super::is_auth_param(&name) && !param_list.contains(&signed_as) {
            return Err(ApiError::AccessDenied(format!(
                "query parameter {name:?} is not covered by the COS signature (q-url-param-list)"
            )));
        }
    }

    // Parameters are named by their encoded, lower-cased key; a flag signs as `name=`.
    let mut params: Vec<(String, String)> = req
        .raw_query()
        .into_iter()
        .map(|(k, v)| {
            (
                encode::strict(&encode::decode(k)).to_ascii_lowercase(),
                encode::strict(&encode::decode_query(v)),
            )
        })
        .filter(|(k, _)| param_list.contains(k))
        .collect();
    let params = canonical_list(&mut params);

    // `host` may have been signed without the port the client then sent (the Python SDK
    // signs the URL's hostname), so both forms are tried.
    let mut host_forms = vec![None];
    if header_list.iter().any(|h| h == "host") {
        if let Some(host) = req.header("host") {
            host_forms = vec![Some(host.to_string())];
            if let Some((bare, port)) = host.rsplit_once(':') {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    host_forms.push(Some(bare.to_string()));
                }
            }
        }
    }

    let path = encode::decode(req.uri.path());
    let sign_key = hmac_sha1_hex(credential.secret_key.as_bytes(), key_time.as_bytes());
    let given = field("q-signature")?.to_ascii_lowercase();
    let mut matched = false;
    for host in &host_forms {
        let mut headers: Vec<(String, String)> = header_list
            .iter()
            .map(|name| {
                let value = match (name.as_str(), host) {
                    ("host", Some(h)) => h.clone(),
                    _ => req
                        .headers
                        .get_all(name.as_str())
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect::<Vec<_>>()
                        .join(","),
                };
                (name.clone(), encode::strict(&value))
            })
            .collect();
        let http_string = format!(
            "{}\n{}\n{}\n{}\n",
            req.method.as_str().to_ascii_lowercase(),
            path,
            params,
            canonical_list(&mut headers)
        );
        let string_to_sign = format!(
            "sha1\n{sign_time}\n{}\n",
            hex::encode(Sha1::digest(http_string.as_bytes()))
        );
        let expected = hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes());
        // Every form is computed and compared, so timing does not tell which one matched.
        matched |= constant_time_eq(expected.as_bytes(), given.as_bytes());
    }
    if !matched {
        return Err(mismatch("COS sha1"));
    }
    Ok(Identity {
        credential: Some(credential),
        signed_headers: header_list,
        body: BodyCheck::None,
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .filter(|x| !x.is_empty())
        .map(|x| encode::decode(x).to_ascii_lowercase())
        .map(|x| encode::strict(&x).to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credential;
    use std::time::{Duration, UNIX_EPOCH};

    fn keyring() -> Keyring {
        Keyring::new(
            vec![Credential {
                access_key: "AKIDtest".into(),
                secret_key: "picops-test-secret".into(),
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

    /// Signs the way cos-python-sdk-v5's `CosS3Auth` does (the SDK itself is exercised by
    /// the e2e suite; this keeps the unit test free of Python).
    fn sign(
        method: &str,
        path: &str,
        params: &str,
        headers: &str,
        t: &str,
        secret: &str,
    ) -> String {
        let http = format!("{method}\n{path}\n{params}\n{headers}\n");
        let sts = format!(
            "sha1\n{t}\n{}\n",
            hex::encode(Sha1::digest(http.as_bytes()))
        );
        let key = hmac_sha1_hex(secret.as_bytes(), t.as_bytes());
        hmac_sha1_hex(key.as_bytes(), sts.as_bytes())
    }

    #[test]
    fn verifies_header_form_and_detects_tampering() {
        let kr = keyring();
        let t = "1700000000;1700003600";
        let sig = sign(
            "put",
            "/up/a b.jpg",
            "",
            "host=b-1.cos.ap-x.myqcloud.com&pic-operations=%7B%7D",
            t,
            "picops-test-secret",
        );
        let auth = format!(
            "q-sign-algorithm=sha1&q-ak=AKIDtest&q-sign-time={t}&q-key-time={t}\
             &q-header-list=host;pic-operations&q-url-param-list=&q-signature={sig}"
        );
        let uri: http::Uri = "/up/a%20b.jpg".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "b-1.cos.ap-x.myqcloud.com:8080".parse().unwrap());
        headers.insert("pic-operations", "{}".parse().unwrap());
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let method = http::Method::PUT;
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        let id = verify(&kr, &req, Source::Header(&auth), now).unwrap();
        assert!(id.signs("pic-operations"));

        headers.insert("pic-operations", "{\"x\":1}".parse().unwrap());
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        assert_eq!(
            verify(&kr, &req, Source::Header(&auth), now)
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );

        let late = UNIX_EPOCH + Duration::from_secs(1_700_003_601);
        assert_eq!(
            verify(&kr, &req, Source::Header(&auth), late)
                .unwrap_err()
                .code(),
            "AccessDenied"
        );
    }
}
