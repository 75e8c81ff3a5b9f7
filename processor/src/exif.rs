//! EXIF orientation: read it, and reset it to 1 after `auto-orient`.
//! Hand-written rather than a crate because we must patch one value in place and keep every
//! other byte (maker notes included); EXIF writers re-serialise and lose what they don't know.

const ORIENTATION_TAG: u16 = 0x0112;

/// Strip the `Exif\0\0` prefix some containers keep, so offsets are TIFF-relative.
fn tiff(raw: &[u8]) -> &[u8] {
    raw.strip_prefix(b"Exif\0\0").unwrap_or(raw)
}

/// Byte offset (within the TIFF data) of the orientation value, if the tag is in IFD0.
fn orientation_offset(t: &[u8]) -> Option<(usize, bool)> {
    let le = match t.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = t.get(o..o + 2)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let b = t.get(4..8)?;
    let ifd = if le {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    } else {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    } as usize;
    let count = usize::from(u16_at(ifd)?);
    for i in 0..count {
        let entry = ifd.checked_add(2 + i * 12)?;
        if u16_at(entry)? == ORIENTATION_TAG {
            // SHORT, count 1: the value sits in the first two bytes of the value field.
            return Some((entry + 8, le));
        }
    }
    None
}

/// The EXIF orientation (1-8), or 0 when absent or invalid.
pub fn orientation(raw: &[u8]) -> u16 {
    let t = tiff(raw);
    orientation_offset(t)
        .and_then(|(o, le)| {
            let b = t.get(o..o + 2)?;
            Some(if le {
                u16::from_le_bytes([b[0], b[1]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            })
        })
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(0)
}

/// A copy of the EXIF block with orientation set to 1 (upright), everything else kept.
pub fn with_upright_orientation(raw: &[u8]) -> Vec<u8> {
    let mut out = raw.to_vec();
    let prefix = raw.len() - tiff(raw).len();
    if let Some((o, le)) = orientation_offset(tiff(raw)) {
        let v = if le {
            1u16.to_le_bytes()
        } else {
            1u16.to_be_bytes()
        };
        out[prefix + o..prefix + o + 2].copy_from_slice(&v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(le: bool, value: u16) -> Vec<u8> {
        let mut v = Vec::new();
        if le {
            v.extend_from_slice(b"II*\0");
            v.extend_from_slice(&8u32.to_le_bytes());
            v.extend_from_slice(&1u16.to_le_bytes());
            v.extend_from_slice(&ORIENTATION_TAG.to_le_bytes());
            v.extend_from_slice(&3u16.to_le_bytes());
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&value.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        } else {
            v.extend_from_slice(b"MM\0*");
            v.extend_from_slice(&8u32.to_be_bytes());
            v.extend_from_slice(&1u16.to_be_bytes());
            v.extend_from_slice(&ORIENTATION_TAG.to_be_bytes());
            v.extend_from_slice(&3u16.to_be_bytes());
            v.extend_from_slice(&1u32.to_be_bytes());
            v.extend_from_slice(&value.to_be_bytes());
            v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        v
    }

    #[test]
    fn reads_and_resets_both_byte_orders() {
        for le in [true, false] {
            let b = block(le, 6);
            assert_eq!(orientation(&b), 6);
            assert_eq!(orientation(&with_upright_orientation(&b)), 1);
            let mut prefixed = b"Exif\0\0".to_vec();
            prefixed.extend_from_slice(&b);
            assert_eq!(orientation(&prefixed), 6);
            assert_eq!(orientation(&with_upright_orientation(&prefixed)), 1);
        }
    }

    #[test]
    fn garbage_is_zero_not_a_panic() {
        assert_eq!(orientation(b""), 0);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\xff"), 0);
        assert_eq!(orientation(&block(true, 42)), 0);
    }
}
