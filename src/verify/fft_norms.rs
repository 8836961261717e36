//! The normwise part of the FFT bound: per output map (the first two output
//! dims), `log2(N_fft) * sum_c ||x_c||_2 ||w_c||_2` over the channel pairs
//! that feed the map.
//!
//! `N_fft` is the size of the 2D transform a linear (non-wrapping)
//! correlation of the padded plane with the dilated kernel needs: per axis
//! the next power of two of `plane + extent - 1`.
//!
//! Norms skip non-finite values: a non-finite input is handled by the
//! non-finite policy (an FFT backend must detect it and fall back), and the
//! bound stays meaningful for the finite part of the output.
//!
//! Composite ops (depthwise / spatially separable, aspp) and deform_conv2d
//! have no single (x_c, w_c) pairing; for them the term is the sum over the
//! map of the magnitudes `S_i` (an l1 norm, which is at least the
//! sum of `||x_c||_2 ||w_c||_2` of each correlation step up to border
//! effects): generous, documented, and still proportional to `u`.

use convoracle_reference::{Op, PaddingSpec, Problem, Role, Tensor};

/// `log2(N_fft)` and the per-map norm sums, in C order of the map index.
#[derive(Debug, Clone)]
pub struct FftNorms {
    /// `log2` of the 2D transform size.
    pub log2_size: f64,
    /// One value per output map, multiplied by `c_fft * u * log2_size` in the bound.
    pub per_map: Vec<f64>,
    /// True when an input tensor holds a non-finite value.
    pub non_finite_input: bool,
}

fn next_pow2(n: i128) -> f64 {
    (n.max(1) as u128).next_power_of_two() as f64
}

