//! Lines into lanes: `dst[row(k) + q] = src[q * width + k]`, the packing
//! of weights whose output channels go into the SIMD lanes while each
//! channel's taps lie contiguous (a transposed conv's `[c, k, kh, kw]`
//! weights for the channel-vector kernel's `[t][NR]` rows). Element by
//! element it was 29 % of dcgan.t2's time, and one vector gather per 16
//! lanes no better; on AVX-512 f32 here, per 16 lines and 16 columns, one
//! in-register 16 x 16 transpose (sixteen masked loads, sixteen stores).
//!
//! Only bits are moved: every ISA gives the plain loop's result. On the
//! way, whether every element read is finite (`x * 0 == 0`): a caller
//! that needs finite weights (products with padding zeros) learns it
//! without a second pass over them (a separate check was a tenth of
//! dcgan.t2's time: 2 MiB of weights read from L3 once more).

use crate::{Element, Isa};
#[cfg(target_arch = "x86_64")]
use std::any::TypeId;

/// Writes, for each column `k < width` with `row(k) = Some(at)`, the row
/// `dst[at .. at + lanes]`: lane `q` is `src[q * width + k]` for `q <
/// lines` and zero for `lines <= q < lanes` (columns with `None` are
/// dropped). Nothing else of `dst` is touched. Returns whether every
/// element of `src[.. lines * width]` is finite.
///
/// # Panics
/// When `lines > lanes`, `src` holds fewer than `lines * width` elements,
/// or a row `row(k) .. row(k) + lanes` is not inside `dst`.
pub fn transpose_lines<T: Element>(
    isa: Isa,
    src: &[T],
    (lines, width, lanes): (usize, usize, usize),
    dst: &mut [T],
    row: impl Fn(usize) -> Option<usize>,
) -> bool {
    assert!(
        lines <= lanes && lines.checked_mul(width).is_some_and(|n| n <= src.len()),
        "transpose_lines: {lines} lines of {width} into {lanes} lanes, {} elements",
        src.len()
    );
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && TypeId::of::<T>() == TypeId::of::<f32>() && isa.is_supported() {
        // SAFETY: `T` is `f32` (the type ids are equal), so both slices
        // are reinterpreted as themselves, same pointer and length.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(src.as_ptr().cast::<f32>(), src.len()),
                std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<f32>(), dst.len()),
            )
        };
        // SAFETY: the CPU supports AVX-512F (checked above); the body
        // checks every row it stores and reads only what the assert above
        // covers.
        return unsafe { avx512_f32(src, (lines, width, lanes), dst, &row) };
    }
    let _ = isa;
    let finite = src[..lines * width]
        .iter()
        .fold(true, |ok, &v| ok & (v * T::ZERO == T::ZERO));
    for k in 0..width {
        let Some(at) = row(k) else { continue };
        let d = &mut dst[at..at + lanes];
        for (q, v) in d.iter_mut().enumerate() {
            *v = if q < lines {
                src[q * width + k]
            } else {
                T::ZERO
            };
        }
    }
    finite
}

