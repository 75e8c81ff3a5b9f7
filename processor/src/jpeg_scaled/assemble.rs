//! From the reduced planes to the picture: crop, chroma upsampling, YCbCr to RGB.

use image::{DynamicImage, GrayImage, RgbImage};

use super::header::Header;
use super::idct::Plane;

/// Crops the planes to `out_w`×`out_h`, upsamples chroma and converts YCbCr to RGB.
pub(super) fn assemble(
    header: &Header,
    planes: &[Plane],
    out_w: usize,
    out_h: usize,
) -> DynamicImage {
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
