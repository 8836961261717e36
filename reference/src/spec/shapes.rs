//! Shape checking for every op: which tensor shapes fit together, and the
//! output shape they give. The reference loops rely on these checks.

use super::conv_shape::*;
use super::geometry::{
    transposed_output_size, validate_pair, ConvGeometry, Padding2d, PaddingMode, Resolved,
};
use super::op::Op;
use super::params::*;
use super::role::Role;
use crate::error::{Error, Result};

/// Looks up a tensor's shape by role.
pub type ShapeLookup<'a> = dyn Fn(Role) -> Option<&'a [usize]> + 'a;

fn required<'a>(shapes: &ShapeLookup<'a>, role: Role) -> Result<&'a [usize]> {
    shapes(role).ok_or(Error::MissingTensor {
        tensor: role.name().to_string(),
    })
}

/// The shape of `role`, which must have rank `N`.
pub(crate) fn dims<const N: usize>(shapes: &ShapeLookup<'_>, role: Role) -> Result<[usize; N]> {
    let s = required(shapes, role)?;
    s.try_into().map_err(|_| {
        Error::shape(
            role.name(),
            format!("expected {N} dimensions, got shape {s:?}"),
        )
    })
}

fn optional_dims<const N: usize>(
    shapes: &ShapeLookup<'_>,
    role: Role,
) -> Result<Option<[usize; N]>> {
    match shapes(role) {
        None => Ok(None),
        Some(_) => dims(shapes, role).map(Some),
    }
}

fn expect(role: Role, got: &[usize], expected: &[usize], why: &str) -> Result<()> {
    if got != expected {
        return Err(Error::shape(
            role.name(),
            format!("expected shape {expected:?} ({why}), got {got:?}"),
        ));
    }
    Ok(())
}

fn check_bias(shapes: &ShapeLookup<'_>, role: Role, channels: usize) -> Result<()> {
    if let Some(b) = shapes(role) {
        expect(role, b, &[channels], "one value per output channel")?;
    }
    Ok(())
}

/// Channels `c` split into `groups`: `c` must be a multiple of `groups`.
fn check_divides(groups: usize, channels: usize, what: &str) -> Result<()> {
    if groups == 0 || !channels.is_multiple_of(groups) {
        return Err(Error::param(
            "groups",
            format!("{groups} groups do not divide the {channels} {what}"),
        ));
    }
    Ok(())
}

/// A grouped weight: `groups` divides the `c` input and `k` output channels
/// (weight dim `k_dim`), and dim `k_dim + 1` holds `c / groups` channels.
fn check_grouped_weight(groups: usize, c: usize, k: usize, cg: usize, k_dim: usize) -> Result<()> {
    check_divides(groups, c, "input channels")?;
    check_divides(groups, k, &format!("output channels (weight dim {k_dim})"))?;
    if cg.checked_mul(groups) != Some(c) {
        return Err(Error::shape(
            "weight",
            format!(
                "dim {} must be input channels / groups = {c}/{groups} = {}, got {cg}",
                k_dim + 1,
                c / groups
            ),
        ));
    }
    Ok(())
}

/// A forward conv's shape from its parts.
fn forward(
    batch: usize,
    channels: [usize; 2],
    g: &ConvGeometry,
    input: [usize; 2],
    kernel: [usize; 2],
    r: Resolved,
) -> ConvShape {
    ConvShape {
        batch,
        in_channels: channels[0],
        out_channels: channels[1],
        groups: g.groups,
        input,
        kernel,
        stride: g.stride,
        dilation: g.dilation,
        padding: r.padding,
        output_padding: [0, 0],
        output: r.output,
    }
}

/// Checks `conv2d`'s input and weight; returns its geometry.
pub fn conv2d_geometry(p: &Conv2dParams, shapes: &ShapeLookup<'_>) -> Result<ConvShape> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [k, cg, kh, kw] = dims(shapes, Role::Weight)?;
    let g = p.geometry.groups;
    p.geometry.validate()?;
    check_grouped_weight(g, c, k, cg, 0)?;
    check_bias(shapes, Role::Bias, k)?;
    let r = p.geometry.resolve([h, w], [kh, kw], p.padding_mode)?;
    Ok(forward(n, [c, k], &p.geometry, [h, w], [kh, kw], r))
}

