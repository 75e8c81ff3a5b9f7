//! What an image's header (and metadata) says, before any pixel is decoded: what the limits,
//! the memory plan and ImageInfo are decided from.

use crate::exif;
use crate::format::Format;

/// Facts known from the header (and metadata), before any pixel is decoded.
#[derive(Debug, Clone)]
pub struct Source {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// Frames announced by the header; GIF announces none, so this is 1 until decoded.
    pub frames: u32,
    /// JPEG: estimated from the quantisation tables; lossy WebP: from the VP8 quantisers
    /// (`None` when unreadable); lossless formats: 100.
    pub quality: Option<u8>,
    /// EXIF orientation 1-8, 0 when absent.
    pub orientation: u16,
    pub icc: Option<Vec<u8>>,
    pub exif: Option<Vec<u8>>,
}

impl Source {
    /// A still in a lossless format: quality 100, orientation from its EXIF if any.
    pub(crate) fn lossless(
        format: Format,
        width: u32,
        height: u32,
        exif: Option<Vec<u8>>,
        icc: Option<Vec<u8>>,
    ) -> Source {
        Source {
            format,
            width,
            height,
            frames: 1,
            quality: Some(100),
            orientation: exif.as_deref().map(exif::orientation).unwrap_or(0),
            icc,
            exif,
        }
    }
}
