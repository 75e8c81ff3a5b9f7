//! The reduced planes, and the n-point IDCT that fills them block by block.

/// One component's pixels at the reduced size, padded to whole blocks.
pub(super) struct Plane {
    pub(super) pixels: Vec<u8>,
    pub(super) stride: usize,
    pub(super) rows: usize,
}

/// The n-point IDCT of a block's n×n low frequencies, with the 8-point normalisation, so
/// that n = 1 yields the block's mean (DC / 8) and larger n add the detail that survives at
/// that size (what libjpeg's `jidctred.c` computes).
pub(super) struct Idct {
    n: usize,
    /// `basis[x * n + u] = C(u) / 2 · cos((2x + 1) u π / 2n)`.
    basis: [f32; 16],
}

impl Idct {
    pub(super) fn new(n: usize) -> Idct {
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
    pub(super) fn block(
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
