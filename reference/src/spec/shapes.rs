//! Shape checking for every op: which tensor shapes fit together, and the
//! output shape they give. The reference loops rely on these checks.

use super::geometry::{
    transposed_output_size, validate_pair, ConvGeometry, Padding2d, PaddingMode, Resolved,
};
use super::op::{Op, Role};
use super::params::*;
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

/// Checks `conv2d`'s input and weight; returns (N, C, K, resolved geometry).
pub fn conv2d_plan(
    p: &Conv2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, Resolved)> {
    let [n, c, h, w] = dims(shapes, Role::Input)?;
    let [k, cg, kh, kw] = dims(shapes, Role::Weight)?;
    let g = p.geometry.groups;
    p.geometry.validate()?;
    check_grouped_weight(g, c, k, cg, 0)?;
    check_bias(shapes, Role::Bias, k)?;
    let r = p.geometry.resolve([h, w], [kh, kw], p.padding_mode)?;
    Ok((n, c, k, r))
}

/// Checks `conv_transpose2d`; returns (N, C, K, padding, [Ho, Wo]).
pub fn conv_transpose2d_plan(
    p: &ConvTranspose2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, Padding2d, [usize; 2])> {
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
    Ok((n, c, k, p.padding, out))
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

/// Checks `deform_conv2d`; returns (N, C, K, offset groups, resolved).
pub fn deform_conv2d_plan(
    p: &DeformConv2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, usize, Resolved)> {
    let conv = Conv2dParams {
        geometry: p.geometry,
        ..Conv2dParams::default()
    };
    let (n, c, k, r) = conv2d_plan(&conv, shapes)?;
    let [_, _, kh, kw] = dims::<4>(shapes, Role::Weight)?;
    // kh*kw (and twice it) can overflow only for an empty weight (K = 0 or
    // C = 0), whose kernel dims the element count does not bound.
    let taps = kh
        .checked_mul(kw)
        .filter(|t| t.checked_mul(2).is_some())
        .ok_or_else(|| Error::overflow(format!("deformable offset channels 2*{kh}*{kw}")))?;
    let [on, oc, oh, ow] = dims(shapes, Role::Offset)?;
    let [ho, wo] = r.output;
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
    if let Some(m) = optional_dims::<4>(shapes, Role::Mask)? {
        expect(
            Role::Mask,
            &m,
            &[n, offset_groups * taps, ho, wo],
            "[N, G*kh*kw, Ho, Wo]",
        )?;
    }
    Ok((n, c, k, offset_groups, r))
}

/// Checks `dynamic_conv2d`; returns (N, C, E, K, resolved).
pub fn dynamic_conv2d_plan(
    p: &DynamicConv2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, usize, Resolved)> {
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
    Ok((n, c, e, k, r))
}

/// Checks `depthwise_separable2d`; returns (N, C, multiplier, K, resolved).
pub fn depthwise_separable2d_plan(
    p: &DepthwiseSeparable2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, usize, Resolved)> {
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
    Ok((n, c, cm / c, k, r))
}

/// Checks `spatially_separable2d`; returns (N, C, M, K, resolved) where the
/// resolved geometry is that of the full (kh, kw) kernel: the vertical step
/// uses its H parts, the horizontal its W parts.
pub fn spatially_separable2d_plan(
    p: &SpatiallySeparable2dParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, usize, Resolved)> {
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
    Ok((n, c, m, k, r))
}

/// Checks `aspp`; returns (N, C, H, W, B, K, has_pool).
pub fn aspp_plan(
    p: &AsppParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, usize, usize, usize, bool)> {
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
    Ok((n, c, h, w, b, k, pool))
}

/// Checks `conv2d_backward_input`; returns (N, C, K, resolved forward geometry).
pub fn backward_input_plan(
    p: &Conv2dBackwardInputParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, Resolved)> {
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
    Ok((n, c, k, r))
}

/// Checks `conv2d_backward_weight`; returns (N, C, K, resolved forward geometry).
pub fn backward_weight_plan(
    p: &Conv2dBackwardWeightParams,
    shapes: &ShapeLookup<'_>,
) -> Result<(usize, usize, usize, Resolved)> {
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
    Ok((n, c, k, r))
}

/// Validates every parameter and shape of `op`; returns the output shape.
pub fn output_shape(op: &Op, shapes: &ShapeLookup<'_>) -> Result<Vec<usize>> {
    let shape = match op {
        Op::Conv2d(p) => {
            let (n, _, k, r) = conv2d_plan(p, shapes)?;
            vec![n, k, r.output[0], r.output[1]]
        }
        Op::ConvTranspose2d(p) => {
            let (n, _, k, _, out) = conv_transpose2d_plan(p, shapes)?;
            vec![n, k, out[0], out[1]]
        }
        Op::DeformConv2d(p) => {
            let (n, _, k, _, r) = deform_conv2d_plan(p, shapes)?;
            vec![n, k, r.output[0], r.output[1]]
        }
        Op::DynamicConv2d(p) => {
            let (n, _, _, k, r) = dynamic_conv2d_plan(p, shapes)?;
            vec![n, k, r.output[0], r.output[1]]
        }
        Op::DepthwiseSeparable2d(p) => {
            let (n, _, _, k, r) = depthwise_separable2d_plan(p, shapes)?;
            vec![n, k, r.output[0], r.output[1]]
        }
        Op::SpatiallySeparable2d(p) => {
            let (n, _, _, k, r) = spatially_separable2d_plan(p, shapes)?;
            vec![n, k, r.output[0], r.output[1]]
        }
        Op::Aspp(p) => {
            let (n, _, h, w, _, k, _) = aspp_plan(p, shapes)?;
            vec![n, k, h, w]
        }
        Op::Conv2dBackwardInput(p) => {
            let (n, c, _, _) = backward_input_plan(p, shapes)?;
            vec![n, c, p.input_size[0], p.input_size[1]]
        }
        Op::Conv2dBackwardWeight(p) => {
            let (_, c, k, _) = backward_weight_plan(p, shapes)?;
            vec![
                k,
                c / p.conv.geometry.groups,
                p.kernel_size[0],
                p.kernel_size[1],
            ]
        }
    };
    crate::tensor::checked_numel(&shape, "output")?;
    Ok(shape)
}
