//! The quality a lossy WebP was encoded at, estimated from its VP8 bitstream, as
//! `quality.rs` does for JPEG from the quantisation tables.
//!
//! libwebp's `WebPGetFeatures` does not report it; the bitstream carries the quantiser
//! indices the encoder chose (what `webpinfo -bitstream_info` prints), and libwebp picks
//! them from the quality by a fixed formula (`VP8SetSegmentParams`, src/enc/quant_enc.c):
//!
//! ```text
//! linear = Q < 0.75 ? Q·2/3 : 2Q − 1          (Q = quality / 100)
//! c_base = linear^(1/3)
//! q_s    = trunc(127 · (1 − c_base^(1 − k·α_s)))   for each segment s (k = 0.9·sns/100/128)
//! ```
//!
//! where α_s, the segment's "susceptibility", is its centre minus the macroblocks' mean
//! (`VP8SetSegmentAlphas`): averaged over the macroblocks it is 0, so the geometric mean of
//! the segments' `1 − q_s/127`, each weighted by its share of the macroblocks (which the
//! segment map's tree probabilities carry, as libwebp derives them from the counts), is
//! `c_base` whatever the spatial noise shaping strength. Inverting the two lines above gives
//! the quality back. Without segments the one quantiser (`y_ac_qi` of the frame header) is
//! `127·(1 − c_base)` itself.
//!
//! The indices are integers (a step of about 1.5 quality points at q 75, 3 near 95), and the
//! truncation makes the estimate slightly high: files written by cwebp at -q 50, 75 and 90
//! come back within ±2 (see the tests, and tests/processor/test_cli.py).

/// A RIFF chunk: its FourCC and payload.
fn chunks(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let (tag, len) = (&data[..4], u32::from_le_bytes(data[4..8].try_into().ok()?));
        let end = 8usize.saturating_add(len as usize).min(data.len());
        let payload = &data[8..end];
        data = &data[end.saturating_add(len as usize & 1).min(data.len())..];
        Some((tag, payload))
    })
}

/// The payload of the first `VP8 ` chunk: the still picture's, or the first frame's.
fn first_vp8(data: &[u8]) -> Option<&[u8]> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WEBP" {
        return None;
    }
    chunks(&data[12..]).find_map(|(tag, payload)| match tag {
        b"VP8 " => Some(payload),
        // ANMF: 16 bytes of frame header, then the frame's own chunks.
        b"ANMF" => chunks(payload.get(16..)?).find_map(|(t, p)| (t == b"VP8 ").then_some(p)),
        _ => None,
    })
}

/// Whether `data` is a WebP whose (first) picture is lossless (VP8L).
pub(crate) fn is_lossless(data: &[u8]) -> bool {
    data.len() >= 12
        && chunks(&data[12..]).any(|(tag, payload)| {
            tag == b"VP8L"
                || (tag == b"ANMF"
                    && payload
                        .get(16..)
                        .is_some_and(|p| chunks(p).any(|(t, _)| t == b"VP8L")))
        })
}

/// VP8's boolean entropy decoder (RFC 6386, section 7), enough for the frame header.
struct BoolDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    value: u32,
    range: u32,
    bits: u32,
}

