//! The problem transforms of the catalogue's bugs: each returns the problem
//! whose exact reference is what the buggy kernel computes (`None` when the
//! bug cannot be seen on the problem).

use convoracle_reference::{
    Conv2dParams, ConvGeometry, Op, OpKind, PaddingMode, PaddingSpec, Problem, Role, Tensor,
};

/// The conv2d parameters of the ops that have them.
pub(super) fn conv_params(op: &mut Op) -> Option<&mut Conv2dParams> {
    match op {
        Op::Conv2d(p) => Some(p),
        Op::Conv2dBackwardInput(p) => Some(&mut p.conv),
        Op::Conv2dBackwardWeight(p) => Some(&mut p.conv),
        Op::ConvTranspose2d(_)
        | Op::DeformConv2d(_)
        | Op::DynamicConv2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_) => None,
    }
}

/// The geometry of the forward-like ops.
pub(super) fn geometry(op: &mut Op) -> Option<&mut ConvGeometry> {
    match op {
        Op::Conv2d(p) => Some(&mut p.geometry),
        Op::DeformConv2d(p) => Some(&mut p.geometry),
        Op::DynamicConv2d(p) => Some(&mut p.geometry),
        Op::DepthwiseSeparable2d(p) => Some(&mut p.geometry),
        Op::SpatiallySeparable2d(p) => Some(&mut p.geometry),
        Op::Conv2dBackwardInput(p) => Some(&mut p.conv.geometry),
        Op::Conv2dBackwardWeight(p) => Some(&mut p.conv.geometry),
        Op::ConvTranspose2d(_) | Op::Aspp(_) => None,
    }
}

/// `p` with its op changed by `edit`; `None` when `edit` says the bug does
/// not apply or changes nothing.
pub(super) fn edit_op(
    p: &Problem<f64>,
    edit: impl FnOnce(&mut Op) -> Option<()>,
) -> Option<Problem<f64>> {
    let mut q = p.clone();
    edit(&mut q.op)?;
    (q.op != p.op).then_some(q)
}

/// `t` with its last two dims rotated by 180 degrees.
fn rotate_kernel(t: &Tensor<f64>) -> Tensor<f64> {
    let s = t.shape();
    let (kh, kw) = (s[s.len() - 2], s[s.len() - 1]);
    // kh*kw overflows only for an empty tensor (another dim 0), whose
    // kernel dims no data bounds: there is nothing to rotate then.
    let taps = match kh.checked_mul(kw) {
        Some(taps) if taps > 0 && !t.is_empty() => taps,
        _ => return t.clone(),
    };
    let mut data = t.data().to_vec();
    for plane in data.chunks_mut(taps) {
        plane.reverse();
    }
    Tensor::new(s.to_vec(), data).expect("same shape")
}

pub(super) fn kernel_flipped(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    if let Some(c) = conv_params(&mut q.op) {
        c.flip_kernel = !c.flip_kernel;
        return Some(q);
    }
    let roles: &[Role] = match p.op.kind() {
        OpKind::DepthwiseSeparable2d => &[Role::DepthwiseWeight],
        OpKind::SpatiallySeparable2d => &[Role::VerticalWeight, Role::HorizontalWeight],
        OpKind::Aspp => &[Role::WeightDilated],
        OpKind::Conv2d
        | OpKind::ConvTranspose2d
        | OpKind::DeformConv2d
        | OpKind::DynamicConv2d
        | OpKind::Conv2dBackwardInput
        | OpKind::Conv2dBackwardWeight => &[Role::Weight],
    };
    for role in roles {
        let t = rotate_kernel(q.tensors.get(role)?);
        q.tensors.insert(*role, t);
    }
    (q != *p).then_some(q)
}

pub(super) fn padding_sides_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        let pad = match op {
            Op::ConvTranspose2d(t) => &mut t.padding,
            other => match &mut geometry(other)?.padding {
                PaddingSpec::Explicit(pad) => pad,
                _ => return None,
            },
        };
        std::mem::swap(&mut pad.top, &mut pad.bottom);
        std::mem::swap(&mut pad.left, &mut pad.right);
        Some(())
    })
}

pub(super) fn same_pad_wrong_side(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        let g = geometry(op)?;
        g.padding = match g.padding {
            PaddingSpec::SameUpper => PaddingSpec::SameLower,
            PaddingSpec::SameLower => PaddingSpec::SameUpper,
            _ => return None,
        };
        Some(())
    })
}

pub(super) fn output_padding_at_start(p: &Problem<f64>) -> Option<Problem<f64>> {
    let shapes = |r: Role| p.shape_of(r);
    let Op::ConvTranspose2d(params) = &p.op else {
        return None;
    };
    let geometry =
        convoracle_reference::spec::shapes::conv_transpose2d_geometry(params, &shapes).ok()?;
    edit_op(p, |op| {
        let Op::ConvTranspose2d(t) = op else {
            return None;
        };
        for axis in 0..2 {
            let extra = i64::try_from(geometry.output_padding[axis]).ok()?;
            // out'[o] = full[o + before - extra]: only the leading padding
            // moves; the output size stays (L - before - after + extra).
            let pad = if axis == 0 {
                &mut t.padding.top
            } else {
                &mut t.padding.left
            };
            *pad = pad.checked_sub(extra)?;
        }
        t.output_padding = [0, 0];
        t.output_size = None;
        Some(())
    })
}

