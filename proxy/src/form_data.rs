//! `multipart/form-data` bodies of browser form uploads (POST Object), parsed from the
//! whole buffered body: the fields before `file` as text, and the file as a slice of the
//! body (no copy). Hand-written rather than `multer`: the body is already in memory and
//! capped, so a streaming parser would only add a dependency and a copy of the file, and
//! this parser refuses what S3 refuses (a repeated field, a form without `file`).

use bytes::Bytes;

use crate::error::ApiError;

/// Most fields a form may have before its file.
const MAX_FIELDS: usize = 200;

/// Most bytes a form may have before its file's data, and after it: the fields are copied
/// as text (and the policy decoded) before anything is verified, so they must stay small
/// beside the body's own reservation.
pub const MAX_FIELDS_BYTES: usize = 256 * 1024;

/// The form, in the order sent. Field names keep their spelling; they compare ignoring case.
#[derive(Debug)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub file: FilePart,
}

#[derive(Debug)]
pub struct FilePart {
    /// The part's `filename` (empty when it had none).
    pub filename: String,
    pub data: Bytes,
}

impl Form {
    /// A field's value, its name compared ignoring case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// S3's answer to a form it cannot read.
pub fn malformed(why: &str) -> ApiError {
    ApiError::Upstream {
        status: 400,
        code: "MalformedPOSTRequest".into(),
        message: format!(
            "The body of your POST request is not well-formed multipart/form-data: {why}"
        ),
    }
}

/// Whether a `Content-Type` is `multipart/form-data` (what makes a bucket POST a form upload).
pub fn is_form_data(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("multipart/form-data")
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, ApiError> {
    if !is_form_data(content_type) {
        return Err(malformed("Content-Type is not multipart/form-data"));
    }
    let boundary = params(content_type)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .ok_or_else(|| malformed("the Content-Type has no boundary"))?;
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(malformed("the boundary must be 1 to 70 characters"));
    }
    Ok(boundary)
}

/// `; name=value` parameters after the first `;`, values unquoted (`\` escapes honoured).
fn params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = match header.split_once(';') {
        Some((_, r)) => r,
        None => return out,
    };
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return out;
        }
        let (name, after) = match rest.split_once('=') {
            Some((n, a)) => (n.trim(), a.trim_start()),
            None => return out,
        };
        let mut value = String::new();
        if let Some(quoted) = after.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            value.push(next);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = after.find(';').unwrap_or(after.len());
            value.push_str(after[..end].trim());
            rest = &after[end..];
        }
        out.push((name.to_string(), value));
    }
}

/// Parse the whole body. Fields after `file` are ignored, as S3 ignores them.
pub fn parse(boundary: &str, body: &Bytes) -> Result<Form, ApiError> {
    let dash = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let finder = memchr::memmem::Finder::new(next.as_bytes());
    // The first delimiter, after an optional preamble.
    let mut pos = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        finder
            .find(body)
            .map(|i| i + next.len())
            .ok_or_else(|| malformed("no part delimited by the boundary"))?
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Err(malformed("the form has no file field"));
        }
        // Transport padding, then the line end that starts the part's headers.
        let line_end = rest
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .filter(|&i| rest[i..].starts_with(b"\r\n"))
            .ok_or_else(|| malformed("a boundary is not followed by a line end"))?;
        let start = pos + line_end + 2;
        let head_len = memchr::memmem::find(&body[start..], b"\r\n\r\n")
            .ok_or_else(|| malformed("a part's headers do not end"))?;
        let head = std::str::from_utf8(&body[start..start + head_len])
            .map_err(|_| malformed("a part's headers are not UTF-8"))?;
        let data_start = start + head_len + 4;
        let (name, filename) = disposition(head)?;
        let is_file = name.eq_ignore_ascii_case("file");
        let data_len = finder
            .find(&body[data_start..])
            .ok_or_else(|| malformed("a part is not closed by the boundary"))?;
        let data_end = data_start + data_len;
        let before = if is_file { data_start } else { data_end };
        if before > MAX_FIELDS_BYTES || (is_file && body.len() - data_end > MAX_FIELDS_BYTES) {
            return Err(malformed(&format!(
                "the form has more than {MAX_FIELDS_BYTES} bytes before or after the file"
            )));
        }
        if is_file {
            return Ok(Form {
                fields,
                file: FilePart {
                    filename: filename.unwrap_or_default(),
                    data: body.slice(data_start..data_start + data_len),
                },
            });
        }
        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(malformed(&format!("field {name:?} is given twice")));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(malformed("too many fields"));
        }
        let value = std::str::from_utf8(&body[data_start..data_start + data_len])
            .map_err(|_| malformed(&format!("field {name:?} is not UTF-8 text")))?;
        fields.push((name, value.to_string()));
        pos = data_start + data_len + next.len();
    }
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data`.
fn disposition(head: &str) -> Result<(String, Option<String>), ApiError> {
    let line = head
        .split("\r\n")
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(v.trim())
        })
        .ok_or_else(|| malformed("a part has no Content-Disposition"))?;
    let kind = line.split(';').next().unwrap_or("").trim();
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(malformed("a part's Content-Disposition is not form-data"));
    }
    let p = params(line);
    let get = |k: &str| {
        p.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let name = get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| malformed("a part has no field name"))?;
    Ok((name, get("filename")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &str)], file: &[u8]) -> Bytes {
        let mut b = Vec::new();
        b.extend_from_slice(b"preamble\r\n");
        for (n, v) in parts {
            b.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        b.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
        );
        b.extend_from_slice(file);
        b.extend_from_slice(
            b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nx\r\n--XyZ--\r\n",
        );
        Bytes::from(b)
    }

    #[test]
    fn parses_fields_and_the_file() {
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        assert_eq!(boundary(ct).unwrap(), "XyZ");
        let file = b"\r\n--Xy\r\nbinary\x00\xff";
        let f = parse(
            "XyZ",
            &body(&[("key", "a/${filename}"), ("Policy", "e30=")], file),
        )
        .unwrap();
        assert_eq!(f.get("key"), Some("a/${filename}"));
        assert_eq!(f.get("policy"), Some("e30="));
        assert_eq!(f.get("after"), None);
        assert_eq!(f.file.filename, "a \"b\".jpg");
        assert_eq!(&f.file.data[..], file);
    }

    #[test]
    fn refuses_malformed_forms() {
        assert!(boundary("application/x-www-form-urlencoded").is_err());
        assert!(boundary("multipart/form-data").is_err());
        let dup = body(&[("key", "a"), ("KEY", "b")], b"x");
        assert_eq!(
            parse("XyZ", &dup).unwrap_err().code(),
            "MalformedPOSTRequest"
        );
        let no_file = Bytes::from_static(
            b"--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B--\r\n",
        );
        assert!(parse("B", &no_file).is_err());
        let unclosed =
            Bytes::from_static(b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc");
        assert!(parse("B", &unclosed).is_err());
        assert!(parse("B", &Bytes::from_static(b"garbage")).is_err());
    }
}
