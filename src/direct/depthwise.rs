//! Depthwise convolution (one input channel per group, any channel
//! multiplier): a direct kernel, since GEMM with one weight row per group
//! would be a matrix-vector product.
//!
//! Each output row is accumulated in place: zeroed, then per kernel row one
//! pass that adds that row's `kw` taps in weight order,
//! `out[ox] = ((out[ox] + w0*x0) + w1*x1) + ...` (a slice loop with the tap
//! count known at compile time, which the compiler vectorises, for stride 1
//! and `kw <= 7`; one pass per tap otherwise), then the bias. Border columns
//! and padded rows take the padding mode's value (zero in zeros mode, still
//! multiplied in: `inf * 0` is NaN as in the reference). Every element sums
//! its taps in weight order whichever path it takes, so results never
//! depend on the split over threads.

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
            kernel_row(g, row, x, &w[wi * kw..(wi + 1) * kw], wi, oy);
        }
        if let Some(b) = bias {
            for o in row.iter_mut() {
                *o = *o + b;
            }
        }
    }
}

/// Adds kernel row `wi`'s taps (weights `ws`) to output row `oy` (`acc`).
fn kernel_row<T: Float>(
    g: &Im2colGeometry,
    acc: &mut [T],
    x: &[T],
    ws: &[T],
    wi: usize,
    oy: usize,
) {
    let kw = ws.len();
    let t0 = wi * kw;
    let fused = g.stride()[1] == 1 && kw <= 7;
    let y = g.tap_row(oy, t0);
    let (Some(y), true) = (y, fused) else {
        // Padded rows, strides, wide kernels: one pass per tap.
        for (wj, &wt) in ws.iter().enumerate() {
            g.accumulate_run(acc, x, (wi, wj), oy, wt);
        }
        return;
    };
    let width = g.input_width();
    let row = &x[y * width..(y + 1) * width];
    let (lo, hi) = g.common_interior(t0..t0 + kw);
    let (lo, hi) = (lo.min(acc.len()), hi.min(acc.len()));
    if lo < hi {
        let offs = |j: usize| g.interior_column(lo, t0 + j);
        let inner = &mut acc[lo..hi];
        match kw {
            1 => fused_row::<T, 1>(inner, row, ws, offs),
            2 => fused_row::<T, 2>(inner, row, ws, offs),
            3 => fused_row::<T, 3>(inner, row, ws, offs),
            4 => fused_row::<T, 4>(inner, row, ws, offs),
            5 => fused_row::<T, 5>(inner, row, ws, offs),
            6 => fused_row::<T, 6>(inner, row, ws, offs),
            _ => fused_row::<T, 7>(inner, row, ws, offs),
        }
    }
    // The border columns, element by element, taps in the same order.
    let border = (0..lo).chain(hi.max(lo)..acc.len());
    for ox in border {
        let mut v = acc[ox];
        for (j, &wt) in ws.iter().enumerate() {
            v = v + wt * g.tap_value(row, ox, t0 + j);
        }
        acc[ox] = v;
    }
}

/// `acc[o] = ((acc[o] + ws[0]*row[offs(0)+o]) + ws[1]*row[offs(1)+o]) ...`
/// for `KW` taps, stride 1.
#[inline(always)]
fn fused_row<T: Float, const KW: usize>(
    acc: &mut [T],
    row: &[T],
    ws: &[T],
    offs: impl Fn(usize) -> usize,
) {
    let n = acc.len();
    let srcs: [&[T]; KW] = std::array::from_fn(|j| &row[offs(j)..offs(j) + n]);
    let ws: [T; KW] = std::array::from_fn(|j| ws[j]);
    for (o, a) in acc.iter_mut().enumerate() {
        let mut v = *a;
        for j in 0..KW {
            v = v + ws[j] * srcs[j][o];
        }
        *a = v;
    }
}
