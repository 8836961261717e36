//! proptest strategies over the whole parameter space of every op, producing
//! only valid problems (shapes that fit, parameters in their domain, a
//! non-empty output). How large the shapes get is a [`SizeProfile`]: the
//! small one (N <= 2, C, K <= 4, H, W <= 8 before repair, kernels <= 3)
//! keeps the exact reference fast; the medium and large ones reach the
//! blocking remainders of a GEMM, an FFT's tiling and the FFT bound's
//! log-size term, within a budget of multiply-adds per case.
//!
//! Each strategy draws the parameters freely, then builds the shapes with
//! the same builders as the catalogue. The one constraint the draw cannot
//! see (the padded input must hold the dilated kernel; reflect padding must
//! stay below the input size) is met by growing the input until the
//! reference's own validation accepts the problem: a pure function of the
//! drawn values, so proptest still shrinks every parameter.

use super::build;
use super::fill::DataMode;
use super::spec::{Origin, ProblemShape, SuiteCase};
use crate::any::AnyProblem;
use convoracle_reference::spec::geometry::transposed_output_size;
use convoracle_reference::{
    Conv2dParams, ConvGeometry, ConvTranspose2dParams, DType, OpKind, Padding2d, PaddingMode,
    PaddingSpec,
};
use proptest::prelude::*;

/// How far the input may grow while repairing a draw.
const MAX_GROWTH: usize = 16;

/// How large generated cases get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeProfile {
    /// N <= 2, C, K <= 4, H, W <= 8, kernels <= 3: the exact reference
    /// takes milliseconds.
    Small,
    /// C, K up to 40, H, W up to 28, kernels up to 7, at most 2 million
    /// multiply-adds per case.
    Medium,
    /// C, K up to 130, H, W up to 100, kernels up to 31, at most 12 million
    /// multiply-adds per case (one of them large at a time).
    Large,
}

/// The bounds a profile draws within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    channels: usize,
    groups: usize,
    kernel: usize,
    image: usize,
    stride: usize,
    dilation: usize,
    /// The most multiply-adds of a case (`ProblemShape::multiply_adds`).
    budget: u128,
}

impl SizeProfile {
    /// Every profile.
    pub const ALL: [SizeProfile; 3] = [SizeProfile::Small, SizeProfile::Medium, SizeProfile::Large];

    /// `small`, `medium`, `large`.
    pub fn name(self) -> &'static str {
        match self {
            SizeProfile::Small => "small",
            SizeProfile::Medium => "medium",
            SizeProfile::Large => "large",
        }
    }

    /// Parses [`SizeProfile::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        SizeProfile::ALL.into_iter().find(|p| p.name() == name)
    }

    pub(crate) fn limits(self) -> Limits {
        match self {
            SizeProfile::Small => Limits {
                channels: 4,
                groups: 4,
                kernel: 3,
                image: 8,
                stride: 3,
                dilation: 2,
                budget: u128::MAX,
            },
            SizeProfile::Medium => Limits {
                channels: 40,
                groups: 4,
                kernel: 7,
                image: 28,
                stride: 3,
                dilation: 3,
                budget: 2_000_000,
            },
            SizeProfile::Large => Limits {
                channels: 130,
                groups: 8,
                kernel: 31,
                image: 100,
                stride: 4,
                dilation: 4,
                budget: 12_000_000,
            },
        }
    }
}

/// Calls `build` with `size`, then with the size grown one step at a time on
/// both axes, until the spec validates; the last attempt is returned either
/// way (the runner reports a spec that still fails validation).
fn repaired(size: [usize; 2], build: impl Fn([usize; 2]) -> ProblemShape) -> ProblemShape {
    let mut spec = build(size);
    // One step at a time first (shrinks to the smallest valid input), then
    // in larger jumps for the large profiles' dilated kernels.
    let jumps = [32, 64, 128];
    for grow in (1..=MAX_GROWTH).chain(jumps) {
        if spec.output_shape().is_ok() {
            break;
        }
        spec = build([size[0] + grow, size[1] + grow]);
    }
    spec
}

/// Two values of `range`: the same on both axes half of the time (the
/// square case most implementations take), independent otherwise.
fn pair(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = [usize; 2]> {
    prop_oneof![
        range.clone().prop_map(|a| [a, a]),
        (range.clone(), range).prop_map(|(a, b)| [a, b]),
    ]
}

/// Batch size: mostly 1 or 2, sometimes the empty batch.
fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 1..=2usize, 1 => Just(0usize)]
}