/// The AVX-512 body: per block of 16 lanes and 16 columns, the 16 lines'
/// columns loaded (masked: the block's last columns; zero past `lines`),
/// transposed, and each column stored as 16 lanes of its row (masked past
/// `lanes`); every value loaded times zero summed into a NaN detector.
/// Requires `lines <= lanes` and `lines * width <= src.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_f32(
    src: &[f32],
    (lines, width, lanes): (usize, usize, usize),
    dst: &mut [f32],
    row: &impl Fn(usize) -> Option<usize>,
) -> bool {
    use crate::depthwise::transpose::{first, transpose16};
    use std::arch::x86_64::*;
    // Finite x: x * 0 = 0; infinite or NaN: NaN, which sticks in the sum.
    let zero = _mm512_setzero_ps();
    let mut nan = zero;
    for q0 in (0..lanes).step_by(16) {
        let live_lanes = (lanes - q0).min(16);
        for k0 in (0..width).step_by(16) {
            let cols = (width - k0).min(16);
            let base = src.as_ptr().wrapping_add(q0 * width + k0);
            let mut r = if q0 + 16 <= lines && cols == 16 {
                // SAFETY: lines q0 .. q0 + 16 (< lines) have their columns
                // k0 .. k0 + 16 (<= width) inside src (lines * width <=
                // src.len()).
                std::array::from_fn(|i| unsafe { _mm512_loadu_ps(base.add(i * width)) })
            } else {
                let mask = first(cols);
                std::array::from_fn(|i| match q0 + i < lines {
                    // SAFETY: elements k0 .. k0 + cols of line q0 + i <
                    // lines lie inside src; the lanes past `cols` are
                    // masked off.
                    true => unsafe { _mm512_maskz_loadu_ps(mask, base.add(i * width)) },
                    false => _mm512_setzero_ps(),
                })
            };
            for v in &r {
                nan = _mm512_add_ps(nan, _mm512_mul_ps(*v, zero));
            }
            transpose16(&mut r);
            let store = first(live_lanes);
            for (c, v) in r.iter().enumerate().take(cols) {
                let Some(at) = row(k0 + c) else { continue };
                assert!(
                    at.checked_add(lanes).is_some_and(|end| end <= dst.len()),
                    "transpose_lines: row {} outside dst",
                    k0 + c
                );
                // SAFETY: at + q0 + live_lanes <= at + lanes <= dst.len()
                // (asserted); the lanes past `live_lanes` are masked off.
                unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr().add(at + q0), store, *v) };
            }
        }
    }
    _mm512_cmp_ps_mask::<_CMP_ORD_Q>(nan, nan) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape around the 16 x 16 blocks, f32 and f64, on every ISA,
    /// against the definition; rows scattered out of order with gaps.
    #[test]
    fn every_isa_gives_the_definition() {
        for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
            for (lines, width, lanes) in [
                (1, 1, 1),
                (32, 16, 32),
                (20, 9, 32),
                (16, 16, 16),
                (5, 17, 16),
                (33, 25, 48),
                (0, 3, 16),
            ] {
                let src: Vec<f32> = (0..lines * width).map(|v| v as f32 + 0.5).collect();
                // Column 2 dropped.
                let row = |k: usize| (k != 2).then_some(((k * 7) % width) * (lanes + 3) + 1);
                let len = width * (lanes + 3) + 1;
                let mut got = vec![-1.0f32; len];
                assert!(transpose_lines(
                    isa,
                    &src,
                    (lines, width, lanes),
                    &mut got,
                    row
                ));
                let mut want = vec![-1.0f32; len];
                for k in (0..width).filter(|&k| k != 2) {
                    for q in 0..lanes {
                        want[row(k).unwrap() + q] =
                            if q < lines { src[q * width + k] } else { 0.0 };
                    }
                }
                assert_eq!(got, want, "{isa} {lines} {width} {lanes}");
                let src: Vec<f64> = src.iter().map(|&v| v as f64).collect();
                let mut got64 = vec![-1.0f64; len];
                transpose_lines(isa, &src, (lines, width, lanes), &mut got64, row);
                let want64: Vec<f64> = want.iter().map(|&v| v as f64).collect();
                assert_eq!(got64, want64, "{isa} f64 {lines} {width} {lanes}");
                // A non-finite element anywhere (a dropped column too) is
                // reported.
                for (at, bad) in [(lines * width / 2, f32::INFINITY), (2, f32::NAN)] {
                    if at < lines * width && width > 2 {
                        let mut src: Vec<f32> = src.iter().map(|&v| v as f32).collect();
                        src[at] = bad;
                        let ok = transpose_lines(isa, &src, (lines, width, lanes), &mut got, row);
                        assert!(!ok, "{isa} {lines} {width} {lanes}: {bad} at {at}");
                    }
                }
            }
        }
    }
}
