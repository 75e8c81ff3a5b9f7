//! Huffman tables of the entropy-coded data, with direct lookups for short codes: one
//! symbol, one AC coefficient with its value bits, or up to two AC symbols that are only
//! skipped, per lookup.

/// Bits resolved by one table lookup; longer codes (rare in photos) take the slow path.
pub(super) const FAST_BITS: u32 = 11;
pub(super) const FAST_MASK: usize = (1 << FAST_BITS) - 1;

/// A canonical Huffman table with a direct lookup for codes of up to [`FAST_BITS`].
pub(super) struct Huffman {
    /// `(length << 8) | symbol` for every [`FAST_BITS`]-bit prefix that starts with a short
    /// code; 0 if the code is longer.
    pub(super) lookup: Box<[u16; 1 << FAST_BITS]>,
    /// For AC tables: a short code *and* its value bits within [`FAST_BITS`], resolved at once:
    /// `(value << 16) | (run << 8) | total_length`; 0 when not resolvable so.
    pub(super) fast_ac: Box<[i32; 1 << FAST_BITS]>,
    /// For AC tables: up to two symbols that are only skipped, resolved at once.
    pub(super) skip: Box<[SkipEntry; 1 << FAST_BITS]>,
    pub(super) max_code: [i32; 17],
    pub(super) offset: [i32; 17],
    pub(super) values: Vec<u8>,
}

impl Huffman {
    pub(super) fn new(counts: &[u8], values: &[u8], ac: bool) -> Option<Huffman> {
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
/// [`super::skip_rest`] decides that at run time.
#[derive(Clone, Copy)]
pub(super) struct SkipEntry(pub(super) u32);

impl SkipEntry {
    /// The first code is longer than [`FAST_BITS`]: the symbol takes the general path.
    pub(super) const UNRESOLVED: SkipEntry = SkipEntry(0);

    fn new(bits_one: u32, advance_one: u32, bits_both: u32, advance_both: u32) -> SkipEntry {
        SkipEntry(bits_one | advance_one << 5 | bits_both << 13 | advance_both << 19)
    }

    /// Bits and zig-zag advance of the first symbol.
    #[inline(always)]
    pub(super) fn one(self) -> (u32, usize) {
        (self.0 & 31, (self.0 >> 5 & 0xFF) as usize)
    }

    /// Bits and zig-zag advance of both symbols (of the first alone when no second fits).
    #[inline(always)]
    pub(super) fn both(self) -> (u32, usize) {
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
pub(super) fn extend(raw: u32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if raw < 1 << (size - 1) {
        raw as i32 - (1 << size) + 1
    } else {
        raw as i32
    }
}

/// What [`super::next_ac`] adds to k at an end of block: past any position a run can reach
/// (63 + 16), and small enough that two symbols' advances fit in a [`SkipEntry`].
pub(super) const END_OF_BLOCK: usize = 128;
