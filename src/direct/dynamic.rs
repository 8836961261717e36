//! `dynamic_conv2d` on the direct backend: the attention-weighted mixtures
//! of the E expert kernels, `sum_e a[n, e] * w[e]` (experts in order), of
//! up to `mr` samples at a time are one GEMM (attention rows times the
//! experts' kernels as an `E x kernel` matrix: the experts are read once
//! per group of samples, on the GEMM's vector kernels), the biases' mixtures
//! likewise; then each sample is convolved by the direct conv2d (depthwise
//! kernel, 1x1 GEMM or implicit GEMM, as conv2d chooses). The mixture is at
//! most one rounding more per term than the definition's sum, which the
//! `direct` bound's `E * C/g * kh * kw` terms cover.
//!
//! Non-finite data: the definition multiplies an infinite or NaN input by
//! the exact mixture, so what matters is the mixture's sign and whether it
//! is zero; a mixture rounded step by step in the dtype can cancel to 0
//! where the exact one does not (or the other way round). A sample with a
//! non-finite value in its input, its attention, the experts' kernels or
//! biases therefore mixes each kernel and bias element exactly (the
//! reference's `ExactSum`, rounded once), which keeps the sign and
//! zero-ness unless the exact mixture is below the dtype's smallest
//! subnormal. The weights' and attention's test is the rounded mixture
//! itself: an infinite or NaN term makes its element's sum infinite or NaN
//! (an infinity times 0 is NaN), so a finite mixture had finite terms, and
//! the weights are read once per sample, not once more for the test. (A
//! mixture that overflows from finite terms is mixed exactly too.)
//!
//! Scratch: the conv's, the kernels and biases of up to `mr` samples, and
//! the mixing GEMM's (one packed block of the experts).

use super::conv2d::{batch_one, DirectConv};
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::scalar::all_finite;
use super::{blocking, Float};
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::{gemm, Isa, MatMut, MatRef, PackA, StreamedA};
use convoracle_reference::{DType, DynamicShape, ExactSum, OpGeometry, PaddingMode, Problem, Role};

/// A planned dynamic_conv2d: the conv of one sample with its own kernel.
pub(crate) struct Dynamic {
    shape: DynamicShape,
    /// The conv of one sample (batch 1).
    conv: DirectConv,
    isa: Isa,
    /// Samples mixed per GEMM: at most one row panel of the GEMM (`mr`).
    samples: usize,
    /// Scratch elements of the mixing GEMM.
    gemm_scratch: usize,
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
    let b = blocking(dtype, isa);
    let samples = shape.conv.batch.clamp(1, b.mr);
    // What `PackA::gemm_scratch_len` asks of a streamed A with E columns,
    // for the wider of the two mixes (kernels, biases).
    let kc = b.kc.min(shape.experts);
    let nc = b.nc.min(kernel.max(one.out_channels));
    let gemm_scratch = nc.div_ceil(b.nr) * b.nr * kc + b.mr * kc + super::ALIGN_SLACK;
    let parts = [
        conv.scratch_len(),
        samples * kernel,
        samples * one.out_channels,
        gemm_scratch,
    ];
    let scratch = checked_scratch(&parts, dtype, context)?;
    OpPlan::new(
        problem,
        dtype,
        Dynamic {
            shape,
            conv,
            isa,
            samples,
            gemm_scratch,
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
            "kernels mixed by one GEMM per {} sample(s), then per sample {}",
            self.samples,
            self.conv.describe()
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let x = problem.tensor(Role::Input)?.data();
        let w = problem.tensor(Role::Weight)?.data();
        let a = problem.tensor(Role::Attention)?.data();
        let b = problem.optional(Role::Bias).map(|b| b.data());
        let s = &self.shape.conv;
        let experts = self.shape.experts;
        let image = s.in_channels * s.input[0] * s.input[1];
        let sample_out = s.out_channels * s.output[0] * s.output[1];
        let kernel = s.out_channels * s.in_per_group() * s.taps();
        let k_all = s.out_channels;
        let (conv_scratch, rest) = scratch.split_at_mut(self.conv.scratch_len());
        let (mixed_w, rest) = rest.split_at_mut(self.samples * kernel);
        let (mixed_b, rest) = rest.split_at_mut(self.samples * k_all);
        let gemm_scratch = &mut rest[..self.gemm_scratch];
        for n0 in (0..s.batch).step_by(self.samples) {
            let rows = self.samples.min(s.batch - n0);
            let a_rows = &a[n0 * experts..][..rows * experts];
            self.mix(
                a_rows,
                w,
                kernel,
                &mut mixed_w[..rows * kernel],
                gemm_scratch,
            );
            if let Some(b) = b {
                self.mix(a_rows, b, k_all, &mut mixed_b[..rows * k_all], gemm_scratch);
            }
            for i in 0..rows {
                let n = n0 + i;
                let x_n = &x[n * image..][..image];
                let a_n = &a[n * experts..][..experts];
                let w_n = &mut mixed_w[i * kernel..][..kernel];
                let b_n = &mut mixed_b[i * k_all..][..k_all];
                // See the module docs: a finite mixture had finite terms.
                let finite = all_finite(w_n) && (b.is_none() || all_finite(b_n));
                if !(finite && all_finite(x_n)) {
                    mix_exactly(a_n, w, w_n);
                    if let Some(b) = b {
                        mix_exactly(a_n, b, b_n);
                    }
                }
                let bias = b.map(|_| &b_n[..]);
                let out_n = &mut out[n * sample_out..][..sample_out];
                self.conv.run(x_n, w_n, bias, out_n, conv_scratch);
            }
        }
        Ok(())
    }
}

impl Dynamic {
    /// `mixed[i] = sum_e a[i, e] * w[e]` (the experts' tensors of `len`
    /// elements one after another; `a` row-major, `E` per row), by one
    /// GEMM: each sum from zero over the experts in order (in blocks of
    /// `kc` experts).
    fn mix<T: Float>(&self, a: &[T], w: &[T], len: usize, mixed: &mut [T], scratch: &mut [T]) {
        let experts = self.shape.experts;
        let rows = mixed.len() / len.max(1);
        let a = StreamedA::new(self.isa, MatRef::row_major(a, rows, experts, experts));
        debug_assert!(a.gemm_scratch_len(len) <= scratch.len());
        let b = MatRef::row_major(w, experts, len, len);
        gemm(
            &a,
            &b,
            0,
            MatMut::from_slice(mixed, rows, len, len),
            false,
            scratch,
        );
    }
}

/// `mixed = sum_e a[e] * w[e]` (the experts' tensors of `mixed.len()`
/// elements one after another), each element the exact sum rounded once.
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
