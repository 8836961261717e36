//! Depthwise convolution (one input channel per group, any channel
//! multiplier): a direct kernel, since GEMM with one weight row per group
//! would be a matrix-vector product.
//!
//! Each output row is accumulated in place: zeroed, then for every tap in
//! the weight's order `(wi, wj)` one pass `out[ox] = out[ox] + w * x[..]`
//! over the row (a plain slice loop the compiler vectorises for stride 1),
//! then the bias. Border columns and padded rows take the padding mode's
//! value (zero in zeros mode, still multiplied in: `inf * 0` is NaN as in
//! the reference). The summation order of an element depends only on the
//! tap order, never on threads.

use super::im2col::Im2colGeometry;
use super::Float;

/// One output plane `out` (`Ho x Wo`) from the input plane `x` (`H x W`)
/// and the kernel `w` (`kh x kw`, weight order), plus `bias`.
pub(crate) fn plane<T: Float>(
    g: &Im2colGeometry,
    out_h: usize,
    out: &mut [T],
    x: &[T],
    w: &[T],
    bias: Option<T>,
) {
    let out_w = g.out_w();
    let [kh, kw] = g.kernel();
    for oy in 0..out_h {
        let row = &mut out[oy * out_w..(oy + 1) * out_w];
        row.fill(T::default());
        for wi in 0..kh {
            for wj in 0..kw {
                g.accumulate_run(row, x, (wi, wj), oy, w[wi * kw + wj]);
            }
        }
        if let Some(b) = bias {
            for o in row.iter_mut() {
                *o = *o + b;
            }
        }
    }
}
