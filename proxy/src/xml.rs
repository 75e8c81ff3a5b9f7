//! Every XML document picops writes or reads itself: the answers of the processing calls
//! (docs/protocol.md, Answers) in COS's element order, error answers, the style API's
//! bodies, and the client bodies it must check (multipart completion, DeleteObjects).

use std::collections::BTreeMap;

use picops_processor::{ImageInfo, OutputFacts};
use serde::Deserialize;

/// Escape element text. Quotes stay literal, as COS writes ETags (`<ETag>"…"</ETag>`).
pub fn escape(s: &str) -> String {
    quick_xml::escape::partial_escape(s).into_owned()
}

/// `<Error><Code/><Message/><Resource/><RequestId/><TraceId/></Error>`, as COS answers
/// errors (its SDKs need `Resource` and `RequestId` to report the code).
pub fn error(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    let mut out = String::from(DECL);
    out.push_str("<Error>");
    el(&mut out, "Code", code);
    el(&mut out, "Message", message);
    el(&mut out, "Resource", resource);
    el(&mut out, "RequestId", request_id);
    el(&mut out, "TraceId", request_id);
    out.push_str("</Error>");
    out
}

/// The `Code` and `Message` of a store's error body, if it is one.
pub fn parse_error(body: &[u8]) -> Option<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut code, mut message) = (None, String::new());
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => path.push(e.local_name().as_ref().to_vec()),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.len() == 2 && path[0] == b"Error" => {
                let text = t.unescape().ok()?.into_owned();
                match path[1].as_slice() {
                    b"Code" => code = Some(text),
                    b"Message" => message = text,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    code.map(|c| (c, message))
}

/// `GET /?location`'s answer.
pub fn location(region: &str) -> String {
    let mut out = String::from(DECL);
    el(&mut out, "LocationConstraint", region);
    out
}

/// The style API's answer to a listing: `<StyleList><StyleRule>…</StyleRule></StyleList>`.
pub fn style_list(styles: &BTreeMap<String, String>) -> String {
    let mut out = String::from(DECL);
    out.push_str("<StyleList>");
    for (name, body) in styles {
        out.push_str("<StyleRule>");
        el(&mut out, "StyleName", name);
        el(&mut out, "StyleBody", body);
        out.push_str("</StyleRule>");
    }
    out.push_str("</StyleList>");
    out
}

/// The body of a style API call (`<AddStyle>`, `<DeleteStyle>`, `<GetStyle>`); an empty
/// body names nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StyleRequest {
    pub style_name: Option<String>,
    pub style_body: Option<String>,
}

pub fn parse_style_request(body: &[u8]) -> Result<StyleRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StyleRequest::default());
    }
    quick_xml::de::from_reader(body).map_err(|e| format!("style request XML: {e}"))
}

pub struct OriginalInfo {
    pub key: String,
    pub location: String,
    pub image_info: Option<ImageInfo>,
    pub etag: String,
}

pub struct ProcessedObject {
    pub key: String,
    pub location: String,
    pub facts: OutputFacts,
    pub etag: String,
}

fn el(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(value));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn body(out: &mut String, original: &OriginalInfo, results: &[ProcessedObject]) {
    out.push_str("<OriginalInfo>");
    el(out, "Key", &original.key);
    el(out, "Location", &original.location);
    if let Some(i) = &original.image_info {
        out.push_str("<ImageInfo>");
        el(out, "Format", i.format.name());
        el(out, "Width", &i.width.to_string());
        el(out, "Height", &i.height.to_string());
        el(out, "Quality", &i.quality.to_string());
        el(out, "Ave", &i.ave);
        el(out, "Orientation", &i.orientation.to_string());
        out.push_str("</ImageInfo>");
    }
    el(out, "ETag", &original.etag);
    out.push_str("</OriginalInfo><ProcessResults>");
    for r in results {
        out.push_str("<Object>");
        el(out, "Key", &r.key);
        el(out, "Location", &r.location);
        el(out, "Format", r.facts.format.name());
        el(out, "Width", &r.facts.width.to_string());
        el(out, "Height", &r.facts.height.to_string());
        el(out, "Size", &r.facts.size.to_string());
        el(out, "Quality", &r.facts.quality.to_string());
        el(out, "ETag", &r.etag);
        out.push_str("</Object>");
    }
    out.push_str("</ProcessResults>");
}

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

