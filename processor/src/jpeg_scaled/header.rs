//! The marker segments before each scan: frame, tables, restart interval, scan header.

use super::huffman::Huffman;
use super::idct::Plane;

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
pub(super) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

pub(super) struct Component {
    pub(super) id: u8,
    pub(super) h: usize,
    pub(super) v: usize,
    pub(super) quant: usize,
    pub(super) dc_table: usize,
    pub(super) ac_table: usize,
}

#[derive(Default)]
pub(super) struct Header {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) progressive: bool,
    pub(super) components: Vec<Component>,
    pub(super) quant: [Option<[u16; 64]>; 4],
    pub(super) dc: [Option<Huffman>; 4],
    pub(super) ac: [Option<Huffman>; 4],
    pub(super) restart_interval: usize,
    pub(super) adobe_rgb: bool,
}

/// One SOS: which components (indices into the frame's), and for progressive files the
/// spectral band `ss..=se` and the successive-approximation bits `ah`, `al`.
pub(super) struct Scan {
    pub(super) components: Vec<usize>,
    pub(super) ss: usize,
    pub(super) se: usize,
    pub(super) ah: u32,
    pub(super) al: u32,
}

impl Scan {
    pub(super) fn spectrum(&self) -> (usize, usize, u32, u32) {
        (self.ss, self.se, self.ah, self.al)
    }
}

impl Header {
    /// Reads marker segments from `pos` up to the next scan, which it returns with `pos` at
    /// the scan's entropy-coded data; `Some(None)` at the end of the image, `None` for what
    /// this decoder does not cover or cannot read.
    pub(super) fn read_to_scan(&mut self, jpeg: &[u8], pos: &mut usize) -> Option<Option<Scan>> {
        loop {
            if *jpeg.get(*pos)? != 0xFF {
                return None;
            }
            while *jpeg.get(*pos)? == 0xFF {
                *pos += 1;
            }
            let marker = *jpeg.get(*pos)?;
            *pos += 1;
            match marker {
                0x01 | 0xD0..=0xD7 => continue,
                0xD9 => return Some(None),
                _ => {}
            }
            let at = *pos;
            let len = usize::from(u16::from_be_bytes([*jpeg.get(at)?, *jpeg.get(at + 1)?]));
            let segment = jpeg.get(at + 2..at.checked_add(len)?)?;
            *pos += len;
            match marker {
                // Baseline, extended sequential and progressive, Huffman-coded.
                0xC0..=0xC2 if self.components.is_empty() => {
                    self.progressive = marker == 0xC2;
                    self.frame(segment)?;
                }
                0xC4 => self.huffman(segment)?,
                0xDB => self.quantisation(segment)?,
                0xDD => self.restart_interval = usize::from(be16(segment, 0)?),
                0xEE => {
                    // Adobe APP14 with transform 0: the three components are RGB, not YCbCr.
                    self.adobe_rgb = segment.starts_with(b"Adobe") && segment.get(11) == Some(&0);
                }
                0xDA => {
                    let rgb_ids = self.components.iter().map(|c| c.id).eq(*b"RGB");
                    if self.adobe_rgb || rgb_ids {
                        return None;
                    }
                    return Some(Some(self.scan(segment)?));
                }
                // A second frame, lossless, hierarchical, arithmetic-coded: the general decoder.
                0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
                _ => {}
            }
        }
    }

    fn frame(&mut self, s: &[u8]) -> Option<()> {
        if *s.first()? != 8 {
            return None;
        }
        self.height = usize::from(be16(s, 1)?);
        self.width = usize::from(be16(s, 3)?);
        let count = usize::from(*s.get(5)?);
        if self.width == 0 || self.height == 0 || !(count == 1 || count == 3) {
            return None;
        }
        for i in 0..count {
            let c = s.get(6 + 3 * i..9 + 3 * i)?;
            let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if !(1..=2).contains(&h) || !(1..=2).contains(&v) || c[2] > 3 {
                return None;
            }
            // One component is never interleaved: its factors mean nothing, so they are 1.
            let (h, v) = if count == 1 { (1, 1) } else { (h, v) };
            self.components.push(Component {
                id: c[0],
                h,
                v,
                quant: usize::from(c[2]),
                dc_table: 0,
                ac_table: 0,
            });
        }
        Some(())
    }