pub(super) fn stride_axes_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.stride.reverse(),
            other => geometry(other)?.stride.reverse(),
        }
        Some(())
    })
}

pub(super) fn dilation_axes_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.dilation.reverse(),
            other => geometry(other)?.dilation.reverse(),
        }
        Some(())
    })
}

pub(super) fn dilation_ignored(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.dilation = [1, 1],
            Op::Aspp(a) => a.rates.iter_mut().for_each(|r| *r = 1),
            other => geometry(other)?.dilation = [1, 1],
        }
        Some(())
    })
}

/// Input channel c read by group `c % g` at position `c / g` within it.
pub(super) fn groups_interleaved(p: &Problem<f64>) -> Option<Problem<f64>> {
    let groups = match &p.op {
        Op::Conv2d(c) => c.geometry.groups,
        Op::DynamicConv2d(c) => c.geometry.groups,
        Op::DeformConv2d(c) => c.geometry.groups,
        Op::ConvTranspose2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_)
        | Op::Conv2dBackwardInput(_)
        | Op::Conv2dBackwardWeight(_) => return None,
    };
    let x = p.tensors.get(&Role::Input)?;
    let [n, c, h, w] = <[usize; 4]>::try_from(x.shape()).ok()?;
    if groups < 2 || c / groups < 2 {
        return None;
    }
    let cg = c / groups;
    // Overflows only for an empty batch (nothing to permute).
    let plane = h.checked_mul(w)?;
    let mut data = vec![0.0; x.len()];
    for b in 0..n {
        for g in 0..groups {
            for j in 0..cg {
                let (to, from) = (g * cg + j, j * groups + g);
                let dst = (b * c + to) * plane;
                let src = (b * c + from) * plane;
                data[dst..dst + plane].copy_from_slice(&x.data()[src..src + plane]);
            }
        }
    }
    let mut q = p.clone();
    q.tensors
        .insert(Role::Input, Tensor::new(x.shape().to_vec(), data).ok()?);
    Some(q)
}

/// conv_transpose2d's [C, K, kh, kw] weight buffer read as [K, C, kh, kw].
pub(super) fn transposed_weight_as_kc(p: &Problem<f64>) -> Option<Problem<f64>> {
    let Op::ConvTranspose2d(t) = &p.op else {
        return None;
    };
    let w = p.tensors.get(&Role::Weight)?;
    let [c, k, kh, kw] = <[usize; 4]>::try_from(w.shape()).ok()?;
    if t.groups != 1 {
        return None;
    }
    // Overflows only for an empty weight (nothing to permute).
    let taps = kh.checked_mul(kw)?;
    // Buggy read of w[c][k] = buffer[(k * C + c) * taps ..].
    let mut data = vec![0.0; w.len()];
    for ci in 0..c {
        for ki in 0..k {
            let dst = (ci * k + ki) * taps;
            let src = (ki * c + ci) * taps;
            data[dst..dst + taps].copy_from_slice(&w.data()[src..src + taps]);
        }
    }
    let mut q = p.clone();
    q.tensors
        .insert(Role::Weight, Tensor::new(w.shape().to_vec(), data).ok()?);
    (q != *p).then_some(q)
}

const BIASES: [Role; 5] = [
    Role::Bias,
    Role::DepthwiseBias,
    Role::PointwiseBias,
    Role::VerticalBias,
    Role::HorizontalBias,
];

pub(super) fn bias_missing(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    for role in BIASES {
        q.tensors.remove(&role);
    }
    (q != *p).then_some(q)
}

pub(super) fn bias_twice(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    for role in BIASES {
        if let Some(b) = q.tensors.get_mut(&role) {
            b.data_mut().iter_mut().for_each(|v| *v *= 2.0);
        }
    }
    (q != *p).then_some(q)
}

pub(super) fn offsets_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    let o = p.tensors.get(&Role::Offset)?;
    let s = o.shape();
    // Overflows only for an empty batch (nothing to swap).
    let plane = s[2].checked_mul(s[3])?;
    let pair = plane.checked_mul(2)?;
    let mut data = o.data().to_vec();
    for chunk in data.chunks_mut(pair) {
        let (dy, dx) = chunk.split_at_mut(plane);
        dy.swap_with_slice(dx);
    }
    let mut q = p.clone();
    q.tensors
        .insert(Role::Offset, Tensor::new(s.to_vec(), data).ok()?);
    (q != *p).then_some(q)
}

fn border_as(p: &Problem<f64>, mode: PaddingMode) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        conv_params(op)?.padding_mode = mode;
        Some(())
    })
}

pub(super) fn border_zeros(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Zeros)
}
pub(super) fn border_reflect(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Reflect)
}
pub(super) fn border_replicate(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Replicate)
}
pub(super) fn border_circular(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Circular)
}
