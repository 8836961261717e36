//! `dynamic_conv2d` on the direct backend: per sample, the attention-
//! weighted mixture of the E expert kernels and biases is aggregated in the
//! dtype (`sum_e a[n, e] * w[e]`, experts in order), then the sample is
//! convolved by the direct conv2d (depthwise kernel, 1x1 GEMM or implicit
//! GEMM, as conv2d chooses). The mixture is one rounding more per term than
//! the definition's sum, which the `direct` bound's `E * C/g * kh * kw`
//! terms cover.
//!
//! Non-finite data: an infinity meeting the mixture would lose the
//! definition's per-expert terms (`inf * (a1*w1 + a2*w2)` is one infinity
//! where `inf*a1*w1 + inf*a2*w2` may be NaN), so a call with a non-finite
//! value in any tensor convolves each expert's kernel `a[n, e] * w[e]` on
//! its own and adds the E results: the class of every sum is then the
//! definition's.
//!
//! Scratch: the conv's, one sample's kernel and bias, and one sample's
//! output (for the non-finite path).

use super::conv2d::{batch_one, DirectConv};
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::Float;
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::Isa;
use convoracle_reference::{DType, DynamicShape, OpGeometry, PaddingMode, Problem, Role};

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
    let sample_out = one.output_shape().iter().product();
    let parts = [conv.scratch_len(), kernel, one.out_channels, sample_out];
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
        let finite = problem
            .tensors
            .values()
            .all(|t| t.data().iter().all(|v| v.to_f64().is_finite()));
        let s = &self.shape.conv;
        let experts = self.shape.experts;
        let image = s.in_channels * s.input[0] * s.input[1];
        let sample_out = s.out_channels * s.output[0] * s.output[1];
        let kernel = s.out_channels * s.in_per_group() * s.taps();
        let k_all = s.out_channels;
        let (conv_scratch, rest) = scratch.split_at_mut(self.conv.scratch_len());
        let (mixed_w, rest) = rest.split_at_mut(kernel);
        let (mixed_b, rest) = rest.split_at_mut(k_all);
        let one_out = &mut rest[..sample_out];
        for (n, out_n) in out.chunks_mut(sample_out).enumerate().take(s.batch) {
            let x_n = &x[n * image..][..image];
            let a_n = &a[n * experts..][..experts];
            if finite {
                mix(a_n, w, mixed_w);
                if let Some(b) = b {
                    mix(a_n, b, mixed_b);
                }
                let bias = b.map(|_| &mixed_b[..]);
                self.conv.run(x_n, mixed_w, bias, out_n, conv_scratch);
                continue;
            }
            out_n.fill(T::ZERO);
            for (e, &a_ne) in a_n.iter().enumerate() {
                scale(a_ne, &w[e * kernel..][..kernel], mixed_w);
                if let Some(b) = b {
                    scale(a_ne, &b[e * k_all..][..k_all], mixed_b);
                }
                let bias = b.map(|_| &mixed_b[..]);
                self.conv.run(x_n, mixed_w, bias, one_out, conv_scratch);
                for (o, v) in out_n.iter_mut().zip(one_out.iter()) {
                    *o = *o + *v;
                }
            }
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

/// `scaled = a * w`.
fn scale<T: Float>(a: T, w: &[T], scaled: &mut [T]) {
    for (s, &v) in scaled.iter_mut().zip(w) {
        *s = a * v;
    }
}
