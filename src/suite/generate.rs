//! proptest strategies over the whole parameter space of every op, producing
//! only valid problems (shapes that fit, parameters in their domain, a
//! non-empty output). Shapes stay tiny (N <= 2, C, K <= 4, H, W <= 8 before
//! repair, kernels <= 3) so the exact reference stays fast.
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

/// Calls `build` with `size`, then with the size grown one step at a time on
/// both axes, until the spec validates; the last attempt is returned either
/// way (the runner reports a spec that still fails validation).
fn repaired(size: [usize; 2], build: impl Fn([usize; 2]) -> ProblemShape) -> ProblemShape {
    let mut spec = build(size);
    for grow in 1..=MAX_GROWTH {
        if spec.output_shape().is_ok() {
            break;
        }
        spec = build([size[0] + grow, size[1] + grow]);
    }
    spec
}

fn pair(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = [usize; 2]> {
    (range.clone(), range).prop_map(|(a, b)| [a, b])
}

/// Batch size: mostly 1 or 2, sometimes the empty batch.
fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 1..=2usize, 1 => Just(0usize)]
}

/// (groups, channels per group, outputs per group) with C, K <= 4.
fn groups() -> impl Strategy<Value = (usize, usize, usize)> {
    (1..=4usize).prop_flat_map(|g| {
        let per = (4 / g).max(1);
        (Just(g), 1..=per, 1..=per)
    })
}

/// One side's explicit padding: mostly 0..=2, sometimes -1 (a crop).
fn side() -> impl Strategy<Value = i64> {
    prop_oneof![6 => 0..=2i64, 1 => Just(-1i64)]
}

