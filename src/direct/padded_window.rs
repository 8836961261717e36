//! The padded window of a conv's input: the rows and columns its outputs
//! read, with the padding mode's values written in, so a kernel can read
//! every tap without a bounds test. Only the window the outputs reach is
//! built: bottom and right padding the outputs never read, or input they
//! skip (negative padding), cost nothing.

use super::Float;
use convoracle_reference::{ConvShape, PaddingMode};

/// The window geometry of one conv (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PaddedWindow {
    /// The input plane `[H, W]`.
    input: [usize; 2],
    /// The window `[Hp, Wp]`.
    window: [usize; 2],
    /// Per window row: the input row it copies, `None` for zeros.
    rows: Vec<Option<usize>>,
    /// Per window column: the input column it copies, `None` for zeros.
    cols: Vec<Option<usize>>,
    /// The window columns `lo .. lo + len` that copy input columns `c0 ..`
    /// (the interior, one contiguous copy per row).
    inner: (usize, usize, usize),
}

impl PaddedWindow {
    /// The window of `s`'s outputs under padding `mode`.
    pub(crate) fn new(s: &ConvShape, mode: PaddingMode) -> Self {
        let [kh, kw] = s.kernel;
        let [out_h, out_w] = s.output;
        let span = |out: usize, stride: usize, k: usize, dilation: usize| {
            if out == 0 || k == 0 {
                0
            } else {
                (out - 1) * stride + (k - 1) * dilation + 1
            }
        };
        let window = [
            span(out_h, s.stride[0], kh, s.dilation[0]),
            span(out_w, s.stride[1], kw, s.dilation[1]),
        ];
        let map = |origin: i64, size: usize, len: usize| -> Vec<Option<usize>> {
            (0..len)
                .map(|p| mode.source(p as i64 + origin, size))
                .collect()
        };
        let rows = map(-s.padding.top, s.input[0], window[0]);
        let cols = map(-s.padding.left, s.input[1], window[1]);
        let inner = interior(&cols);
        PaddedWindow {
            input: s.input,
            window,
            rows,
            cols,
            inner,
        }
    }

    /// `[Hp, Wp]`.
    pub(crate) fn window(&self) -> [usize; 2] {
        self.window
    }

    /// Elements of one padded plane.
    pub(crate) fn plane(&self) -> usize {
        self.window[0] * self.window[1]
    }

    /// Per tap `(i, j)` of a `kh x kw` kernel, row-major: its offset in a
    /// padded plane from its output pixel's window origin.
    pub(crate) fn tap_offsets(&self, s: &ConvShape) -> Vec<usize> {
        let [kh, kw] = s.kernel;
        let wp = self.window[1];
        (0..kh)
            .flat_map(|i| (0..kw).map(move |j| (i, j)))
            .map(|(i, j)| i * s.dilation[0] * wp + j * s.dilation[1])
            .collect()
    }

    /// Writes the padded window of every plane of `x` (planes of `H x W`)
    /// into `padded` (planes of `Hp x Wp`).
    pub(crate) fn pad<T: Float>(&self, x: &[T], padded: &mut [T]) {
        let [h, w] = self.input;
        let [hp, wp] = self.window;
        if hp * wp == 0 {
            return;
        }
        if h * w == 0 {
            // Only zeros to read (every source is `None`).
            padded.fill(T::ZERO);
            return;
        }
        for (xc, pc) in x.chunks_exact(h * w).zip(padded.chunks_exact_mut(hp * wp)) {
            self.pad_rows(xc, 0, pc);
        }
    }

    /// Writes window rows `r0 ..` of one plane `xc` (`H x W`, not empty),
    /// as many as `dst` holds (whole rows of `Wp`, at most `Hp - r0`).
    pub(crate) fn pad_rows<T: Float>(&self, xc: &[T], r0: usize, dst: &mut [T]) {
        let w = self.input[1];
        let wp = self.window[1];
        let (lo, len, c0) = self.inner;
        for (&row, dst) in self.rows[r0..].iter().zip(dst.chunks_exact_mut(wp)) {
            let Some(r) = row else {
                dst.fill(T::ZERO);
                continue;
            };
            let src = &xc[r * w..][..w];
            dst[lo..lo + len].copy_from_slice(&src[c0..c0 + len]);
            let border = (0..lo).chain(lo + len..wp);
            for p in border {
                dst[p] = self.cols[p].map_or(T::ZERO, |c| src[c]);
            }
        }
    }
}

/// The longest run of window columns that copy consecutive input columns
/// starting at the first copied one: `(window column, length, input
/// column)`, `(0, 0, 0)` when no column copies.
fn interior(cols: &[Option<usize>]) -> (usize, usize, usize) {
    let Some(lo) = cols.iter().position(Option::is_some) else {
        return (0, 0, 0);
    };
    let c0 = cols[lo].unwrap_or(0);
    let len = cols[lo..]
        .iter()
        .enumerate()
        .take_while(|&(i, &c)| c == Some(c0 + i))
        .count();
    (lo, len, c0)
}
