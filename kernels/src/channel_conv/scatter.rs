//! Unpacking the channel-vector kernel's output: a tile of pixels, each
//! `NR` channel values (the kernel's `out` layout, many runs side by
//! side), into the channels' NCHW planes. On AVX-512 f32 by in-register
//! 16 x 16 transposes (sixteen pixel loads, sixteen channel stores);
//! elsewhere element by element. Element by element it was a tenth of
//! resnet50.l1.3x3's time.

use crate::Element;

/// Checks the operands of a scatter of `pixels` pixels of `nr` channels.
pub(crate) fn check_scatter<T>(tile: &[T], nr: usize, pixels: usize, dsts: &[&mut [T]], at: usize) {
    assert!(
        dsts.len() <= nr,
        "channel scatter: more outputs than channels"
    );
    assert!(
        pixels.checked_mul(nr).is_some_and(|n| n <= tile.len()),
        "channel scatter: tile too short"
    );
    for d in dsts {
        assert!(
            at.checked_add(pixels).is_some_and(|end| end <= d.len()),
            "channel scatter: a channel's output is too short"
        );
    }
}

/// `dsts[j][at + p] = tile[p * nr + j]` for `j < dsts.len()`, `p <
/// pixels`, element by element.
pub(crate) fn scatter_scalar<T: Element>(
    tile: &[T],
    nr: usize,
    pixels: usize,
    dsts: &mut [&mut [T]],
    at: usize,
) {
    check_scatter(tile, nr, pixels, dsts, at);
    for (j, d) in dsts.iter_mut().enumerate() {
        let src = tile[j..].iter().step_by(nr);
        d[at..at + pixels]
            .iter_mut()
            .zip(src)
            .for_each(|(d, &v)| *d = v);
    }
}

/// The scalar scatter as a [`super::CcScatter`].
pub(crate) fn scalar<T: Element>(t: &[T], nr: usize, p: usize, d: &mut [&mut [T]], at: usize) {
    scatter_scalar(t, nr, p, d, at)
}

/// AVX-512 f32: per 16 channels (one vector of each pixel) and 16 pixels,
/// one transpose; the last pixels' stores masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn avx512_f32(
    tile: &[f32],
    nr: usize,
    pixels: usize,
    dsts: &mut [&mut [f32]],
    at: usize,
) {
    use crate::depthwise::transpose::{first, transpose16};
    use std::arch::x86_64::*;
    const L: usize = 16;
    check_scatter(tile, nr, pixels, dsts, at);
    if !nr.is_multiple_of(L) {
        return scatter_scalar(tile, nr, pixels, dsts, at);
    }
    for (h, lanes) in dsts.chunks_mut(L).enumerate() {
        let mut r = [_mm512_setzero_ps(); L];
        let mut p0 = 0;
        while p0 < pixels {
            let count = (pixels - p0).min(L);
            for (t, v) in r.iter_mut().enumerate().take(count) {
                // SAFETY: pixel p0 + t < pixels, and its channels h*L ..
                // h*L + L lie below nr (nr a multiple of L, h*L <
                // dsts.len() <= nr): inside tile (pixels * nr checked).
                *v = unsafe { _mm512_loadu_ps(tile.as_ptr().add((p0 + t) * nr + h * L)) };
            }
            transpose16(&mut r);
            for (d, &v) in lanes.iter_mut().zip(&r) {
                // SAFETY: the mask enables d[at + p0 .. at + p0 + count]
                // only, inside d (at + pixels <= d.len() checked); lanes
                // of pixels >= count hold stale values and are not stored.
                unsafe { _mm512_mask_storeu_ps(d.as_mut_ptr().add(at + p0), first(count), v) };
            }
            p0 += count;
        }
    }
}
