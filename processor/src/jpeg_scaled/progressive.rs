//! Progressive JPEG at a reduced size. Its scans refine every coefficient of every block in
//! several passes (spectral bands, then successive bits), so every block stays in memory
//! until the last scan; only then does the n×n IDCT run. A refinement pass reads a bit for
//! every coefficient of its band that is already non-zero, so which ones are non-zero must
//! be known for all 64; but only the n×n that the IDCT uses need their values (libjpeg
//! keeps all 64 values: 136 bytes a block against 40 here; streaming the larger store
//! through the cache once per scan cost about a quarter of this decoder's time). The passes
//! follow ITU T.81 G.1.2 (libjpeg's `jdphuff.c`).

use super::{kept_slots, Bits, Header, Huffman, Idct, Plane, Scan, UNUSED};

/// The kept low frequencies of a block (slot `row * n + col`), and which AC positions
/// (zig-zag index) are non-zero: refinement passes visit only those.
#[derive(Clone, Copy, Default)]
struct Block {
    kept: [i16; 16],
    nonzero: u64,
}

/// Where each zig-zag position's value is kept ([`UNUSED`]: nowhere), and the positions up
/// to the last kept one as a mask: past it, every value is only skipped.
struct Kept {
    slots: [u8; 64],
    up_to_last: u64,
}

impl Kept {
    fn new(n: usize) -> Kept {
        let (slots, last) = kept_slots(n);
        Kept {
            slots,
            up_to_last: band(0, last),
        }
    }

    #[inline(always)]
    fn set(&self, block: &mut Block, k: usize, value: i16) -> Option<()> {
        let slot = *self.slots.get(k)?;
        if slot != UNUSED {
            block.kept[usize::from(slot)] = value;
        }
        if value != 0 {
            block.nonzero |= 1 << k;
        }
        Some(())
    }

    /// The value of a non-zero coefficient being refined, if it is one that is kept.
    #[inline(always)]
    fn value<'b>(&self, block: &'b mut Block, k: usize) -> Option<&'b mut i16> {
        let slot = self.slots[k & 63];
        (slot != UNUSED).then(|| &mut block.kept[usize::from(slot)])
    }
}

/// Bits `from..=to` of a u64 (empty when `from > to`).
fn band(from: usize, to: usize) -> u64 {
    if from > to || from > 63 {
        return 0;
    }
    (u64::MAX << from) & (u64::MAX >> (63 - to.min(63)))
}

pub(super) fn decode(
    header: &mut Header,
    jpeg: &[u8],
    first: Scan,
    mut pos: usize,
    n: usize,
) -> Option<Vec<Plane>> {
    let (mcu_x, mcu_y) = header.mcus()?;
    let mut blocks: Vec<Vec<Block>> = header
        .components
        .iter()
        .map(|c| vec![Block::default(); mcu_x * c.h * mcu_y * c.v])
        .collect();
    let kept = Kept::new(n);
    let mut scan = first;
    loop {
        let used = decode_scan(header, &scan, jpeg.get(pos..)?, &mut blocks, &kept)?;
        pos += used;
        match header.read_to_scan(jpeg, &mut pos)? {
            Some(next) => scan = next,
            None => break,
        }
    }
    let mut planes = header.planes(n)?;
    let idct = Idct::new(n);
    for ((component, blocks), plane) in header.components.iter().zip(&blocks).zip(&mut planes) {
        let dequant = header.dequant(component, n)?;
        let across = mcu_x * component.h;
        for (i, block) in blocks.iter().enumerate() {
            let coefficients = block.kept.map(i32::from);
            idct.block(
                &coefficients,
                &dequant,
                plane,
                (i % across) * n,
                (i / across) * n,
            );
        }
    }
    Some(planes)
}

/// Decodes one scan into `blocks`; returns how many bytes of `data` it used, up to the
/// marker that follows it.
fn decode_scan(
    header: &Header,
    scan: &Scan,
    data: &[u8],
    blocks: &mut [Vec<Block>],
    kept: &Kept,
) -> Option<usize> {
    let valid_band = scan.ss <= scan.se
        && scan.se <= 63
        && (scan.ss == 0) == (scan.se == 0)
        && (scan.ss == 0 || scan.components.len() == 1)
        && scan.ah <= 13
        && scan.al <= 13;
    if !valid_band {
        return None;
    }
    let (mcu_x, mcu_y) = header.mcus()?;
    let pass = Pass { header, scan, kept };
    let mut bits = Bits::new(data);
    let mut state = State::default();
    let restart = header.restart_interval;
    let mut unit = 0usize;
    let mut next_unit = |bits: &mut Bits, state: &mut State| -> Option<()> {
        if restart > 0 && unit > 0 && unit.is_multiple_of(restart) {
            bits.restart()?;
            *state = State::default();
        }
        unit += 1;
        Some(())
    };
    if let [only] = scan.components[..] {
        // Not interleaved: the component's own blocks, row by row, within its own extent.
        let c = &header.components[only];
        let (h_max, v_max) = header.max_factors();
        let across = (header.width * c.h).div_ceil(h_max).div_ceil(8);
        let down = (header.height * c.v).div_ceil(v_max).div_ceil(8);
        let stride = mcu_x * c.h;
        for by in 0..down {
            for bx in 0..across {
                next_unit(&mut bits, &mut state)?;
                let block = blocks[only].get_mut(by * stride + bx)?;
                decode_block(&mut bits, &pass, only, 0, block, &mut state)?;
            }
        }
    } else {
        for my in 0..mcu_y {
            for mx in 0..mcu_x {
                next_unit(&mut bits, &mut state)?;
                for (slot, &index) in scan.components.iter().enumerate() {
                    let c = &header.components[index];
                    let stride = mcu_x * c.h;
                    for v in 0..c.v {
                        for h in 0..c.h {
                            let at = (my * c.v + v) * stride + mx * c.h + h;
                            let block = blocks[index].get_mut(at)?;
                            decode_block(&mut bits, &pass, index, slot, block, &mut state)?;
                        }
                    }
                }
            }
        }
    }
    // More than a few zero bytes fed: the scan ended (or was cut) before its blocks.
    if bits.padding > 16 {
        return None;
    }
    Some(bits.next_marker())
}