pub fn upload_result(original: &OriginalInfo, results: &[ProcessedObject]) -> String {
    let mut out = String::from(DECL);
    out.push_str("<UploadResult>");
    body(&mut out, original, results);
    out.push_str("</UploadResult>");
    out
}

/// CompleteMultipartUploadResult, extended with OriginalInfo and ProcessResults: SDKs parse
/// this call's answer as the S3 result and need its top-level fields.
pub fn complete_result(
    bucket: &str,
    original: &OriginalInfo,
    results: &[ProcessedObject],
) -> String {
    let mut out = String::from(DECL);
    out.push_str("<CompleteMultipartUploadResult>");
    el(&mut out, "Location", &original.location);
    el(&mut out, "Bucket", bucket);
    el(&mut out, "Key", &original.key);
    el(&mut out, "ETag", &original.etag);
    body(&mut out, original, results);
    out.push_str("</CompleteMultipartUploadResult>");
    out
}

/// POST Object's answer with `success_action_status=201`.
pub fn post_response(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    let mut out = String::from(DECL);
    out.push_str("<PostResponse>");
    el(&mut out, "Location", location);
    el(&mut out, "Bucket", bucket);
    el(&mut out, "Key", key);
    el(&mut out, "ETag", etag);
    out.push_str("</PostResponse>");
    out
}

#[derive(Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet")]
    tag_set: TagSet,
}

#[derive(Deserialize)]
struct TagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

/// The (key, value) pairs of a `<Tagging><TagSet><Tag>…` document (POST Object's `tagging`
/// field).
pub fn parse_tagging(body: &str) -> Result<Vec<(String, String)>, String> {
    let t: Tagging = quick_xml::de::from_str(body).map_err(|e| format!("tagging XML: {e}"))?;
    Ok(t.tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

/// Parts of a client's `<CompleteMultipartUpload>` body: (PartNumber, ETag).
pub fn parse_complete_parts(xml: &[u8]) -> Result<Vec<(i32, String)>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut parts = Vec::new();
    let (mut number, mut etag): (Option<i32>, Option<String>) = (None, None);
    let mut current = String::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                current = String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
            }
            Ok(Event::Text(t)) => {
                let text = t.unescape().map_err(|e| e.to_string())?.trim().to_string();
                match current.as_str() {
                    "PartNumber" => {
                        number = Some(
                            text.parse()
                                .map_err(|_| format!("bad PartNumber {text:?}"))?,
                        )
                    }
                    "ETag" => etag = Some(text),
                    _ => {}
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"Part" {
                    match (number.take(), etag.take()) {
                        (Some(n), Some(t)) => parts.push((n, t)),
                        _ => return Err("a Part lacks PartNumber or ETag".into()),
                    }
                }
                current.clear();
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("malformed XML: {e}")),
            _ => {}
        }
        buf.clear();
    }
    if parts.is_empty() {
        return Err("no parts listed".into());
    }
    Ok(parts)
}