fn explicit_padding() -> impl Strategy<Value = Padding2d> {
    (side(), side(), side(), side()).prop_map(|(top, bottom, left, right)| Padding2d {
        top,
        bottom,
        left,
        right,
    })
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

/// Stride 1..=3, padding, dilation 1..=2 (groups set by the caller).
fn geometry() -> impl Strategy<Value = ConvGeometry> {
    (pair(1..=3), padding(), pair(1..=2)).prop_map(|(stride, padding, dilation)| ConvGeometry {
        stride,
        padding,
        dilation,
        groups: 1,
    })
}

/// conv2d parameters (with `groups`), the mode, flip and bias drawn too.
fn conv_params(groups: usize) -> impl Strategy<Value = Conv2dParams> {
    (geometry(), padding_mode(), prop::bool::weighted(0.25)).prop_map(
        move |(geometry, padding_mode, flip_kernel)| Conv2dParams {
            geometry: ConvGeometry { groups, ..geometry },
            padding_mode,
            flip_kernel,
        },
    )
}

fn conv2d() -> BoxedStrategy<ProblemShape> {
    (batch(), groups(), pair(1..=3), any::<bool>(), pair(1..=8))
        .prop_flat_map(|(n, g, kernel, bias, size)| {
            (Just((n, g, kernel, bias, size)), conv_params(g.0))
        })
        .prop_map(|((n, (g, cg, kg), [kh, kw], bias, size), p)| {
            repaired(size, |[h, w]| {
                build::conv2d(p, [n, g * cg, h, w], [g * kg, cg, kh, kw], bias)
            })
        })
        .boxed()
}

fn conv_transpose2d() -> BoxedStrategy<ProblemShape> {
    let params = (
        pair(1..=3),
        explicit_padding(),
        pair(1..=2),
        pair(0..=2),
        any::<bool>(),
    );
    (
        batch(),
        groups(),
        pair(1..=3),
        params,
        any::<bool>(),
        pair(1..=5),
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

fn deform_conv2d() -> BoxedStrategy<ProblemShape> {
    let flags = (1..=2usize, any::<bool>(), any::<bool>());
    (
        batch(),
        groups(),
        pair(1..=3),
        geometry(),
        flags,
        pair(1..=6),
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

fn dynamic_conv2d() -> BoxedStrategy<ProblemShape> {
    (
        batch(),
        groups(),
        pair(1..=3),
        geometry(),
        (1..=3usize, any::<bool>()),
        pair(1..=8),
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
fn separable_channels() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    (batch(), 1..=3usize, 1..=2usize, 1..=3usize)
}

fn depthwise_separable2d() -> BoxedStrategy<ProblemShape> {
    let biases = (any::<bool>(), any::<bool>());
    (
        separable_channels(),
        pair(1..=3),
        geometry(),
        biases,
        pair(1..=8),
    )
        .prop_map(|((n, c, m, k), kernel, geometry, (db, pb), size)| {
            repaired(size, |[h, w]| {
                build::depthwise_separable(geometry, [n, c, h, w], m, k, kernel, [db, pb])
            })
        })
        .boxed()
}

fn spatially_separable2d() -> BoxedStrategy<ProblemShape> {
    let biases = (any::<bool>(), any::<bool>());
    (
        separable_channels(),
        pair(1..=3),
        geometry(),
        biases,
        pair(1..=8),
    )
        .prop_map(|((n, c, m, k), kernel, geometry, (vb, hb), size)| {
            repaired(size, |[h, w]| {
                build::spatially_separable(geometry, [n, c, h, w], m, k, kernel, [vb, hb])
            })
        })
        .boxed()
}

fn aspp() -> BoxedStrategy<ProblemShape> {
    let rates = prop::collection::vec(1..=3usize, 1..=3);
    (
        batch(),
        (1..=2usize, 1..=2usize, 1..=2usize),
        rates,
        any::<bool>(),
        pair(1..=6),
    )
        .prop_map(|(n, (c, b, k), rates, pool, [h, w])| {
            build::aspp(&rates, [n, c, h, w], b, k, pool)
        })
        .boxed()
}

fn conv2d_backward_input() -> BoxedStrategy<ProblemShape> {
    (batch(), groups(), pair(1..=3), pair(1..=8))
        .prop_flat_map(|(n, g, kernel, size)| (Just((n, g, kernel, size)), conv_params(g.0)))
        .prop_map(|((n, (g, cg, kg), [kh, kw], size), p)| {
            repaired(size, |input_size| {
                build::backward_input(p, n, input_size, [g * kg, cg, kh, kw])
            })
        })
        .boxed()
}

fn conv2d_backward_weight() -> BoxedStrategy<ProblemShape> {
    (batch(), groups(), pair(1..=3), pair(1..=8))
        .prop_flat_map(|(n, g, kernel, size)| (Just((n, g, kernel, size)), conv_params(g.0)))
        .prop_map(|((n, (g, cg, kg), kernel, size), p)| {
            repaired(size, |[h, w]| {
                build::backward_weight(p, [n, g * cg, h, w], g * kg, kernel)
            })
        })
        .boxed()
}

/// Valid specs of one op.
pub fn spec_strategy(op: OpKind) -> BoxedStrategy<ProblemShape> {
    match op {
        OpKind::Conv2d => conv2d(),
        OpKind::ConvTranspose2d => conv_transpose2d(),
        OpKind::DeformConv2d => deform_conv2d(),
        OpKind::DynamicConv2d => dynamic_conv2d(),
        OpKind::DepthwiseSeparable2d => depthwise_separable2d(),
        OpKind::SpatiallySeparable2d => spatially_separable2d(),
        OpKind::Aspp => aspp(),
        OpKind::Conv2dBackwardInput => conv2d_backward_input(),
        OpKind::Conv2dBackwardWeight => conv2d_backward_weight(),
    }
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
mod tests {
    use super::*;
    use convoracle_reference::Op;
    use proptest::test_runner::{Config, TestRunner};

    #[test]
    fn every_generated_spec_is_valid() {
        for op in OpKind::ALL {
            let mut runner = TestRunner::new(Config {
                cases: 64,
                failure_persistence: None,
                fork: false,
                timeout: 0,
                ..Config::default()
            });
            let result = runner.run(&spec_strategy(op), |spec| {
                let out = spec.output_shape();
                prop_assert!(out.is_ok(), "{:?}: {}", spec, out.unwrap_err());
                prop_assert_eq!(spec.kind(), op);
                Ok(())
            });
            assert!(result.is_ok(), "{op:?}: {result:?}");
        }
    }

    #[test]
    fn generators_reach_the_edges() {
        // Over many draws, the conv2d generator must produce every padding
        // word, every mode, flip, groups > 1 and the empty batch.
        let mut runner = TestRunner::deterministic();
        let strategy = spec_strategy(OpKind::Conv2d);
        let (mut words, mut modes, mut flip, mut grouped, mut empty) =
            (Vec::new(), Vec::new(), false, false, false);
        for _ in 0..400 {
            let spec = strategy.new_tree(&mut runner).unwrap().current();
            if let Op::Conv2d(p) = &spec.op {
                words.push(std::mem::discriminant(&p.geometry.padding));
                modes.push(p.padding_mode);
                flip |= p.flip_kernel;
                grouped |= p.geometry.groups > 1;
            }
            empty |= spec.shapes.values().next().is_some_and(|s| s[0] == 0);
        }
        words.sort_by_key(|d| format!("{d:?}"));
        words.dedup();
        modes.sort_by_key(|m| m.name());
        modes.dedup();
        assert_eq!(words.len(), 4, "padding kinds seen: {}", words.len());
        assert_eq!(modes.len(), 4, "modes seen: {modes:?}");
        assert!(
            flip && grouped && empty,
            "flip {flip} grouped {grouped} empty {empty}"
        );
    }
}
