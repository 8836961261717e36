//! `deform_conv2d` (torchvision semantics, v1 and v2, offset groups,
//! weight groups) on the direct backend: a deformable im2col feeding the
//! same GEMM as conv2d.
//!
//! B of one (image, group) has a row per weight column `(c', i, j)` and a
//! column per output pixel, `B[(c', t)][(oy, ox)] = m * sample(x[n, c], y, x)`
//! with `y = (oy*sh - pt + i*dh) + dy` computed in the dtype, exactly as
//! torchvision's `deformable_im2col` does (`src/verify/deform_coordinates.rs`
//! bounds what rounding that sum costs; the reference uses the offset
//! exactly). The packer writes B block by block straight into the GEMM's
//! packed panels ([`DeformColumns`]), so the workspace is conv2d's (the
//! packed weights and one B block per thread) plus, per thread, the
//! resolved sampling points of one column block (`kh*kw x nc` points of
//! four weights, four corner indices and the mask value), whatever the
//! image size. Every channel of an offset group samples at the same
//! points, so they are resolved once per (tap, column block) and each B
//! element is then four loads and four multiply-adds.
//!
//! The sampler is torchvision's `bilinear_interpolate`, term for term: zero
//! when the point is at or beyond -1 / H / W; otherwise the four corners
//! `(hy*hx) v1 + (hy*lx) v2 + (ly*hx) v3 + (ly*lx) v4`, summed in that
//! order, with corners outside the image read as 0 and corners inside read
//! even when their weight is 0 (so an infinite pixel there gives NaN, as in
//! the reference). A non-finite offset makes the sample NaN, as the
//! reference defines it (torchvision gives 0 for an infinite one).

use super::conv2d::DirectConv;
use super::op_plan::{Compute, OpPlan};
use super::Float;
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::{Element, Isa, PackB};
use convoracle_reference::{DType, DeformShape, OpGeometry, Problem, Role};
use std::cell::RefCell;

/// A planned deform_conv2d: the geometry and the GEMM that consumes the
/// deformable columns.
pub(crate) struct Deform {
    shape: DeformShape,
    gemm: DirectConv,
}

/// Plans a deform_conv2d problem within `context`'s memory limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<Deform>> {
    let OpGeometry::DeformConv2d(shape) = problem.geometry()? else {
        return Err(Error::Implementation(
            "deform::plan was given another op".to_string(),
        ));
    };
    let gemm = DirectConv::gemm_only(&shape.conv, dtype, isa, context)?;
    // The sampling points of one column block, per thread (outside the
    // scratch: the packer owns them), within the memory limit too.
    let nc = match dtype {
        DType::F32 => <f32 as Element>::blocking(isa).nc,
        DType::F64 => <f64 as Element>::blocking(isa).nc,
    };
    let pixels = shape.conv.output[0] * shape.conv.output[1];
    let points = shape.conv.taps() as u128 * nc.min(pixels) as u128;
    let bytes = points * std::mem::size_of::<Point<f64>>() as u128;
    context.check_bytes(
        bytes * context.thread_count() as u128,
        "deform sampling points",
    )?;
    OpPlan::new(problem, dtype, Deform { shape, gemm })
}

impl Compute for Deform {
    fn scratch_len(&self) -> usize {
        self.gemm.scratch_len()
    }