/// (groups, channels per group, outputs per group) with C, K <= the
/// profile's channels.
fn groups(l: Limits) -> impl Strategy<Value = (usize, usize, usize)> {
    (1..=l.groups).prop_flat_map(move |g| {
        let per = (l.channels / g).max(1);
        (Just(g), 1..=per, 1..=per)
    })
}

/// One side's explicit padding: mostly 0..=2, sometimes -1 (a crop).
fn side() -> impl Strategy<Value = i64> {
    prop_oneof![6 => 0..=2i64, 1 => Just(-1i64)]
}

/// Explicit padding: one amount on every side, one per axis, or four
/// independent sides, equally often (most implementations take one of the
/// first two forms, so a partial one still gets cases it can run).
fn explicit_padding() -> impl Strategy<Value = Padding2d> {
    prop_oneof![
        side().prop_map(Padding2d::uniform),
        (side(), side()).prop_map(|(h, w)| Padding2d::symmetric(h, w)),
        (side(), side(), side(), side()).prop_map(|(top, bottom, left, right)| Padding2d {
            top,
            bottom,
            left,
            right,
        }),
    ]
}

/// Explicit padding or one of the padding words.
fn padding() -> impl Strategy<Value = PaddingSpec> {
    prop_oneof![
        6 => explicit_padding().prop_map(PaddingSpec::Explicit),
        1 => Just(PaddingSpec::Valid),
        1 => Just(PaddingSpec::SameUpper),
        1 => Just(PaddingSpec::SameLower),
    ]
}

fn padding_mode() -> impl Strategy<Value = PaddingMode> {
    prop_oneof![
        4 => Just(PaddingMode::Zeros),
        1 => Just(PaddingMode::Reflect),
        1 => Just(PaddingMode::Replicate),
        1 => Just(PaddingMode::Circular),
    ]
}

/// Stride, padding, dilation within the profile (groups set by the caller).
fn geometry(l: Limits) -> impl Strategy<Value = ConvGeometry> {
    (pair(1..=l.stride), padding(), pair(1..=l.dilation)).prop_map(|(stride, padding, dilation)| {
        ConvGeometry {
            stride,
            padding,
            dilation,
            groups: 1,
        }
    })
}

/// conv2d parameters (with `groups`), the mode, flip and bias drawn too.
fn conv_params(l: Limits, groups: usize) -> impl Strategy<Value = Conv2dParams> {
    (geometry(l), padding_mode(), prop::bool::weighted(0.25)).prop_map(
        move |(geometry, padding_mode, flip_kernel)| Conv2dParams {
            geometry: ConvGeometry { groups, ..geometry },
            padding_mode,
            flip_kernel,
        },
    )
}

fn conv2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    (
        batch(),
        groups(l),
        pair(1..=l.kernel),
        any::<bool>(),
        pair(1..=l.image),
    )
        .prop_flat_map(move |(n, g, kernel, bias, size)| {
            (Just((n, g, kernel, bias, size)), conv_params(l, g.0))
        })
        .prop_map(|((n, (g, cg, kg), [kh, kw], bias, size), p)| {
            repaired(size, |[h, w]| {
                build::conv2d(p, [n, g * cg, h, w], [g * kg, cg, kh, kw], bias)
            })
        })
        .boxed()
}

fn conv_transpose2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    let params = (
        pair(1..=l.kernel),
        explicit_padding(),
        pair(1..=2),
        pair(0..=2),
        any::<bool>(),
    );
    (
        batch(),
        groups(l),
        pair(1..=l.kernel),
        params,
        any::<bool>(),
        pair(1..=(l.image * 5 / 8).max(2)),
    )
        .prop_map(
            |(n, (g, cg, kg), kernel, (stride, padding, dilation, extra, by_size), bias, size)| {
                repaired(size, |[h, w]| {
                    // output_padding below max(stride, dilation) on each axis.
                    let extra = [0, 1].map(|a| extra[a] % stride[a].max(dilation[a]));
                    let mut p = ConvTranspose2dParams {
                        stride,
                        padding,
                        dilation,
                        groups: g,
                        output_padding: extra,
                        output_size: None,
                    };
                    if by_size {
                        let min = [0, 1].map(|a| {
                            let (before, after) = padding.axis(a);
                            let input = [h, w][a];
                            transposed_output_size(
                                input,
                                before,
                                after,
                                kernel[a],
                                stride[a],
                                dilation[a],
                                0,
                            )
                            .unwrap_or(0)
                        });
                        if min.iter().all(|&m| m > 0) {
                            p.output_padding = [0, 0];
                            p.output_size = Some([min[0] + extra[0], min[1] + extra[1]]);
                        }
                    }
                    build::transpose(
                        p,
                        [n, g * cg, h, w],
                        [g * cg, kg, kernel[0], kernel[1]],
                        bias,
                    )
                })
            },
        )
        .boxed()
}

