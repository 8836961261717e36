//! The exact engine's entry: a planned conv run in f64 on f32 operands,
//! widened on the fly (the GEMM lowerings only).

use super::{DirectConv, Lowering};
use crate::direct::im2col::Im2col;
use crate::direct::pointwise::Rows;
use convoracle_kernels::{MatRef, WidenedA};

impl DirectConv {
    /// Whether [`DirectConv::run_widened`] reads the input widened to f64
    /// (the im2col packer); the pointwise packer widens while packing.
    pub(crate) fn needs_wide_input(&self) -> bool {
        self.lowering != Lowering::Pointwise
    }

    /// [`DirectConv::run`] in f64 (a plan for f64) on f32 operands: each
    /// weight panel widened just before the microkernels use it
    /// ([`WidenedA`]), the input widened while packing (pointwise) or read
    /// from `wide_x`, its widened copy (im2col; ignored otherwise). The
    /// bits of `run` on widened copies (widening is exact), without the
    /// copies. `false` (nothing done) for the depthwise lowering.
    pub(crate) fn run_widened(
        &self,
        x: &[f32],
        wide_x: &[f64],
        w: &[f32],
        bias: Option<&[f64]>,
        out: &mut [f64],
        scratch: &mut [f64],
    ) -> bool {
        if matches!(self.lowering, Lowering::Depthwise | Lowering::RowKernel) {
            return false;
        }
        if out.is_empty() {
            return true;
        }
        let s = &self.shape;
        let (groups, kg, cg) = (s.groups, s.out_per_group(), s.in_per_group());
        let reduction = cg * s.taps();
        let a: Vec<WidenedA<'_>> = (0..groups)
            .map(|g| {
                let wg = &w[g * kg * reduction..(g + 1) * kg * reduction];
                WidenedA::new(self.isa, MatRef::row_major(wg, kg, reduction, reduction))
            })
            .collect();
        let scratch = &mut scratch[self.weights..];
        let group_input = cg * s.input[0] * s.input[1];
        let at = |n: usize, g: usize| (n * s.in_channels + g * cg) * s.input[0] * s.input[1];
        if self.lowering == Lowering::Pointwise {
            let pixels = s.output[0] * s.output[1];
            self.gemm_each(&a, out, scratch, |n, g| {
                Rows::new(&x[at(n, g)..][..group_input], pixels)
            });
        } else {
            self.gemm_each(&a, out, scratch, |n, g| {
                Im2col::new(&self.geometry, &wide_x[at(n, g)..][..group_input])
            });
        }
        if let Some(bias) = bias {
            self.add_bias(bias, out);
        }
        true
    }
}
