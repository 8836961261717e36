//! conv_transpose2d and conv2d_backward_input as jobs.
//!
//! A transposed conv `out[o] = sum over (iy, i) with iy*s - pt + i*d = o of
//! x[iy] * w[i]` is a correlation of the input upsampled by the stride
//! (gaps *absent*: the definition has no term there) and shifted by the
//! padding, with the dilated kernel read in reverse: plane coordinate `q`
//! holds `x[(q + pt - (E - 1)) / s]` when that divides, and kernel
//! coordinate `t` holds `w[kh - 1 - t/d]`.
//!
//! The input gradient of conv2d is that transposed conv of `grad_output`
//! onto the *padded* input plane (padding 0, output `(Ho-1)*s + E`), then
//! folded back: each padded coordinate adds into the input element the
//! padding mode maps it to (`PaddingMode::source`; zeros padding drops
//! it), which is exactly the definition's sum for every mode.

use super::conv2d::add_bias;
use super::exec::Exec;
use super::job::{dilated_axis, Job, Source, Tap, Unit};
use super::plan_cache::Real;
use crate::error::Result;
use convoracle_reference::{Conv2dParams, ConvShape, Padding2d, Problem, Role};

/// The row map of the upsampled, shifted input on one axis.
fn upsampled_axis(len: usize, before: i64, extent: usize, stride: usize, size: usize) -> Vec<Tap> {
    (0..len)
        .map(|q| {
            let u = q as i128 + before as i128 - (extent as i128 - 1);
            let s = stride as i128;
            if u < 0 || u % s != 0 || u / s >= size as i128 {
                Tap::Absent
            } else {
                Tap::At((u / s) as usize)
            }
        })
        .collect()
}

/// The job of a transposed conv of geometry `g` (input `[N, C, H, W]`,
/// weight `[C, K/groups, kh, kw]`); `flip` reads the kernel flipped
/// (a forward conv's `flip_kernel`).
pub(crate) fn job<'a, T: Real>(
    g: &ConvShape,
    flip: bool,
    input: &'a [T],
    weight: &'a [T],
) -> Job<'a, T> {
    let [kh, kw] = g.kernel;
    let kernel_rows = dilated_axis(kh, g.dilation[0], !flip);
    let kernel_cols = dilated_axis(kw, g.dilation[1], !flip);
    let (eh, ew) = (kernel_rows.len(), kernel_cols.len());
    let (cg, kg) = (g.in_per_group(), g.out_per_group());
    let mut units = Vec::with_capacity(g.batch * g.groups);
    for n in 0..g.batch {
        for group in 0..g.groups {
            let maps = (0..kg)
                .map(|kk| {
                    (group * cg..(group + 1) * cg)
                        .map(|c| (n * g.in_channels + c, c * kg + kk))
                        .collect()
                })
                .collect();
            units.push(Unit { maps });
        }
    }
    Job {
        planes: Source {
            data: input,
            plane_len: g.input[0] * g.input[1],
            width: g.input[1],
            rows: upsampled_axis(
                g.output[0] + eh - 1,
                g.padding.top,
                eh,
                g.stride[0],
                g.input[0],
            ),
            cols: upsampled_axis(
                g.output[1] + ew - 1,
                g.padding.left,
                ew,
                g.stride[1],
                g.input[1],
            ),
            count: g.batch * g.in_channels,
        },
        kernels: Source {
            data: weight,
            plane_len: kh * kw,
            width: kw,
            rows: kernel_rows,
            cols: kernel_cols,
            count: g.in_channels * kg,
        },
        out: g.output,
        stride: [1, 1],
        units,
    }
}

/// conv_transpose2d into `out`.
pub(crate) fn run<T: Real>(
    exec: &Exec<'_>,
    g: &ConvShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    let input = problem.tensor(Role::Input)?.data();
    let weight = problem.tensor(Role::Weight)?.data();
    exec.run(&job(g, false, input, weight), out)?;
    if let Some(b) = problem.optional(Role::Bias) {
        add_bias(out, g.batch, g.out_channels, |_, k| b.data()[k]);
    }
    Ok(())
}

/// The forward conv of geometry `g` seen from `grad_output`: a transposed
/// conv with K channels in and C out, onto the padded input plane
/// (padding 0, output `(Ho-1)*s + E`).
pub(crate) fn adjoint(g: &ConvShape) -> ConvShape {
    let extent = [0, 1].map(|a| (g.kernel[a] - 1) * g.dilation[a] + 1);
    ConvShape {
        batch: g.batch,
        in_channels: g.out_channels,
        out_channels: g.in_channels,
        groups: g.groups,
        input: g.output,
        kernel: g.kernel,
        stride: g.stride,
        dilation: g.dilation,
        padding: Padding2d::default(),
        output_padding: [0, 0],
        output: [0, 1].map(|a| (g.output[a] - 1) * g.stride[a] + extent[a]),
    }
}

/// conv2d_backward_input into `out` (`[N, C, H, W]`); `g` is the forward
/// conv's geometry.
pub(crate) fn run_backward_input<T: Real>(
    exec: &Exec<'_>,
    conv: &Conv2dParams,
    g: &ConvShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    out.fill(T::zero());
    if out.is_empty() || g.out_channels == 0 {
        return Ok(());
    }
    let grad = problem.tensor(Role::GradOutput)?.data();
    let weight = problem.tensor(Role::Weight)?.data();
    let adjoint = adjoint(g);
    let padded = adjoint.output;
    let plane = padded[0] * padded[1];
    let mut full = exec.buffer::<T>(g.batch * g.in_channels * plane, "padded input gradient")?;
    exec.run(&job(&adjoint, conv.flip_kernel, grad, weight), &mut full)?;
    let mode = conv.padding_mode;
    let source = |len: usize, before: i64, size: usize| -> Vec<Option<usize>> {
        (0..len)
            .map(|q| {
                let c = (q as i128 - before as i128).clamp(i64::MIN as i128, i64::MAX as i128);
                mode.source(c as i64, size)
            })
            .collect()
    };
    let rows = source(padded[0], g.padding.top, g.input[0]);
    let cols = source(padded[1], g.padding.left, g.input[1]);
    let [h, w] = g.input;
    for (dst, src) in out.chunks_mut(h * w).zip(full.chunks(plane)) {
        for (q, y) in rows.iter().enumerate() {
            let Some(y) = *y else { continue };
            for (r, x) in cols.iter().enumerate() {
                if let Some(x) = *x {
                    dst[y * w + x] = dst[y * w + x] + src[q * padded[1] + r];
                }
            }
        }
    }
    Ok(())
}