fn deform_conv2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    let flags = (1..=2usize, any::<bool>(), any::<bool>());
    (
        batch(),
        groups(l),
        pair(1..=l.kernel),
        geometry(l),
        flags,
        pair(1..=(l.image * 3 / 4).max(2)),
    )
        .prop_map(
            |(n, (g, cg, kg), [kh, kw], geometry, (og, mask, bias), size)| {
                let c = g * cg;
                let offset_groups = if c % og == 0 { og } else { 1 };
                let geometry = ConvGeometry {
                    groups: g,
                    ..geometry
                };
                repaired(size, |[h, w]| {
                    build::deform(
                        geometry,
                        [n, c, h, w],
                        [g * kg, cg, kh, kw],
                        offset_groups,
                        mask,
                        bias,
                    )
                })
            },
        )
        .boxed()
}

fn dynamic_conv2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    (
        batch(),
        groups(l),
        pair(1..=l.kernel),
        geometry(l),
        (1..=3usize, any::<bool>()),
        pair(1..=l.image),
    )
        .prop_map(
            |(n, (g, cg, kg), [kh, kw], geometry, (experts, bias), size)| {
                let geometry = ConvGeometry {
                    groups: g,
                    ..geometry
                };
                repaired(size, |[h, w]| {
                    build::dynamic(
                        geometry,
                        [n, g * cg, h, w],
                        [experts, g * kg, cg, kh, kw],
                        bias,
                    )
                })
            },
        )
        .boxed()
}

/// (N, C, multiplier or intermediate channels, K) for the separable ops.
fn separable_channels(l: Limits) -> impl Strategy<Value = (usize, usize, usize, usize)> {
    let c = (l.channels * 3 / 4).max(1);
    (batch(), 1..=c, 1..=2usize, 1..=c)
}

fn depthwise_separable2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    let biases = (any::<bool>(), any::<bool>());
    (
        separable_channels(l),
        pair(1..=l.kernel),
        geometry(l),
        biases,
        pair(1..=l.image),
    )
        .prop_map(|((n, c, m, k), kernel, geometry, (db, pb), size)| {
            repaired(size, |[h, w]| {
                build::depthwise_separable(geometry, [n, c, h, w], m, k, kernel, [db, pb])
            })
        })
        .boxed()
}

fn spatially_separable2d(l: Limits) -> BoxedStrategy<ProblemShape> {
    let biases = (any::<bool>(), any::<bool>());
    (
        separable_channels(l),
        pair(1..=l.kernel),
        geometry(l),
        biases,
        pair(1..=l.image),
    )
        .prop_map(|((n, c, m, k), kernel, geometry, (vb, hb), size)| {
            repaired(size, |[h, w]| {
                build::spatially_separable(geometry, [n, c, h, w], m, k, kernel, [vb, hb])
            })
        })
        .boxed()
}

fn aspp(l: Limits) -> BoxedStrategy<ProblemShape> {
    let rates = prop::collection::vec(1..=l.dilation + 1, 1..=3);
    let c = (l.channels / 2).max(2);
    (
        batch(),
        (1..=c, 1..=c, 1..=c),
        rates,
        any::<bool>(),
        pair(1..=(l.image * 3 / 4).max(2)),
    )
        .prop_map(|(n, (c, b, k), rates, pool, [h, w])| {
            build::aspp(&rates, [n, c, h, w], b, k, pool)
        })
        .boxed()
}

fn conv2d_backward_input(l: Limits) -> BoxedStrategy<ProblemShape> {
    (batch(), groups(l), pair(1..=l.kernel), pair(1..=l.image))
        .prop_flat_map(move |(n, g, kernel, size)| {
            (Just((n, g, kernel, size)), conv_params(l, g.0))
        })
        .prop_map(|((n, (g, cg, kg), [kh, kw], size), p)| {
            repaired(size, |input_size| {
                build::backward_input(p, n, input_size, [g * kg, cg, kh, kw])
            })
        })
        .boxed()
}

