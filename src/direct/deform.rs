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
//! packed panels ([`DeformColumns`]), so the workspace is conv2d's: the
//! packed weights and one B block per thread, whatever the image size.
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
use convoracle_kernels::{Isa, PackB};
use convoracle_reference::{DType, DeformShape, OpGeometry, Problem, Role};

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
}

impl<T: Float> PackB<T> for DeformColumns<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let s = &self.shape.conv;
        let taps = s.taps();
        let [_, kw] = s.kernel;
        let [out_h, out_w] = s.output;
        let pixels = out_h * out_w;
        let [h, w] = s.input;
        let per_offset_group = (s.in_channels / self.shape.offset_groups.max(1)).max(1);
        for p in 0..kc {
            let (ci, t) = ((k0 + p) / taps, (k0 + p) % taps);
            let (i, j) = (t / kw, t % kw);
            let c = self.group * s.in_per_group() + ci;
            let og = c / per_offset_group;
            let plane = &self.x[c * h * w..][..h * w];
            let dy = &self.offset[(og * 2 * taps + 2 * t) * pixels..][..pixels];
            let dx = &self.offset[(og * 2 * taps + 2 * t + 1) * pixels..][..pixels];
            let mask = self.mask.map(|m| &m[(og * taps + t) * pixels..][..pixels]);
            // The tap's integer position at output (0, 0), then per pixel.
            let y0 = (i * s.dilation[0]) as i64 - s.padding.top;
            let x0 = (j * s.dilation[1]) as i64 - s.padding.left;
            for jp in 0..nc.div_ceil(nr) {
                let dst = &mut panel[jp * nr * kc + p * nr..][..nr];
                let first = n0 + jp * nr;
                let len = nr.min(n0 + nc - first);
                for (jj, d) in dst[..len].iter_mut().enumerate() {
                    let q = first + jj;
                    let (oy, ox) = (q / out_w, q % out_w);
                    let base_y = T::from_f64(((oy * s.stride[0]) as i64 + y0) as f64);
                    let base_x = T::from_f64(((ox * s.stride[1]) as i64 + x0) as f64);
                    let v = sample(plane, [h, w], [base_y, dy[q]], [base_x, dx[q]]);
                    *d = match mask {
                        Some(m) => m[q] * v,
                        None => v,
                    };
                }
                dst[len..].fill(T::ZERO);
            }
        }
    }
}

/// torchvision's `bilinear_interpolate` of `plane` (`h x w`) at
/// `(base_y + dy, base_x + dx)`, the sums computed in the dtype (see the
/// module docs); NaN for a non-finite offset.
fn sample<T: Float>(
    plane: &[T],
    [h, w]: [usize; 2],
    [base_y, dy]: [T; 2],
    [base_x, dx]: [T; 2],
) -> T {
    if !dy.to_f64().is_finite() || !dx.to_f64().is_finite() {
        return T::from_f64(f64::NAN);
    }
    let (y, x) = (base_y + dy, base_x + dx);
    let minus_one = T::from_f64(-1.0);
    if y <= minus_one || T::from_f64(h as f64) <= y || x <= minus_one || T::from_f64(w as f64) <= x
    {
        return T::ZERO;
    }
    let (y_low, x_low) = (y.floor(), x.floor());
    let (ly, lx) = (y - y_low, x - x_low);
    let one = T::from_f64(1.0);
    let (hy, hx) = (one - ly, one - lx);
    // Inside (-1, h) and (-1, w): the floors are small integers.
    let (yl, xl) = (y_low.to_f64() as i64, x_low.to_f64() as i64);
    let at = |yy: i64, xx: i64| {
        if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
            plane[yy as usize * w + xx as usize]
        } else {
            T::ZERO
        }
    };
    let (v1, v2, v3, v4) = (
        at(yl, xl),
        at(yl, xl + 1),
        at(yl + 1, xl),
        at(yl + 1, xl + 1),
    );
    hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4
}
