//! [`NdConv2d`]: a user's conv2d over `ndarray` views as a [`Backend`].

use super::convert::{from_owned_array, view1, view4};
use crate::backend::{unsupported, Backend, Unsupported};
use crate::error::{Error, Result};
use crate::problem_features::Feature;
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use convoracle_reference::{
    Conv2dParams, ConvGeometry, DType, Op, OpGeometry, OpKind, PaddingSpec, Problem, Role, Tensor,
};
use ndarray::{Array4, ArrayView1, ArrayView4};
use std::fmt;

/// A conv2d over `ndarray` views, in one dtype: input `[N, C, H, W]`,
/// weight `[K, C/groups, kh, kw]`, optional bias `[K]`, and the op's own
/// parameters with the padding already explicit (see [`NdConv2d`]).
/// It returns the output `[N, K, Ho, Wo]`, or why it could not.
pub type Conv2dFn<T> = dyn Fn(
        ArrayView4<'_, T>,
        ArrayView4<'_, T>,
        Option<ArrayView1<'_, T>>,
        &Conv2dParams,
    ) -> Result<Array4<T>>
    + Send
    + Sync;

/// A restriction beyond the [`Feature`]s: what the function cannot do, in words.
type Refusal = dyn Fn(&ProblemShape, DType) -> std::result::Result<(), Unsupported> + Send + Sync;

/// The features a plain conv2d function is assumed to lack until told
/// otherwise: padding modes other than zeros, true convolution, and
/// negative (cropping) padding.
pub const DEFAULT_LACKING: [Feature; 3] = [
    Feature::PaddingMode,
    Feature::FlipKernel,
    Feature::NegativePadding,
];

/// A user's conv2d function over `ndarray` views, as a [`Backend`] the
/// suite checks in one line.
///
/// The function gets the input and weight as `ArrayView4` (views of the
/// case's tensors, no copy), the bias as an optional `ArrayView1`, and the
/// op's [`Conv2dParams`] with the padding resolved: a padding word
/// (`same`, `valid`) has become explicit amounts, so
/// `params.geometry.padding.explicit()` is always `Some`. Stride, dilation,
/// groups, padding mode and `flip_kernel` are read from the same struct.
///
/// By default it is tested on conv2d problems with zeros padding,
/// cross-correlation and non-negative padding ([`DEFAULT_LACKING`]);
/// [`NdConv2d::lacking`] changes that list, [`NdConv2d::refusing`] adds
/// any other restriction, [`NdConv2d::claim`] states an accuracy claim
/// other than `direct`. A dtype without a function is unsupported.
///
/// ```
/// use convoracle::ndarray_interop::NdConv2d;
/// use convoracle::reference::{Conv2dParams, OpKind};
/// use convoracle::suite::Suite;
/// use ndarray::{Array4, ArrayView1, ArrayView4};
///
/// /// A textbook conv2d: groups, stride, dilation, zero padding, bias.
/// fn my_conv(
///     x: ArrayView4<f32>,
///     w: ArrayView4<f32>,
///     b: Option<ArrayView1<f32>>,
///     p: &Conv2dParams,
/// ) -> Array4<f32> {
///     let g = &p.geometry;
///     let pad = g.padding.explicit().expect("the adapter makes padding explicit");
///     let (n, _, h, wd) = x.dim();
///     let (k, cg, kh, kw) = w.dim();
///     let out = |size: usize, before: i64, after: i64, kernel: usize, s: usize, d: usize| {
///         let span = size as i64 + before + after - (d * (kernel - 1) + 1) as i64;
///         if span < 0 { 0 } else { span as usize / s + 1 }
///     };
///     let ho = out(h, pad.top, pad.bottom, kh, g.stride[0], g.dilation[0]);
///     let wo = out(wd, pad.left, pad.right, kw, g.stride[1], g.dilation[1]);
///     let kg = k / g.groups;
///     Array4::from_shape_fn((n, k, ho, wo), |(ni, ki, oy, ox)| {
///         let mut sum = b.map_or(0.0, |b| b[ki]);
///         for ci in 0..cg {
///             for i in 0..kh {
///                 for j in 0..kw {
///                     let y = (oy * g.stride[0] + i * g.dilation[0]) as i64 - pad.top;
///                     let xx = (ox * g.stride[1] + j * g.dilation[1]) as i64 - pad.left;
///                     if (0..h as i64).contains(&y) && (0..wd as i64).contains(&xx) {
///                         let cin = (ki / kg) * cg + ci;
///                         sum += x[[ni, cin, y as usize, xx as usize]] * w[[ki, ci, i, j]];
///                     }
///                 }
///             }
///         }
///         sum
///     })
/// }
///
/// // One line makes it a backend; the suite tests every conv2d it can express.
/// let report = Suite::new().ops(&[OpKind::Conv2d]).cases(12).run(&NdConv2d::new("my-conv").f32(my_conv));
/// report.assert_conforms();
/// assert!(report.passed() > 0);
/// ```
pub struct NdConv2d {
    name: String,
    f32: Option<Box<Conv2dFn<f32>>>,
    f64: Option<Box<Conv2dFn<f64>>>,
    lacking: Vec<Feature>,
    refusal: Option<Box<Refusal>>,
    claim: Tolerance,
}

impl NdConv2d {
    /// An adapter named `name` with no function yet (add them with
    /// [`NdConv2d::f32`] / [`NdConv2d::f64`]).
    pub fn new(name: impl Into<String>) -> Self {
        NdConv2d {
            name: name.into(),
            f32: None,
            f64: None,
            lacking: DEFAULT_LACKING.to_vec(),
            refusal: None,
            claim: Tolerance::new(Algorithm::Direct),
        }
    }

