//! Cropping a conv2d to a part of its output, so the diagnosis can try its
//! hypotheses on a few output channels and small windows instead of the
//! whole layer. The sub-problem keeps exactly the input the window's
//! receptive field reads: a window in the interior needs no padding, a
//! window at the border keeps that border's padding (what lies past the
//! image is zero either way), so its exact reference is the same numbers
//! as the whole problem's reference on that window.
//!
//! Only conv2d with zero padding is cropped: reflect, replicate and
//! circular borders read pixels far from the window, and the composite and
//! deformable ops read input where their offsets or inner steps say.

use convoracle_reference::{
    Conv2dParams, Op, Padding2d, PaddingMode, PaddingSpec, Problem, Role, Tensor,
};
use std::ops::Range;

/// A part of an output: one batch element, some output channels, a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crop {
    /// The batch element.
    pub batch: usize,
    /// The output channels, in the order the part holds them.
    pub channels: Vec<usize>,
    /// The output rows.
    pub rows: Range<usize>,
    /// The output columns.
    pub cols: Range<usize>,
}

impl Crop {
    /// The part's shape `[1, channels, rows, cols]`.
    pub fn shape(&self) -> Vec<usize> {
        vec![1, self.channels.len(), self.rows.len(), self.cols.len()]
    }
}

/// The part of an `[N, K, H, W]` tensor that `crop` names, with its
/// channels taken from `channels` (the crop's own when `None`).
pub fn cut(t: &Tensor<f64>, crop: &Crop, channels: Option<&[usize]>) -> Option<Tensor<f64>> {
    let [n, k, h, w]: [usize; 4] = t.shape().try_into().ok()?;
    let channels = channels.unwrap_or(&crop.channels);
    if crop.batch >= n || crop.rows.end > h || crop.cols.end > w {
        return None;
    }
    let mut data = Vec::with_capacity(channels.len() * crop.rows.len() * crop.cols.len());
    for &c in channels {
        if c >= k {
            return None;
        }
        for y in crop.rows.clone() {
            let at = ((crop.batch * k + c) * h + y) * w;
            data.extend_from_slice(t.data().get(at + crop.cols.start..at + crop.cols.end)?);
        }
    }
    Tensor::new(
        vec![1, channels.len(), crop.rows.len(), crop.cols.len()],
        data,
    )
    .ok()
}

/// The conv2d (zero padding) whose output is the part of `p`'s output at
/// `crop`'s batch and window, for output channels `channels` (reference
/// channels: a channel subset is possible only for groups 1). `None` for
/// any other problem.
pub fn sub_problem(p: &Problem<f64>, crop: &Crop, channels: &[usize]) -> Option<Problem<f64>> {
    let Op::Conv2d(params) = &p.op else {
        return None;
    };
    if params.padding_mode != PaddingMode::Zeros {
        return None;
    }
    let x = p.tensors.get(&Role::Input)?;
    let w = p.tensors.get(&Role::Weight)?;
    let [n, c, h, wd]: [usize; 4] = x.shape().try_into().ok()?;
    let [k, cg, kh, kw]: [usize; 4] = w.shape().try_into().ok()?;
    let g = params.geometry;
    if g.groups != 1 && !channels.iter().copied().eq(0..k) {
        return None;
    }
    let resolved = g.resolve([h, wd], [kh, kw], PaddingMode::Zeros).ok()?;
    if crop.batch >= n || crop.rows.is_empty() || crop.cols.is_empty() {
        return None;
    }
    // The input span [start, end) a range of outputs reads on one axis, in
    // input coordinates (may reach past the image), and its part inside.
    // (In i128, then back: huge strides or paddings give `None`, not a
    // wrapped index.)
    let span = |out: &Range<usize>, axis: usize, size: usize, kernel: usize, before: i64| {
        let s = g.stride[axis] as i128;
        let d = g.dilation[axis] as i128;
        let start = out.start as i128 * s - before as i128;
        let end = (out.end as i128 - 1) * s - before as i128 + (kernel as i128 - 1) * d + 1;
        let (start, end) = (i64::try_from(start).ok()?, i64::try_from(end).ok()?);
        let inside = start.clamp(0, size as i64)..end.clamp(0, size as i64);
        (!inside.is_empty()).then_some((start, end, inside))
    };
    let (ys, ye, yin) = span(&crop.rows, 0, h, kh, resolved.padding.top)?;
    let (xs, xe, xin) = span(&crop.cols, 1, wd, kw, resolved.padding.left)?;
    let (rh, rw) = (yin.end - yin.start, xin.end - xin.start);
    let mut input = Vec::with_capacity(c * (rh * rw) as usize);
    for ch in 0..c {
        for y in yin.clone() {
            let at = ((crop.batch * c + ch) * h + y as usize) * wd;
            input.extend_from_slice(
                x.data()
                    .get(at + xin.start as usize..at + xin.end as usize)?,
            );
        }
    }
    let taps = cg * kh * kw;
    let mut weight = Vec::with_capacity(channels.len() * taps);
    for &o in channels {
        weight.extend_from_slice(w.data().get(o * taps..(o + 1) * taps)?);
    }
    let op = Op::Conv2d(Conv2dParams {
        geometry: convoracle_reference::ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d {
                top: yin.start - ys,
                bottom: ye - yin.end,
                left: xin.start - xs,
                right: xe - xin.end,
            }),
            ..g
        },
        ..*params
    });
    let mut q = Problem::new(op)
        .with(
            Role::Input,
            Tensor::new(vec![1, c, rh as usize, rw as usize], input).ok()?,
        )
        .with(
            Role::Weight,
            Tensor::new(vec![channels.len(), cg, kh, kw], weight).ok()?,
        );
    if let Some(b) = p.tensors.get(&Role::Bias) {
        let bias = channels
            .iter()
            .map(|&o| b.data().get(o).copied())
            .collect::<Option<Vec<_>>>()?;
        q = q.with(Role::Bias, Tensor::new(vec![channels.len()], bias).ok()?);
    }
    Some(q)
}

