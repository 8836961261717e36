//! conv2d_backward_weight as a job.
//!
//! `dw[k, c', i, j] = sum over n, oy, ox of g[n, k, oy, ox] *
//! x_padded[n, c, oy*s + i*d, ox*s + j*d]` (padded coordinates) is a
//! correlation of the padded input plane (the padding mode's values) with
//! `grad_output` upsampled by the stride (gaps absent), sampled at the
//! dilation: output position `i` is plane offset `i*d`. The sum over the
//! batch happens in the frequency domain like a channel sum. With
//! `flip_kernel` the weight element `(wi, wj)` is forward tap
//! `(kh-1-wi, kw-1-wj)`: each map is reversed at the end.

use super::exec::Exec;
use super::job::{padded_axis, Job, Source, Tap, Unit};
use super::plan_cache::Real;
use crate::error::Result;
use convoracle_reference::{Conv2dParams, ConvShape, Problem, Role};

/// The map of `grad_output` upsampled by `stride` on one axis.
fn upsampled(size: usize, stride: usize) -> Vec<Tap> {
    (0..(size - 1) * stride + 1)
        .map(|t| {
            if t % stride == 0 {
                Tap::At(t / stride)
            } else {
                Tap::Absent
            }
        })
        .collect()
}

/// conv2d_backward_weight into `out` (`[K, C/groups, kh, kw]`); `g` is the
/// forward conv's geometry.
pub(crate) fn run_weight<T: Real>(
    exec: &Exec<'_>,
    conv: &Conv2dParams,
    g: &ConvShape,
    problem: &Problem<T>,
    out: &mut [T],
) -> Result<()> {
    if g.batch == 0 {
        // The empty sum; grad_output's sizes may be anything here.
        out.fill(T::zero());
        return Ok(());
    }
    let input = problem.tensor(Role::Input)?.data();
    let grad = problem.tensor(Role::GradOutput)?.data();
    let job = weight_job(conv, g, input, grad);
    let [kh, kw] = g.kernel;
    exec.run(&job, out)?;
    if conv.flip_kernel {
        for map in out.chunks_mut(kh * kw) {
            map.reverse();
        }
    }
    Ok(())
}

/// The job of the weight gradient of the forward conv `g`: per (group,
/// output channel, group input channel) map, the batch-summed correlation
/// of the padded input plane with `grad_output` upsampled by the stride,
/// sampled every dilation-th position.
pub(crate) fn weight_job<'a, T: Real>(
    conv: &Conv2dParams,
    g: &ConvShape,
    input: &'a [T],
    grad: &'a [T],
) -> Job<'a, T> {
    let (cg, kg) = (g.in_per_group(), g.out_per_group());
    let span =
        [0, 1].map(|a| (g.kernel[a] - 1) * g.dilation[a] + (g.output[a] - 1) * g.stride[a] + 1);
    let units = (0..g.groups)
        .map(|group| Unit {
            maps: (0..kg)
                .flat_map(|kk| (0..cg).map(move |ci| (group * kg + kk, ci)))
                .map(|(k, ci)| {
                    (0..g.batch)
                        .map(|n| (n * g.in_channels + group * cg + ci, n * g.out_channels + k))
                        .collect()
                })
                .collect(),
        })
        .collect();
    Job {
        planes: Source {
            data: input,
            plane_len: g.input[0] * g.input[1],
            width: g.input[1],
            rows: padded_axis(span[0], g.padding.top, g.input[0], conv.padding_mode),
            cols: padded_axis(span[1], g.padding.left, g.input[1], conv.padding_mode),
            count: g.batch * g.in_channels,
        },
        kernels: Source {
            data: grad,
            plane_len: g.output[0] * g.output[1],
            width: g.output[1],
            rows: upsampled(g.output[0], g.stride[0]),
            cols: upsampled(g.output[1], g.stride[1]),
            count: g.batch * g.out_channels,
        },
        out: g.kernel,
        stride: g.dilation,
        units,
    }
}
