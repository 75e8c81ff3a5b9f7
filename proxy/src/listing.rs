//! Bucket-level answers of the store (object, version and multipart-upload listings) never
//! show picops' reserved prefix: the entries under it are removed from the XML before it
//! reaches the client, whatever prefix, marker or encoding the listing was asked with.

use bytes::{Bytes, BytesMut};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;
use crate::route;

/// Largest listing body buffered for filtering: a page of 1000 entries with 1024-byte keys,
/// URL-encoded, is about 4 MB.
const MAX_LISTING: usize = 8 << 20;

/// The elements of a listing that name one key or prefix each, and the child holding it.
const ENTRIES: &[(&str, &str)] = &[
    ("Contents", "Key"),
    ("Version", "Key"),
    ("DeleteMarker", "Key"),
    ("Upload", "Key"),
    ("CommonPrefixes", "Prefix"),
];

/// Collects a listing's body and hands it on filtered once it is complete.
#[derive(Default)]
pub struct ListingFilter {
    body: BytesMut,
}

impl ListingFilter {
    pub fn push(&mut self, piece: Option<Bytes>, end: bool) -> Result<Option<Bytes>, ApiError> {
        if let Some(p) = piece {
            if self.body.len() + p.len() > MAX_LISTING {
                return Err(ApiError::Internal(format!(
                    "a listing answer larger than {MAX_LISTING} bytes"
                )));
            }
            self.body.extend_from_slice(&p);
        }
        if !end {
            return Ok(None);
        }
        let whole = std::mem::take(&mut self.body).freeze();
        Ok(Some(match std::str::from_utf8(&whole) {
            Ok(text) => Bytes::from(without_reserved(text)),
            Err(_) => whole,
        }))
    }
}

/// Stands in for a continuation marker that names a reserved key: every reserved key sorts
/// before it and every other key after it, so the next page resumes where it should.
const PAST_RESERVED: &str = ".picops/\u{10FFFF}";

/// Markers that name the last key of a page.
const MARKERS: &[&str] = &["NextMarker", "NextContinuationToken", "NextKeyMarker"];

/// `xml` without the entries whose key (XML-unescaped, and URL-decoded for
/// `encoding-type=url` listings) lies under the reserved prefix, with its `KeyCount` and
/// continuation markers made to agree.
pub fn without_reserved(xml: &str) -> String {
    let removed = without_entries(xml);
    if removed.len() == xml.len() && !MARKERS.iter().any(|m| xml.contains(&format!("<{m}>"))) {
        return removed;
    }
    let mut out = removed;
    let url_encoded = out.contains("<EncodingType>url</EncodingType>");
    for marker in MARKERS {
        out = replace_value(&out, marker, |v| {
            names_reserved(&format!("<{marker}>{v}</{marker}>"), marker).then(|| {
                if url_encoded {
                    percent_encoding::utf8_percent_encode(
                        PAST_RESERVED,
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string()
                } else {
                    PAST_RESERVED.to_string()
                }
            })
        });
    }
    let count = out.matches("<Contents>").count() + out.matches("<CommonPrefixes>").count();
    replace_value(&out, "KeyCount", |_| Some(count.to_string()))
}

/// `xml` with the text of each `<element>` replaced where `new` says so.
fn replace_value(xml: &str, element: &str, new: impl Fn(&str) -> Option<String>) -> String {
    let (open, close) = (format!("<{element}>"), format!("</{element}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let value_start = at + open.len();
        let Some(len) = rest[value_start..].find(&close) else {
            break;
        };
        let value = &rest[value_start..value_start + len];
        out.push_str(&rest[..value_start]);
        out.push_str(&new(value).unwrap_or_else(|| value.to_string()));
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

fn without_entries(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some((start, element, child)) = next_entry(rest) {
        let close = format!("</{element}>");
        let Some(len) = rest[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        let entry = &rest[start..end];
        out.push_str(&rest[..start]);
        if !names_reserved(entry, child) {
            out.push_str(entry);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The first listing entry in `xml`: its offset, element and key child.
fn next_entry(xml: &str) -> Option<(usize, &'static str, &'static str)> {
    ENTRIES
        .iter()
        .filter_map(|(element, child)| {
            xml.find(&format!("<{element}>"))
                .map(|at| (at, *element, *child))
        })
        .min_by_key(|(at, _, _)| *at)
}

fn names_reserved(entry: &str, child: &str) -> bool {
    let open = format!("<{child}>");
    let Some(at) = entry.find(&open) else {
        return false;
    };
    let value = &entry[at + open.len()..];
    let value = value.split('<').next().unwrap_or("");
    let unescaped = quick_xml::escape::unescape(value)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| value.to_string());
    let decoded = percent_decode_str(&unescaped.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned();
    [unescaped, decoded]
        .iter()
        .any(|k| route::is_reserved(k) || route::is_reserved(&format!("{k}/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_entries_are_removed_in_every_encoding() {
        let xml = "<ListBucketResult><Name>b</Name>\
            <Contents><Key>.picops/styles/s</Key><Size>3</Size></Contents>\
            <Contents><Key>a.jpg</Key><Size>1</Size></Contents>\
            <Contents><Key>%2Epicops%2Fstyles%2Fs</Key></Contents>\
            <Contents><Key>.picopsx</Key></Contents>\
            <CommonPrefixes><Prefix>.picops/</Prefix></CommonPrefixes>\
            <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>\
            </ListBucketResult>";
        let out = without_reserved(xml);
        assert!(!out.contains(".picops/"), "{out}");
        assert!(!out.contains("%2Epicops"), "{out}");
        assert!(out.contains("<Key>a.jpg</Key>"));
        assert!(out.contains("<Key>.picopsx</Key>"));
        assert!(out.contains("<Prefix>photos/</Prefix>"));
        assert!(out.starts_with("<ListBucketResult><Name>b</Name>"));
        assert!(out.ends_with("</ListBucketResult>"));
    }

    #[test]
    fn counts_and_markers_do_not_name_reserved_keys() {
        let xml = "<ListBucketResult><KeyCount>2</KeyCount>\
            <Contents><Key>.picops/styles/s</Key></Contents>\
            <Contents><Key>a</Key></Contents>\
            <NextContinuationToken>.picops/styles/s</NextContinuationToken>\
            <NextMarker>a</NextMarker></ListBucketResult>";
        let out = without_reserved(xml);
        assert!(out.contains("<KeyCount>1</KeyCount>"), "{out}");
        assert!(!out.contains("styles"), "{out}");
        assert!(out.contains("<NextMarker>a</NextMarker>"), "{out}");
        assert!(out.contains(PAST_RESERVED), "{out}");
    }

    #[test]
    fn versions_and_uploads_are_filtered_too() {
        let xml = "<R><Version><Key>.picops/styles/a</Key></Version>\
            <DeleteMarker><Key>.picops/styles/b</Key></DeleteMarker>\
            <Upload><Key>.picops/styles/c</Key></Upload><Upload><Key>k</Key></Upload></R>";
        assert_eq!(
            without_reserved(xml),
            "<R><Upload><Key>k</Key></Upload></R>"
        );
    }

    #[test]
    fn the_body_is_released_at_its_end() {
        let mut f = ListingFilter::default();
        assert!(f
            .push(Some(Bytes::from_static(b"<R><Contents><Key>.pic")), false)
            .unwrap()
            .is_none());
        let out = f
            .push(
                Some(Bytes::from_static(b"ops/styles/x</Key></Contents></R>")),
                true,
            )
            .unwrap()
            .unwrap();
        assert_eq!(&out[..], b"<R></R>");
    }
}
