//! Progressive JPEG at a reduced size. Its scans refine every coefficient of every block in
//! several passes (spectral bands, then successive bits), and a refinement pass needs to know
//! which coefficients of its band are already non-zero, so all 64 coefficients of each block
//! are kept until the last scan, as libjpeg does; only then does the n×n IDCT run, on the low
//! frequencies it needs. The passes follow ITU T.81 G.1.2 (libjpeg's `jdphuff.c`).

use super::{Bits, Header, Huffman, Idct, Plane, Scan, ZIGZAG};

/// A block's coefficients in natural order, and which AC positions (zig-zag index) are
/// non-zero: refinement passes visit only those, jumping over the zeros between them.
#[derive(Clone, Copy)]
struct Block {
    coefficients: [i16; 64],
    nonzero: u64,
}

impl Block {
    fn set(&mut self, k: usize, value: i16) -> Option<()> {
        self.coefficients[usize::from(*ZIGZAG.get(k)?)] = value;
        if value != 0 {
            self.nonzero |= 1 << k;
        }
        Some(())
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
        .map(|c| {
            let empty = Block {
                coefficients: [0; 64],
                nonzero: 0,
            };
            vec![empty; mcu_x * c.h * mcu_y * c.v]
        })
        .collect();
    let mut scan = first;
    loop {
        let used = decode_scan(header, &scan, jpeg.get(pos..)?, &mut blocks)?;
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
            let mut kept = [0i32; 16];
            for row in 0..n {
                for col in 0..n {
                    kept[row * n + col] = i32::from(block.coefficients[row * 8 + col]);
                }
            }
            idct.block(&kept, &dequant, plane, (i % across) * n, (i / across) * n);
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
                decode_block(&mut bits, header, scan, only, 0, block, &mut state)?;
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
                            decode_block(&mut bits, header, scan, index, slot, block, &mut state)?;
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

#[derive(Default)]
struct State {
    /// Blocks left in an end-of-band run (AC scans).
    eobrun: u32,
    /// DC predictions, by position in the scan.
    predictions: [i32; 4],
}

fn decode_block(
    stream: &mut Bits,
    header: &Header,
    scan: &Scan,
    component: usize,
    slot: usize,
    block: &mut Block,
    state: &mut State,
) -> Option<()> {
    // A copy the optimiser keeps in registers (see the sequential decoder's `decode_block`).
    let mut bits = *stream;
    let decoded = decode_block_with(&mut bits, header, scan, component, slot, block, state);
    *stream = bits;
    decoded
}

#[inline(always)]
fn decode_block_with(
    bits: &mut Bits,
    header: &Header,
    scan: &Scan,
    component: usize,
    slot: usize,
    block: &mut Block,
    state: &mut State,
) -> Option<()> {
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
            block.coefficients[0] = prediction.wrapping_shl(scan.al) as i16;
        } else if bits.bit() {
            block.coefficients[0] |= 1 << scan.al;
        }
        return Some(());
    }
    let ac = header.ac.get(c.ac_table)?.as_ref()?;
    if scan.ah == 0 {
        ac_first(bits, ac, block, scan, &mut state.eobrun)
    } else {
        ac_refine(bits, ac, block, scan, &mut state.eobrun)
    }
}

/// The first pass over a band: coefficients scaled by 2^al, and runs of empty blocks.
#[inline(always)]
fn ac_first(
    bits: &mut Bits,
    ac: &Huffman,
    block: &mut Block,
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
        block.set(k, value.wrapping_shl(scan.al) as i16)?;
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
    scan: &Scan,
    eobrun: &mut u32,
) -> Option<()> {
    let (p1, m1) = (1i16 << scan.al, -1i16 << scan.al);
    let refine = |bits: &mut Bits, c: &mut i16| {
        bits.ensure();
        if bits.bit() && *c & p1 == 0 {
            *c = c.wrapping_add(if *c >= 0 { p1 } else { m1 });
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
                    refine(bits, &mut block.coefficients[usize::from(ZIGZAG[k])]);
                } else {
                    if run == 0 {
                        break;
                    }
                    run -= 1;
                }
                k += 1;
            }
            if value != 0 {
                block.set(k, value)?;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // Inside an end-of-band run: only the non-zero coefficients get their bit, so only
        // they are visited.
        let mut left = block.nonzero & band(k, scan.se);
        while left != 0 {
            let at = left.trailing_zeros() as usize;
            refine(bits, &mut block.coefficients[usize::from(ZIGZAG[at])]);
            left &= left - 1;
        }
        *eobrun -= 1;
    }
    Some(())
}
