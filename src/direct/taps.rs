//! Per-axis index tables of a convolution's taps.
//!
//! A 2D tap `(i, j)` at output `(oy, ox)` reads the padded input at
//! `(oy*sh - pt + i*dh, ox*sw - pl + j*dw)`; the two axes are independent,
//! so one table per axis, `kernel x outputs` entries, replaces every
//! per-element division, bounds test and padding-mode fold in the inner
//! loops (the im2col packer and the col2im scatter both read them).

use crate::error::{Error, Result};
use convoracle_reference::PaddingMode;

/// The table entry of a tap that reads (or writes) nothing: a zero of the
/// padding, or a position outside the output.
pub(crate) const NONE: u32 = u32::MAX;

/// One axis: `index(t, o)` is the element that tap `t` at position `o`
/// reaches, or [`NONE`].
#[derive(Debug, Clone)]
pub(crate) struct AxisTaps {
    positions: usize,
    stride: usize,
    table: Vec<u32>,
    /// Per tap, the positions `lo .. hi` whose coordinate lies inside
    /// `0 .. size` (contiguous: the coordinate grows with the position).
    /// There the element is `table[lo] + (o - lo) * stride` whatever the
    /// padding mode, so loops take it as a strided run.
    interior: Vec<(usize, usize)>,
}

impl AxisTaps {
    /// The forward conv's map on one axis: tap `t` (a weight index; the
    /// forward tap is `kernel-1-t` when `flip`) at output `o` reads
    /// `mode.source(o*stride - before + tap*dilation, size)`.
    ///
    /// For the transposed conv, call it with its input as `positions`, its
    /// output as `size`, its padding as `before` and zeros mode: an input
    /// element `o` scatters through tap `t` to output `o*s - p + t*d` when
    /// that lies in the output, which is the same formula.
    #[allow(clippy::too_many_arguments)] // one axis of a ConvShape, spelled out
    pub(crate) fn new(
        positions: usize,
        kernel: usize,
        stride: usize,
        before: i64,
        dilation: usize,
        size: usize,
        mode: PaddingMode,
        flip: bool,
    ) -> Result<Self> {
        if size >= NONE as usize {
            return Err(Error::Usage(format!(
                "an axis of {size} elements is beyond the direct backend's 32-bit tap tables"
            )));
        }
        let len = kernel
            .checked_mul(positions)
            .ok_or_else(|| Error::Usage("tap table size overflows".to_string()))?;
        let mut table = Vec::with_capacity(len);
        let mut interior = Vec::with_capacity(kernel);
        for t in 0..kernel {
            let tap = if flip { kernel - 1 - t } else { t };
            let (mut lo, mut hi) = (positions, positions);
            for o in 0..positions {
                // i128: any i64 padding and usize sizes, without wrapping.
                let coord =
                    o as i128 * stride as i128 - before as i128 + tap as i128 * dilation as i128;
                if coord >= 0 && lo == positions {
                    lo = o;
                }
                if coord >= size as i128 && hi == positions {
                    hi = o;
                }
                table.push(source(mode, coord, size).map_or(NONE, |s| s as u32));
            }
            interior.push((lo, hi.max(lo)));
        }
        Ok(AxisTaps {
            positions,
            stride,
            table,
            interior,
        })
    }

    /// Tap `t`'s interior `(lo, hi)`: positions whose element is
    /// `row(t)[lo] + (o - lo) * stride()`.
    #[inline]
    pub(crate) fn interior(&self, t: usize) -> (usize, usize) {
        self.interior[t]
    }

    /// The step between the elements of consecutive interior positions.
    #[inline]
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// The row of tap `t`: one entry per position.
    #[inline]
    pub(crate) fn row(&self, t: usize) -> &[u32] {
        &self.table[t * self.positions..][..self.positions]
    }

    /// Bytes the table holds (for the memory limit).
    pub(crate) fn bytes(kernel: usize, positions: usize) -> u128 {
        kernel as u128 * positions as u128 * 4
    }
}

/// `mode.source` on a coordinate that may lie beyond i64 (only a zero or a
/// replicated edge can be that far: reflect and circular padding are
/// checked to be at most the input size).
pub(crate) fn source(mode: PaddingMode, coord: i128, size: usize) -> Option<usize> {
    if (0..size as i128).contains(&coord) {
        return Some(coord as usize);
    }
    if mode == PaddingMode::Zeros {
        return None;
    }
    let clamped = coord.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    mode.source(clamped, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_and_flip() {
        // size 4, kernel 3, stride 1, pad 1: output 4; tap 0 at o = 0 reads -1 -> 1.
        let t = AxisTaps::new(4, 3, 1, 1, 1, 4, PaddingMode::Reflect, false).unwrap();
        assert_eq!(t.row(0), &[1, 0, 1, 2]);
        assert_eq!(t.row(2), &[1, 2, 3, 2]);
        let f = AxisTaps::new(4, 3, 1, 1, 1, 4, PaddingMode::Zeros, true).unwrap();
        assert_eq!(f.row(0), &[1, 2, 3, NONE]);
        assert_eq!(f.row(2), &[NONE, 0, 1, 2]);
        assert_eq!((f.interior(0), f.interior(2)), ((0, 3), (1, 4)));
        let s = AxisTaps::new(3, 2, 2, 0, 1, 4, PaddingMode::Zeros, false).unwrap();
        assert_eq!(
            (s.row(1), s.interior(1), s.stride()),
            (&[1, 3, NONE][..], (0, 2), 2)
        );
        assert_eq!((f.interior(0), f.interior(2)), ((0, 3), (1, 4)));
        let s = AxisTaps::new(3, 2, 2, 0, 1, 4, PaddingMode::Zeros, false).unwrap();
        assert_eq!(
            (s.row(1), s.interior(1), s.stride()),
            (&[1, 3, NONE][..], (0, 2), 2)
        );
    }
}
