//! Strided row copies, `dst[r * dst_stride + j] = src[r * src_stride + j *
//! step]`: the packing of a GEMM operand whose rows are read `step` apart,
//! such as a backward conv's weights `w[k, c, tap]` packed one tap at a time
//! (`step` = the taps). A scalar loop spends several instructions per
//! element on it; on AVX-512 one vector gather moves sixteen 4-byte or
//! eight 8-byte elements (and with `step` 1, one plain vector load: the
//! packing of rows that are contiguous, 16 or 32 elements at a time where
//! a `memcpy` call per row would cost more than the copy).
//!
//! Only bits are moved, no arithmetic is done, so any `Copy` type of 4 or 8
//! bytes takes the vector path (the result is the plain loop's, bit for
//! bit, on every ISA).

use crate::Isa;

/// Copies `rows` rows of `cols` elements: element `j` of row `r` is read
/// from `src[r * src_stride + j * step]` and written to `dst[r * dst_stride
/// + j]`; nothing else of `dst` is touched.
///
/// Panics when `src` or `dst` is too short for the last element.
#[allow(clippy::too_many_arguments)]
pub fn gather_rows<T: Copy>(
    isa: Isa,
    src: &[T],
    src_stride: usize,
    step: usize,
    dst: &mut [T],
    dst_stride: usize,
    rows: usize,
    cols: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    let last_src = (rows - 1) * src_stride + (cols - 1) * step;
    let last_dst = (rows - 1) * dst_stride + cols - 1;
    assert!(
        last_src < src.len() && last_dst < dst.len(),
        "gather_rows: slices too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // The vector path's element offsets within a row are i32: the
        // farthest it forms is `(cols + 15) * step`.
        let fits = (cols + 16)
            .checked_mul(step)
            .is_some_and(|v| v <= i32::MAX as usize);
        if isa == Isa::Avx512 && isa.is_supported() && fits {
            let geometry = Geometry {
                src_stride,
                step,
                dst_stride,
                rows,
                cols,
            };
            match std::mem::size_of::<T>() {
                4 => {
                    // SAFETY: the CPU supports AVX-512F (checked above);
                    // every element read, `r * src_stride + j * step` for
                    // `r < rows`, `j < cols`, is at most `last_src`, inside
                    // `src`, and every one written at most `last_dst`,
                    // inside `dst` (asserted above); lanes past `cols` are
                    // masked off, neither read nor written. `T` is `Copy`
                    // and 4 bytes wide, so moving its bits as `i32` lanes
                    // (unaligned accesses) copies it.
                    unsafe { rows_b32(src.as_ptr().cast(), dst.as_mut_ptr().cast(), geometry) };
                    return;
                }
                8 => {
                    // SAFETY: as for the 4-byte case, with 8-byte lanes.
                    unsafe { rows_b64(src.as_ptr().cast(), dst.as_mut_ptr().cast(), geometry) };
                    return;
                }
                _ => {}
            }
        }
    }
    let _ = isa;
    for r in 0..rows {
        let s = &src[r * src_stride..];
        let d = &mut dst[r * dst_stride..][..cols];
        for (j, v) in d.iter_mut().enumerate() {
            *v = s[j * step];
        }
    }
}

/// Copies runs of `len` elements: run `t` is read from `src[first +
/// offsets[t] ..]` and written to `dst[t * len ..]` (an A panel row of a
/// GEMM whose k block spans several shifted reads of one image).
///
/// Panics when a run lies outside `src` or `dst` is too short.
pub fn copy_runs<T: Copy>(
    isa: Isa,
    src: &[T],
    first: usize,
    offsets: &[usize],
    len: usize,
    dst: &mut [T],
) {
    let end = offsets.iter().map(|&o| first + o + len).max().unwrap_or(0);
    assert!(
        end <= src.len() && offsets.len() * len <= dst.len(),
        "copy_runs: slices too short"
    );
    if len == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.is_supported() {
        match std::mem::size_of::<T>() {
            4 => {
                // SAFETY: the CPU supports AVX-512F (checked above); every
                // run `first + offsets[t] .. + len` lies inside `src` and
                // every `t * len .. + len` inside `dst` (asserted above);
                // tail lanes past `len` are masked off. `T` is `Copy` and 4
                // bytes wide, so moving its bits as `i32` lanes copies it.
                unsafe {
                    runs_b32(
                        src.as_ptr().cast(),
                        first,
                        offsets,
                        len,
                        dst.as_mut_ptr().cast(),
                    )
                };
                return;
            }
            8 => {
                // SAFETY: as for the 4-byte case, with 8-byte lanes.
                unsafe {
                    runs_b64(
                        src.as_ptr().cast(),
                        first,
                        offsets,
                        len,
                        dst.as_mut_ptr().cast(),
                    )
                };
                return;
            }
            _ => {}
        }
    }
    let _ = isa;
    for (t, &o) in offsets.iter().enumerate() {
        dst[t * len..][..len].copy_from_slice(&src[first + o..][..len]);
    }
}