/// L2 norms over the last two dims, skipping non-finite values, for every
/// index of the leading dims (C order).
fn plane_norms(t: &Tensor<f64>) -> Vec<f64> {
    let s = t.shape();
    // Only an empty tensor (another dim 0) can have spatial dims whose
    // product overflows; it has no planes to take norms of.
    let Some(plane) = s[s.len() - 2].checked_mul(s[s.len() - 1]) else {
        return Vec::new();
    };
    if plane == 0 {
        return vec![0.0; t.len().max(1)];
    }
    t.data()
        .chunks(plane)
        .map(|p| {
            p.iter()
                .filter(|v| v.is_finite())
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// The FFT normwise terms of `problem` (validated) with output `shape` and
/// reference magnitudes `magnitude`.
pub fn fft_norms(problem: &Problem<f64>, shape: &[usize], magnitude: &Tensor<f64>) -> FftNorms {
    let non_finite_input = problem
        .tensors
        .values()
        .any(|t| t.data().iter().any(|v| !v.is_finite()));
    let maps = shape[0] * shape[1];
    let sdim = |r: Role, a: usize| problem.shape_of(r).map_or(1, |s| s[a]) as i128;
    let (sizes, per_map) = match &problem.op {
        Op::Conv2d(_) | Op::DynamicConv2d(_) => conv_like(problem, shape, false),
        Op::ConvTranspose2d(_) => conv_like(problem, shape, true),
        Op::Conv2dBackwardInput(_) => backward_input(problem, shape),
        Op::Conv2dBackwardWeight(p) => {
            let x = plane_norms(problem.tensors.get(&Role::Input).expect("validated"));
            let g = plane_norms(problem.tensors.get(&Role::GradOutput).expect("validated"));
            let [n, c] = [sdim(Role::Input, 0) as usize, sdim(Role::Input, 1) as usize];
            let k = sdim(Role::GradOutput, 1) as usize;
            let groups = p.conv.geometry.groups;
            let (cg, kg) = (c / groups, k / groups);
            let mut per_map = vec![0.0; maps];
            for kk in 0..k {
                for ci in 0..cg {
                    let cc = (kk / kg) * cg + ci;
                    per_map[kk * cg + ci] = (0..n).map(|b| x[b * c + cc] * g[b * k + kk]).sum();
                }
            }
            // The "kernel" is grad_output upsampled by the stride; padding
            // is at most that long again (a generous plane).
            let stride = p.conv.geometry.stride;
            let sizes = [2, 3].map(|a| {
                sdim(Role::Input, a) + 2 * sdim(Role::GradOutput, a) * stride[a - 2] as i128
            });
            (sizes, per_map)
        }
        Op::DeformConv2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_) => {
            let plane = shape[2] * shape[3];
            let per_map = magnitude
                .data()
                .chunks(plane.max(1))
                .map(|m| m.iter().filter(|v| v.is_finite()).sum())
                .collect();
            let sizes = [2, 3].map(|a| 2 * sdim(Role::Input, a));
            (sizes, per_map)
        }
    };
    let log2_size = sizes
        .iter()
        .map(|&s| next_pow2(s - 1).log2())
        .sum::<f64>()
        .max(1.0);
    FftNorms {
        log2_size,
        per_map,
        non_finite_input,
    }
}

/// conv2d, dynamic_conv2d (attention-weighted experts) and conv_transpose2d:
/// map (n, k) sums `||x[n, c]|| ||w[k, c]||` over the channels of k's group.
fn conv_like(problem: &Problem<f64>, shape: &[usize], transposed: bool) -> ([i128; 2], Vec<f64>) {
    let x = problem.tensors.get(&Role::Input).expect("validated");
    let w = problem.tensors.get(&Role::Weight).expect("validated");
    let xn = plane_norms(x);
    let wn = plane_norms(w);
    let [n, c] = [x.shape()[0], x.shape()[1]];
    let k = shape[1];
    let ws = w.shape();
    let (kh, kw) = (ws[ws.len() - 2], ws[ws.len() - 1]);
    let groups = if transposed {
        k / ws[1].max(1)
    } else {
        c / ws[ws.len() - 3].max(1)
    }
    .max(1);
    let (cg, kg) = (c / groups, k / groups);
    // Attention weights |a[n, e]| for dynamic conv; one expert otherwise.
    let attention = problem.tensors.get(&Role::Attention);
    let experts = attention.map_or(1, |a| a.shape()[1]);
    let mut per_map = vec![0.0; n * k];
    for b in 0..n {
        for kk in 0..k {
            let group = kk / kg.max(1);
            let mut total = 0.0;
            for ci in 0..cg {
                let cc = group * cg + ci;
                let mut wnorm = 0.0;
                for e in 0..experts {
                    let a = attention.map_or(1.0, |a| a.data()[b * experts + e].abs());
                    let index = if transposed {
                        cc * kg + kk % kg
                    } else {
                        (e * k + kk) * cg + ci
                    };
                    if a.is_finite() {
                        wnorm += a * wn[index];
                    }
                }
                total += xn[b * c + cc] * wnorm;
            }
            per_map[b * k + kk] = total;
        }
    }
    let geometry = problem_extent(problem, kh, kw);
    (geometry, per_map)
}

/// Padded plane + dilated kernel extent per axis for the convolution-like
/// ops (the transposed ones see the input upsampled by the stride).
fn problem_extent(problem: &Problem<f64>, kh: usize, kw: usize) -> [i128; 2] {
    let input = problem
        .shape_of(Role::Input)
        .or(problem.shape_of(Role::GradOutput));
    let [h, w] = input.map_or([1, 1], |s| [s[2] as i128, s[3] as i128]);
    let (stride, dilation, padding) = match &problem.op {
        Op::Conv2d(p) => (p.geometry.stride, p.geometry.dilation, p.geometry.padding),
        Op::DynamicConv2d(p) => (p.geometry.stride, p.geometry.dilation, p.geometry.padding),
        Op::Conv2dBackwardInput(p) => (
            p.conv.geometry.stride,
            p.conv.geometry.dilation,
            p.conv.geometry.padding,
        ),
        Op::ConvTranspose2d(p) => (p.stride, p.dilation, PaddingSpec::Explicit(p.padding)),
        Op::DeformConv2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_)
        | Op::Conv2dBackwardWeight(_) => ([1, 1], [1, 1], PaddingSpec::Valid),
    };
    let transposed = matches!(
        problem.op,
        Op::ConvTranspose2d(_) | Op::Conv2dBackwardInput(_)
    );
    // Padding words resolve to at most the dilated extent; explicit padding
    // (negative padding crops) is taken as given.
    let pads = |axis: usize, extent: i128| match padding {
        PaddingSpec::Explicit(p) => {
            let (a, b) = p.axis(axis);
            (a as i128 + b as i128).max(0)
        }
        PaddingSpec::Valid => 0,
        PaddingSpec::SameUpper | PaddingSpec::SameLower => extent,
    };
    let axis = |axis: usize, size: i128, k: usize| {
        let extent = (dilation[axis] * (k - 1) + 1) as i128;
        let plane = if transposed {
            (size - 1) * stride[axis] as i128 + 1
        } else {
            size + pads(axis, extent)
        };
        plane + extent
    };
    [axis(0, h, kh), axis(1, w, kw)]
}

/// conv2d_backward_input: map (n, c) sums `||g[n, k]|| ||w[k, c]||` over
/// the output channels of c's group.
fn backward_input(problem: &Problem<f64>, shape: &[usize]) -> ([i128; 2], Vec<f64>) {
    let g = problem.tensors.get(&Role::GradOutput).expect("validated");
    let w = problem.tensors.get(&Role::Weight).expect("validated");
    let (gn, wn) = (plane_norms(g), plane_norms(w));
    let [n, k] = [g.shape()[0], g.shape()[1]];
    let (c, cg) = (shape[1], w.shape()[1]);
    let groups = (c / cg.max(1)).max(1);
    let kg = k / groups;
    let mut per_map = vec![0.0; n * c];
    for b in 0..n {
        for cc in 0..c {
            let group = cc / cg;
            per_map[b * c + cc] = (0..kg)
                .map(|ki| {
                    let kk = group * kg + ki;
                    gn[b * k + kk] * wn[kk * cg + cc % cg]
                })
                .sum();
        }
    }
    (problem_extent(problem, w.shape()[2], w.shape()[3]), per_map)
}