    /// The f32 function.
    pub fn f32<F>(mut self, f: F) -> Self
    where
        F: Fn(
                ArrayView4<'_, f32>,
                ArrayView4<'_, f32>,
                Option<ArrayView1<'_, f32>>,
                &Conv2dParams,
            ) -> Array4<f32>
            + Send
            + Sync
            + 'static,
    {
        self.f32 = Some(Box::new(move |x, w, b, p| Ok(f(x, w, b, p))));
        self
    }

    /// The f64 function.
    pub fn f64<F>(mut self, f: F) -> Self
    where
        F: Fn(
                ArrayView4<'_, f64>,
                ArrayView4<'_, f64>,
                Option<ArrayView1<'_, f64>>,
                &Conv2dParams,
            ) -> Array4<f64>
            + Send
            + Sync
            + 'static,
    {
        self.f64 = Some(Box::new(move |x, w, b, p| Ok(f(x, w, b, p))));
        self
    }

    /// A fallible f32 function: its error becomes
    /// [`Error::Implementation`], a failure of the case.
    pub fn try_f32<F, E>(mut self, f: F) -> Self
    where
        F: Fn(
                ArrayView4<'_, f32>,
                ArrayView4<'_, f32>,
                Option<ArrayView1<'_, f32>>,
                &Conv2dParams,
            ) -> std::result::Result<Array4<f32>, E>
            + Send
            + Sync
            + 'static,
        E: fmt::Display,
    {
        self.f32 = Some(Box::new(move |x, w, b, p| {
            f(x, w, b, p).map_err(|e| Error::Implementation(e.to_string()))
        }));
        self
    }

    /// A fallible f64 function (see [`NdConv2d::try_f32`]).
    pub fn try_f64<F, E>(mut self, f: F) -> Self
    where
        F: Fn(
                ArrayView4<'_, f64>,
                ArrayView4<'_, f64>,
                Option<ArrayView1<'_, f64>>,
                &Conv2dParams,
            ) -> std::result::Result<Array4<f64>, E>
            + Send
            + Sync
            + 'static,
        E: fmt::Display,
    {
        self.f64 = Some(Box::new(move |x, w, b, p| {
            f(x, w, b, p).map_err(|e| Error::Implementation(e.to_string()))
        }));
        self
    }

    /// The features the function lacks (replacing [`DEFAULT_LACKING`]):
    /// problems with any of them are listed as unsupported, named by the
    /// feature (`padding_mode`, `groups`, ...).
    pub fn lacking(mut self, features: &[Feature]) -> Self {
        self.lacking = features.to_vec();
        self
    }

    /// Any further restriction: `refusal` returns the feature in words for
    /// a problem the function cannot do (called after the feature list).
    pub fn refusing<R>(mut self, refusal: R) -> Self
    where
        R: Fn(&ProblemShape, DType) -> std::result::Result<(), Unsupported> + Send + Sync + 'static,
    {
        self.refusal = Some(Box::new(refusal));
        self
    }

    /// The accuracy claim (default `direct` in the dtype), e.g.
    /// `Tolerance::new(Algorithm::Fft)` for an FFT convolution.
    pub fn claim(mut self, claim: Tolerance) -> Self {
        self.claim = claim;
        self
    }

    fn call<T: Copy + Default>(
        &self,
        f: Option<&Conv2dFn<T>>,
        problem: &Problem<T>,
    ) -> Result<Tensor<T>> {
        let Some(f) = f else {
            return Err(unsupported(&self.name, "this dtype (no function given)"));
        };
        let Op::Conv2d(params) = &problem.op else {
            return Err(unsupported(&self.name, Unsupported::op(problem.op.kind())));
        };
        let OpGeometry::Conv2d(shape) = problem.geometry()? else {
            return Err(unsupported(&self.name, Unsupported::op(problem.op.kind())));
        };
        let resolved = Conv2dParams {
            geometry: ConvGeometry {
                padding: PaddingSpec::Explicit(shape.padding),
                ..params.geometry
            },
            ..*params
        };
        let input = view4(problem.tensor(Role::Input)?)?;
        let weight = view4(problem.tensor(Role::Weight)?)?;
        let bias = problem.optional(Role::Bias).map(view1).transpose()?;
        from_owned_array(f(input, weight, bias, &resolved)?)
    }
}

impl fmt::Debug for NdConv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NdConv2d")
            .field("name", &self.name)
            .field("f32", &self.f32.is_some())
            .field("f64", &self.f64.is_some())
            .field("lacking", &self.lacking)
            .field("claim", &self.claim)
            .finish()
    }
}

impl Backend for NdConv2d {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(
        &self,
        problem: &ProblemShape,
        dtype: DType,
    ) -> std::result::Result<(), Unsupported> {
        if problem.kind() != OpKind::Conv2d {
            return Err(Unsupported::op(problem.kind()));
        }
        let has = match dtype {
            DType::F32 => self.f32.is_some(),
            DType::F64 => self.f64.is_some(),
        };
        if !has {
            return Err(Unsupported::new(dtype.name()));
        }
        if let Some(feature) = self.lacking.iter().find(|f| f.present(problem)) {
            return Err(Unsupported::new(feature.name()));
        }
        match &self.refusal {
            Some(refuse) => refuse(problem, dtype),
            None => Ok(()),
        }
    }

    fn claim(&self, _: &ProblemShape, _: DType) -> Tolerance {
        self.claim
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        self.call(self.f32.as_deref(), problem)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        self.call(self.f64.as_deref(), problem)
    }
}
