//! Problems of every op from the fuzzer's bytes: tiny tensors (every dim at
//! most a few) whose shapes mostly fit the op, with parameters that range
//! over everything case.json can say, extremes included. One byte may then
//! break one dim, to exercise the shape checks too.

use super::Bytes;
use convoracle::reference::{
    AsppParams, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DeformConv2dParams, DepthwiseSeparable2dParams, DynamicConv2dParams,
    Element, Op, OpKind, Padding2d, PaddingMode, PaddingSpec, Problem, Role,
    SpatiallySeparable2dParams, Tensor,
};
use convoracle::AnyProblem;

/// The largest tensor built: derived shapes (offsets, grad_output) can be
/// large when the parameters are; such inputs are skipped, not built.
const MAX_ELEMENTS: usize = 4096;

fn pair(b: &mut Bytes) -> [usize; 2] {
    if b.flag() {
        let v = b.param();
        [v, v]
    } else {
        [b.param(), b.param()]
    }
}

fn padding2d(b: &mut Bytes) -> Padding2d {
    match b.byte() % 3 {
        0 => Padding2d::uniform(b.padding()),
        1 => Padding2d::symmetric(b.padding(), b.padding()),
        _ => Padding2d {
            top: b.padding(),
            bottom: b.padding(),
            left: b.padding(),
            right: b.padding(),
        },
    }
}

fn geometry(b: &mut Bytes, groups: usize) -> ConvGeometry {
    let padding = match b.byte() % 6 {
        0 => PaddingSpec::Valid,
        1 => PaddingSpec::SameUpper,
        2 => PaddingSpec::SameLower,
        _ => PaddingSpec::Explicit(padding2d(b)),
    };
    ConvGeometry {
        stride: pair(b),
        padding,
        dilation: pair(b),
        groups,
    }
}

fn conv_params(b: &mut Bytes, groups: usize) -> Conv2dParams {
    Conv2dParams {
        geometry: geometry(b, groups),
        padding_mode: [
            PaddingMode::Zeros,
            PaddingMode::Reflect,
            PaddingMode::Replicate,
            PaddingMode::Circular,
        ][b.byte() as usize % 4],
        flip_kernel: b.flag(),
    }
}

/// A tiny dim: 0..=3 (0 rarely).
fn small(b: &mut Bytes) -> usize {
    match b.byte() % 16 {
        0 => 0,
        v => 1 + (v as usize % 3),
    }
}

/// The forward output of `g` for this input and kernel, or [1, 1].
fn forward(
    g: &ConvGeometry,
    input: [usize; 2],
    kernel: [usize; 2],
    mode: PaddingMode,
) -> [usize; 2] {
    g.resolve(input, kernel, mode).map_or([1, 1], |r| r.output)
}

