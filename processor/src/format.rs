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
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
        }
    }

    /// Names accepted by `format/<f>`; `None` for unknown names.
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
        // Some cameras and editors write bytes before SOI; libjpeg skips them, so do we.
        if find_jpeg_soi(data).is_some() {
            return Some(Format::Jpeg);
        }
        None
    }
}

/// Offset of a JPEG SOI marker followed by another marker within the first 64 KiB.
pub(crate) fn find_jpeg_soi(data: &[u8]) -> Option<usize> {
    let window = &data[..data.len().min(64 * 1024)];
    window
        .windows(3)
        .position(|w| w[0] == 0xFF && w[1] == 0xD8 && w[2] == 0xFF)
}