/// [`copy_runs`] on 4-byte elements.
///
/// # Safety
/// AVX-512F; `src` readable at `first + offsets[t] .. + len` and `dst`
/// writable at `t * len .. + len` for every run `t`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn runs_b32(src: *const i32, first: usize, offsets: &[usize], len: usize, dst: *mut i32) {
    use std::arch::x86_64::*;
    for (t, &o) in offsets.iter().enumerate() {
        // SAFETY: the run's first elements, in bounds by the caller's
        // guarantee.
        let (s, d) = unsafe { (src.add(first + o), dst.add(t * len)) };
        let mut j = 0;
        while j + 16 <= len {
            // SAFETY: elements `j .. j + 16 <= len` of the run.
            unsafe { _mm512_storeu_epi32(d.add(j), _mm512_loadu_epi32(s.add(j))) };
            j += 16;
        }
        if j < len {
            let mask: __mmask16 = (1u16 << (len - j)) - 1;
            // SAFETY: only the lanes `j .. len` are enabled, in bounds.
            unsafe {
                _mm512_mask_storeu_epi32(d.add(j), mask, _mm512_maskz_loadu_epi32(mask, s.add(j)))
            };
        }
    }
}

/// [`copy_runs`] on 8-byte elements.
///
/// # Safety
/// As [`runs_b32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn runs_b64(src: *const i64, first: usize, offsets: &[usize], len: usize, dst: *mut i64) {
    use std::arch::x86_64::*;
    for (t, &o) in offsets.iter().enumerate() {
        // SAFETY: the run's first elements, in bounds by the caller's
        // guarantee.
        let (s, d) = unsafe { (src.add(first + o), dst.add(t * len)) };
        let mut j = 0;
        while j + 8 <= len {
            // SAFETY: elements `j .. j + 8 <= len` of the run.
            unsafe { _mm512_storeu_epi64(d.add(j), _mm512_loadu_epi64(s.add(j))) };
            j += 8;
        }
        if j < len {
            let mask: __mmask8 = (1u8 << (len - j)) - 1;
            // SAFETY: only the lanes `j .. len` are enabled, in bounds.
            unsafe {
                _mm512_mask_storeu_epi64(d.add(j), mask, _mm512_maskz_loadu_epi64(mask, s.add(j)))
            };
        }
    }
}

/// The strides and extent of one [`gather_rows`] call.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Geometry {
    src_stride: usize,
    step: usize,
    dst_stride: usize,
    rows: usize,
    cols: usize,
}

/// [`gather_rows`] on 4-byte elements.
///
/// # Safety
/// AVX-512F; `src` readable at every `r * src_stride + j * step` and `dst`
/// writable at every `r * dst_stride + j` (`r < rows`, `j < cols`);
/// `(cols + 16) * step <= i32::MAX`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_b32(src: *const i32, dst: *mut i32, g: Geometry) {
    use std::arch::x86_64::*;
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let first = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(g.step as i32));
    let jump = _mm512_set1_epi32((16 * g.step) as i32);
    for r in 0..g.rows {
        // SAFETY: row `r < rows` starts inside the ranges the caller
        // guarantees.
        let (s, d) = unsafe { (src.add(r * g.src_stride), dst.add(r * g.dst_stride)) };
        let mut offsets = first;
        let mut j = 0;
        while j + 16 <= g.cols {
            // SAFETY: lanes `j .. j + 16 <= cols` of row `r`, in bounds by
            // the caller's guarantee.
            unsafe {
                let v = match g.step {
                    1 => _mm512_loadu_epi32(s.add(j)),
                    _ => _mm512_i32gather_epi32::<4>(offsets, s),
                };
                _mm512_storeu_epi32(d.add(j), v);
            }
            offsets = _mm512_add_epi32(offsets, jump);
            j += 16;
        }
        if j < g.cols {
            let mask: __mmask16 = (1u16 << (g.cols - j)) - 1;
            // SAFETY: only the lanes `j .. cols` are enabled, in bounds by
            // the caller's guarantee; the others are neither read nor
            // written.
            unsafe {
                let v = match g.step {
                    1 => _mm512_maskz_loadu_epi32(mask, s.add(j)),
                    _ => _mm512_mask_i32gather_epi32::<4>(_mm512_setzero_si512(), mask, offsets, s),
                };
                _mm512_mask_storeu_epi32(d.add(j), mask, v);
            }
        }
    }
}