/// An op and the shapes of its tensors.
fn shapes(b: &mut Bytes) -> (Op, Vec<(Role, Vec<usize>)>) {
    let kind = OpKind::ALL[b.byte() as usize % OpKind::ALL.len()];
    // Groups: usually 1..=3, sometimes a parameter (0 or extreme).
    let groups = if b.byte() < 230 {
        1 + b.below(3) as usize
    } else {
        b.param()
    };
    let g = groups.clamp(1, 3);
    let (n, h, w) = (small(b), small(b), small(b));
    let (cg, kg) = (small(b), small(b));
    let (c, k) = (cg * g, kg * g);
    let (kh, kw) = (small(b), small(b));
    let bias = b.flag();
    let mut t: Vec<(Role, Vec<usize>)> = Vec::new();
    let op = match kind {
        OpKind::Conv2d => {
            let p = conv_params(b, groups);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::Weight, vec![k, cg, kh, kw]));
            if bias {
                t.push((Role::Bias, vec![k]));
            }
            Op::Conv2d(p)
        }
        OpKind::ConvTranspose2d => {
            let p = ConvTranspose2dParams {
                stride: pair(b),
                padding: padding2d(b),
                dilation: pair(b),
                groups,
                output_padding: [b.below(3) as usize, b.below(3) as usize],
                output_size: b.flag().then(|| [b.param(), b.param()]),
            };
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::Weight, vec![c, kg, kh, kw]));
            if bias {
                t.push((Role::Bias, vec![k]));
            }
            Op::ConvTranspose2d(p)
        }
        OpKind::DeformConv2d => {
            let geometry = geometry(b, groups);
            let [ho, wo] = forward(&geometry, [h, w], [kh, kw], PaddingMode::Zeros);
            let offset_groups = 1 + b.below(2) as usize;
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::Weight, vec![k, cg, kh, kw]));
            t.push((Role::Offset, vec![n, 2 * offset_groups * kh * kw, ho, wo]));
            if b.flag() {
                t.push((Role::Mask, vec![n, offset_groups * kh * kw, ho, wo]));
            }
            if bias {
                t.push((Role::Bias, vec![k]));
            }
            Op::DeformConv2d(DeformConv2dParams { geometry })
        }
        OpKind::DynamicConv2d => {
            let experts = small(b);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::Weight, vec![experts, k, cg, kh, kw]));
            t.push((Role::Attention, vec![n, experts]));
            if bias {
                t.push((Role::Bias, vec![experts, k]));
            }
            Op::DynamicConv2d(DynamicConv2dParams {
                geometry: geometry(b, groups),
            })
        }
        OpKind::DepthwiseSeparable2d => {
            let m = small(b);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::DepthwiseWeight, vec![c * m, 1, kh, kw]));
            t.push((Role::PointwiseWeight, vec![k, c * m, 1, 1]));
            if bias {
                t.push((Role::DepthwiseBias, vec![c * m]));
                t.push((Role::PointwiseBias, vec![k]));
            }
            Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
                geometry: geometry(b, 1),
            })
        }
        OpKind::SpatiallySeparable2d => {
            let m = small(b);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::VerticalWeight, vec![m, c, kh, 1]));
            t.push((Role::HorizontalWeight, vec![k, m, 1, kw]));
            if bias {
                t.push((Role::VerticalBias, vec![m]));
                t.push((Role::HorizontalBias, vec![k]));
            }
            Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
                geometry: geometry(b, 1),
            })
        }
        OpKind::Aspp => {
            let rates: Vec<usize> = (0..b.below(3)).map(|_| b.param()).collect();
            let (branch, pool) = (small(b), b.flag());
            let concat = branch * (rates.len() + 1 + pool as usize);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::Weight1x1, vec![branch, c, 1, 1]));
            t.push((Role::WeightDilated, vec![rates.len(), branch, c, 3, 3]));
            if pool {
                t.push((Role::WeightPool, vec![branch, c, 1, 1]));
            }
            t.push((Role::WeightProject, vec![k, concat, 1, 1]));
            Op::Aspp(AsppParams { rates })
        }
        OpKind::Conv2dBackwardInput => {
            let conv = conv_params(b, groups);
            let input_size = if b.byte() < 200 { [h, w] } else { pair(b) };
            let [ho, wo] = forward(&conv.geometry, input_size, [kh, kw], conv.padding_mode);
            t.push((Role::GradOutput, vec![n, k, ho, wo]));
            t.push((Role::Weight, vec![k, cg, kh, kw]));
            Op::Conv2dBackwardInput(Conv2dBackwardInputParams { conv, input_size })
        }
        OpKind::Conv2dBackwardWeight => {
            let conv = conv_params(b, groups);
            let kernel_size = if b.byte() < 200 { [kh, kw] } else { pair(b) };
            let [ho, wo] = forward(&conv.geometry, [h, w], kernel_size, conv.padding_mode);
            t.push((Role::Input, vec![n, c, h, w]));
            t.push((Role::GradOutput, vec![n, k, ho, wo]));
            Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams { conv, kernel_size })
        }
    };
    // Sometimes break one dim of one tensor.
    if b.byte() >= 224 && !t.is_empty() {
        let i = b.below(t.len() as u64) as usize;
        let shape = &mut t[i].1;
        if !shape.is_empty() {
            let d = b.below(shape.len() as u64) as usize;
            shape[d] = small(b);
        }
    }
    (op, t)
}

fn filled<T: Element>(op: Op, shapes: &[(Role, Vec<usize>)], b: &mut Bytes) -> Option<Problem<T>> {
    let mut problem = Problem::new(op);
    for (role, shape) in shapes {
        let n = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= MAX_ELEMENTS)?;
        let data = (0..n).map(|_| T::from_f64(b.value())).collect();
        problem = problem.with(*role, Tensor::new(shape.clone(), data).ok()?);
    }
    Some(problem)
}

/// A problem of either dtype, or `None` when a derived tensor would be big.
pub fn build(b: &mut Bytes) -> Option<AnyProblem> {
    let f64s = b.flag();
    let (op, shapes) = shapes(b);
    Some(if f64s {
        AnyProblem::F64(filled(op, &shapes, b)?)
    } else {
        AnyProblem::F32(filled(op, &shapes, b)?)
    })
}