impl<'a> BoolDecoder<'a> {
    fn new(data: &'a [u8]) -> BoolDecoder<'a> {
        let byte = |i: usize| u32::from(data.get(i).copied().unwrap_or(0));
        BoolDecoder {
            data,
            pos: 2,
            value: (byte(0) << 8) | byte(1),
            range: 255,
            bits: 0,
        }
    }

    fn bool(&mut self, prob: u32) -> bool {
        let split = 1 + (((self.range - 1) * prob) >> 8);
        let big_split = split << 8;
        let bit = self.value >= big_split;
        if bit {
            self.range -= split;
            self.value -= big_split;
        } else {
            self.range = split;
        }
        while self.range < 128 {
            self.value <<= 1;
            self.range <<= 1;
            self.bits += 1;
            if self.bits == 8 {
                self.bits = 0;
                self.value |= u32::from(self.data.get(self.pos).copied().unwrap_or(0));
                self.pos += 1;
            }
        }
        bit
    }

    fn flag(&mut self) -> bool {
        self.bool(128)
    }

    /// An n-bit unsigned literal, most significant bit first.
    fn literal(&mut self, n: u32) -> i32 {
        (0..n).fold(0, |v, _| (v << 1) | i32::from(self.flag()))
    }

    /// A flagged, signed n-bit value (absent: 0).
    fn signed(&mut self, n: u32) -> i32 {
        if !self.flag() {
            return 0;
        }
        let v = self.literal(n);
        if self.flag() {
            -v
        } else {
            v
        }
    }
}

/// The luma AC quantiser index of each segment (one when segmentation is off) with the
/// share of the macroblocks in it, read from a VP8 key frame's header.
fn quantisers(vp8: &[u8]) -> Option<Vec<(i32, f64)>> {
    let tag =
        u32::from(*vp8.first()?) | u32::from(*vp8.get(1)?) << 8 | u32::from(*vp8.get(2)?) << 16;
    if tag & 1 != 0 || vp8.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None; // not a key frame
    }
    let first_partition = (tag >> 5) as usize;
    let header = vp8.get(10..)?;
    let mut d = BoolDecoder::new(&header[..first_partition.min(header.len())]);
    d.flag(); // colour space
    d.flag(); // clamping type
    let mut segments: Option<(bool, [i32; 4])> = None;
    // The segment map's tree probabilities (255 when not sent), from the segments' sizes.
    let mut tree = [255.0f64; 3];
    if d.flag() {
        let update_map = d.flag();
        if d.flag() {
            let absolute = d.flag();
            let mut q = [0; 4];
            for v in &mut q {
                *v = d.signed(7);
            }
            for _ in 0..4 {
                d.signed(6); // loop filter level
            }
            segments = Some((absolute, q));
        }
        if update_map {
            for p in &mut tree {
                if d.flag() {
                    *p = f64::from(d.literal(8));
                }
            }
        }
    }
    d.flag(); // filter type
    d.literal(6); // loop filter level
    d.literal(3); // sharpness
    if d.flag() && d.flag() {
        for _ in 0..8 {
            d.signed(6); // reference frame and mode deltas
        }
    }
    d.literal(2); // DCT partitions
    let y_ac_qi = d.literal(7);
    let Some((absolute, q)) = segments else {
        return Some(vec![(y_ac_qi, 1.0)]);
    };
    let [left, left_left, right_left] = tree.map(|p| p / 255.0);
    let shares = [
        left * left_left,
        left * (1.0 - left_left),
        (1.0 - left) * right_left,
        (1.0 - left) * (1.0 - right_left),
    ];
    let base = if absolute { 0 } else { y_ac_qi };
    Some(q.iter().zip(shares).map(|(dq, w)| (base + dq, w)).collect())
}

/// libwebp's quality (1–100) for `c_base`, the inverse of its `QualityToCompression`.
fn quality_of(c_base: f64) -> u8 {
    let linear = c_base.clamp(0.0, 1.0).powi(3);
    let q = if linear < 0.5 {
        linear * 1.5
    } else {
        (linear + 1.0) / 2.0
    };
    (q * 100.0).round().clamp(1.0, 100.0) as u8
}

/// The estimated quality of a lossy WebP (its first frame for an animation); `None` when
/// it has no readable VP8 key frame (a lossless WebP, or a damaged one).
pub fn estimate(data: &[u8]) -> Option<u8> {
    let segments = quantisers(first_vp8(data)?)?;
    // libwebp truncates 127·(1 − c): the index stands for index + ½ on average.
    let ln_c = |qi: i32| {
        (1.0 - (f64::from(qi.clamp(0, 127)) + 0.5) / 127.0)
            .max(0.002)
            .ln()
    };
    let total: f64 = segments.iter().map(|&(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let mean = segments.iter().map(|&(q, w)| w * ln_c(q)).sum::<f64>() / total;
    Some(quality_of(mean.exp()))
}

#[cfg(test)]
#[path = "webp_quality_tests.rs"]
mod tests;
