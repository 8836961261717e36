//! The composite ops as compositions of FFT steps: each spatial step is a
//! conv2d job, the 1x1 steps are plain loops. The intermediate tensors are
//! rounded to the dtype; the `fft` bound of a composite is normwise over
//! the whole map (see docs/accuracy.md), which covers that rounding.

use super::conv2d::{add_bias, job};
use super::exec::Exec;
use super::plan_cache::Real;
use crate::error::Result;
use convoracle_reference::Element;
use convoracle_reference::{
    AsppShape, DepthwiseSeparableShape, PaddingMode, Problem, Role, SpatiallySeparableShape,
};

/// `out[n, k] = sum_q w[k * q_count + q] * x[n, q]` over maps of `plane`
/// elements (a 1x1 conv), plus `constant(n, k)`.
fn pointwise<T: Real>(
    x: &[T],
    w: &[T],
    [batch, q_count, k_count, plane]: [usize; 4],
    out: &mut [T],
    constant: impl Fn(usize, usize) -> T,
) {
    for n in 0..batch {
        for k in 0..k_count {
            let dst = &mut out[(n * k_count + k) * plane..(n * k_count + k + 1) * plane];
            dst.fill(constant(n, k));
            for q in 0..q_count {
                let weight = w[k * q_count + q];
                let src = &x[(n * q_count + q) * plane..(n * q_count + q + 1) * plane];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = *d + weight * *s;
                }
            }
        }
    }
}

/// depthwise_separable2d: the depthwise step by FFT, then the 1x1 step.
pub(crate) fn run_depthwise<T: Real>(
    exec: &Exec<'_>,
    d: &DepthwiseSeparableShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let dw = &d.depthwise;
    let input = problem.tensor(Role::Input)?.data();
    let weight = problem.tensor(Role::DepthwiseWeight)?.data();
    let plane = dw.output[0] * dw.output[1];
    let mut mid = exec.buffer::<T>(dw.batch * dw.out_channels * plane, "depthwise output")?;
    exec.run(
        &job(dw, PaddingMode::Zeros, false, input, weight, false),
        &mut mid,
    )?;
    if let Some(b) = problem.optional(Role::DepthwiseBias) {
        add_bias(&mut mid, dw.batch, dw.out_channels, |_, q| b.data()[q]);
    }
    let pw = problem.tensor(Role::PointwiseWeight)?.data();
    let pb = problem.optional(Role::PointwiseBias).map(|b| b.data());
    let dims = [dw.batch, dw.out_channels, d.pointwise.out_channels, plane];
    pointwise(&mid, pw, dims, out, |_, k| pb.map_or(T::zero(), |b| b[k]));
    Ok(())
}

/// spatially_separable2d: the vertical and the horizontal step, each by FFT.
pub(crate) fn run_spatial<T: Real>(
    exec: &Exec<'_>,
    s: &SpatiallySeparableShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let (v, h) = (&s.vertical, &s.horizontal);
    let input = problem.tensor(Role::Input)?.data();
    let vw = problem.tensor(Role::VerticalWeight)?.data();
    let hw = problem.tensor(Role::HorizontalWeight)?.data();
    let mut mid = exec.buffer::<T>(
        v.batch * v.out_channels * v.output[0] * v.output[1],
        "vertical output",
    )?;
    exec.run(
        &job(v, PaddingMode::Zeros, false, input, vw, false),
        &mut mid,
    )?;
    if let Some(b) = problem.optional(Role::VerticalBias) {
        add_bias(&mut mid, v.batch, v.out_channels, |_, m| b.data()[m]);
    }
    exec.run(&job(h, PaddingMode::Zeros, false, &mid, hw, false), out)?;
    if let Some(b) = problem.optional(Role::HorizontalBias) {
        add_bias(out, h.batch, h.out_channels, |_, k| b.data()[k]);
    }
    Ok(())
}

/// aspp: the 1x1 branch (loop), each dilated 3x3 branch (FFT), the pooling
/// branch (means, constant per map), then the 1x1 projection (loop).
pub(crate) fn run_aspp<T: Real>(
    exec: &Exec<'_>,
    a: &AsppShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let (n_count, c_count, b_count, k_count) =
        (a.batch, a.in_channels, a.branch_channels, a.out_channels);
    let plane = a.size[0] * a.size[1];
    let input = problem.tensor(Role::Input)?.data();
    let w1 = problem.tensor(Role::Weight1x1)?.data();
    let wd = problem.tensor(Role::WeightDilated)?.data();
    let wp = problem.tensor(Role::WeightProject)?.data();
    let spatial = 1 + a.rates.len();
    let concat = b_count * a.branches();
    // The spatial branches, concatenated per sample: [N, B * (1 + R), H, W].
    let mut branches = exec.buffer::<T>(n_count * spatial * b_count * plane, "aspp branches")?;
    let mut one = exec.buffer::<T>(n_count * b_count * plane, "aspp branch")?;
    let per_sample = b_count * plane;
    let copy_in = |branches: &mut [T], one: &[T], slot: usize| {
        for n in 0..n_count {
            let dst = (n * spatial + slot) * per_sample;
            branches[dst..dst + per_sample]
                .copy_from_slice(&one[n * per_sample..(n + 1) * per_sample]);
        }
    };
    pointwise(
        input,
        w1,
        [n_count, c_count, b_count, plane],
        &mut one,
        |_, _| T::zero(),
    );
    copy_in(&mut branches, &one, 0);
    let per_rate = b_count * c_count * 9;
    for (r, &rate) in a.rates.iter().enumerate() {
        let g = a.dilated_branch(rate);
        let w = &wd[r * per_rate..(r + 1) * per_rate];
        exec.run(
            &job(&g, PaddingMode::Zeros, false, input, w, false),
            &mut one,
        )?;
        copy_in(&mut branches, &one, 1 + r);
    }
    // The pooling branch's value is the same at every position of (n, b).
    let pooled: Vec<f64> = match problem.optional(Role::WeightPool) {
        Some(wpool) => {
            let wpool = wpool.data();
            let mut pooled = vec![0.0; n_count * b_count];
            for n in 0..n_count {
                let means: Vec<f64> = (0..c_count)
                    .map(|c| {
                        let x = &input[(n * c_count + c) * plane..(n * c_count + c + 1) * plane];
                        x.iter().map(|v| v.to_f64()).sum::<f64>() / plane as f64
                    })
                    .collect();
                for b in 0..b_count {
                    pooled[n * b_count + b] = (0..c_count)
                        .map(|c| wpool[b * c_count + c].to_f64() * means[c])
                        .sum();
                }
            }
            pooled
        }
        None => Vec::new(),
    };
    let spatial_channels = spatial * b_count;
    let projection: Vec<T> = (0..k_count)
        .flat_map(|k| {
            wp[k * concat..k * concat + spatial_channels]
                .iter()
                .copied()
        })
        .collect();
    pointwise(
        &branches,
        &projection,
        [n_count, spatial_channels, k_count, plane],
        out,
        |n, k| {
            if pooled.is_empty() {
                return T::zero();
            }
            let sum: f64 = (0..b_count)
                .map(|b| wp[k * concat + spatial_channels + b].to_f64() * pooled[n * b_count + b])
                .sum();
            <T as Element>::from_f64(sum)
        },
    );
    Ok(())
}
