//! The catalogue of known bugs. Each entry says, for the ops it applies to,
//! what output the bug computes: usually the exact reference of a changed
//! problem (a parameter change or a rearrangement of a tensor), sometimes a
//! changed claim (the errors of a lower-precision accumulation). A new bug
//! is one entry here.
//! A few bugs are no changed problem at all (deform_conv2d's clamped
//! samples): their output comes from a small naive loop of their own.
//! conv2d's zero padding computed as replicate is `border filled as
//! replicate`.

use super::deform_clamp::deform_clamped;
use super::tolerance::{Accumulation, Tolerance};
use convoracle_reference::{
    Computed, Conv2dParams, ConvGeometry, DType, Op, OpKind, PaddingMode, PaddingSpec, Problem,
    Role, Tensor,
};

/// How a bug's output is obtained.
#[derive(Clone, Copy)]
pub enum BugModel {
    /// The exact reference of the changed problem (`None`: the bug cannot be
    /// seen on this problem, e.g. swapping the sides of symmetric padding).
    Problem(fn(&Problem<f64>) -> Option<Problem<f64>>),
    /// The bug's output computed directly, in the case dtype (`None`: not
    /// applicable to this problem).
    Output(fn(&Problem<f64>, DType) -> Option<Computed<f64>>),
    /// The candidate matches the reference under another claim: a bound it
    /// fails under the claimed precision but meets under this one.
    Tolerance(fn(&Tolerance, DType) -> Option<Tolerance>),
}

/// One known bug.
#[derive(Clone, Copy)]
pub struct KnownBug {
    /// A short name (`kernel flipped`).
    pub name: &'static str,
    /// What the kernel author did, in their words.
    pub description: &'static str,
    /// The ops the bug can happen in.
    pub applies_to: fn(OpKind) -> bool,
    /// What the bug computes.
    pub model: BugModel,
}

impl std::fmt::Debug for KnownBug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownBug")
            .field("name", &self.name)
            .finish()
    }
}

fn any_op(_: OpKind) -> bool {
    true
}

fn transposed(op: OpKind) -> bool {
    op == OpKind::ConvTranspose2d
}

fn deform(op: OpKind) -> bool {
    op == OpKind::DeformConv2d
}

/// Ops with a `ConvGeometry` or the transposed op's own stride/padding.
fn geometric(op: OpKind) -> bool {
    op != OpKind::Aspp
}

/// Ops whose border has a padding mode.
fn padding_mode_ops(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Conv2d | OpKind::Conv2dBackwardInput | OpKind::Conv2dBackwardWeight
    )
}

fn grouped(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Conv2d | OpKind::DynamicConv2d | OpKind::DeformConv2d
    )
}

/// The conv2d parameters of the ops that have them.
fn conv_params(op: &mut Op) -> Option<&mut Conv2dParams> {
    match op {
        Op::Conv2d(p) => Some(p),
        Op::Conv2dBackwardInput(p) => Some(&mut p.conv),
        Op::Conv2dBackwardWeight(p) => Some(&mut p.conv),
        _ => None,
    }
}

/// The geometry of the forward-like ops.
fn geometry(op: &mut Op) -> Option<&mut ConvGeometry> {
    match op {
        Op::Conv2d(p) => Some(&mut p.geometry),
        Op::DeformConv2d(p) => Some(&mut p.geometry),
        Op::DynamicConv2d(p) => Some(&mut p.geometry),
        Op::DepthwiseSeparable2d(p) => Some(&mut p.geometry),
        Op::SpatiallySeparable2d(p) => Some(&mut p.geometry),
        Op::Conv2dBackwardInput(p) => Some(&mut p.conv.geometry),
        Op::Conv2dBackwardWeight(p) => Some(&mut p.conv.geometry),
        _ => None,
    }
}

/// `p` with its op changed by `edit`; `None` when `edit` says the bug does
/// not apply or changes nothing.
fn edit_op(p: &Problem<f64>, edit: impl FnOnce(&mut Op) -> Option<()>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    edit(&mut q.op)?;
    (q.op != p.op).then_some(q)
}

/// `t` with its last two dims rotated by 180 degrees.
fn rotate_kernel(t: &Tensor<f64>) -> Tensor<f64> {
    let s = t.shape();
    let (kh, kw) = (s[s.len() - 2], s[s.len() - 1]);
    let mut data = t.data().to_vec();
    for plane in data.chunks_mut(kh * kw) {
        plane.reverse();
    }
    Tensor::new(s.to_vec(), data).expect("same shape")
}

