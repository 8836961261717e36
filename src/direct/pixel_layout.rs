//! Planes to pixel-major rows and back: the transposes around the
//! im2col-free GEMM paths, whose operands hold a pixel's channels
//! contiguously.

use super::scalar::Scalar;
use convoracle_kernels::Element;

/// Side of the square tiles the transpose moves: `TILE` channels by `TILE`
/// pixels, read as `TILE` contiguous runs and written as `TILE`.
const TILE: usize = 16;

/// `xt[(py * fw + px) * channels + c] = x[c, py - before[0], px -
/// before[1]]` over the `frame = [fh, fw]` positions, zeros where that
/// lies outside `x` (`channels` planes of `size = [h, w]`; `before`
/// negative crops). With `before = [0, 0]` and `frame = size` it is the
/// transpose of a `channels x h*w` matrix.
pub(crate) fn to_pixel_major<T: Scalar>(
    x: &[T],
    channels: usize,
    [h, w]: [usize; 2],
    before: [i64; 2],
    [fh, fw]: [usize; 2],
    xt: &mut [T],
) {
    let zero = <T as Element>::ZERO;
    // The input rows and columns inside the frame.
    let span = |before: i64, len: usize, frame: usize| {
        let lo = (-before).clamp(0, len as i64) as usize;
        let hi = (frame as i64 - before).clamp(lo as i64, len as i64) as usize;
        (lo, hi)
    };
    let (y0, y1) = span(before[0], h, fh);
    let (x0, x1) = span(before[1], w, fw);
    if y1 - y0 < fh || x1 - x0 < fw {
        xt[..fh * fw * channels].fill(zero);
    }
    let mut tile = [[zero; TILE]; TILE];
    for c0 in (0..channels).step_by(TILE) {
        let cn = TILE.min(channels - c0);
        for y in y0..y1 {
            let py = (y as i64 + before[0]) as usize;
            for xs in (x0..x1).step_by(TILE) {
                let xn = TILE.min(x1 - xs);
                let px = (xs as i64 + before[1]) as usize;
                for (k, row) in tile.iter_mut().enumerate().take(cn) {
                    row[..xn].copy_from_slice(&x[(c0 + k) * h * w + y * w + xs..][..xn]);
                }
                for d in 0..xn {
                    let out = &mut xt[(py * fw + px + d) * channels + c0..][..cn];
                    for (k, v) in out.iter_mut().enumerate() {
                        *v = tile[k][d];
                    }
                }
            }
        }
    }
}