fn conv2d_backward_weight(l: Limits) -> BoxedStrategy<ProblemShape> {
    (batch(), groups(l), pair(1..=l.kernel), pair(1..=l.image))
        .prop_flat_map(move |(n, g, kernel, size)| {
            (Just((n, g, kernel, size)), conv_params(l, g.0))
        })
        .prop_map(|((n, (g, cg, kg), kernel, size), p)| {
            repaired(size, |[h, w]| {
                build::backward_weight(p, [n, g * cg, h, w], g * kg, kernel)
            })
        })
        .boxed()
}

/// Valid specs of one op, small profile.
pub fn spec_strategy(op: OpKind) -> BoxedStrategy<ProblemShape> {
    sized_spec_strategy(op, SizeProfile::Small)
}

/// Valid specs of one op within a size profile (and its budget of
/// multiply-adds per case).
pub fn sized_spec_strategy(op: OpKind, profile: SizeProfile) -> BoxedStrategy<ProblemShape> {
    let l = profile.limits();
    let specs = match op {
        OpKind::Conv2d => conv2d(l),
        OpKind::ConvTranspose2d => conv_transpose2d(l),
        OpKind::DeformConv2d => deform_conv2d(l),
        OpKind::DynamicConv2d => dynamic_conv2d(l),
        OpKind::DepthwiseSeparable2d => depthwise_separable2d(l),
        OpKind::SpatiallySeparable2d => spatially_separable2d(l),
        OpKind::Aspp => aspp(l),
        OpKind::Conv2dBackwardInput => conv2d_backward_input(l),
        OpKind::Conv2dBackwardWeight => conv2d_backward_weight(l),
    };
    if l.budget == u128::MAX {
        return specs;
    }
    specs
        .prop_filter(
            "invalid, or over the profile's budget of multiply-adds",
            move |spec| {
                spec.output_shape().is_ok() && spec.multiply_adds().is_some_and(|m| m <= l.budget)
            },
        )
        .boxed()
}

/// Valid specs of any op, every op equally likely.
pub fn any_spec_strategy() -> BoxedStrategy<ProblemShape> {
    let all: Vec<BoxedStrategy<ProblemShape>> =
        OpKind::ALL.into_iter().map(spec_strategy).collect();
    prop::strategy::Union::new(all).boxed()
}

/// Fully determined cases of one op: a valid spec, the given dtype and data
/// mode, and a drawn seed for the fill.
pub fn case_strategy(op: OpKind, dtype: DType, data: DataMode) -> BoxedStrategy<SuiteCase> {
    cases_from(spec_strategy(op), dtype, data)
}

/// Fully determined cases of one op within a size profile.
pub fn sized_case_strategy(
    op: OpKind,
    dtype: DType,
    data: DataMode,
    profile: SizeProfile,
) -> BoxedStrategy<SuiteCase> {
    cases_from(sized_spec_strategy(op, profile), dtype, data)
}

fn cases_from(
    specs: BoxedStrategy<ProblemShape>,
    dtype: DType,
    data: DataMode,
) -> BoxedStrategy<SuiteCase> {
    (specs, any::<u64>())
        .prop_map(move |(spec, seed)| SuiteCase {
            name: format!("generated_{}", spec.op.name()),
            description: format!(
                "generated {} case ({} data, {})",
                spec.op.name(),
                data.name(),
                dtype.name()
            ),
            origin: Origin::Generated,
            spec,
            dtype,
            data,
            seed,
        })
        .boxed()
}

/// Filled problems of one op. The fill cannot fail on the generators'
/// tiny shapes; a case that did would be dropped (proptest's filter), not
/// turned into a panic.
pub fn problem_strategy(op: OpKind, dtype: DType, data: DataMode) -> BoxedStrategy<AnyProblem> {
    problems_from(case_strategy(op, dtype, data))
}

/// Filled problems of any op.
pub fn any_problem_strategy(dtype: DType, data: DataMode) -> BoxedStrategy<AnyProblem> {
    problems_from(cases_from(any_spec_strategy(), dtype, data))
}

fn problems_from(cases: BoxedStrategy<SuiteCase>) -> BoxedStrategy<AnyProblem> {
    cases
        .prop_filter_map("the fill failed", |c| c.problem().ok())
        .boxed()
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
