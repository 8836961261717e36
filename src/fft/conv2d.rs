//! conv2d and dynamic_conv2d as jobs.
//!
//! conv2d: `out[n, k][o] = sum over c in k's group, (i, j) of
//! x_padded[n, c][o*s + (i, j)*d] * w[k, c', i, j]` is a correlation of the
//! padded input plane (the padding mode's values, read through
//! `PaddingMode::source`, so reflect, replicate and circular padding cost
//! nothing extra) with the dilated kernel (read flipped for
//! `flip_kernel`), sampled every stride-th position. One unit per (sample,
//! group): the group's input channels are transformed once per tile and
//! shared by the group's output channels.
//!
//! dynamic_conv2d: each sample's kernel `sum_e a[n, e] * w[e]` is
//! aggregated first (in f64, rounded once to the dtype), then convolved
//! the same way.

use super::exec::Exec;
use super::job::{dilated_axis, padded_axis, Job, Source, Unit};
use super::plan_cache::Real;
use crate::error::Result;
use convoracle_reference::Element;
use convoracle_reference::{Conv2dParams, ConvShape, DynamicShape, PaddingMode, Problem, Role};

/// The job of a conv2d of geometry `g` whose kernel `k` of output channel
/// `k` and group channel `ci` is plane `kernel_base + k * Cg + ci` of
/// `weight`; with `per_sample`, sample `n` reads kernels offset by
/// `n * K * Cg` (dynamic conv's aggregated kernels).
pub(crate) fn job<'a, T: Real>(
    g: &ConvShape,
    mode: PaddingMode,
    flip: bool,
    input: &'a [T],
    weight: &'a [T],
    per_sample: bool,
) -> Job<'a, T> {
    let [kh, kw] = g.kernel;
    let [dh, dw] = g.dilation;
    let kernel_rows = dilated_axis(kh, dh, flip);
    let kernel_cols = dilated_axis(kw, dw, flip);
    // Only the rows the definition reads: up to the last output's last tap.
    let plane_h = (g.output[0] - 1) * g.stride[0] + kernel_rows.len();
    let plane_w = (g.output[1] - 1) * g.stride[1] + kernel_cols.len();
    let (cg, kg) = (g.in_per_group(), g.out_per_group());
    let mut units = Vec::with_capacity(g.batch * g.groups);
    for n in 0..g.batch {
        let base = if per_sample {
            n * g.out_channels * cg
        } else {
            0
        };
        for group in 0..g.groups {
            let maps = (0..kg)
                .map(|kk| {
                    let k = group * kg + kk;
                    (0..cg)
                        .map(|ci| (n * g.in_channels + group * cg + ci, base + k * cg + ci))
                        .collect()
                })
                .collect();
            units.push(Unit { maps });
        }
    }
    let kernels = if per_sample { g.batch } else { 1 } * g.out_channels * cg;
    Job {
        planes: Source {
            data: input,
            plane_len: g.input[0] * g.input[1],
            width: g.input[1],
            rows: padded_axis(plane_h, g.padding.top, g.input[0], mode),
            cols: padded_axis(plane_w, g.padding.left, g.input[1], mode),
            count: g.batch * g.in_channels,
        },
        kernels: Source {
            data: weight,
            plane_len: kh * kw,
            width: kw,
            rows: kernel_rows,
            cols: kernel_cols,
            count: kernels,
        },
        out: g.output,
        stride: g.stride,
        units,
    }
}

/// Adds `bias[n][k]` (from `bias_of(n, k)`) to every map `[N, K, plane]`.
pub(crate) fn add_bias<T: Real>(
    out: &mut [T],
    batch: usize,
    maps: usize,
    bias_of: impl Fn(usize, usize) -> T,
) {
    if out.is_empty() || batch * maps == 0 {
        return;
    }
    let plane = out.len() / (batch * maps);
    for (i, chunk) in out.chunks_mut(plane.max(1)).enumerate() {
        let b = bias_of(i / maps, i % maps);
        for v in chunk {
            *v = *v + b;
        }
    }
}

/// conv2d into `out`.
pub(crate) fn run<T: Real>(
    exec: &Exec<'_>,
    p: &Conv2dParams,
    g: &ConvShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let input = problem.tensor(Role::Input)?.data();
    let weight = problem.tensor(Role::Weight)?.data();
    exec.run(
        &job(g, p.padding_mode, p.flip_kernel, input, weight, false),
        out,
    )?;
    if let Some(b) = problem.optional(Role::Bias) {
        add_bias(out, g.batch, g.out_channels, |_, k| b.data()[k]);
    }
    Ok(())
}

/// dynamic_conv2d into `out`.
pub(crate) fn run_dynamic<T: Real>(
    exec: &Exec<'_>,
    d: &DynamicShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let g = &d.conv;
    let input = problem.tensor(Role::Input)?.data();
    let weight = problem.tensor(Role::Weight)?.data();
    let attention = problem.tensor(Role::Attention)?.data();
    let experts = d.experts;
    let per_kernel = g.out_channels * g.in_per_group() * g.taps();
    let mut mixed = exec.buffer::<T>(g.batch * per_kernel, "aggregated kernels")?;
    for (n, kernel) in mixed
        .chunks_mut(per_kernel.max(1))
        .enumerate()
        .take(g.batch)
    {
        for (i, v) in kernel.iter_mut().enumerate() {
            let sum: f64 = (0..experts)
                .map(|e| attention[n * experts + e].to_f64() * weight[e * per_kernel + i].to_f64())
                .sum();
            *v = <T as Element>::from_f64(sum);
        }
    }
    exec.run(&job(g, PaddingMode::Zeros, false, input, &mixed, true), out)?;
    if let Some(b) = problem.optional(Role::Bias) {
        let b = b.data();
        add_bias(out, g.batch, g.out_channels, |n, k| {
            let sum: f64 = (0..experts)
                .map(|e| attention[n * experts + e].to_f64() * b[e * g.out_channels + k].to_f64())
                .sum();
            <T as Element>::from_f64(sum)
        });
    }
    Ok(())
}