    fn describe(&self) -> String {
        format!(
            "deformable im2col (bilinear gather) + {}",
            self.gemm.describe()
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let x = problem.tensor(Role::Input)?.data();
        let w = problem.tensor(Role::Weight)?.data();
        let offset = problem.tensor(Role::Offset)?.data();
        let mask = problem.optional(Role::Mask).map(|m| m.data());
        let s = &self.shape.conv;
        let image = s.in_channels * s.input[0] * s.input[1];
        let pixels = s.output[0] * s.output[1];
        let taps = s.taps();
        let offsets = 2 * self.shape.offset_groups * taps * pixels;
        let masks = self.shape.offset_groups * taps * pixels;
        self.gemm.gemm_with(w, out, scratch, |n, g| DeformColumns {
            shape: &self.shape,
            group: g,
            x: &x[n * image..][..image],
            offset: &offset[n * offsets..][..offsets],
            mask: mask.map(|m| &m[n * masks..][..masks]),
            samples: RefCell::new(SampleCache::default()),
        });
        if let Some(bias) = problem.optional(Role::Bias) {
            self.gemm.add_bias(bias.data(), out);
        }
        Ok(())
    }
}

/// The deformable im2col B of one (image, group).
struct DeformColumns<'a, T> {
    shape: &'a DeformShape,
    group: usize,
    /// The image's input planes (all channels: the offset group of a
    /// channel is counted over all of them).
    x: &'a [T],
    /// The image's offsets `[2*G*kh*kw, Ho, Wo]`.
    offset: &'a [T],
    /// The image's mask `[G*kh*kw, Ho, Wo]` (v2).
    mask: Option<&'a [T]>,
    /// The sampling points of the current column block. Every channel of
    /// an offset group samples at the same points, so they are resolved
    /// once per (tap, column) and reused by the block's `C/g` channels and
    /// by every k block of the GEMM (one cache per GEMM call and thread:
    /// its allocation is made once per call, not per panel).
    samples: RefCell<SampleCache<T>>,
}

/// One resolved sampling point: `m * (w[0] v[0] + w[1] v[1] + w[2] v[2] +
/// w[3] v[3])` with `v[k]` the pixel at `corner[k]` of the channel's plane,
/// or 0 when that corner is outside the image.
#[derive(Clone, Copy, Default)]
struct Point<T> {
    weights: [T; 4],
    corners: [usize; 4],
    /// Bit k: corner k lies inside the image.
    inside: u8,
    mask: T,
    kind: PointKind,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum PointKind {
    /// Bilinear in the image.
    #[default]
    Bilinear,
    /// At or beyond -1 / H / W: the sample is 0.
    Outside,
    /// A non-finite offset: the sample is NaN.
    NotANumber,
}

/// The points of one column block (`n0 .. n0 + nc`) of one offset group,
/// `taps x nc`, resolved tap by tap as rows ask for them.
#[derive(Default)]
struct SampleCache<T> {
    points: Vec<Point<T>>,
    ready: Vec<bool>,
    key: Option<(usize, usize, usize)>,
}

impl<T: Float> PackB<T> for DeformColumns<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let s = &self.shape.conv;
        let taps = s.taps();
        let [h, w] = s.input;
        let per_offset_group = (s.in_channels / self.shape.offset_groups.max(1)).max(1);
        let mut cache = self.samples.borrow_mut();
        for p in 0..kc {
            let (ci, t) = ((k0 + p) / taps, (k0 + p) % taps);
            let c = self.group * s.in_per_group() + ci;
            let og = c / per_offset_group;
            if cache.key != Some((og, n0, nc)) {
                cache.key = Some((og, n0, nc));
                cache.points.resize(taps * nc, Point::default());
                cache.ready.clear();
                cache.ready.resize(taps, false);
            }
            if !cache.ready[t] {
                self.resolve(og, t, n0, &mut cache.points[t * nc..][..nc]);
                cache.ready[t] = true;
            }
            let plane = &self.x[c * h * w..][..h * w];
            let points = &cache.points[t * nc..][..nc];
            for (jp, points) in points.chunks(nr).enumerate() {
                let dst = &mut panel[jp * nr * kc + p * nr..][..nr];
                for (d, point) in dst.iter_mut().zip(points) {
                    *d = point.value(plane);
                }
                dst[points.len()..].fill(T::ZERO);
            }
        }
    }
}

