//! `dynamic_conv2d` on the direct backend: per sample, the attention-
//! weighted mixture of the E expert kernels and biases is aggregated in the
//! dtype (`sum_e a[n, e] * w[e]`, experts in order), then the sample is
//! convolved by the direct conv2d (depthwise kernel, 1x1 GEMM or implicit
//! GEMM, as conv2d chooses). The mixture is one rounding more per term than
//! the definition's sum, which the `direct` bound's `E * C/g * kh * kw`
//! terms cover.
//!
//! Non-finite data: the definition multiplies an infinite or NaN input by
//! the exact mixture, so what matters is the mixture's sign and whether it
//! is zero; a mixture rounded step by step in the dtype can cancel to 0
//! where the exact one does not (or the other way round). A call with a
//! non-finite value in any tensor therefore mixes each kernel and bias
//! element exactly (the reference's `ExactSum`, rounded once), which keeps
//! the sign and zero-ness unless the exact mixture is below the dtype's
//! smallest subnormal.
//!
//! Scratch: the conv's, and one sample's kernel and bias.

use super::conv2d::{batch_one, DirectConv};
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::scalar::all_finite;
use super::Float;
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::Isa;
use convoracle_reference::{DType, DynamicShape, ExactSum, OpGeometry, PaddingMode, Problem, Role};

/// A planned dynamic_conv2d: the conv of one sample with its own kernel.
pub(crate) struct Dynamic {
    shape: DynamicShape,
    /// The conv of one sample (batch 1).
    conv: DirectConv,
    scratch: usize,
}

/// Plans a dynamic_conv2d problem within `context`'s memory limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<Dynamic>> {
    let OpGeometry::DynamicConv2d(shape) = problem.geometry()? else {
        return Err(Error::Implementation(
            "dynamic::plan was given another op".to_string(),
        ));
    };
    let one = batch_one(&shape.conv);
    let conv = DirectConv::new(&one, false, PaddingMode::Zeros, dtype, isa, context)?;
    let kernel = one.out_channels * one.in_per_group() * one.taps();
    let parts = [conv.scratch_len(), kernel, one.out_channels];
    let scratch = checked_scratch(&parts, dtype, context)?;
    OpPlan::new(
        problem,
        dtype,
        Dynamic {
            shape,
            conv,
            scratch,
        },
    )
}

impl Compute for Dynamic {
    fn scratch_len(&self) -> usize {
        self.scratch
    }

    fn describe(&self) -> String {
        format!(
            "kernel aggregated per sample, then {}",
            self.conv.describe()
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let x = problem.tensor(Role::Input)?.data();
        let w = problem.tensor(Role::Weight)?.data();
        let a = problem.tensor(Role::Attention)?.data();
        let b = problem.optional(Role::Bias).map(|b| b.data());
        let finite = problem.tensors.values().all(|t| all_finite(t.data()));
        let s = &self.shape.conv;
        let experts = self.shape.experts;
        let image = s.in_channels * s.input[0] * s.input[1];
        let sample_out = s.out_channels * s.output[0] * s.output[1];
        let kernel = s.out_channels * s.in_per_group() * s.taps();
        let k_all = s.out_channels;
        let (conv_scratch, rest) = scratch.split_at_mut(self.conv.scratch_len());
        let (mixed_w, rest) = rest.split_at_mut(kernel);
        let mixed_b = &mut rest[..k_all];
        for (n, out_n) in out.chunks_mut(sample_out).enumerate().take(s.batch) {
            let x_n = &x[n * image..][..image];
            let a_n = &a[n * experts..][..experts];
            let mix = if finite { mix } else { mix_exactly };
            mix(a_n, w, mixed_w);
            if let Some(b) = b {
                mix(a_n, b, mixed_b);
            }
            let bias = b.map(|_| &mixed_b[..]);
            self.conv.run(x_n, mixed_w, bias, out_n, conv_scratch);
        }
        Ok(())
    }
}

/// `mixed = sum_e a[e] * w[e]` (the experts' tensors of `mixed.len()`
/// elements one after another), experts in order.
fn mix<T: Float>(a: &[T], w: &[T], mixed: &mut [T]) {
    let len = mixed.len();
    mixed.fill(T::ZERO);
    for (e, &ae) in a.iter().enumerate() {
        for (m, &we) in mixed.iter_mut().zip(&w[e * len..][..len]) {
            *m = *m + ae * we;
        }
    }
}

/// `mixed = sum_e a[e] * w[e]` as [`mix`], each element the exact sum
/// rounded once.
fn mix_exactly<T: Float>(a: &[T], w: &[T], mixed: &mut [T]) {
    let len = mixed.len();
    let mut sum = ExactSum::new();
    for (i, m) in mixed.iter_mut().enumerate() {
        sum.clear();
        for (e, &ae) in a.iter().enumerate() {
            sum.add_product(&[ae.to_f64(), w[e * len + i].to_f64()]);
        }
        *m = T::round_exact(&sum);
    }
}
