//! Shrink-on-load for baseline JPEG: decode at 1/2, 1/4 or 1/8 of the size in the DCT
//! domain, as libjpeg's `scale_denom` does for vipsthumbnail and Pillow's `draft`.
//!
//! Hand-written because it wins and no maintained crate does it at speed: zune-jpeg has no
//! scaled IDCT, and jpeg-decoder's scaled path dequantises and stores all 64 coefficients
//! of every block, runs its IDCT on helper threads and spends most of a thumbnail's time in
//! its Huffman loop (profile in benches/README.md). Here every block is still
//! entropy-decoded, because the bitstream leaves no choice, but only the n×n low-frequency
//! coefficients that an n-point IDCT needs are kept (n = 8 / denominator; 1/8 is DC only),
//! chroma is upsampled at the reduced size, and nothing full-size is ever allocated.
//!
//! It covers what cameras and phones write: baseline or extended Huffman, 8-bit, one scan
//! holding every component, 1 (grey) or 3 (YCbCr) components, sampling factors 1 or 2. For
//! anything else, or anything irregular in the stream, [`decode`] answers `None` and the
//! caller uses the general decoder, so a damaged file is judged the same way on every path.

use image::{DynamicImage, GrayImage, RgbImage};

mod progressive;

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Bits resolved by one table lookup; longer codes (rare in photos) take the slow path.
const FAST_BITS: u32 = 11;
const FAST_MASK: usize = (1 << FAST_BITS) - 1;
const UNUSED: u8 = u8::MAX;

/// Decodes `jpeg` (starting at its SOI) at 1/`denom` of its size (`denom` 2, 4 or 8),
/// rounding up as libjpeg does. `None` when the file is outside what this decoder covers.
pub(crate) fn decode(jpeg: &[u8], denom: u32) -> Option<DynamicImage> {
    let n = match denom {
        2 => 4,
        4 => 2,
        8 => 1,
        _ => return None,
    };
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut header = Header::default();
    let mut pos = 2;
    let scan = header.read_to_scan(jpeg, &mut pos)??;
    let planes = if header.progressive {
        progressive::decode(&mut header, jpeg, scan, pos, n)?
    } else if scan
        .components
        .iter()
        .copied()
        .eq(0..header.components.len())
        && scan.spectrum() == (0, 63, 0, 0)
    {
        decode_scan(&header, jpeg.get(pos..)?, n)?
    } else {
        // Sequential with one scan per component: rare enough for the general decoder.
        return None;
    };
    let out_w = header.width.div_ceil(denom as usize);
    let out_h = header.height.div_ceil(denom as usize);
    Some(assemble(&header, &planes, out_w, out_h))
}

/// Whether `jpeg` (from its SOI) is a sequential JPEG coded one scan per component rather
/// than in one interleaved scan, as jpeg-encoder writes with optimised tables. Valid, but
/// zune-jpeg decodes such files with wrong colours (0.4: the last MCU row; 0.5: all of it).
pub(crate) fn has_scan_per_component(jpeg: &[u8]) -> bool {
    let mut header = Header::default();
    let mut pos = 2;
    match header.read_to_scan(jpeg, &mut pos) {
        Some(Some(scan)) => !header.progressive && scan.components.len() < header.components.len(),
        _ => false,
    }
}

/// For a progressive JPEG, its number of components (read from the frame header); `None`
/// for any other file.
pub(crate) fn progressive_components(jpeg: &[u8]) -> Option<u8> {
    let mut pos = 2;
    loop {
        while *jpeg.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *jpeg.get(pos)?;
        let len = usize::from(be16(jpeg, pos + 1)?);
        match marker {
            0xC2 => return jpeg.get(pos + 8).copied(),
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9 => {
                return None
            }
            _ => pos += 1 + len,
        }
    }
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

#[derive(Default)]
struct Header {
    width: usize,
    height: usize,
    progressive: bool,
    components: Vec<Component>,
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    adobe_rgb: bool,
}

/// One SOS: which components (indices into the frame's), and for progressive files the
/// spectral band `ss..=se` and the successive-approximation bits `ah`, `al`.
struct Scan {
    components: Vec<usize>,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
}

impl Scan {
    fn spectrum(&self) -> (usize, usize, u32, u32) {
        (self.ss, self.se, self.ah, self.al)
    }
}

impl Header {
    /// Reads marker segments from `pos` up to the next scan, which it returns with `pos` at
    /// the scan's entropy-coded data; `Some(None)` at the end of the image, `None` for what
    /// this decoder does not cover or cannot read.
    fn read_to_scan(&mut self, jpeg: &[u8], pos: &mut usize) -> Option<Option<Scan>> {
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

fn be16(s: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*s.get(at)?, *s.get(at + 1)?]))
}

