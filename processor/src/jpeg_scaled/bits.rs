//! The bit reader of the entropy-coded data.

use super::huffman::{extend, Huffman, FAST_BITS, FAST_MASK};

/// The entropy-coded segment as a bit stream: byte stuffing removed, stopping at the first
/// marker (restart markers are consumed by [`Bits::restart`]).
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    /// Left-aligned: the next bit is bit 63.
    pub(super) buf: u64,
    pub(super) count: u32,
    pub(super) marker: Option<u8>,
    /// Zero bytes fed after a marker or the end of data; a sound stream needs almost none.
    pub(super) padding: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
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
    pub(super) fn refill(&mut self) {
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
    pub(super) fn next_byte(&mut self) -> u8 {
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
    pub(super) fn peek(&self, bits: u32) -> u32 {
        (self.buf >> (64 - bits)) as u32
    }

    #[inline]
    pub(super) fn consume(&mut self, bits: u32) {
        self.buf <<= bits;
        self.count -= bits;
    }

    /// At least 32 bits buffered (zeros past the end of the scan).
    #[inline(always)]
    pub(super) fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// One bit; the caller has made sure one is buffered.
    #[inline]
    pub(super) fn bit(&mut self) -> bool {
        let set = self.peek(1) == 1;
        self.consume(1);
        set
    }

    /// `size` bits (at most 16; the caller has refilled) as an unsigned number.
    #[inline]
    pub(super) fn take(&mut self, size: u32) -> u32 {
        if size == 0 {
            return 0;
        }
        let raw = self.peek(size);
        self.consume(size);
        raw
    }

    /// Where the marker that ends this entropy-coded segment starts, as an offset into the
    /// data: the next scan's headers are read from there.
    pub(super) fn next_marker(&self) -> usize {
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
    pub(super) fn receive_extend(&mut self, size: u32) -> i32 {
        extend(self.take(size), size)
    }

    /// Decodes one symbol; the caller has refilled (at least 16 bits are buffered).
    #[inline(always)]
    pub(super) fn symbol(&mut self, table: &Huffman) -> Option<u8> {
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
    pub(super) fn restart(&mut self) -> Option<()> {
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