/// Checks `conv_transpose2d`; returns its geometry (`output_size`
/// resolved to `output_padding`).
pub fn conv_transpose2d_geometry(
    p: &ConvTranspose2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<ConvShape> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [wc, kg, kh, kw] = dims(shapes, Role::Weight)?;
    validate_pair("stride", p.stride)?;
    validate_pair("dilation", p.dilation)?;
    if p.groups == 0 {
        return Err(Error::param("groups", "must be at least 1"));
    }
    check_divides(p.groups, c, "input channels")?;
    if wc != c {
        return Err(Error::shape(
            "weight",
            format!("dim 0 must be the input channels ({c}) in PyTorch's [C, K/groups, kh, kw] layout, got {wc}"),
        ));
    }
    let k = kg
        .checked_mul(p.groups)
        .ok_or_else(|| Error::overflow("output channels"))?;
    check_bias(shapes, Role::Bias, k)?;
    if h == 0 || w == 0 {
        return Err(Error::shape("input", "spatial size is 0"));
    }
    if kh == 0 || kw == 0 {
        return Err(Error::shape("weight", "kernel size is 0"));
    }
    let input = [h, w];
    let kernel = [kh, kw];
    let mut out = [0; 2];
    let mut output_padding = [0; 2];
    for axis in 0..2 {
        let (before, after) = p.padding.axis(axis);
        let limit = p.stride[axis].max(p.dilation[axis]);
        let min = transposed_output_size(
            input[axis],
            before,
            after,
            kernel[axis],
            p.stride[axis],
            p.dilation[axis],
            0,
        );
        out[axis] = match p.output_size {
            Some(size) => {
                let want = size[axis];
                let min = min?;
                if want < min || want - min >= limit {
                    return Err(Error::param(
                        "output_size",
                        format!(
                            "{want} on axis {axis} is not reachable: sizes from {min} to {} are (output_padding below max(stride, dilation) = {limit})",
                            min.saturating_add(limit - 1)
                        ),
                    ));
                }
                output_padding[axis] = want - min;
                want
            }
            None => {
                let op = p.output_padding[axis];
                if op >= limit {
                    return Err(Error::param(
                        "output_padding",
                        format!(
                            "{op} on axis {axis} must be below max(stride, dilation) = {limit}"
                        ),
                    ));
                }
                output_padding[axis] = op;
                transposed_output_size(
                    input[axis],
                    before,
                    after,
                    kernel[axis],
                    p.stride[axis],
                    p.dilation[axis],
                    op,
                )?
            }
        };
    }
    Ok(ConvShape {
        batch: n,
        in_channels: c,
        out_channels: k,
        groups: p.groups,
        input,
        kernel,
        stride: p.stride,
        dilation: p.dilation,
        padding: p.padding,
        output_padding,
        output: out,
    })
}

/// Checks the geometry is zero-padded and ungrouped where an op demands it.
fn zeros_only_geometry(g: &ConvGeometry, op: &str) -> Result<()> {
    if g.groups != 1 {
        return Err(Error::param(
            "groups",
            format!("{op} takes no groups (got {})", g.groups),
        ));
    }
    Ok(())
}