/// A canonical Huffman table with a direct lookup for codes of up to [`FAST_BITS`].
struct Huffman {
    /// `(length << 8) | symbol` for every [`FAST_BITS`]-bit prefix that starts with a short
    /// code; 0 if the code is longer.
    lookup: Box<[u16; 1 << FAST_BITS]>,
    /// For AC tables: a short code *and* its value bits within [`FAST_BITS`], resolved at once:
    /// `(value << 16) | (run << 8) | total_length`; 0 when not resolvable so.
    fast_ac: Box<[i32; 1 << FAST_BITS]>,
    /// For AC tables: up to two symbols that are only skipped, resolved at once.
    skip: Box<[SkipEntry; 1 << FAST_BITS]>,
    max_code: [i32; 17],
    offset: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8], values: &[u8], ac: bool) -> Option<Huffman> {
        let mut lookup = Box::new([0u16; 1 << FAST_BITS]);
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16 {
            let count = usize::from(counts[len - 1]);
            offset[len] = k as i32 - code;
            for _ in 0..count {
                if len as u32 <= FAST_BITS {
                    let shift = FAST_BITS - len as u32;
                    let first = (code as usize) << shift;
                    let entry = ((len as u16) << 8) | u16::from(values[k]);
                    lookup.get_mut(first..first + (1 << shift))?.fill(entry);
                }
                code += 1;
                k += 1;
            }
            if count > 0 {
                max_code[len] = code - 1;
            }
            // A code longer than its length allows: the table is not a prefix code.
            if code > 1 << len {
                return None;
            }
            code <<= 1;
        }
        let mut fast_ac = Box::new([0i32; 1 << FAST_BITS]);
        if ac {
            for (bits, slot) in fast_ac.iter_mut().enumerate() {
                let entry = lookup[bits];
                let (len, rs) = (u32::from(entry >> 8), u32::from(entry & 0xFF));
                let (run, size) = (rs >> 4, rs & 15);
                if len == 0 || size == 0 || len + size > FAST_BITS {
                    continue;
                }
                let raw = (bits as u32 >> (FAST_BITS - len - size)) & ((1 << size) - 1);
                let value = extend(raw, size);
                *slot = (value << 16) | (run << 8) as i32 | (len + size) as i32;
            }
        }
        let skip = if ac {
            skip_table(&lookup)
        } else {
            Box::new([SkipEntry::UNRESOLVED; 1 << FAST_BITS])
        };
        Some(Huffman {
            lookup,
            fast_ac,
            skip,
            max_code,
            offset,
            values: values.to_vec(),
        })
    }
}

/// A skip-table entry, packed into a `u32` because the table is read once per symbol pair
/// and must stay small in L1: the first symbol's bits (code and value) and how far it moves
/// the zig-zag position, then the same for both symbols together. Past the coefficients an
/// n×n IDCT keeps, a block's remaining symbols need only their lengths and runs, and two
/// of them usually fit in [`FAST_BITS`]: one lookup then replaces two dependent ones, which
/// is what bounds this loop. A first symbol that ends the block (an end of block, or a run
/// reaching position 64) must not take the second, which then belongs to the next block;
/// [`skip_rest`] decides that at run time.
#[derive(Clone, Copy)]
struct SkipEntry(u32);

impl SkipEntry {
    /// The first code is longer than [`FAST_BITS`]: the symbol takes the general path.
    const UNRESOLVED: SkipEntry = SkipEntry(0);

    fn new(bits_one: u32, advance_one: u32, bits_both: u32, advance_both: u32) -> SkipEntry {
        SkipEntry(bits_one | advance_one << 5 | bits_both << 13 | advance_both << 19)
    }

    /// Bits and zig-zag advance of the first symbol.
    #[inline(always)]
    fn one(self) -> (u32, usize) {
        (self.0 & 31, (self.0 >> 5 & 0xFF) as usize)
    }

    /// Bits and zig-zag advance of both symbols (of the first alone when no second fits).
    #[inline(always)]
    fn both(self) -> (u32, usize) {
        (self.0 >> 13 & 63, (self.0 >> 19 & 0xFF) as usize)
    }
}

/// How a decoded AC symbol moves the zig-zag position: its run and itself, 16 for a run of
/// zeros (ZRL), past [`END_OF_BLOCK`] for an end of block; `None` for an impossible size.
fn skip_advance(rs: u32) -> Option<u32> {
    let (run, size) = (rs >> 4, rs & 15);
    match (run, size) {
        (15, 0) => Some(16),
        (_, 0) => Some(END_OF_BLOCK as u32 + 1),
        (_, 11..) => None,
        _ => Some(run + 1),
    }
}