/// Whether `p` can be cropped at all (the check [`sub_problem`] makes,
/// before any window is chosen).
pub fn croppable(p: &Problem<f64>) -> bool {
    matches!(&p.op, Op::Conv2d(c) if c.padding_mode == PaddingMode::Zeros)
}

/// The crops the search looks at on an output of `shape` ([N, K, H, W]):
/// the top-left and bottom-right corners (where padding mistakes show) and
/// a window around `worst` (the element the candidate is furthest off, so
/// the crops always hold a failure), each `side` x `side` at most, on a
/// few output channels (all of them when `all_channels`: grouped convs).
pub fn choose(shape: &[usize], worst: [usize; 4], side: usize, all_channels: bool) -> Vec<Crop> {
    let [_, k, h, w] = [shape[0], shape[1], shape[2], shape[3]];
    let mut channels: Vec<usize> = if all_channels || k <= 3 {
        (0..k).collect()
    } else {
        vec![0, worst[1], k - 1]
    };
    channels.sort_unstable();
    channels.dedup();
    let (sh, sw) = (side.min(h), side.min(w));
    let around = |at: usize, len: usize, size: usize| {
        let start = at.saturating_sub(len / 2).min(size - len);
        start..start + len
    };
    let mut out = vec![
        Crop {
            batch: 0,
            channels: channels.clone(),
            rows: 0..sh,
            cols: 0..sw,
        },
        Crop {
            batch: shape[0] - 1,
            channels: channels.clone(),
            rows: h - sh..h,
            cols: w - sw..w,
        },
    ];
    let middle = Crop {
        batch: worst[0],
        channels,
        rows: around(worst[2], sh, h),
        cols: around(worst[3], sw, w),
    };
    if !out.contains(&middle) {
        out.push(middle);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoracle_reference::{compute, ConvGeometry};

    /// The sub-problem's exact reference is the whole reference's part, on
    /// windows at the border and in the interior, with strides, dilation,
    /// asymmetric, negative and `same` padding.
    #[test]
    fn a_crop_computes_the_part_of_the_whole_output() {
        let paddings = [
            PaddingSpec::Explicit(Padding2d {
                top: 2,
                bottom: 0,
                left: 1,
                right: 3,
            }),
            PaddingSpec::Explicit(Padding2d {
                top: -1,
                bottom: 1,
                left: 0,
                right: -1,
            }),
            PaddingSpec::SameUpper,
        ];
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((seed >> 40) as f64 / (1u64 << 24) as f64) - 0.5
        };
        for padding in paddings {
            for (stride, dilation) in [([1, 1], [1, 1]), ([2, 1], [1, 2]), ([1, 3], [2, 1])] {
                if padding == PaddingSpec::SameUpper && stride != [1, 1] {
                    continue;
                }
                let op = Op::Conv2d(Conv2dParams {
                    geometry: ConvGeometry {
                        stride,
                        padding,
                        dilation,
                        groups: 1,
                    },
                    ..Conv2dParams::default()
                });
                let t = |shape: Vec<usize>, f: &mut dyn FnMut() -> f64| {
                    let n = shape.iter().product();
                    Tensor::new(shape, (0..n).map(|_| f()).collect()).unwrap()
                };
                let p = Problem::new(op)
                    .with(Role::Input, t(vec![2, 3, 13, 11], &mut next))
                    .with(Role::Weight, t(vec![5, 3, 3, 2], &mut next))
                    .with(Role::Bias, t(vec![5], &mut next));
                let whole = compute(&p).unwrap();
                let s = whole.output.shape().to_vec();
                for worst in [
                    [0, 0, 0, 0],
                    [1, 4, s[2] - 1, s[3] - 1],
                    [1, 2, s[2] / 2, s[3] / 2],
                ] {
                    for crop in choose(&s, worst, 3, false) {
                        let sub = sub_problem(&p, &crop, &crop.channels).unwrap();
                        let part = compute(&sub).unwrap().output;
                        assert_eq!(part.shape(), crop.shape().as_slice());
                        let expected = cut(&whole.output, &crop, None).unwrap();
                        assert_eq!(
                            part, expected,
                            "{padding:?} {stride:?} {dilation:?} {crop:?}"
                        );
                    }
                }
            }
        }
    }
}