/// [`gather_rows`] on 8-byte elements.
///
/// # Safety
/// As [`rows_b32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_b64(src: *const i64, dst: *mut i64, g: Geometry) {
    use std::arch::x86_64::*;
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let first = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(g.step as i32));
    let jump = _mm256_set1_epi32((8 * g.step) as i32);
    for r in 0..g.rows {
        // SAFETY: row `r < rows` starts inside the ranges the caller
        // guarantees.
        let (s, d) = unsafe { (src.add(r * g.src_stride), dst.add(r * g.dst_stride)) };
        let mut offsets = first;
        let mut j = 0;
        while j + 8 <= g.cols {
            // SAFETY: lanes `j .. j + 8 <= cols` of row `r`, in bounds by
            // the caller's guarantee.
            unsafe {
                let v = match g.step {
                    1 => _mm512_loadu_epi64(s.add(j)),
                    _ => _mm512_i32gather_epi64::<8>(offsets, s),
                };
                _mm512_storeu_epi64(d.add(j), v);
            }
            offsets = _mm256_add_epi32(offsets, jump);
            j += 8;
        }
        if j < g.cols {
            let mask: __mmask8 = (1u8 << (g.cols - j)) - 1;
            // SAFETY: only the lanes `j .. cols` are enabled, in bounds by
            // the caller's guarantee; the others are neither read nor
            // written.
            unsafe {
                let v = match g.step {
                    1 => _mm512_maskz_loadu_epi64(mask, s.add(j)),
                    _ => _mm512_mask_i32gather_epi64::<8>(_mm512_setzero_si512(), mask, offsets, s),
                };
                _mm512_mask_storeu_epi64(d.add(j), mask, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of every tail length, on both element sizes, equal the slices
    /// they copy.
    #[test]
    fn runs_equal_their_slices() {
        for isa in Isa::available() {
            for len in [1, 7, 8, 15, 16, 17, 33] {
                let offsets = [40, 0, 13, 3];
                let src32: Vec<f32> = (0..100).map(|i| f32::from_bits(0x7fc0_0000 | i)).collect();
                let src64: Vec<f64> = (0..100).map(|i| i as f64 + 0.25).collect();
                let mut d32 = vec![0.0f32; 4 * len + 1];
                let mut d64 = vec![0.0f64; 4 * len + 1];
                copy_runs(isa, &src32, 5, &offsets, len, &mut d32);
                copy_runs(isa, &src64, 5, &offsets, len, &mut d64);
                for (t, &o) in offsets.iter().enumerate() {
                    for j in 0..len {
                        let (got, want) = (d32[t * len + j], src32[5 + o + j]);
                        assert_eq!(got.to_bits(), want.to_bits(), "{isa} {len}");
                        assert_eq!(d64[t * len + j], src64[5 + o + j], "{isa} {len}");
                    }
                }
                assert_eq!((d32[4 * len], d64[4 * len]), (0.0, 0.0), "{isa} {len}");
            }
        }
    }

    /// Every ISA of this CPU copies what the plain loop copies, on both
    /// element sizes, with tails of every length and a bit pattern (NaN
    /// payload) that arithmetic would not keep.
    #[test]
    fn gathers_equal_the_plain_loop() {
        for isa in Isa::available() {
            for (rows, cols, step) in [
                (1, 1, 1),
                (3, 17, 9),
                (2, 32, 9),
                (5, 7, 3),
                (4, 40, 25),
                (3, 37, 1),
                (2, 32, 1),
            ] {
                let src_stride = cols * step + 3;
                let len = rows * src_stride;
                let src32: Vec<f32> = (0..len)
                    .map(|i| f32::from_bits(0x7fc0_0000 | i as u32))
                    .collect();
                let src64: Vec<f64> = (0..len).map(|i| i as f64 - 0.5).collect();
                let dst_stride = cols + 2;
                let mut d32 = vec![-1.0f32; rows * dst_stride];
                let mut d64 = vec![-1.0f64; rows * dst_stride];
                gather_rows(
                    isa, &src32, src_stride, step, &mut d32, dst_stride, rows, cols,
                );
                gather_rows(
                    isa, &src64, src_stride, step, &mut d64, dst_stride, rows, cols,
                );
                for r in 0..rows {
                    for j in 0..dst_stride {
                        let at = r * dst_stride + j;
                        let (w32, w64) = match j < cols {
                            true => (
                                src32[r * src_stride + j * step],
                                src64[r * src_stride + j * step],
                            ),
                            false => (-1.0, -1.0),
                        };
                        assert_eq!(d32[at].to_bits(), w32.to_bits(), "{isa} f32 {rows}x{cols}");
                        assert_eq!(d64[at], w64, "{isa} f64 {rows}x{cols}");
                    }
                }
            }
        }
    }
}