fn skip_table(lookup: &[u16; 1 << FAST_BITS]) -> Box<[SkipEntry; 1 << FAST_BITS]> {
    let mut skip = Box::new([SkipEntry::UNRESOLVED; 1 << FAST_BITS]);
    for (bits, slot) in skip.iter_mut().enumerate() {
        let entry = lookup[bits];
        let (len, rs) = (u32::from(entry >> 8), u32::from(entry & 0xFF));
        let Some(advance) = skip_advance(rs).filter(|_| len > 0) else {
            continue;
        };
        let total = len + (rs & 15);
        let (mut bits_both, mut advance_both) = (total, advance);
        if advance <= 16 && total < FAST_BITS {
            let rest = (bits << total) & FAST_MASK;
            let second = lookup[rest];
            let (len2, rs2) = (u32::from(second >> 8), u32::from(second & 0xFF));
            if len2 > 0 && len2 <= FAST_BITS - total {
                if let Some(advance2) = skip_advance(rs2) {
                    bits_both = total + len2 + (rs2 & 15);
                    advance_both = advance + advance2;
                }
            }
        }
        *slot = SkipEntry::new(total, advance, bits_both, advance_both);
    }
    skip
}

/// JPEG's sign extension of an `size`-bit magnitude category value.
#[inline]
fn extend(raw: u32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if raw < 1 << (size - 1) {
        raw as i32 - (1 << size) + 1
    } else {
        raw as i32
    }
}

/// The entropy-coded segment as a bit stream: byte stuffing removed, stopping at the first
/// marker (restart markers are consumed by [`Bits::restart`]).
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Left-aligned: the next bit is bit 63.
    buf: u64,
    count: u32,
    marker: Option<u8>,
    /// Zero bytes fed after a marker or the end of data; a sound stream needs almost none.
    padding: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            buf: 0,
            count: 0,
            marker: None,
            padding: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        // Whole bytes at once while the next eight hold no 0xFF (stuffing or a marker),
        // which is nearly always: this loop is most of a thumbnail's decode time.
        if let Some(next) = self.data.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(next.try_into().unwrap_or([0xFF; 8]));
            let inverted = !word;
            let has_ff =
                inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080
                    != 0;
            if !has_ff && self.marker.is_none() {
                let take = (63 - self.count) / 8;
                let bits = self.count + 8 * take;
                self.buf |= (word >> self.count) & !(u64::MAX >> bits);
                self.count = bits;
                self.pos += take as usize;
                return;
            }
        }
        while self.count <= 56 {
            let byte = self.next_byte();
            self.buf |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline(always)]
    fn next_byte(&mut self) -> u8 {
        if self.marker.is_none() {
            match self.data.get(self.pos) {
                Some(&0xFF) => {}
                Some(&b) => {
                    self.pos += 1;
                    return b;
                }
                None => self.marker = Some(0xD9),
            }
            if self.marker.is_none() {
                let mut p = self.pos + 1;
                while self.data.get(p) == Some(&0xFF) {
                    p += 1;
                }
                match self.data.get(p) {
                    Some(0) => {
                        self.pos = p + 1;
                        return 0xFF;
                    }
                    Some(&m) => {
                        self.marker = Some(m);
                        self.pos = p + 1;
                    }
                    None => self.marker = Some(0xD9),
                }
            }
        }
        self.padding += 1;
        0
    }

    #[inline]
    fn peek(&self, bits: u32) -> u32 {
        (self.buf >> (64 - bits)) as u32
    }

    #[inline]
    fn consume(&mut self, bits: u32) {
        self.buf <<= bits;
        self.count -= bits;
    }

    /// At least 32 bits buffered (zeros past the end of the scan).
    #[inline(always)]
    fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// One bit; the caller has made sure one is buffered.
    #[inline]
    fn bit(&mut self) -> bool {
        let set = self.peek(1) == 1;
        self.consume(1);
        set
    }

    /// `size` bits (at most 16; the caller has refilled) as an unsigned number.
    #[inline]
    fn take(&mut self, size: u32) -> u32 {
        if size == 0 {
            return 0;
        }
        let raw = self.peek(size);
        self.consume(size);
        raw
    }

    /// Where the marker that ends this entropy-coded segment starts, as an offset into the
    /// data: the next scan's headers are read from there.
    fn next_marker(&self) -> usize {
        if self.marker.is_some() {
            // The reader stopped just after the marker's code: back to its 0xFF.
            return self.pos.saturating_sub(2).min(self.data.len());
        }
        let mut p = self.pos;
        while p + 1 < self.data.len() {
            if self.data[p] == 0xFF && self.data[p + 1] != 0 && self.data[p + 1] != 0xFF {
                return p;
            }
            p += 1;
        }
        self.data.len()
    }

    /// Reads `size` bits (at most 16; the caller has refilled) and sign-extends them.
    #[inline]
    fn receive_extend(&mut self, size: u32) -> i32 {
        extend(self.take(size), size)
    }

    /// Decodes one symbol; the caller has refilled (at least 16 bits are buffered).
    #[inline(always)]
    fn symbol(&mut self, table: &Huffman) -> Option<u8> {
        let entry = table.lookup[self.peek(FAST_BITS) as usize & FAST_MASK];
        if entry != 0 {
            self.consume(u32::from(entry >> 8));
            return Some(entry as u8);
        }
        let code = self.peek(16) as i32;
        for len in FAST_BITS as usize + 1..=16 {
            let prefix = code >> (16 - len);
            if prefix <= table.max_code[len] {
                self.consume(len as u32);
                return table
                    .values
                    .get(usize::try_from(prefix + table.offset[len]).ok()?)
                    .copied();
            }
        }
        None
    }

    /// At a restart interval: drop the bits left in the byte and expect an RSTn marker.
    fn restart(&mut self) -> Option<()> {
        self.buf = 0;
        self.count = 0;
        // The look-ahead ran into the marker and fed zeros past it; none of them were data.
        self.padding = 0;
        let marker = match self.marker.take() {
            Some(m) => m,
            None => {
                if self.data.get(self.pos)? != &0xFF {
                    return None;
                }
                while self.data.get(self.pos) == Some(&0xFF) {
                    self.pos += 1;
                }
                let m = *self.data.get(self.pos)?;
                self.pos += 1;
                m
            }
        };
        (0xD0..=0xD7).contains(&marker).then_some(())
    }
}