impl<T: Float> DeformColumns<'_, T> {
    /// The sampling points of tap `t` of offset group `og` for the output
    /// pixels `n0 ..` (as many as `points`).
    fn resolve(&self, og: usize, t: usize, n0: usize, points: &mut [Point<T>]) {
        let s = &self.shape.conv;
        let taps = s.taps();
        let [_, kw] = s.kernel;
        let [out_h, out_w] = s.output;
        let pixels = out_h * out_w;
        let (i, j) = (t / kw, t % kw);
        let dy = &self.offset[(og * 2 * taps + 2 * t) * pixels..][..pixels];
        let dx = &self.offset[(og * 2 * taps + 2 * t + 1) * pixels..][..pixels];
        let mask = self.mask.map(|m| &m[(og * taps + t) * pixels..][..pixels]);
        // The tap's integer position at output (0, 0), then per pixel, in
        // i128 as the reference (validation bounds it by 2^67).
        let y0 = i as i128 * s.dilation[0] as i128 - s.padding.top as i128;
        let x0 = j as i128 * s.dilation[1] as i128 - s.padding.left as i128;
        let [sh, sw] = s.stride.map(|v| v as i128);
        let (mut oy, mut ox) = (n0 / out_w.max(1), n0 % out_w.max(1));
        for (q, point) in (n0..).zip(points.iter_mut()) {
            let base_y = T::from_f64((oy as i128 * sh + y0) as f64);
            let base_x = T::from_f64((ox as i128 * sw + x0) as f64);
            *point = if dy[q].to_f64().is_finite() && dx[q].to_f64().is_finite() {
                Point::new(s.input, base_y + dy[q], base_x + dx[q])
            } else {
                Point {
                    kind: PointKind::NotANumber,
                    ..Point::default()
                }
            };
            // Without a mask torchvision stores the sample itself; 1 * v is v.
            point.mask = mask.map_or(T::from_f64(1.0), |m| m[q]);
            ox += 1;
            if ox == out_w {
                (oy, ox) = (oy + 1, 0);
            }
        }
    }
}

impl<T: Float> Point<T> {
    /// torchvision's `bilinear_interpolate` at the point `(y, x)` computed
    /// in the dtype (see the module docs), resolved for every channel.
    fn new([h, w]: [usize; 2], y: T, x: T) -> Self {
        // Widening to f64 is exact, so these are the dtype's comparisons.
        let (yf, xf) = (y.to_f64(), x.to_f64());
        if yf <= -1.0 || h as f64 <= yf || xf <= -1.0 || w as f64 <= xf {
            return Point {
                kind: PointKind::Outside,
                ..Point::default()
            };
        }
        let (yl, xl) = (floor_inside(yf), floor_inside(xf));
        let (ly, lx) = (y - T::from_f64(yl as f64), x - T::from_f64(xl as f64));
        let one = T::from_f64(1.0);
        let (hy, hx) = (one - ly, one - lx);
        let mut point = Point {
            weights: [hy * hx, hy * lx, ly * hx, ly * lx],
            ..Point::default()
        };
        let cells = [(yl, xl), (yl, xl + 1), (yl + 1, xl), (yl + 1, xl + 1)];
        for (k, (yy, xx)) in cells.into_iter().enumerate() {
            if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                point.corners[k] = yy as usize * w + xx as usize;
                point.inside |= 1 << k;
            }
        }
        point
    }

    /// `m * sample` on one channel's plane: the four corners summed in
    /// torchvision's order, a corner outside the image read as 0.
    #[inline(always)]
    fn value(&self, plane: &[T]) -> T {
        let v = match self.kind {
            PointKind::Bilinear => {
                let at = |k: usize| {
                    if self.inside & (1 << k) != 0 {
                        plane[self.corners[k]]
                    } else {
                        T::ZERO
                    }
                };
                let [w1, w2, w3, w4] = self.weights;
                w1 * at(0) + w2 * at(1) + w3 * at(2) + w4 * at(3)
            }
            PointKind::Outside => T::ZERO,
            PointKind::NotANumber => T::from_f64(f64::NAN),
        };
        self.mask * v
    }
}

/// `floor(v)` for `v` in (-1, 2^62) (inside the image): truncation, one less below zero (a
/// conversion instead of a `floor` call, which the baseline x86-64 target
/// has no instruction for).
fn floor_inside(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t - 1
    } else {
        t
    }
}
