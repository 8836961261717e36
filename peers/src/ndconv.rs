//! ndarray-conv 0.6.1: N-dimensional convolution of one array by one
//! kernel, direct (`ConvExt::conv`) or by FFT (`ConvFFTExt::conv_fft`),
//! with per-side explicit padding, strides, dilation (`with_dilation`),
//! every padding mode (`BorderType` zeros / reflect / replicate /
//! circular), true convolution by default and cross-correlation with
//! `no_reverse()`.
//!
//! A conv2d output channel is one 3D call: the input's channels of the
//! group `[C/groups, H, W]` by the filter `[C/groups, kh, kw]`, no padding
//! and stride 1 on the channel axis, so the library itself sums over the
//! channels (its output is `[1, Ho, Wo]`). For `flip_kernel` the library
//! reverses the kernel (its default); the channel axis is reversed first
//! so that only the spatial axes end up rotated. The bias is added after.
//!
//! Both adapters are built with the oracle's own
//! [`convoracle::ndarray_interop::NdConv2d`]: a function over ndarray
//! views becomes a backend in one expression.

use convoracle::backend::Unsupported;
use convoracle::ndarray_interop::NdConv2d;
use convoracle::problem_features::Feature;
use convoracle::reference::{Conv2dParams, PaddingMode as Mode};
use convoracle::verify::{Algorithm, Tolerance};
use convoracle::ProblemShape;
use ndarray::{s, Array3, Array4, ArrayView1, ArrayView4, Axis};
use ndarray_conv::{
    BorderType, ConvExt, ConvFFTExt, ConvMode, PaddingMode, ReverseKernel, WithDilation,
};

/// Which of the crate's two paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `ConvExt::conv`.
    Direct,
    /// `ConvFFTExt::conv_fft`.
    Fft,
}

/// An error of the peer or of the adapter's arithmetic on shapes.
type Failure = String;

macro_rules! conv2d_fn {
    ($name:ident, $t:ty) => {
        /// One conv2d through ndarray-conv in this dtype.
        fn $name(
            path: Path,
            x: ArrayView4<'_, $t>,
            w: ArrayView4<'_, $t>,
            b: Option<ArrayView1<'_, $t>>,
            p: &Conv2dParams,
        ) -> Result<Array4<$t>, Failure> {
            let g = &p.geometry;
            let pad = g.padding.explicit().ok_or("padding not resolved")?;
            let sides = [pad.top, pad.bottom, pad.left, pad.right];
            let [top, bottom, left, right] = sides.map(|v| v.max(0) as usize);
            let (n, _, h, wd) = x.dim();
            let (k, cg, kh, kw) = w.dim();
            let groups = g.groups.max(1);
            let kg = k / groups;
            let extent =
                |size: usize, before: usize, after: usize, kernel: usize, s: usize, d: usize| {
                    (size + before + after).saturating_sub(d * (kernel - 1) + 1) / s + 1
                };
            let ho = extent(h, top, bottom, kh, g.stride[0], g.dilation[0]);
            let wo = extent(wd, left, right, kw, g.stride[1], g.dilation[1]);
            let mode = ConvMode::Explicit {
                padding: [[0, 0], [top, bottom], [left, right]],
                strides: [1, g.stride[0], g.stride[1]],
            };
            let m: BorderType<$t> = match p.padding_mode {
                Mode::Zeros => BorderType::Zeros,
                Mode::Reflect => BorderType::Reflect,
                Mode::Replicate => BorderType::Replicate,
                Mode::Circular => BorderType::Circular,
            };
            let padding = PaddingMode::Custom([m, m, m]);
            let dilation = [1, g.dilation[0], g.dilation[1]];
            let mut out = Array4::<$t>::zeros((n, k, ho, wo));
            for ni in 0..n {
                for ki in 0..k {
                    let group = ki / kg;
                    let xs = x.slice(s![ni, group * cg..(group + 1) * cg, .., ..]);
                    let mut filter: Array3<$t> = w.slice(s![ki, .., .., ..]).to_owned();
                    let kernel = if p.flip_kernel {
                        filter.invert_axis(Axis(0));
                        filter = filter.as_standard_layout().into_owned();
                        filter.with_dilation(dilation).reverse()
                    } else {
                        filter.with_dilation(dilation).no_reverse()
                    };
                    let r = match path {
                        Path::Direct => xs.conv(kernel, mode, padding),
                        Path::Fft => xs.conv_fft(kernel, mode, padding),
                    }
                    .map_err(|e| format!("{e:?}"))?;
                    if r.dim() != (1, ho, wo) {
                        return Err(format!("output {:?}, expected (1, {ho}, {wo})", r.dim()));
                    }
                    let bias = b.map_or(0.0, |b| b[ki]);
                    out.slice_mut(s![ni, ki, .., ..])
                        .assign(&r.index_axis(Axis(0), 0).mapv(|v| v + bias));
                }
            }
            Ok(out)
        }
    };
}

conv2d_fn!(conv2d_f32, f32);
conv2d_fn!(conv2d_f64, f64);

/// What neither path does: an empty tensor (the crate returns
/// `Error::DataShape` / `KernelShape`) or an empty output (the kernel does
/// not fit: `Error::MismatchShape`), and negative padding (`usize`).
fn refusal(problem: &ProblemShape, _: convoracle::reference::DType) -> Result<(), Unsupported> {
    let empty_output = problem.output_shape().is_ok_and(|s| s.contains(&0));
    if empty_output {
        return Err(Unsupported::new(
            "an empty output (the kernel does not fit)",
        ));
    }
    Ok(())
}

/// The adapter for one path.
pub fn ndarray_conv(path: Path) -> NdConv2d {
    let (name, claim) = match path {
        Path::Direct => ("ndarray-conv direct", Algorithm::Direct),
        Path::Fft => ("ndarray-conv fft", Algorithm::Fft),
    };
    NdConv2d::new(name)
        .try_f32(move |x, w, b, p| conv2d_f32(path, x, w, b, p))
        .try_f64(move |x, w, b, p| conv2d_f64(path, x, w, b, p))
        .lacking(&[Feature::NegativePadding, Feature::Empty])
        .refusing(refusal)
        .claim(Tolerance::new(claim))
}