/// What every block of a scan is decoded with.
struct Pass<'a> {
    header: &'a Header,
    scan: &'a Scan,
    kept: &'a Kept,
}

#[derive(Default)]
struct State {
    /// Blocks left in an end-of-band run (AC scans).
    eobrun: u32,
    /// DC predictions, by position in the scan.
    predictions: [i32; 4],
}

fn decode_block(
    stream: &mut Bits,
    pass: &Pass,
    component: usize,
    slot: usize,
    block: &mut Block,
    state: &mut State,
) -> Option<()> {
    // A copy the optimiser keeps in registers (see the sequential decoder's `decode_block`).
    let mut bits = *stream;
    let decoded = decode_block_with(&mut bits, pass, component, slot, block, state);
    *stream = bits;
    decoded
}

#[inline(always)]
fn decode_block_with(
    bits: &mut Bits,
    pass: &Pass,
    component: usize,
    slot: usize,
    block: &mut Block,
    state: &mut State,
) -> Option<()> {
    let Pass { header, scan, kept } = *pass;
    let c = &header.components[component];
    bits.ensure();
    if scan.ss == 0 {
        if scan.ah == 0 {
            let dc = header.dc.get(c.dc_table)?.as_ref()?;
            let size = u32::from(bits.symbol(dc)?);
            if size > 11 {
                return None;
            }
            let prediction = &mut state.predictions[slot];
            *prediction = prediction.wrapping_add(bits.receive_extend(size));
            block.kept[0] = prediction.wrapping_shl(scan.al) as i16;
        } else if bits.bit() {
            block.kept[0] |= 1 << scan.al;
        }
        return Some(());
    }
    let ac = header.ac.get(c.ac_table)?.as_ref()?;
    if scan.ah == 0 {
        ac_first(bits, ac, block, kept, scan, &mut state.eobrun)
    } else {
        ac_refine(bits, ac, block, kept, scan, &mut state.eobrun)
    }
}

/// The first pass over a band: coefficients scaled by 2^al, and runs of empty blocks.
#[inline(always)]
fn ac_first(
    bits: &mut Bits,
    ac: &Huffman,
    block: &mut Block,
    kept: &Kept,
    scan: &Scan,
    eobrun: &mut u32,
) -> Option<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Some(());
    }
    let mut k = scan.ss;
    while k <= scan.se {
        bits.ensure();
        let rs = bits.symbol(ac)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run < 15 {
                // An end-of-band run over this block and 2^run - 1 + (run bits) more.
                *eobrun = (1 << run) - 1 + bits.take(run as u32);
                break;
            }
            k += 16;
            continue;
        }
        if size > 10 {
            return None;
        }
        k += run;
        let value = bits.receive_extend(size);
        kept.set(block, k, value.wrapping_shl(scan.al) as i16)?;
        k += 1;
    }
    Some(())
}

/// A refinement pass over a band: one more bit of every non-zero coefficient, and new
/// coefficients of ±2^al placed among the zeros.
#[inline(always)]
fn ac_refine(
    bits: &mut Bits,
    ac: &Huffman,
    block: &mut Block,
    kept: &Kept,
    scan: &Scan,
    eobrun: &mut u32,
) -> Option<()> {
    let (p1, m1) = (1i16 << scan.al, -1i16 << scan.al);
    // A correction bit for the non-zero coefficient at `k`; only a kept one is corrected.
    let refine = |bits: &mut Bits, block: &mut Block, k: usize| {
        bits.ensure();
        let set = bits.bit();
        if let Some(c) = kept.value(block, k) {
            if set && *c & p1 == 0 {
                *c = c.wrapping_add(if *c >= 0 { p1 } else { m1 });
            }
        }
    };
    let mut k = scan.ss;
    if *eobrun == 0 {
        while k <= scan.se {
            bits.ensure();
            let rs = bits.symbol(ac)?;
            let (mut run, size) = (rs >> 4, rs & 15);
            let mut value = 0i16;
            if size != 0 {
                value = if bits.bit() { p1 } else { m1 };
            } else if run != 15 {
                *eobrun = (1 << run) + bits.take(u32::from(run));
                break;
            }
            // Past the non-zero coefficients (refining each) and `run` zeros, to the zero
            // that takes the new value.
            while k <= scan.se {
                if block.nonzero >> k & 1 != 0 {
                    refine(bits, block, k);
                } else {
                    if run == 0 {
                        break;
                    }
                    run -= 1;
                }
                k += 1;
            }
            if value != 0 {
                kept.set(block, k, value)?;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // Inside an end-of-band run: only the non-zero coefficients get their bit, so only
        // they are visited, and past the last kept one their bits are only dropped, in bulk.
        let nonzero = block.nonzero & band(k, scan.se);
        let mut one_by_one = nonzero & kept.up_to_last;
        while one_by_one != 0 {
            let at = one_by_one.trailing_zeros() as usize;
            refine(bits, block, at);
            one_by_one &= one_by_one - 1;
        }
        let mut dropped = (nonzero & !kept.up_to_last).count_ones();
        while dropped > 0 {
            bits.ensure();
            let now = dropped.min(32);
            bits.consume(now);
            dropped -= now;
        }
        *eobrun -= 1;
    }
    Some(())
}
