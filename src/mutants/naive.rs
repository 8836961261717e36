//! Naive f32 loops written for this test, independent of the reference:
//! conv2d and conv_transpose2d, each with switches that plant one known bug
//! in the index arithmetic, the border or the accumulation.

use crate::reference::spec::shapes::{
    conv2d_geometry, conv_transpose2d_geometry, deform_conv2d_geometry,
};
use crate::reference::{Op, PaddingMode, Problem, Role, Tensor};

/// How partial sums are kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Acc {
    /// f32, in loop order.
    #[default]
    F32,
    /// f32, the terms summed in reverse order.
    F32Reversed,
    /// Every partial sum rounded to 11 significant bits (f16's precision).
    Half,
}

/// The bugs a naive conv2d can carry (all false: a correct loop).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bugs {
    /// The kernel read flipped (true convolution).
    pub flip: bool,
    /// Top/bottom and left/right padding swapped.
    pub swap_pad_sides: bool,
    /// Swapped strides in the index only (the loop range stays right).
    pub swap_stride: bool,
    /// Swapped strides in the index and in the output size.
    pub swap_stride_shape: bool,
    /// The dilation axes swapped.
    pub swap_dilation: bool,
    /// Dilation ignored (taps adjacent).
    pub ignore_dilation: bool,
    /// Dilation applied on this axis (0: vertical, 1: horizontal) only.
    pub dilation_only_axis: Option<usize>,
    /// Input channels of the groups interleaved instead of blocked.
    pub interleave_groups: bool,
    /// The bias not added.
    pub bias_missing: bool,
    /// The bias added twice.
    pub bias_twice: bool,
    /// Reads the border with this mode instead of the case's.
    pub border: Option<PaddingMode>,
    /// How partial sums are kept.
    pub acc: Acc,
    /// The weight's OIHW memory read as if laid out in this axis order
    /// (outermost first), e.g. `[0, 2, 3, 1]` for OHWI.
    pub weight_layout: Option<[usize; 4]>,
    /// Kernel rows and columns exchanged (kh and kw swapped in the index).
    pub transpose_kernel: bool,
    /// Kernel rows read bottom to top.
    pub flip_rows: bool,
    /// Kernel columns read right to left.
    pub flip_cols: bool,
    /// Kernel read rotated by 90 degrees clockwise.
    pub rotate_kernel: bool,
    /// The [top, bottom, left, right] padding the index uses instead of the case's.
    pub padding: Option<[i64; 4]>,
    /// Outputs sampled from `oy * stride + phase`.
    pub stride_phase: [usize; 2],
    /// Output channel q computes the channel `(q % groups) * K/groups + q / groups`
    /// (outputs written channel-major).
    pub outputs_channel_major: bool,
    /// Input channels read last to first.
    pub reverse_inputs: bool,
    /// Every group reads the first group's input channels.
    pub group_offset_ignored: bool,
    /// The bias subtracted.
    pub bias_negated: bool,
    /// Inputs rounded to this many significant bits (ties to even) first.
    pub round_inputs: Option<i32>,
    /// Weights rounded to this many significant bits (ties to even) first.
    pub round_weights: Option<i32>,
}

/// `x` rounded to `bits` significant bits, ties to even (as a conversion
/// to f16 / tf32 / bf16 does for values in their normal range).
fn round_even(x: f32, bits: i32) -> f32 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = x.abs().log2().floor() as i32;
    let scale = 2f64.powi(bits - 1 - e);
    ((x as f64 * scale).round_ties_even() / scale) as f32
}

/// `x` rounded to `bits` significant bits (ties away from zero is enough here).
fn round_bits(x: f32, bits: i32) -> f32 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = x.abs().log2().floor() as i32;
    let scale = 2f64.powi(bits - 1 - e);
    ((x as f64 * scale).round() / scale) as f32
}

