//! Image formats: sniffed from magic bytes (never trusted from a file name or header).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Gif,
    Bmp,
    /// HEIF with HEVC pictures (`.heic`), or another HEIF image that is not AVIF. Read only.
    Heif,
    /// AVIF: HEIF with AV1 pictures. Read only.
    Avif,
}

impl Format {
    /// The upper-case name COS reports (`JPEG`, `PNG`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WEBP",
            Format::Gif => "GIF",
            Format::Bmp => "BMP",
            Format::Heif => "HEIF",
            Format::Avif => "AVIF",
        }
    }

    /// Formats picops writes with every frame of an animation.
    pub fn is_animatable(self) -> bool {
        matches!(self, Format::Gif | Format::Webp)
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
            Format::Bmp => "image/bmp",
            Format::Heif => "image/heif",
            Format::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Heif => "heif",
            Format::Avif => "avif",
        }
    }

    /// Whether picops can write this format (HEIF and AVIF are decoded only).
    pub fn is_writable(self) -> bool {
        !matches!(self, Format::Heif | Format::Avif)
    }

    /// Names accepted by `format/<f>`; `None` for unknown names (and for the formats picops
    /// reads but does not write).
    pub fn from_rule_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            "gif" => Some(Format::Gif),
            "bmp" => Some(Format::Bmp),
            _ => None,
        }
    }

    /// Whether the encoder takes a quality setting.
    pub fn is_lossy(self) -> bool {
        matches!(self, Format::Jpeg | Format::Webp)
    }

    pub fn sniff(data: &[u8]) -> Option<Format> {
        if data.len() >= 3 && data[..3] == [0xFF, 0xD8, 0xFF] {
            return Some(Format::Jpeg);
        }
        if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(Format::Png);
        }
        if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
            return Some(Format::Webp);
        }
        if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
            return Some(Format::Gif);
        }
        if data.starts_with(b"BM") && data.len() >= 26 {
            return Some(Format::Bmp);
        }
        if let Some(format) = heif_brand(data) {
            return Some(format);
        }
        // Some cameras and editors write bytes before SOI; libjpeg skips them, so do we.
        if find_jpeg_soi(data).is_some() {
            return Some(Format::Jpeg);
        }
        None
    }
}

/// HEIF or AVIF from the `ftyp` box that opens an ISO base media file: its major brand, or,
/// for the generic image brands (`mif1`, `msf1`, `miaf`), its compatible brands.
fn heif_brand(data: &[u8]) -> Option<Format> {
    if data.get(4..8)? != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let brand = |b: &[u8]| match b {
        b"avif" | b"avis" => Some(Format::Avif),
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => Some(Format::Heif),
        _ => None,
    };
    let major = data.get(8..12)?;
    if let Some(format) = brand(major) {
        return Some(format);
    }
    // Compatible brands follow the major brand and its minor version.
    let compatible = data.get(16..size.clamp(16, data.len()))?;
    let brands = || compatible.chunks_exact(4);
    brands()
        .find_map(|b| (brand(b) == Some(Format::Avif)).then_some(Format::Avif))
        .or_else(|| brands().find_map(brand))
        .or_else(|| {
            let generic = |b: &[u8]| matches!(b, b"mif1" | b"msf1" | b"miaf");
            (generic(major) || brands().any(generic)).then_some(Format::Heif)
        })
}

/// Offset of a JPEG SOI marker followed by another marker within the first 64 KiB.
pub(crate) fn find_jpeg_soi(data: &[u8]) -> Option<usize> {
    let window = &data[..data.len().min(64 * 1024)];
    window
        .windows(3)
        .position(|w| w[0] == 0xFF && w[1] == 0xD8 && w[2] == 0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len() as u32;
        let mut b = size.to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0; 4]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(b"\0\0\0\x08meta");
        b
    }

    #[test]
    fn heif_and_avif_are_told_from_their_brands() {
        type Case<'a> = (&'a [u8; 4], &'a [&'a [u8; 4]], Option<Format>);
        let cases: [Case<'_>; 8] = [
            (b"heic", &[b"mif1", b"heic"], Some(Format::Heif)),
            (b"heix", &[], Some(Format::Heif)),
            (b"avif", &[b"mif1", b"miaf"], Some(Format::Avif)),
            (b"avis", &[b"msf1"], Some(Format::Avif)),
            (b"mif1", &[b"avif", b"miaf"], Some(Format::Avif)),
            (b"mif1", &[b"heic"], Some(Format::Heif)),
            (b"mif1", &[], Some(Format::Heif)),
            // An MP4 video is an ISO file too, but not an image.
            (b"isom", &[b"iso2", b"mp41"], None),
        ];
        for (major, compatible, want) in cases {
            assert_eq!(Format::sniff(&ftyp(major, compatible)), want, "{major:?}");
        }
        assert_eq!(Format::sniff(b"\0\0\0\x18ftyp"), None);
    }
}