fn kernel_flipped(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    if let Some(c) = conv_params(&mut q.op) {
        c.flip_kernel = !c.flip_kernel;
        return Some(q);
    }
    let roles: &[Role] = match p.op.kind() {
        OpKind::DepthwiseSeparable2d => &[Role::DepthwiseWeight],
        OpKind::SpatiallySeparable2d => &[Role::VerticalWeight, Role::HorizontalWeight],
        OpKind::Aspp => &[Role::WeightDilated],
        _ => &[Role::Weight],
    };
    for role in roles {
        let t = rotate_kernel(q.tensors.get(role)?);
        q.tensors.insert(*role, t);
    }
    (q != *p).then_some(q)
}

fn padding_sides_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
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

fn same_pad_wrong_side(p: &Problem<f64>) -> Option<Problem<f64>> {
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

fn output_padding_at_start(p: &Problem<f64>) -> Option<Problem<f64>> {
    let shapes = |r: Role| p.shape_of(r);
    let Op::ConvTranspose2d(params) = &p.op else {
        return None;
    };
    let (_, _, _, _, out) =
        convoracle_reference::spec::shapes::conv_transpose2d_plan(params, &shapes).ok()?;
    edit_op(p, |op| {
        let Op::ConvTranspose2d(t) = op else {
            return None;
        };
        let input = p.shape_of(Role::Input)?;
        let kernel = p.shape_of(Role::Weight)?;
        for axis in 0..2 {
            let (before, after) = t.padding.axis(axis);
            // The size without output padding, computed where no stride or
            // padding can overflow it (the plan above succeeded, so it exists).
            let min = convoracle_reference::spec::geometry::transposed_output_size(
                input[2 + axis],
                before,
                after,
                kernel[2 + axis],
                t.stride[axis],
                t.dilation[axis],
                0,
            )
            .ok()?;
            let extra = i64::try_from(out[axis].checked_sub(min)?).ok()?;
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

fn stride_axes_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.stride.reverse(),
            other => geometry(other)?.stride.reverse(),
        }
        Some(())
    })
}

fn dilation_axes_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.dilation.reverse(),
            other => geometry(other)?.dilation.reverse(),
        }
        Some(())
    })
}

