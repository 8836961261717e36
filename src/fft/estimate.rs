//! What a call would cost on the FFT backend, from shapes alone: the jobs
//! the op runs (built without data), each in the polyphase form and with
//! the tiles the engine would choose, priced by the tiling's cost model,
//! plus the plain 1x1 loops of the composites. The `auto` backend turns this into seconds with a rate it
//! measures on the machine.

use super::conv2d::job;
use super::job::Job;
use super::{backward, polyphase, transposed};
use crate::backend::Context;
use convoracle_reference::{DType, Op, OpGeometry, PaddingMode};

/// Cost units of one multiply-add of a composite's plain 1x1 loops,
/// relative to the tiling's units (about 5 flops of a transform each; the
/// loops are vectorised, so a multiply-add is a fraction of a unit).
const POINTWISE_UNITS_PER_MULTIPLY_ADD: f64 = 0.2;

/// The relative cost of running `op` (of geometry `geometry`) on the FFT
/// backend with `context`'s threads and memory limit: the units of
/// `sizes::cost` summed over the op's jobs. `None` when a job has no
/// tiling within the memory limit or the op has no FFT form.
pub fn cost_units(op: &Op, geometry: &OpGeometry, dtype: DType, context: &Context) -> Option<f64> {
    let threads = context.thread_count();
    let mut total = 0.0;
    for job in jobs(op, geometry)?.iter().filter(|j| j.output_len() > 0) {
        total += polyphase::choose(job, context.memory_bytes(), threads, dtype.size())?.cost;
    }
    Some(total + POINTWISE_UNITS_PER_MULTIPLY_ADD * pointwise_multiply_adds(geometry) as f64)
}

/// The polyphase form and tiles the engine would choose for each job of
/// `op`, in words (`None` for a job without tiles within the memory
/// limit).
pub(crate) fn forms(
    op: &Op,
    geometry: &OpGeometry,
    dtype: DType,
    context: &Context,
) -> Vec<Option<String>> {
    let threads = context.thread_count();
    jobs(op, geometry)
        .unwrap_or_default()
        .iter()
        .filter(|j| j.output_len() > 0)
        .map(|job| {
            polyphase::choose(job, context.memory_bytes(), threads, dtype.size()).map(|c| {
                let [nh, nw] = c.tiles.n;
                let [th, tw] = c.tiles.count;
                format!(
                    "{}, {nh}x{nw} transforms, {th}x{tw} tiles",
                    c.poly.describe()
                )
            })
        })
        .collect()
}

/// The jobs of `op` without data (shapes only).
fn jobs(op: &Op, geometry: &OpGeometry) -> Option<Vec<Job<'static, f32>>> {
    let none: &[f32] = &[];
    let jobs: Vec<Job<'_, f32>> = match (op, geometry) {
        (Op::Conv2d(p), OpGeometry::Conv2d(g)) => {
            vec![job(g, p.padding_mode, p.flip_kernel, none, none, false)]
        }
        (Op::DynamicConv2d(_), OpGeometry::DynamicConv2d(d)) => {
            vec![job(&d.conv, PaddingMode::Zeros, false, none, none, true)]
        }
        (Op::ConvTranspose2d(_), OpGeometry::ConvTranspose2d(g)) => {
            vec![transposed::job(g, false, none, none)]
        }
        (Op::Conv2dBackwardInput(p), OpGeometry::Conv2dBackwardInput(g)) => {
            vec![transposed::job(
                &transposed::adjoint(g),
                p.conv.flip_kernel,
                none,
                none,
            )]
        }
        (Op::Conv2dBackwardWeight(p), OpGeometry::Conv2dBackwardWeight(g)) => {
            if g.batch == 0 {
                Vec::new()
            } else {
                vec![backward::weight_job(&p.conv, g, none, none)]
            }
        }
        (Op::DepthwiseSeparable2d(_), OpGeometry::DepthwiseSeparable2d(d)) => {
            vec![job(
                &d.depthwise,
                PaddingMode::Zeros,
                false,
                none,
                none,
                false,
            )]
        }
        (Op::SpatiallySeparable2d(_), OpGeometry::SpatiallySeparable2d(s)) => vec![
            job(&s.vertical, PaddingMode::Zeros, false, none, none, false),
            job(&s.horizontal, PaddingMode::Zeros, false, none, none, false),
        ],
        (Op::Aspp(_), OpGeometry::Aspp(a)) => a
            .rates
            .iter()
            .map(|&rate| {
                job(
                    &a.dilated_branch(rate),
                    PaddingMode::Zeros,
                    false,
                    none,
                    none,
                    false,
                )
            })
            .collect(),
        _ => return None,
    };
    Some(jobs)
}

/// Multiply-adds of the plain 1x1 loops a composite runs beside its jobs.
fn pointwise_multiply_adds(geometry: &OpGeometry) -> u128 {
    match geometry {
        OpGeometry::DepthwiseSeparable2d(d) => {
            let dw = &d.depthwise;
            (dw.batch * dw.out_channels * d.pointwise.out_channels) as u128
                * (dw.output[0] * dw.output[1]) as u128
        }
        OpGeometry::Aspp(a) => {
            let plane = (a.size[0] * a.size[1]) as u128;
            let spatial = (1 + a.rates.len()) as u128;
            let branch = (a.batch * a.in_channels * a.branch_channels) as u128 * plane;
            let projection =
                (a.batch * a.out_channels * a.branch_channels) as u128 * spatial * plane;
            branch + projection
        }
        _ => 0,
    }
}