fn sum(terms: &mut [f32], acc: Acc) -> f32 {
    if acc == Acc::F32Reversed {
        terms.reverse();
    }
    let mut s = 0f32;
    for &t in terms.iter() {
        s += t;
        if acc == Acc::Half {
            s = round_bits(s, 11);
        }
    }
    s
}

/// conv2d in f32 with the planted `bugs`.
pub fn conv2d(problem: &Problem<f32>, bugs: Bugs) -> Tensor<f32> {
    let Op::Conv2d(p) = &problem.op else {
        panic!("conv2d only")
    };
    let shapes = |r: Role| problem.shape_of(r);
    let r = conv2d_geometry(p, &shapes).expect("valid case");
    let (n, k) = (r.batch, r.out_channels);
    let x = &problem.tensors[&Role::Input];
    let w = &problem.tensors[&Role::Weight];
    let bias = problem.tensors.get(&Role::Bias);
    let [_, cg, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
    let [h, wd] = [x.shape()[2], x.shape()[3]];
    let groups = p.geometry.groups;
    let kg = k / groups;
    let mut stride = p.geometry.stride;
    let mut dilation = p.geometry.dilation;
    if bugs.swap_stride || bugs.swap_stride_shape {
        stride.reverse();
    }
    if bugs.swap_dilation {
        dilation.reverse();
    }
    if bugs.ignore_dilation {
        dilation = [1, 1];
    }
    if let Some(axis) = bugs.dilation_only_axis {
        dilation[1 - axis] = 1;
    }
    let (mut pt, mut pl) = (r.padding.top, r.padding.left);
    if bugs.swap_pad_sides {
        (pt, pl) = (r.padding.bottom, r.padding.right);
    }
    if let Some([top, _, left, _]) = bugs.padding {
        (pt, pl) = (top, left);
    }
    pt -= bugs.stride_phase[0] as i64;
    pl -= bugs.stride_phase[1] as i64;
    // Memory strides of the weight's axes under the layout the kernel believes.
    let wdims = [k, cg, kh, kw];
    let mut wstride = [0usize; 4];
    let order = bugs.weight_layout.unwrap_or([0, 1, 2, 3]);
    let mut acc_stride = 1;
    for &axis in order.iter().rev() {
        wstride[axis] = acc_stride;
        acc_stride *= wdims[axis];
    }
    let weight = |o: usize, c: usize, i: usize, j: usize| {
        let v = w.data()[o * wstride[0] + c * wstride[1] + i * wstride[2] + j * wstride[3]];
        bugs.round_weights.map_or(v, |b| round_even(v, b))
    };
    let mut out_hw = r.output;
    if bugs.swap_stride_shape {
        let g = crate::reference::ConvGeometry {
            stride,
            ..p.geometry
        };
        out_hw = g
            .resolve([h, wd], [kh, kw], p.padding_mode)
            .expect("valid")
            .output;
    }
    let mode = bugs.border.unwrap_or(p.padding_mode);
    let flip = p.flip_kernel != bugs.flip;
    let shape = vec![n, k, out_hw[0], out_hw[1]];
    let mut terms = Vec::new();
    Tensor::from_fn(shape, "naive output", |idx| {
        let [b, q, oy, ox] = [idx[0], idx[1], idx[2], idx[3]];
        let kk = if bugs.outputs_channel_major {
            (q % groups) * kg + q / groups
        } else {
            q
        };
        let group = kk / kg;
        terms.clear();
        for ci in 0..cg {
            let mut c = if bugs.interleave_groups {
                ci * groups + group
            } else if bugs.group_offset_ignored {
                ci
            } else {
                group * cg + ci
            };
            if bugs.reverse_inputs {
                c = x.shape()[1] - 1 - c;
            }
            for i in 0..kh {
                for j in 0..kw {
                    let y = (oy * stride[0]) as i64 - pt + (i * dilation[0]) as i64;
                    let xx = (ox * stride[1]) as i64 - pl + (j * dilation[1]) as i64;
                    let v = match (mode.source(y, h), mode.source(xx, wd)) {
                        (Some(a), Some(bb)) => x.at4(b, c, a, bb),
                        _ => 0.0,
                    };
                    let v = bugs.round_inputs.map_or(v, |bits| round_even(v, bits));
                    let (mut wi, mut wj) = if flip {
                        (kh - 1 - i, kw - 1 - j)
                    } else {
                        (i, j)
                    };
                    if bugs.transpose_kernel {
                        (wi, wj) = (wj, wi);
                    }
                    if bugs.flip_rows {
                        wi = kh - 1 - wi;
                    }
                    if bugs.flip_cols {
                        wj = kw - 1 - wj;
                    }
                    if bugs.rotate_kernel {
                        // Clockwise: the tap at (i, j) is the true (kw-1-j, i).
                        (wi, wj) = (kw - 1 - wj, wi);
                    }
                    terms.push(v * weight(kk, ci, wi, wj));
                }
            }
        }
        let mut s = sum(&mut terms, bugs.acc);
        if let Some(bias) = bias {
            let times = if bugs.bias_missing {
                0
            } else if bugs.bias_twice {
                2
            } else {
                1
            };
            let sign = if bugs.bias_negated { -1.0 } else { 1.0 };
            for _ in 0..times {
                s += sign * bias.data()[kk];
            }
        }
        s
    })
    .expect("small output")
}

/// The bugs a naive conv_transpose2d can carry.
#[derive(Clone, Copy, Debug, Default)]
pub struct TransposedBugs {
    /// The output_padding rows/columns put at the top/left.
    pub output_padding_at_start: bool,
    /// The [C, K, kh, kw] weight read as [K, C, kh, kw].
    pub weight_as_kc: bool,
    /// The output size computed without output_padding.
    pub ignore_output_padding: bool,
}

/// conv_transpose2d (groups 1) in f32, as a scatter, with the planted bugs.
pub fn conv_transpose2d(problem: &Problem<f32>, bugs: TransposedBugs) -> Tensor<f32> {
    let Op::ConvTranspose2d(p) = &problem.op else {
        panic!("conv_transpose2d only")
    };
    assert_eq!(p.groups, 1, "this loop does groups 1");
    let shapes = |r: Role| problem.shape_of(r);
    let g = conv_transpose2d_geometry(p, &shapes).expect("valid case");
    let (n, c, k, pad, mut out) = (g.batch, g.in_channels, g.out_channels, g.padding, g.output);
    let x = &problem.tensors[&Role::Input];
    let w = &problem.tensors[&Role::Weight];
    let [h, wd] = [x.shape()[2], x.shape()[3]];
    let [kh, kw] = [w.shape()[2], w.shape()[3]];
    let full = |axis: usize, size: usize, kernel: usize| {
        (size as i64 - 1) * p.stride[axis] as i64 - pad.axis(axis).0 - pad.axis(axis).1
            + (p.dilation[axis] * (kernel - 1) + 1) as i64
    };
    let extra = [full(0, h, kh), full(1, wd, kw)].map(|m| m as usize);
    let extra = [out[0] - extra[0], out[1] - extra[1]];
    if bugs.ignore_output_padding {
        out = [out[0] - extra[0], out[1] - extra[1]];
    }
    let shift = if bugs.output_padding_at_start {
        [extra[0] as i64, extra[1] as i64]
    } else {
        [0, 0]
    };
    let mut y = vec![0f32; n * k * out[0] * out[1]];
    let taps = kh * kw;
    for b in 0..n {
        for ci in 0..c {
            for iy in 0..h {
                for ix in 0..wd {
                    let v = x.at4(b, ci, iy, ix);
                    for kk in 0..k {
                        for i in 0..kh {
                            for j in 0..kw {
                                let oy = (iy * p.stride[0] + i * p.dilation[0]) as i64 - pad.top
                                    + shift[0];
                                let ox = (ix * p.stride[1] + j * p.dilation[1]) as i64 - pad.left
                                    + shift[1];
                                if oy < 0 || ox < 0 || oy >= out[0] as i64 || ox >= out[1] as i64 {
                                    continue;
                                }
                                let wv = if bugs.weight_as_kc {
                                    w.data()[(kk * c + ci) * taps + i * kw + j]
                                } else {
                                    w.at4(ci, kk, i, j)
                                };
                                let o =
                                    ((b * k + kk) * out[0] + oy as usize) * out[1] + ox as usize;
                                y[o] += v * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(bias) = problem.tensors.get(&Role::Bias) {
        for (o, v) in y.iter_mut().enumerate() {
            *v += bias.data()[(o / (out[0] * out[1])) % k];
        }
    }
    Tensor::new(vec![n, k, out[0], out[1]], y).expect("sizes agree")
}

/// deform_conv2d in f32 (torchvision's sampling); with `clamp` the bug:
/// samples outside the image read the nearest edge pixel instead of zero.
pub fn deform_conv2d(problem: &Problem<f32>, clamp: bool) -> Tensor<f32> {
    let Op::DeformConv2d(p) = &problem.op else {
        panic!("deform_conv2d only")
    };
    let shapes = |r: Role| problem.shape_of(r);
    let d = deform_conv2d_geometry(p, &shapes).expect("valid case");
    let r = d.conv;
    let (n, c, k, og) = (r.batch, r.in_channels, r.out_channels, d.offset_groups);
    let x = &problem.tensors[&Role::Input];
    let w = &problem.tensors[&Role::Weight];
    let off = &problem.tensors[&Role::Offset];
    let bias = problem.tensors.get(&Role::Bias);
    let [h, wd] = [x.shape()[2], x.shape()[3]];
    let [cg, kh, kw] = [w.shape()[1], w.shape()[2], w.shape()[3]];
    let (taps, kg, cog) = (kh * kw, k / p.geometry.groups, c / og);
    let shape = vec![n, k, r.output[0], r.output[1]];
    Tensor::from_fn(shape, "naive deform", |idx| {
        let [b, kk, oy, ox] = [idx[0], idx[1], idx[2], idx[3]];
        let mut acc = bias.map_or(0.0, |t| t.data()[kk]);
        for ci in 0..cg {
            let ch = (kk / kg) * cg + ci;
            let g = ch / cog;
            for i in 0..kh {
                for j in 0..kw {
                    let t = i * kw + j;
                    let y = (oy * p.geometry.stride[0] + i * p.geometry.dilation[0]) as f32
                        - r.padding.top as f32
                        + off.at4(b, g * 2 * taps + 2 * t, oy, ox);
                    let xx = (ox * p.geometry.stride[1] + j * p.geometry.dilation[1]) as f32
                        - r.padding.left as f32
                        + off.at4(b, g * 2 * taps + 2 * t + 1, oy, ox);
                    let (y0, x0) = (y.floor(), xx.floor());
                    let (ly, lx) = (y - y0, xx - x0);
                    let (hi, wi) = (h as i64 - 1, wd as i64 - 1);
                    if !clamp && (y <= -1.0 || y >= h as f32 || xx <= -1.0 || xx >= wd as f32) {
                        continue;
                    }
                    let px = |a: f32, bb: f32| {
                        let (yi, xi) = (a as i64, bb as i64);
                        if clamp {
                            x.at4(b, ch, yi.clamp(0, hi) as usize, xi.clamp(0, wi) as usize)
                        } else if (0..=hi).contains(&yi) && (0..=wi).contains(&xi) {
                            x.at4(b, ch, yi as usize, xi as usize)
                        } else {
                            0.0
                        }
                    };
                    let v = (1.0 - ly) * (1.0 - lx) * px(y0, x0)
                        + (1.0 - ly) * lx * px(y0, x0 + 1.0)
                        + ly * (1.0 - lx) * px(y0 + 1.0, x0)
                        + ly * lx * px(y0 + 1.0, x0 + 1.0);
                    acc += w.at4(kk, ci, i, j) * v;
                }
            }
        }
        acc
    })
    .expect("small output")
}