/// The keys a DeleteObjects body (`<Delete><Object><Key>…</Key></Object>…</Delete>`) names.
/// Only elements, text and entities are accepted: comments, CDATA, processing instructions
/// and DTDs are refused, because XML parsers disagree on them and the store must see the
/// keys exactly as checked here.
pub fn parse_delete_keys(body: &[u8]) -> Result<Vec<String>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut keys = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut key: Option<String> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                path.push(name);
                if path.len() == 3 && path[1] == "Object" && path[2] == "Key" {
                    key = Some(String::new());
                }
            }
            Ok(Event::End(_)) => {
                if path.len() == 3 {
                    if let Some(k) = key.take() {
                        keys.push(k);
                    }
                }
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                match key.as_mut() {
                    Some(k) => k.push_str(&text),
                    None if text.trim().is_empty() || path.len() > 1 => {}
                    None => return Err("text outside the elements".into()),
                }
            }
            Ok(Event::Empty(_)) | Ok(Event::Decl(_)) => {}
            Ok(Event::Eof) => break,
            Ok(other) => {
                return Err(format!(
                    "a DeleteObjects body may hold only elements and text, not {other:?}"
                ))
            }
            Err(e) => return Err(format!("malformed XML: {e}")),
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err("the body ends inside an element".into());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_style_sdk_bodies() {
        let r = parse_style_request(
            b"<AddStyle><StyleName>t</StyleName><StyleBody>imageMogr2/thumbnail/!50px</StyleBody></AddStyle>",
        )
        .unwrap();
        assert_eq!(r.style_name.as_deref(), Some("t"));
        assert_eq!(r.style_body.as_deref(), Some("imageMogr2/thumbnail/!50px"));
        let r =
            parse_style_request(b"<DeleteStyle><StyleName>t</StyleName></DeleteStyle>").unwrap();
        assert_eq!(r.style_name.as_deref(), Some("t"));
        assert!(parse_style_request(b"").unwrap().style_name.is_none());
    }

    #[test]
    fn reads_store_error_bodies() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>gone &amp; away</Message><BucketName>b</BucketName></Error>";
        assert_eq!(
            parse_error(body),
            Some(("NoSuchBucket".into(), "gone & away".into()))
        );
        assert_eq!(
            parse_error(b"<Error><Code>X</Code></Error>"),
            Some(("X".into(), String::new()))
        );
        assert_eq!(parse_error(b"not xml at all"), None);
        assert_eq!(parse_error(b"<ListBucketResult/>"), None);
    }

    #[test]
    fn error_answers_carry_what_cos_sdks_read() {
        let x = error("NoSuchKey", "a <b>", "/k", "rid");
        assert!(x.contains("<Code>NoSuchKey</Code><Message>a &lt;b&gt;</Message><Resource>/k</Resource><RequestId>rid</RequestId><TraceId>rid</TraceId>"), "{x}");
    }

    #[test]
    fn parses_sdk_completion_bodies() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"#;
        assert_eq!(
            parse_complete_parts(body).unwrap(),
            vec![(1, "\"a\"".to_string()), (2, "\"b\"".to_string())]
        );
        assert!(parse_complete_parts(b"<CompleteMultipartUpload/>").is_err());
    }

    #[test]
    fn post_answers_and_tagging() {
        let x = post_response("http://h/b/a%20b", "b", "a b", "\"e\"");
        assert!(x.contains("<PostResponse><Location>http://h/b/a%20b</Location><Bucket>b</Bucket><Key>a b</Key><ETag>\"e\"</ETag></PostResponse>"));
        let tags = parse_tagging("<Tagging><TagSet><Tag><Key>a</Key><Value>1 2</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>").unwrap();
        assert_eq!(
            tags,
            [
                ("a".to_string(), "1 2".to_string()),
                ("b".into(), "".into())
            ]
        );
        assert!(parse_tagging("<Tagging>").is_err());
    }

    #[test]
    fn finds_every_key_of_a_delete_body() {
        let body = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>../bob/x</Key><VersionId>1</VersionId></Object></Delete>"#;
        assert_eq!(parse_delete_keys(body).unwrap(), vec!["a&b", "../bob/x"]);
        assert!(parse_delete_keys(b"<Delete><Object><Key>a</Key></Obj").is_err());
        for sneaky in [
            "<Delete><Object><Key>.pic<!-- x -->ops/styles/t</Key></Object></Delete>",
            "<Delete><Object><Key>.pic<?x y?>ops/styles/t</Key></Object></Delete>",
            "<Delete><Object><Key><![CDATA[../bob/x]]></Key></Object></Delete>",
            "<!DOCTYPE d [<!ENTITY e \"../bob\">]><Delete><Object><Key>&e;/x</Key></Object></Delete>",
        ] {
            assert!(parse_delete_keys(sneaky.as_bytes()).is_err(), "{sneaky}");
        }
    }
}