/// Checks `deform_conv2d`; returns its geometry.
pub fn deform_conv2d_geometry(
    p: &DeformConv2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<DeformShape> {
    let conv = Conv2dParams {
        geometry: p.geometry,
        ..Conv2dParams::default()
    };
    let geometry = conv2d_geometry(&conv, shapes)?;
    let (n, c) = (geometry.batch, geometry.in_channels);
    let [kh, kw] = geometry.kernel;
    // kh*kw (and twice it) can overflow only for an empty weight (K = 0 or
    // C = 0), whose kernel dims the element count does not bound.
    let taps = kh
        .checked_mul(kw)
        .filter(|t| t.checked_mul(2).is_some())
        .ok_or_else(|| Error::overflow(format!("deformable offset channels 2*{kh}*{kw}")))?;
    let [on, oc, oh, ow] = dims(shapes, Role::Offset)?;
    let [ho, wo] = geometry.output;
    if on != n || oh != ho || ow != wo || oc == 0 || oc % (2 * taps) != 0 {
        return Err(Error::shape(
            "offset",
            format!(
                "expected [N={n}, 2*G*kh*kw = multiple of {}, Ho={ho}, Wo={wo}], got {:?}",
                2 * taps,
                [on, oc, oh, ow]
            ),
        ));
    }
    let offset_groups = oc / (2 * taps);
    if c % offset_groups != 0 {
        return Err(Error::shape(
            "offset",
            format!(
                "{offset_groups} offset groups (from dim 1) do not divide the {c} input channels"
            ),
        ));
    }
    let mask = optional_dims::<4>(shapes, Role::Mask)?;
    if let Some(m) = mask {
        expect(
            Role::Mask,
            &m,
            &[n, offset_groups * taps, ho, wo],
            "[N, G*kh*kw, Ho, Wo]",
        )?;
    }
    Ok(DeformShape {
        conv: geometry,
        offset_groups,
        masked: mask.is_some(),
    })
}

/// Checks `dynamic_conv2d`; returns its geometry.
pub fn dynamic_conv2d_geometry(
    p: &DynamicConv2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<DynamicShape> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [e, k, cg, kh, kw] = dims(shapes, Role::Weight)?;
    let g = p.geometry.groups;
    p.geometry.validate()?;
    check_grouped_weight(g, c, k, cg, 1)?;
    let a = required(shapes, Role::Attention)?;
    expect(Role::Attention, a, &[n, e], "[N, experts]")?;
    if let Some(b) = shapes(Role::Bias) {
        expect(Role::Bias, b, &[e, k], "[experts, K]")?;
    }
    let r = p.geometry.resolve([h, w], [kh, kw], PaddingMode::Zeros)?;
    Ok(DynamicShape {
        conv: forward(n, [c, k], &p.geometry, [h, w], [kh, kw], r),
        experts: e,
    })
}

/// Checks `depthwise_separable2d`; returns its two steps' geometry.
pub fn depthwise_separable2d_geometry(
    p: &DepthwiseSeparable2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<DepthwiseSeparableShape> {
    zeros_only_geometry(&p.geometry, "depthwise_separable2d")?;
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [cm, one, kh, kw] = dims(shapes, Role::DepthwiseWeight)?;
    if one != 1 || c == 0 || cm % c != 0 || cm == 0 {
        return Err(Error::shape(
            "depthwise_weight",
            format!(
                "expected [C*m, 1, kh, kw] with C = {c}, got {:?}",
                [cm, one, kh, kw]
            ),
        ));
    }
    let [k, pc, ph, pw] = dims(shapes, Role::PointwiseWeight)?;
    expect(
        Role::PointwiseWeight,
        &[k, pc, ph, pw],
        &[k, cm, 1, 1],
        "[K, C*m, 1, 1]",
    )?;
    check_bias(shapes, Role::DepthwiseBias, cm)?;
    check_bias(shapes, Role::PointwiseBias, k)?;
    let r = p.geometry.resolve([h, w], [kh, kw], PaddingMode::Zeros)?;
    let depthwise_geometry = ConvGeometry {
        groups: c,
        ..p.geometry
    };
    let depthwise = forward(n, [c, cm], &depthwise_geometry, [h, w], [kh, kw], r);
    let pointwise = forward(
        n,
        [cm, k],
        &ConvGeometry::default(),
        r.output,
        [1, 1],
        Resolved {
            padding: Padding2d::default(),
            output: r.output,
        },
    );
    Ok(DepthwiseSeparableShape {
        depthwise,
        pointwise,
    })
}

/// Checks `spatially_separable2d`; returns its two steps' geometry: the
/// vertical step takes the H parts of the full (kh, kw) kernel's stride,
/// padding and dilation, the horizontal step the W parts.
pub fn spatially_separable2d_geometry(
    p: &SpatiallySeparable2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<SpatiallySeparableShape> {
    zeros_only_geometry(&p.geometry, "spatially_separable2d")?;
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [m, vc, kh, one] = dims(shapes, Role::VerticalWeight)?;
    expect(
        Role::VerticalWeight,
        &[m, vc, kh, one],
        &[m, c, kh, 1],
        "[M, C, kh, 1]",
    )?;
    let [k, hm, one_h, kw] = dims(shapes, Role::HorizontalWeight)?;
    expect(
        Role::HorizontalWeight,
        &[k, hm, one_h, kw],
        &[k, m, 1, kw],
        "[K, M, 1, kw]",
    )?;
    check_bias(shapes, Role::VerticalBias, m)?;
    check_bias(shapes, Role::HorizontalBias, k)?;
    let r = p.geometry.resolve([h, w], [kh, kw], PaddingMode::Zeros)?;
    let g = &p.geometry;
    let vertical = ConvShape {
        batch: n,
        in_channels: c,
        out_channels: m,
        groups: 1,
        input: [h, w],
        kernel: [kh, 1],
        stride: [g.stride[0], 1],
        dilation: [g.dilation[0], 1],
        padding: Padding2d {
            left: 0,
            right: 0,
            ..r.padding
        },
        output_padding: [0, 0],
        output: [r.output[0], w],
    };
    let horizontal = ConvShape {
        batch: n,
        in_channels: m,
        out_channels: k,
        groups: 1,
        input: [r.output[0], w],
        kernel: [1, kw],
        stride: [1, g.stride[1]],
        dilation: [1, g.dilation[1]],
        padding: Padding2d {
            top: 0,
            bottom: 0,
            ..r.padding
        },
        output_padding: [0, 0],
        output: r.output,
    };
    Ok(SpatiallySeparableShape {
        vertical,
        horizontal,
    })
}

/// Checks `aspp`; returns its geometry.
pub fn aspp_geometry(p: &AsppParams, shapes: &ShapeLookup<'_>) -> Result<AsppShape> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    if h == 0 || w == 0 {
        return Err(Error::shape("input", "spatial size is 0"));
    }
    if p.rates.contains(&0) {
        return Err(Error::param("rates", "every rate must be at least 1"));
    }
    let [b, c1, one_a, one_b] = dims(shapes, Role::Weight1x1)?;
    expect(
        Role::Weight1x1,
        &[b, c1, one_a, one_b],
        &[b, c, 1, 1],
        "[B, C, 1, 1]",
    )?;
    let r = p.rates.len();
    let wd = required(shapes, Role::WeightDilated)?;
    expect(
        Role::WeightDilated,
        wd,
        &[r, b, c, 3, 3],
        "[R = number of rates, B, C, 3, 3]",
    )?;
    let pool = match shapes(Role::WeightPool) {
        Some(s) => {
            expect(Role::WeightPool, s, &[b, c, 1, 1], "[B, C, 1, 1]")?;
            true
        }
        None => false,
    };
    let branches = r + 1 + pool as usize;
    let concat = b
        .checked_mul(branches)
        .ok_or_else(|| Error::overflow("aspp concat channels"))?;
    let [k, kc, one_c, one_d] = dims(shapes, Role::WeightProject)?;
    expect(
        Role::WeightProject,
        &[k, kc, one_c, one_d],
        &[k, concat, 1, 1],
        "[K, B*(R+1+P), 1, 1]",
    )?;
    Ok(AsppShape {
        batch: n,
        in_channels: c,
        size: [h, w],
        branch_channels: b,
        out_channels: k,
        rates: p.rates.clone(),
        pool,
    })
}

/// Checks `conv2d_backward_input`; returns the forward conv's geometry.
pub fn backward_input_geometry(
    p: &Conv2dBackwardInputParams,
    shapes: &ShapeLookup<'_>,
) -> Result<ConvShape> {
    let [n, k, ho, wo] = dims(shapes, Role::GradOutput)?;
    let [wk, cg, kh, kw] = dims(shapes, Role::Weight)?;
    let g = p.conv.geometry.groups;
    p.conv.geometry.validate()?;
    if wk != k {
        return Err(Error::shape(
            "weight",
            format!("dim 0 must be grad_output's channels ({k}), got {wk}"),
        ));
    }
    check_divides(g, k, "output channels")?;
    let c = cg
        .checked_mul(g)
        .ok_or_else(|| Error::overflow("input channels"))?;
    let r = p
        .conv
        .geometry
        .resolve(p.input_size, [kh, kw], p.conv.padding_mode)?;
    expect(
        Role::GradOutput,
        &[n, k, ho, wo],
        &[n, k, r.output[0], r.output[1]],
        "the forward output for input_size",
    )?;
    Ok(forward(
        n,
        [c, k],
        &p.conv.geometry,
        p.input_size,
        [kh, kw],
        r,
    ))
}

/// Checks `conv2d_backward_weight`; returns the forward conv's geometry.
pub fn backward_weight_geometry(
    p: &Conv2dBackwardWeightParams,
    shapes: &ShapeLookup<'_>,
) -> Result<ConvShape> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [gn, k, ho, wo] = dims(shapes, Role::GradOutput)?;
    let g = p.conv.geometry.groups;
    p.conv.geometry.validate()?;
    check_divides(g, c, "input channels")?;
    check_divides(g, k, "output channels (grad_output dim 1)")?;
    let r = p
        .conv
        .geometry
        .resolve([h, w], p.kernel_size, p.conv.padding_mode)?;
    expect(
        Role::GradOutput,
        &[gn, k, ho, wo],
        &[n, k, r.output[0], r.output[1]],
        "the forward output of input",
    )?;
    Ok(forward(
        n,
        [c, k],
        &p.conv.geometry,
        [h, w],
        p.kernel_size,
        r,
    ))
}

impl Op {
    /// Validates the op's parameters against its tensors' shapes and
    /// returns its resolved geometry (padding words, `output_size` and
    /// shapes turned into explicit numbers). The inherent method lives
    /// here, beside the checks, so that `op` does not depend on `shapes`.
    pub fn geometry(&self, shapes: &ShapeLookup<'_>) -> Result<OpGeometry> {
        op_geometry(self, shapes)
    }
}

/// Validates every parameter and shape of `op`; returns its geometry.
pub fn op_geometry(op: &Op, shapes: &ShapeLookup<'_>) -> Result<OpGeometry> {
    let geometry = match op {
        Op::Conv2d(p) => OpGeometry::Conv2d(conv2d_geometry(p, shapes)?),
        Op::ConvTranspose2d(p) => {
            OpGeometry::ConvTranspose2d(conv_transpose2d_geometry(p, shapes)?)
        }
        Op::DeformConv2d(p) => OpGeometry::DeformConv2d(deform_conv2d_geometry(p, shapes)?),
        Op::DynamicConv2d(p) => OpGeometry::DynamicConv2d(dynamic_conv2d_geometry(p, shapes)?),
        Op::DepthwiseSeparable2d(p) => {
            OpGeometry::DepthwiseSeparable2d(depthwise_separable2d_geometry(p, shapes)?)
        }
        Op::SpatiallySeparable2d(p) => {
            OpGeometry::SpatiallySeparable2d(spatially_separable2d_geometry(p, shapes)?)
        }
        Op::Aspp(p) => OpGeometry::Aspp(aspp_geometry(p, shapes)?),
        Op::Conv2dBackwardInput(p) => {
            OpGeometry::Conv2dBackwardInput(backward_input_geometry(p, shapes)?)
        }
        Op::Conv2dBackwardWeight(p) => {
            OpGeometry::Conv2dBackwardWeight(backward_weight_geometry(p, shapes)?)
        }
    };
    crate::tensor::checked_numel(&geometry.output_shape(), "output")?;
    Ok(geometry)
}

/// Validates every parameter and shape of `op`; returns the output shape.
pub fn output_shape(op: &Op, shapes: &ShapeLookup<'_>) -> Result<Vec<usize>> {
    Ok(op_geometry(op, shapes)?.output_shape())
}
