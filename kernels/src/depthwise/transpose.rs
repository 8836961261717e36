//! AVX-512 f32 packing and unpacking by in-register 16 x 16 transposes
//! instead of gathers: sixteen contiguous loads (one per lane, or one per
//! pixel), four rounds of shuffles, sixteen contiguous stores. A gather
//! fetches its sixteen elements one by one; on the small planes of
//! MobileNet's last layers the gathers cost several times the depthwise
//! arithmetic, the transposes about as much as it.

use super::{check_deinterleave, check_patch, Patch};
use std::arch::x86_64::*;

/// Transposes the 16 x 16 matrix whose row `i` is `r[i]`, in place.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn transpose16(r: &mut [__m512; 16]) {
    let mut a = [_mm512_setzero_ps(); 16];
    let mut b = a;
    let mut c = a;
    // Round 1: within each 128-bit chunk, pairs of rows interleaved.
    for i in (0..16).step_by(2) {
        a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // Round 2: b[4g + e] holds, in chunk q, rows 4g .. 4g+4 of column
    // 4q + e.
    for g in (0..16).step_by(4) {
        for h in 0..2 {
            let x = _mm512_castps_pd(a[g + h]);
            let y = _mm512_castps_pd(a[g + 2 + h]);
            b[g + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
            b[g + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
        }
    }
    // Round 3: c[8h + e] (e < 4) has the quarters of rows 8h .. 8h+4 and
    // 8h+4 .. 8h+8 for columns e and 8 + e; c[8h + 4 + e] for 4 + e and
    // 12 + e.
    for h in (0..16).step_by(8) {
        for e in 0..4 {
            let (x, y) = (b[h + e], b[h + 4 + e]);
            c[h + e] = _mm512_shuffle_f32x4::<0x88>(x, y);
            c[h + 4 + e] = _mm512_shuffle_f32x4::<0xdd>(x, y);
        }
    }
    // Round 4: column j from the quarters of rows 0..8 and 8..16.
    for e in 0..4 {
        r[e] = _mm512_shuffle_f32x4::<0x88>(c[e], c[8 + e]);
        r[8 + e] = _mm512_shuffle_f32x4::<0xdd>(c[e], c[8 + e]);
        r[4 + e] = _mm512_shuffle_f32x4::<0x88>(c[4 + e], c[12 + e]);
        r[12 + e] = _mm512_shuffle_f32x4::<0xdd>(c[4 + e], c[12 + e]);
    }
}

/// The mask of the first `n` (at most 16) of 16 lanes.
#[inline]
pub(crate) fn first(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// [`super::InterleavePatch`] for AVX-512 f32: the patch's rows one after
/// another, or, when they are contiguous in the source (`src_pitch ==
/// len`), all of them as one run, 16 positions per transpose.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn interleave_patch_f32(
    src: &[f32],
    starts: &[usize],
    p: Patch,
    dst: &mut [f32],
) {
    const L: usize = 16;
    if !check_patch(src, starts, &p, dst, L) {
        return;
    }
    let (segments, n) = if p.src_pitch == p.len {
        (1, p.len * p.rows)
    } else {
        (p.rows, p.len)
    };
    let mut r = [_mm512_setzero_ps(); L];
    for seg in 0..segments {
        // The tile row and column of the segment's next position.
        let (mut row, mut col) = (seg, 0);
        let mut f0 = 0;
        while f0 < n {
            let count = (n - f0).min(L);
            for (lane, v) in r.iter_mut().enumerate() {
                // SAFETY: check_patch proved starts[lane] + (rows-1) *
                // src_pitch + len <= src.len(); the segment's positions f0 ..
                // f0 + count < n lie within that (one row, or all rows
                // contiguous when src_pitch == len); the mask keeps the
                // load to those `count` elements (masked-off lanes touch
                // no memory).
                *v = unsafe {
                    let at = src.as_ptr().add(starts[lane] + seg * p.src_pitch + f0);
                    _mm512_maskz_loadu_ps(first(count), at)
                };
            }
            transpose16(&mut r);
            for v in &r[..count] {
                // SAFETY: row < rows and col < len, so the 16 elements at
                // row * dst_pitch + col * L lie inside dst (check_patch
                // proved (rows-1) * dst_pitch + len * L <= dst.len()).
                unsafe { _mm512_storeu_ps(dst.as_mut_ptr().add(row * p.dst_pitch + col * L), *v) };
                col += 1;
                if col == p.len {
                    (row, col) = (row + 1, 0);
                }
            }
            f0 += count;
        }
    }
}

/// [`super::Deinterleave`] for AVX-512 f32: 16 pixels per transpose, each
/// lane's 16 then stored with one (masked at the end) store.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn deinterleave_f32(
    row: &[f32],
    len: usize,
    dsts: &mut [&mut [f32]],
    at: usize,
    bias: Option<&[f32]>,
) {
    const L: usize = 16;
    check_deinterleave(row, len, dsts, at, bias, L);
    let mut r = [_mm512_setzero_ps(); L];
    let mut t0 = 0;
    while t0 < len {
        let count = (len - t0).min(L);
        for (t, v) in r.iter_mut().enumerate().take(count) {
            // SAFETY: pixel t0 + t < len, whose L values lie inside row
            // (len * L <= row.len() checked).
            *v = unsafe { _mm512_loadu_ps(row.as_ptr().add((t0 + t) * L)) };
        }
        transpose16(&mut r);
        for (l, (d, &v)) in dsts.iter_mut().zip(&r).enumerate() {
            let v = match bias {
                Some(b) => _mm512_add_ps(v, _mm512_set1_ps(b[l])),
                None => v,
            };
            // SAFETY: the mask enables d[at + t0 .. at + t0 + count] only,
            // inside d (at + len <= d.len() checked); masked-off lanes
            // touch no memory. Lanes of pixels >= count are stale values
            // from the previous block and are never stored.
            unsafe { _mm512_mask_storeu_ps(d.as_mut_ptr().add(at + t0), first(count), v) };
        }
        t0 += count;
    }
}
