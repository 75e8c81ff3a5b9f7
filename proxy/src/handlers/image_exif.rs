//! `GET /<key>?exif`: the EXIF fields of a stored image as COS answers them, one JSON member
//! per field of the primary image: `{"<Tag>": {"val": "<as displayed>", "type": <EXIF type>}}`,
//! or `{"error": "no exif data"}`. Only the metadata is parsed; no pixel is decoded.

use std::io::Cursor;

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;

pub async fn handle(
    engine: &Engine,
    req: Request<'_>,
    identity: &Identity,
) -> Result<Reply, ApiError> {
    // Only the metadata is parsed, but the object is read whole: the same token and
    // reservation as ImageInfo.
    let (data, _memory) = engine
        .fetch_for_get(identity, req.bucket()?, &req.route.key)
        .await?;
    Ok(Reply::json(exif_json(&data)))
}

fn exif_json(data: &[u8]) -> serde_json::Value {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(data)) else {
        return serde_json::json!({ "error": "no exif data" });
    };
    let mut out = serde_json::Map::new();
    for field in exif.fields().filter(|f| f.ifd_num == exif::In::PRIMARY) {
        // Text as the image holds it (dates keep EXIF's `YYYY:MM:DD`), the rest as displayed.
        let val = match &field.value {
            exif::Value::Ascii(parts) => parts
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            _ => field.display_value().with_unit(&exif).to_string(),
        };
        out.insert(
            field.tag.to_string(),
            serde_json::json!({ "val": val, "type": type_code(&field.value) }),
        );
    }
    if out.is_empty() {
        return serde_json::json!({ "error": "no exif data" });
    }
    serde_json::Value::Object(out)
}

/// The EXIF (TIFF) type number of a value.
fn type_code(value: &exif::Value) -> u8 {
    use exif::Value::*;
    match value {
        Byte(_) => 1,
        Ascii(_) => 2,
        Short(_) => 3,
        Long(_) => 4,
        Rational(_) => 5,
        SByte(_) => 6,
        Undefined(..) => 7,
        SShort(_) => 8,
        SLong(_) => 9,
        SRational(_) => 10,
        Float(_) => 11,
        Double(_) => 12,
        Unknown(t, ..) => u8::try_from(*t).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_without_exif_says_so() {
        assert_eq!(
            exif_json(b"\x89PNG\r\n\x1a\n"),
            serde_json::json!({ "error": "no exif data" })
        );
    }
}