    fn quantisation(&mut self, mut s: &[u8]) -> Option<()> {
        while let Some(&pq_tq) = s.first() {
            let (sixteen, id) = (pq_tq >> 4 == 1, usize::from(pq_tq & 15));
            let size = if sixteen { 128 } else { 64 };
            let body = s.get(1..1 + size)?;
            let mut table = [0u16; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[usize::from(natural)] = if sixteen {
                    u16::from_be_bytes([body[2 * k], body[2 * k + 1]])
                } else {
                    u16::from(body[k])
                };
            }
            *self.quant.get_mut(id)? = Some(table);
            s = &s[1 + size..];
        }
        Some(())
    }

    fn huffman(&mut self, mut s: &[u8]) -> Option<()> {
        while let Some(&tc_th) = s.first() {
            let (class, id) = (tc_th >> 4, usize::from(tc_th & 15));
            let counts = s.get(1..17)?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let values = s.get(17..17 + total)?;
            let table = Huffman::new(counts, values, class == 1)?;
            match class {
                0 => *self.dc.get_mut(id)? = Some(table),
                1 => *self.ac.get_mut(id)? = Some(table),
                _ => return None,
            }
            s = &s[17 + total..];
        }
        Some(())
    }

    fn scan(&mut self, s: &[u8]) -> Option<Scan> {
        let count = usize::from(*s.first()?);
        if count == 0 || count > self.components.len() {
            return None;
        }
        let mut components = Vec::with_capacity(count);
        for i in 0..count {
            let c = s.get(1 + 2 * i..3 + 2 * i)?;
            let index = self.components.iter().position(|k| k.id == c[0])?;
            if components.contains(&index) {
                return None;
            }
            let component = &mut self.components[index];
            component.dc_table = usize::from(c[1] >> 4);
            component.ac_table = usize::from(c[1] & 15);
            components.push(index);
        }
        let tail = s.get(1 + 2 * count..4 + 2 * count)?;
        let scan = Scan {
            components,
            ss: usize::from(tail[0]),
            se: usize::from(tail[1]),
            ah: u32::from(tail[2] >> 4),
            al: u32::from(tail[2] & 15),
        };
        // The tables this scan will use must exist: a DC scan needs no AC table, and a
        // refinement of DC needs no table at all.
        for &i in &scan.components {
            let c = &self.components[i];
            self.quant.get(c.quant)?.as_ref()?;
            if scan.ss == 0 && scan.ah == 0 {
                self.dc.get(c.dc_table)?.as_ref()?;
            }
            if scan.se > 0 || !self.progressive {
                self.ac.get(c.ac_table)?.as_ref()?;
            }
        }
        Some(scan)
    }
}

pub(super) fn be16(s: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*s.get(at)?, *s.get(at + 1)?]))
}

impl Header {
    /// The largest horizontal and vertical sampling factors (1 when there is no frame yet).
    pub(super) fn max_factors(&self) -> (usize, usize) {
        let max = |f: fn(&Component) -> usize| self.components.iter().map(f).max().unwrap_or(1);
        (max(|c| c.h), max(|c| c.v))
    }

    /// MCUs across and down: the frame in units of the largest sampling factors' blocks.
    pub(super) fn mcus(&self) -> Option<(usize, usize)> {
        if self.components.is_empty() {
            return None;
        }
        let (h_max, v_max) = self.max_factors();
        Some((
            self.width.div_ceil(8 * h_max),
            self.height.div_ceil(8 * v_max),
        ))
    }

    /// Each component's blocks at `n`×`n` pixels, padded to whole MCUs.
    pub(super) fn planes(&self, n: usize) -> Option<Vec<Plane>> {
        let (mcu_x, mcu_y) = self.mcus()?;
        Some(
            self.components
                .iter()
                .map(|c| {
                    let (stride, rows) = (mcu_x * c.h * n, mcu_y * c.v * n);
                    Plane {
                        pixels: vec![0; stride * rows],
                        stride,
                        rows,
                    }
                })
                .collect(),
        )
    }

    /// A component's table, dequantising the `n`×`n` kept coefficients (slot order).
    pub(super) fn dequant(&self, component: &Component, n: usize) -> Option<[f32; 16]> {
        let q = self.quant.get(component.quant)?.as_ref()?;
        let mut dequant = [0f32; 16];
        for (slot, d) in dequant.iter_mut().enumerate().take(n * n) {
            *d = f32::from(q[(slot / n) * 8 + slot % n]);
        }
        Some(dequant)
    }
}
