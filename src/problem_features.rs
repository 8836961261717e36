//! The features of a problem a partial implementation may lack (tract's
//! problem-parameter flags are the model): `export --exclude` leaves out the
//! cases that have them, and a [`crate::Backend::supports`] can be written
//! as "none of these features".

use crate::problem_shape::ProblemShape;
use convoracle_reference::{Op, OpGeometry, PaddingMode, PaddingSpec, Role};

/// A feature of a problem, by what a peer may not express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// True convolution (`flip_kernel`).
    FlipKernel,
    /// A padding mode other than zeros (reflect, replicate, circular).
    PaddingMode,
    /// A negative explicit padding (a crop).
    NegativePadding,
    /// Padding given as a word (`valid`, `same`, `same_upper`, `same_lower`).
    PaddingWord,
    /// Different padding before and after on an axis.
    AsymmetricPadding,
    /// Different stride, dilation or kernel size on the two axes.
    NonSquare,
    /// Dilation above 1.
    Dilation,
    /// Groups above 1 (depthwise included).
    Groups,
    /// A transposed conv's `output_size` (instead of `output_padding`).
    OutputSize,
    /// A transposed conv's nonzero `output_padding`.
    OutputPadding,
    /// A tensor with a zero dimension (an empty batch or channel count).
    Empty,
    /// A bias tensor.
    Bias,
    /// A deformable conv's mask (v2).
    Mask,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 13] = [
        Feature::FlipKernel,
        Feature::PaddingMode,
        Feature::NegativePadding,
        Feature::PaddingWord,
        Feature::AsymmetricPadding,
        Feature::NonSquare,
        Feature::Dilation,
        Feature::Groups,
        Feature::OutputSize,
        Feature::OutputPadding,
        Feature::Empty,
        Feature::Bias,
        Feature::Mask,
    ];

    /// The name `export --exclude` takes.
    pub fn name(self) -> &'static str {
        match self {
            Feature::FlipKernel => "flip_kernel",
            Feature::PaddingMode => "padding_mode",
            Feature::NegativePadding => "negative_padding",
            Feature::PaddingWord => "padding_word",
            Feature::AsymmetricPadding => "asymmetric_padding",
            Feature::NonSquare => "non_square",
            Feature::Dilation => "dilation",
            Feature::Groups => "groups",
            Feature::OutputSize => "output_size",
            Feature::OutputPadding => "output_padding",
            Feature::Empty => "empty",
            Feature::Bias => "bias",
            Feature::Mask => "mask",
        }
    }

    /// Parses [`Feature::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether `problem` has this feature.
    ///
    /// ```
    /// use convoracle::problem_features::Feature;
    /// use convoracle::reference::{Conv2dParams, Op, Role};
    /// use convoracle::ProblemShape;
    /// let p = ProblemShape::new(Op::Conv2d(Conv2dParams { flip_kernel: true, ..Default::default() }))
    ///     .with(Role::Input, &[1, 1, 4, 4])
    ///     .with(Role::Weight, &[1, 1, 3, 3]);
    /// assert!(Feature::FlipKernel.present(&p));
    /// assert!(!Feature::Bias.present(&p));
    /// ```
    pub fn present(self, problem: &ProblemShape) -> bool {
        let geometry = problem.geometry().ok();
        let convs = || -> Vec<convoracle_reference::ConvShape> {
            match &geometry {
                Some(OpGeometry::DepthwiseSeparable2d(d)) => vec![d.depthwise, d.pointwise],
                Some(OpGeometry::SpatiallySeparable2d(s)) => vec![s.vertical, s.horizontal],
                Some(OpGeometry::Aspp(a)) => a.rates.iter().map(|&r| a.dilated_branch(r)).collect(),
                Some(other) => other.conv().copied().into_iter().collect(),
                None => Vec::new(),
            }
        };
        let spec = conv_spec(&problem.op);
        match self {
            Feature::FlipKernel => conv_params(&problem.op).is_some_and(|(_, _, flip)| flip),
            Feature::PaddingMode => {
                conv_params(&problem.op).is_some_and(|(_, mode, _)| mode != PaddingMode::Zeros)
            }
            Feature::NegativePadding => convs().iter().any(|g| {
                let p = g.padding;
                p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0
            }),
            Feature::PaddingWord => spec.is_some_and(|s| !matches!(s, PaddingSpec::Explicit(_))),
            Feature::AsymmetricPadding => convs()
                .iter()
                .any(|g| g.padding.top != g.padding.bottom || g.padding.left != g.padding.right),
            Feature::NonSquare => convs().iter().any(|g| {
                g.stride[0] != g.stride[1]
                    || g.dilation[0] != g.dilation[1]
                    || g.kernel[0] != g.kernel[1]
            }),
            Feature::Dilation => convs().iter().any(|g| g.dilation != [1, 1]),
            Feature::Groups => match &problem.op {
                Op::DepthwiseSeparable2d(_) => true,
                _ => convs().iter().any(|g| g.groups > 1),
            },
            Feature::OutputSize => {
                matches!(&problem.op, Op::ConvTranspose2d(p) if p.output_size.is_some())
            }
            Feature::OutputPadding => convs().iter().any(|g| g.output_padding != [0, 0]),
            Feature::Empty => problem.shapes.values().any(|s| s.contains(&0)),
            Feature::Bias => [
                Role::Bias,
                Role::DepthwiseBias,
                Role::PointwiseBias,
                Role::VerticalBias,
                Role::HorizontalBias,
            ]
            .iter()
            .any(|r| problem.shapes.contains_key(r)),
            Feature::Mask => problem.shapes.contains_key(&Role::Mask),
        }
    }
}

/// The padding spec of the ops that take one.
fn conv_spec(op: &Op) -> Option<PaddingSpec> {
    match op {
        Op::Conv2d(p) => Some(p.geometry.padding),
        Op::DeformConv2d(p) => Some(p.geometry.padding),
        Op::DynamicConv2d(p) => Some(p.geometry.padding),
        Op::DepthwiseSeparable2d(p) => Some(p.geometry.padding),
        Op::SpatiallySeparable2d(p) => Some(p.geometry.padding),
        Op::Conv2dBackwardInput(p) => Some(p.conv.geometry.padding),
        Op::Conv2dBackwardWeight(p) => Some(p.conv.geometry.padding),
        Op::ConvTranspose2d(_) | Op::Aspp(_) => None,
    }
}

/// (groups, padding mode, flip) of the ops with conv2d parameters.
fn conv_params(op: &Op) -> Option<(usize, PaddingMode, bool)> {
    let c = match op {
        Op::Conv2d(p) => p,
        Op::Conv2dBackwardInput(p) => &p.conv,
        Op::Conv2dBackwardWeight(p) => &p.conv,
        Op::ConvTranspose2d(_)
        | Op::DeformConv2d(_)
        | Op::DynamicConv2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_) => return None,
    };
    Some((c.geometry.groups, c.padding_mode, c.flip_kernel))
}