fn dilation_ignored(p: &Problem<f64>) -> Option<Problem<f64>> {
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
fn groups_interleaved(p: &Problem<f64>) -> Option<Problem<f64>> {
    let groups = match &p.op {
        Op::Conv2d(c) => c.geometry.groups,
        Op::DynamicConv2d(c) => c.geometry.groups,
        Op::DeformConv2d(c) => c.geometry.groups,
        _ => return None,
    };
    let x = p.tensors.get(&Role::Input)?;
    let [n, c, h, w] = <[usize; 4]>::try_from(x.shape()).ok()?;
    if groups < 2 || c / groups < 2 {
        return None;
    }
    let cg = c / groups;
    let plane = h * w;
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
fn transposed_weight_as_kc(p: &Problem<f64>) -> Option<Problem<f64>> {
    let Op::ConvTranspose2d(t) = &p.op else {
        return None;
    };
    let w = p.tensors.get(&Role::Weight)?;
    let [c, k, kh, kw] = <[usize; 4]>::try_from(w.shape()).ok()?;
    if t.groups != 1 {
        return None;
    }
    let taps = kh * kw;
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

fn bias_missing(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    for role in BIASES {
        q.tensors.remove(&role);
    }
    (q != *p).then_some(q)
}

fn bias_twice(p: &Problem<f64>) -> Option<Problem<f64>> {
    let mut q = p.clone();
    for role in BIASES {
        if let Some(b) = q.tensors.get_mut(&role) {
            b.data_mut().iter_mut().for_each(|v| *v *= 2.0);
        }
    }
    (q != *p).then_some(q)
}

fn offsets_swapped(p: &Problem<f64>) -> Option<Problem<f64>> {
    let o = p.tensors.get(&Role::Offset)?;
    let s = o.shape();
    let plane = s[2] * s[3];
    let mut data = o.data().to_vec();
    for chunk in data.chunks_mut(2 * plane) {
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

fn border_zeros(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Zeros)
}
fn border_reflect(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Reflect)
}
fn border_replicate(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Replicate)
}
fn border_circular(p: &Problem<f64>) -> Option<Problem<f64>> {
    border_as(p, PaddingMode::Circular)
}

/// The claim with `format` in place of a more precise accumulation.
fn lower_accumulation(t: &Tolerance, dtype: DType, format: Accumulation) -> Option<Tolerance> {
    (t.accumulation_for(dtype).unit_roundoff() < format.unit_roundoff())
        .then(|| t.with_accumulation(format))
}

fn lower_inputs(t: &Tolerance, format: Accumulation) -> Option<Tolerance> {
    let current = t.input_rounding.map_or(0.0, |r| r.unit_roundoff());
    (current < format.unit_roundoff()).then(|| t.with_input_rounding(format))
}

/// A catalogue entry (a `const fn` so the table reads as a list).
const fn bug(
    name: &'static str,
    description: &'static str,
    applies_to: fn(OpKind) -> bool,
    model: BugModel,
) -> KnownBug {
    KnownBug {
        name,
        description,
        applies_to,
        model,
    }
}

/// Every known bug, most specific first.
pub fn catalogue() -> &'static [KnownBug] {
    use BugModel::{Output as O, Problem as P, Tolerance as T};
    const BUGS: &[KnownBug] = &[
        bug(
            "kernel flipped",
            "the kernel was applied rotated by 180 degrees: true convolution where \
             cross-correlation is meant, or the reverse (check `flip_kernel` and the \
             order of the kernel loops)",
            any_op,
            P(kernel_flipped),
        ),
        bug(
            "padding sides swapped",
            "the top/left padding was applied at the bottom/right and the reverse \
             (asymmetric padding read in the wrong order)",
            geometric,
            P(padding_sides_swapped),
        ),
        bug(
            "same padding on the wrong side",
            "the odd pixel of `same` padding went to the wrong side: same_upper \
             (TensorFlow, ONNX SAME_UPPER) puts it at the end, same_lower at the \
             beginning",
            geometric,
            P(same_pad_wrong_side),
        ),
        bug(
            "output_padding at the start",
            "output_padding added its rows/columns at the top/left; PyTorch adds them at \
             the bottom/right",
            transposed,
            P(output_padding_at_start),
        ),
        bug(
            "stride axes swapped",
            "the vertical stride was used horizontally and the reverse ([sh, sw] read as \
             [sw, sh])",
            geometric,
            P(stride_axes_swapped),
        ),
        bug(
            "dilation axes swapped",
            "the vertical dilation was used horizontally and the reverse ([dh, dw] read \
             as [dw, dh])",
            geometric,
            P(dilation_axes_swapped),
        ),
        bug(
            "dilation ignored",
            "the kernel taps were read densely: dilation was not applied to the input \
             index",
            any_op,
            P(dilation_ignored),
        ),
        bug(
            "groups interleaved",
            "input channel c was assigned to group c % groups instead of c / (C/groups)",
            grouped,
            P(groups_interleaved),
        ),
        bug(
            "transposed weight read as [K, C]",
            "the conv_transpose2d weight was indexed as [K, C, kh, kw]; PyTorch's layout \
             is [C, K/groups, kh, kw]",
            transposed,
            P(transposed_weight_as_kc),
        ),
        bug(
            "bias missing",
            "the bias was not added",
            any_op,
            P(bias_missing),
        ),
        bug(
            "bias added twice",
            "the bias was added twice (e.g. once per pass, or once in the kernel and once \
             after it)",
            any_op,
            P(bias_twice),
        ),
        bug(
            "offsets read as (dx, dy)",
            "the deformable offsets were read as (dx, dy) pairs; torchvision interleaves \
             them as (dy, dx) per kernel tap",
            deform,
            P(offsets_swapped),
        ),
        bug(
            "out-of-image samples clamped",
            "bilinear samples outside the image read the nearest edge pixel; torchvision \
             reads zero there",
            deform,
            O(deform_clamped),
        ),
        bug(
            "border filled as zeros",
            "the border was zero-padded instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_zeros),
        ),
        bug(
            "border filled as reflect",
            "the border was mirrored (reflect) instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_reflect),
        ),
        bug(
            "border filled as replicate",
            "the border repeated the edge pixel (replicate, i.e. out-of-image reads \
             clamped to the edge) instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_replicate),
        ),
        bug(
            "border filled as circular",
            "the border wrapped around (circular) instead of using the case's \
             padding_mode",
            padding_mode_ops,
            P(border_circular),
        ),
        bug(
            "inputs rounded to tf32",
            "the errors are consistent with inputs rounded to TF32 (10-bit mantissa) \
             before multiplying, as tensor cores do",
            any_op,
            T(|t, _| lower_inputs(t, Accumulation::Tf32)),
        ),
        bug(
            "accumulation in half precision",
            "the errors are consistent with f16 (or tf32) accumulation (u = 2^-11), not \
             the precision claimed",
            any_op,
            T(|t, d| lower_accumulation(t, d, Accumulation::F16)),
        ),
        bug(
            "inputs rounded to bf16",
            "the errors are consistent with inputs rounded to bfloat16 (7-bit mantissa) \
             before multiplying",
            any_op,
            T(|t, _| lower_inputs(t, Accumulation::Bf16)),
        ),
        bug(
            "accumulation in bf16",
            "the errors are consistent with bfloat16 accumulation (u = 2^-8), not the \
             precision claimed",
            any_op,
            T(|t, d| lower_accumulation(t, d, Accumulation::Bf16)),
        ),
    ];
    BUGS
}
