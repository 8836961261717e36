//! The B packer of a 1x1, stride-1, unpadded conv: B is the group's input
//! channels themselves (`C/g x H*W`, row-major), so packing is a copy of
//! `nr`-wide pieces of each channel row (no im2col).

use super::copy_runs::copy_run;
use super::Float;
use convoracle_kernels::PackB;

/// The group's input planes `x` (`rows x cols`, contiguous) as B.
pub(crate) struct Rows<'a, T> {
    x: &'a [T],
    cols: usize,
}

impl<'a, T> Rows<'a, T> {
    /// B = `x` viewed as rows of `cols` elements.
    pub(crate) fn new(x: &'a [T], cols: usize) -> Self {
        Rows { x, cols }
    }
}

impl<T: Float> PackB<T> for Rows<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        for p in 0..kc {
            let row = &self.x[(k0 + p) * self.cols + n0..][..nc];
            // The same `copy_run` as the im2col packer: a `memcpy` call per
            // `nr` elements costs more than the copy.
            for (jp, src) in row.chunks(nr).enumerate() {
                let dst = &mut panel[jp * nr * kc + p * nr..][..nr];
                copy_run(&mut dst[..src.len()], src);
                if src.len() < nr {
                    dst[src.len()..].fill(T::default());
                }
            }
        }
    }
}

/// f32 input planes as the B of an f64 GEMM, widened while packing (exact:
/// the bits of packing a widened copy, without writing that copy), for
/// the exact engine.
impl PackB<f64> for Rows<'_, f32> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [f64]) {
        for p in 0..kc {
            let row = &self.x[(k0 + p) * self.cols + n0..][..nc];
            for (jp, src) in row.chunks(nr).enumerate() {
                let dst = &mut panel[jp * nr * kc + p * nr..][..nr];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = s as f64;
                }
                dst[src.len()..].fill(0.0);
            }
        }
    }
}