/// One component's pixels at the reduced size, padded to whole blocks.
struct Plane {
    pixels: Vec<u8>,
    stride: usize,
    rows: usize,
}

/// Which of the 64 zig-zag positions an n×n IDCT keeps, and where: slot `row * n + col`.
fn kept_slots(n: usize) -> ([u8; 64], usize) {
    let mut slots = [UNUSED; 64];
    let mut last = 0;
    for (k, &natural) in ZIGZAG.iter().enumerate() {
        let (row, col) = (usize::from(natural) / 8, usize::from(natural) % 8);
        if row < n && col < n {
            slots[k] = (row * n + col) as u8;
            last = k;
        }
    }
    (slots, last)
}

impl Header {
    /// The largest horizontal and vertical sampling factors (1 when there is no frame yet).
    fn max_factors(&self) -> (usize, usize) {
        let max = |f: fn(&Component) -> usize| self.components.iter().map(f).max().unwrap_or(1);
        (max(|c| c.h), max(|c| c.v))
    }

    /// MCUs across and down: the frame in units of the largest sampling factors' blocks.
    fn mcus(&self) -> Option<(usize, usize)> {
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
    fn planes(&self, n: usize) -> Option<Vec<Plane>> {
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
    fn dequant(&self, component: &Component, n: usize) -> Option<[f32; 16]> {
        let q = self.quant.get(component.quant)?.as_ref()?;
        let mut dequant = [0f32; 16];
        for (slot, d) in dequant.iter_mut().enumerate().take(n * n) {
            *d = f32::from(q[(slot / n) * 8 + slot % n]);
        }
        Some(dequant)
    }
}

/// A sequential scan holding every component, decoded straight into reduced planes.
fn decode_scan(header: &Header, scan: &[u8], n: usize) -> Option<Vec<Plane>> {
    let (mcu_x, mcu_y) = header.mcus()?;
    let blocks: Vec<(usize, usize)> = header.components.iter().map(|c| (c.h, c.v)).collect();
    let mut planes = header.planes(n)?;
    let (slots, last_kept) = kept_slots(n);
    let idct = Idct::new(n);
    let tables: Vec<(&Huffman, &Huffman, [f32; 16])> = header
        .components
        .iter()
        .map(|c| {
            Some((
                header.dc.get(c.dc_table)?.as_ref()?,
                header.ac.get(c.ac_table)?.as_ref()?,
                header.dequant(c, n)?,
            ))
        })
        .collect::<Option<_>>()?;
    let mut bits = Bits::new(scan);
    let mut predictions = vec![0i32; header.components.len()];
    let mut coefficients = [0i32; 16];
    let mut mcu = 0usize;
    for my in 0..mcu_y {
        for mx in 0..mcu_x {
            if header.restart_interval > 0 && mcu > 0 && mcu.is_multiple_of(header.restart_interval)
            {
                bits.restart()?;
                predictions.fill(0);
            }
            mcu += 1;
            for (c, &(h, v)) in blocks.iter().enumerate() {
                let (dc, ac, dequant) = &tables[c];
                for by in 0..v {
                    for bx in 0..h {
                        coefficients[..n * n].fill(0);
                        decode_block(
                            &mut bits,
                            dc,
                            ac,
                            &mut predictions[c],
                            &mut coefficients,
                            &slots,
                            last_kept,
                        )?;
                        let plane = &mut planes[c];
                        let x = (mx * h + bx) * n;
                        let y = (my * v + by) * n;
                        idct.block(&coefficients, dequant, plane, x, y);
                    }
                }
            }
            // More than a few zero bytes fed: the scan ended (or was cut) before its blocks.
            if bits.padding > 16 {
                return None;
            }
        }
    }
    Some(planes)
}

#[inline]
fn decode_block(
    stream: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    prediction: &mut i32,
    out: &mut [i32; 16],
    slots: &[u8; 64],
    last_kept: usize,
) -> Option<()> {
    // A copy the optimiser can keep in registers: through the `&mut`, the bit buffer lived
    // in memory and every shift was a load and a store on the critical path.
    let mut bits = *stream;
    let bits = &mut bits;
    bits.refill();
    let size = u32::from(bits.symbol(dc)?);
    if size > 11 {
        return None;
    }
    *prediction = prediction.wrapping_add(bits.receive_extend(size));
    out[0] = *prediction;
    // The kept low frequencies come first in zig-zag order; past them the coefficients are
    // only skipped, in a loop with nothing else to do.
    let mut k = 1usize;
    while k <= last_kept {
        let (run, value) = next_ac(bits, ac)?;
        k += run;
        if k > 63 {
            *stream = *bits;
            return (k >= END_OF_BLOCK).then_some(());
        }
        let slot = slots[k];
        if slot != UNUSED {
            out[usize::from(slot)] = value;
        }
        k += 1;
    }
    let k = skip_rest(bits, ac, k)?;
    *stream = *bits;
    // Past 64 without an end of block: a run ran off the block.
    (k == 64 || k > END_OF_BLOCK).then_some(())
}

/// Skips a block's symbols from zig-zag position `k` to its end; answers the final position.
#[inline(always)]
fn skip_rest(bits: &mut Bits, ac: &Huffman, mut k: usize) -> Option<usize> {
    while k < 64 {
        if bits.count < 32 {
            bits.refill();
        }
        let e = ac.skip[bits.peek(FAST_BITS) as usize & FAST_MASK];
        if e.0 == SkipEntry::UNRESOLVED.0 {
            k += next_ac(bits, ac)?.0 + 1;
            continue;
        }
        let (len, advance) = if k + e.one().1 < 64 {
            e.both()
        } else {
            e.one()
        };
        bits.consume(len);
        k += advance;
    }
    Some(k)
}

/// What [`next_ac`] adds to k at an end of block: past any position a run can reach
/// (63 + 16), and small enough that two symbols' advances fit in a [`SkipEntry`].
const END_OF_BLOCK: usize = 128;

/// The next AC coefficient: the zeros before it (its run) and its value; a ZRL is 15 zeros
/// then a zero, and an end of block advances by [`END_OF_BLOCK`].
#[inline(always)]
fn next_ac(bits: &mut Bits, ac: &Huffman) -> Option<(usize, i32)> {
    if bits.count < 32 {
        bits.refill();
    }
    let fast = ac.fast_ac[bits.peek(FAST_BITS) as usize & FAST_MASK];
    if fast != 0 {
        bits.consume((fast & 0xFF) as u32);
        return Some((((fast >> 8) & 15) as usize, fast >> 16));
    }
    let rs = bits.symbol(ac)?;
    let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
    match (run, size) {
        (15, 0) => Some((15, 0)),
        (_, 0) => Some((END_OF_BLOCK, 0)),
        (_, 11..) => None,
        _ => Some((run, bits.receive_extend(size))),
    }
}

/// The n-point IDCT of a block's n×n low frequencies, with the 8-point normalisation, so
/// that n = 1 yields the block's mean (DC / 8) and larger n add the detail that survives at
/// that size (what libjpeg's `jidctred.c` computes).
struct Idct {
    n: usize,
    /// `basis[x * n + u] = C(u) / 2 · cos((2x + 1) u π / 2n)`.
    basis: [f32; 16],
}

impl Idct {
    fn new(n: usize) -> Idct {
        let mut basis = [0f32; 16];
        for x in 0..n {
            for u in 0..n {
                let c = if u == 0 {
                    std::f32::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = (2 * x + 1) as f32 * u as f32 * std::f32::consts::PI / (2 * n) as f32;
                basis[x * n + u] = c / 2.0 * angle.cos();
            }
        }
        Idct { n, basis }
    }

    #[inline]
    fn block(
        &self,
        coefficients: &[i32; 16],
        dequant: &[f32; 16],
        plane: &mut Plane,
        x: usize,
        y: usize,
    ) {
        // One copy per size, so that the loops unroll and the basis indices are constants.
        match self.n {
            1 => self.block_n::<1>(coefficients, dequant, plane, x, y),
            2 => self.block_n::<2>(coefficients, dequant, plane, x, y),
            _ => self.block_n::<4>(coefficients, dequant, plane, x, y),
        }
    }

    #[inline(always)]
    fn block_n<const N: usize>(
        &self,
        coefficients: &[i32; 16],
        dequant: &[f32; 16],
        plane: &mut Plane,
        x: usize,
        y: usize,
    ) {
        let mut f = [0f32; 16];
        let mut ac = 0;
        for slot in 0..N * N {
            f[slot] = coefficients[slot] as f32 * dequant[slot];
            ac |= if slot == 0 { 0 } else { coefficients[slot] };
        }
        if ac == 0 {
            // Most blocks of a photo have no low-frequency AC left at this size.
            let value = clamp(f[0] / 8.0 + 128.0);
            for row in 0..N {
                let at = (y + row) * plane.stride + x;
                plane.pixels[at..at + N].fill(value);
            }
            return;
        }
        // Columns first: t[row][u] = Σ_v basis[row][v] · f[v][u]; then rows.
        let mut t = [0f32; 16];
        for row in 0..N {
            for u in 0..N {
                let mut sum = 0.0;
                for v in 0..N {
                    sum += self.basis[row * N + v] * f[v * N + u];
                }
                t[row * N + u] = sum;
            }
        }
        for row in 0..N {
            let at = (y + row) * plane.stride + x;
            let out = &mut plane.pixels[at..at + N];
            for (col, px) in out.iter_mut().enumerate() {
                let mut sum = 128.0;
                for u in 0..N {
                    sum += self.basis[col * N + u] * t[row * N + u];
                }
                *px = clamp(sum);
            }
        }
    }
}

#[inline]
fn clamp(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Crops the planes to `out_w`×`out_h`, upsamples chroma and converts YCbCr to RGB.
fn assemble(header: &Header, planes: &[Plane], out_w: usize, out_h: usize) -> DynamicImage {
    let luma = &planes[0];
    if planes.len() == 1 {
        let mut grey = Vec::with_capacity(out_w * out_h);
        for row in 0..out_h {
            grey.extend_from_slice(&luma.pixels[row * luma.stride..][..out_w]);
        }
        return GrayImage::from_raw(out_w as u32, out_h as u32, grey)
            .map(DynamicImage::ImageLuma8)
            .unwrap_or_default();
    }
    let (h_max, v_max) = header.max_factors();
    let factors: Vec<(usize, usize)> = header
        .components
        .iter()
        .map(|c| (h_max / c.h, v_max / c.v))
        .collect();
    // Row by row, so that no full-size chroma plane is ever allocated (each new page of a
    // thumbnail's buffers costs a page fault, which is a large share of its time here).
    let mut rows = [vec![0u8; out_w], vec![0u8; out_w], vec![0u8; out_w]];
    let mut scratch = vec![0u32; planes.iter().map(|p| p.stride).max().unwrap_or(0)];
    let mut rgb = vec![0u8; out_w * out_h * 3];
    for (row, out) in rgb.chunks_exact_mut(out_w * 3).enumerate() {
        for ((plane, &(fx, fy)), dst) in planes.iter().zip(&factors).zip(rows.iter_mut()) {
            upsample_row(plane, fx, fy, row, &mut scratch, dst);
        }
        let [ys, cbs, crs] = &rows;
        for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(ys).zip(cbs).zip(crs) {
            let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
            // JFIF's YCbCr → RGB in 16-bit fixed point.
            px[0] = (y + ((91_881 * cr + 32_768) >> 16)).clamp(0, 255) as u8;
            px[1] = (y - ((22_554 * cb + 46_802 * cr - 32_768) >> 16)).clamp(0, 255) as u8;
            px[2] = (y + ((116_130 * cb + 32_768) >> 16)).clamp(0, 255) as u8;
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, rgb)
        .map(DynamicImage::ImageRgb8)
        .unwrap_or_default()
}

/// Output row `row` of a plane upsampled by 1 or 2 on each axis, into `dst` (the output
/// width), with the triangle ("fancy") filter libjpeg uses: each output sample is ¾ its
/// nearest input sample and ¼ the next one.
fn upsample_row(
    plane: &Plane,
    fx: usize,
    fy: usize,
    row: usize,
    column: &mut [u32],
    dst: &mut [u8],
) {
    let (src_w, src_h) = (plane.stride, plane.rows);
    let row_of = |y: usize| &plane.pixels[y.min(src_h - 1) * src_w..][..src_w];
    if (fx, fy) == (1, 1) {
        dst.copy_from_slice(&row_of(row)[..dst.len()]);
        return;
    }
    // Vertical pass into 4× fixed point.
    let column = &mut column[..src_w];
    if fy == 2 {
        let near = row / 2;
        let far = if row.is_multiple_of(2) {
            near.saturating_sub(1)
        } else {
            near + 1
        };
        for ((c, &a), &b) in column.iter_mut().zip(row_of(near)).zip(row_of(far)) {
            *c = 3 * u32::from(a) + u32::from(b);
        }
    } else {
        for (c, &a) in column.iter_mut().zip(row_of(row)) {
            *c = 4 * u32::from(a);
        }
    }
    if fx == 2 {
        // Output pixels 2i and 2i+1 both lean on source i, towards i-1 and i+1.
        for (i, pair) in dst.chunks_mut(2).enumerate() {
            let near = 3 * column[i.min(src_w - 1)];
            let left = column[i.saturating_sub(1).min(src_w - 1)];
            let right = column[(i + 1).min(src_w - 1)];
            pair[0] = ((near + left + 8) >> 4) as u8;
            if let Some(second) = pair.get_mut(1) {
                *second = ((near + right + 8) >> 4) as u8;
            }
        }
    } else {
        for (d, &c) in dst.iter_mut().zip(column.iter()) {
            *d = ((c + 2) >> 2) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{images, mean_abs_diff};

    /// The reference: jpeg-decoder's own scaled decode of the same file.
    fn reference(data: &[u8], denom: u32) -> (u32, u32, Vec<u8>, bool) {
        let mut d = jpeg_decoder::Decoder::new(data);
        d.read_info().expect("header");
        let info = d.info().expect("info");
        let want = |s: u16| u16::try_from(u32::from(s).div_ceil(denom)).expect("fits");
        let (w, h) = d.scale(want(info.width), want(info.height)).expect("scale");
        let grey = info.pixel_format == jpeg_decoder::PixelFormat::L8;
        (
            u32::from(w),
            u32::from(h),
            d.decode().expect("decode"),
            grey,
        )
    }

    #[test]
    fn matches_libjpeg_style_scaling_on_baseline_photos() {
        let cases = [
            "photos/safelanding-5120x2880.jpg",
            "photos/path-2560x1600.jpg",
            "edge/hopper.jpg",
            "edge/hopper_gray.jpg",
            "edge/flower.jpg",
            "edge/pil_sample_rgb.jpg",
            "edge/hopper_16bit_qtables.jpg",
            // Progressive.
            "photos/autumn-2560x1600.jpg",
            "edge/progressive.jpg",
            "edge/icc_profile_big.jpg",
        ];
        for name in cases {
            let data = std::fs::read(images().join(name)).expect("test image");
            for denom in [2, 4, 8] {
                let ours = decode(&data, denom).unwrap_or_else(|| panic!("{name} not covered"));
                let (w, h, pixels, grey) = reference(&data, denom);
                assert_eq!((ours.width(), ours.height()), (w, h), "{name} 1/{denom}");
                assert_eq!(matches!(ours, DynamicImage::ImageLuma8(_)), grey, "{name}");
                let diff = mean_abs_diff(ours.as_bytes(), &pixels);
                // Both are DCT-domain reductions; they differ in rounding and in how
                // chroma is upsampled, by about a level on average.
                assert!(diff < 2.5, "{name} 1/{denom}: mean difference {diff}");
            }
        }
    }

    /// Every chroma layout, with and without restart markers, sequential and progressive,
    /// at a size that is no multiple of a block, written by jpeg-encoder from a real photo.
    #[test]
    fn covers_every_sampling_layout_and_restart_interval() {
        use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
        let photo = std::fs::read(images().join("photos/path-2560x1600.jpg")).expect("photo");
        let (w, h, rgb, _) = reference(&photo, 4);
        let (w, h) = (w - 3, h - 5);
        let cropped: Vec<u8> = (0..h as usize)
            .flat_map(|y| rgb[y * (w as usize + 3) * 3..][..w as usize * 3].to_vec())
            .collect();
        let layouts = [
            SamplingFactor::F_1_1,
            SamplingFactor::F_2_1,
            SamplingFactor::F_1_2,
            SamplingFactor::F_2_2,
        ];
        for sampling in layouts {
            for restart in [0u16, 7] {
                for progressive in [false, true] {
                    let mut out = Vec::new();
                    let mut encoder = Encoder::new(&mut out, 85);
                    encoder.set_sampling_factor(sampling);
                    encoder.set_restart_interval(restart);
                    encoder.set_progressive(progressive);
                    encoder
                        .encode(&cropped, w as u16, h as u16, ColorType::Rgb)
                        .expect("encode");
                    let case = format!("{sampling:?} restart {restart} progressive {progressive}");
                    for denom in [2, 4, 8] {
                        let ours =
                            decode(&out, denom).unwrap_or_else(|| panic!("{case} not covered"));
                        let (rw, rh, pixels, _) = reference(&out, denom);
                        assert_eq!((ours.width(), ours.height()), (rw, rh), "{case} 1/{denom}");
                        let diff = mean_abs_diff(ours.as_bytes(), &pixels);
                        assert!(diff < 2.5, "{case} 1/{denom}: mean difference {diff}");
                    }
                }
            }
        }
        // Four luma blocks across one chroma block: left to the general decoder.
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, 85);
        encoder.set_sampling_factor(SamplingFactor::F_4_1);
        encoder
            .encode(&cropped, w as u16, h as u16, ColorType::Rgb)
            .expect("encode");
        assert!(decode(&out, 2).is_none());
    }

    #[test]
    fn tells_progressive_files_from_the_header() {
        let read = |name: &str| std::fs::read(images().join(name)).expect("test image");
        assert_eq!(
            progressive_components(&read("photos/autumn-2560x1600.jpg")),
            Some(3)
        );
        assert_eq!(
            progressive_components(&read("edge/progressive.jpg")),
            Some(3)
        );
        assert_eq!(
            progressive_components(&read("photos/safelanding-5120x2880.jpg")),
            None
        );
        assert_eq!(progressive_components(&read("edge/hopper_gray.jpg")), None);
    }

    #[test]
    fn leaves_what_it_does_not_cover_to_the_general_decoder() {
        // Four components (CMYK), and a file cut short, are the general decoder's.
        for name in ["edge/pil_sample_cmyk.jpg", "edge/truncated_jpeg.jpg"] {
            let data = std::fs::read(images().join(name)).expect("test image");
            assert!(decode(&data, 4).is_none(), "{name}");
        }
    }

    #[test]
    fn damaged_streams_are_left_to_the_general_decoder_without_panicking() {
        let data = std::fs::read(images().join("edge/hopper.jpg")).expect("test image");
        // Cut in the middle of the scan, and every byte of the header flipped in turn.
        assert!(decode(&data[..data.len() / 2], 2).is_none());
        for at in 0..data.len().min(700) {
            let mut bad = data.clone();
            bad[at] ^= 0x55;
            let _ = decode(&bad, 4);
        }
    }

    #[test]
    fn skipping_two_symbols_at_once_lands_where_one_at_a_time_does() {
        // The AC tables of real files, and bit streams of every pattern a block can meet:
        // pseudo-random bytes (no 0xFF, so no markers), entered at every zig-zag position.
        for name in ["photos/path-2560x1600.jpg", "edge/hopper.jpg"] {
            let data = std::fs::read(images().join(name)).expect("test image");
            let mut header = Header::default();
            let mut pos = 2;
            header
                .read_to_scan(&data, &mut pos)
                .flatten()
                .expect("a scan");
            let tables: Vec<&Huffman> = header.ac.iter().flatten().collect();
            assert!(!tables.is_empty());
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let stream: Vec<u8> = (0..1 << 16)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8 % 0xFF
                })
                .collect();
            let mut blocks = 0;
            for ac in tables {
                for start in 0..64 {
                    let (mut one, mut both) = (Bits::new(&stream), Bits::new(&stream));
                    for _ in 0..500 {
                        let mut k = start;
                        let expected = loop {
                            if k >= 64 {
                                break Some(k);
                            }
                            match next_ac(&mut one, ac) {
                                Some((run, _)) => k += run + 1,
                                None => break None,
                            }
                        };
                        let got = skip_rest(&mut both, ac, start);
                        assert_eq!(got, expected, "{name}, from {start}");
                        if got.is_none() {
                            // A run off the block: both stopped somewhere in it; go on together.
                            both = one;
                            continue;
                        }
                        blocks += 1;
                        // The same bit of the stream next, whenever each refilled.
                        let at = |b: &Bits| b.pos * 8 - b.count as usize;
                        assert_eq!(at(&one), at(&both), "{name}, from {start}");
                    }
                }
            }
            assert!(blocks > 10_000, "{name}: only {blocks} blocks compared");
        }
    }
}
