//! The separable composites as the compositions they are defined by. The
//! data are small integers, so the composed ops (which round the
//! intermediate) are exact too and must agree exactly.

use super::common::*;
use convoracle_reference::{
    Conv2dParams, ConvGeometry, DepthwiseSeparable2dParams, Op, Padding2d, PaddingMode,
    PaddingSpec, Problem, Role, SpatiallySeparable2dParams, Tensor,
};
use proptest::prelude::*;

/// Sizes of a separable problem: input channels, middle channels (the
/// depthwise multiplier or the vertical step's outputs) and output channels,
/// and which biases are present.
#[derive(Debug, Clone)]
struct SeparableCase {
    n: usize,
    c: usize,
    mid: usize,
    k: usize,
    hw: [usize; 2],
    kernel: [usize; 2],
    geometry: ConvGeometry,
    biases: [bool; 2],
    seed: u64,
}

fn separable_case() -> impl Strategy<Value = SeparableCase> {
    (
        (1usize..=2, 1usize..=3, 1usize..=2, 1usize..=3),
        (pair(1, 6), pair(1, 3), pair(1, 2), pair(1, 2)),
        (padding_spec(), any::<[bool; 2]>(), any::<u64>()),
    )
        .prop_map(
            |((n, c, mid, k), (hw, kernel, stride, dilation), (padding, biases, seed))| {
                SeparableCase {
                    n,
                    c,
                    mid,
                    k,
                    hw,
                    kernel,
                    geometry: ConvGeometry {
                        stride,
                        padding,
                        dilation,
                        groups: 1,
                    },
                    biases,
                    seed,
                }
            },
        )
}

impl SeparableCase {
    fn input(&self) -> Tensor<f64> {
        tensor(
            &[self.n, self.c, self.hw[0], self.hw[1]],
            self.seed,
            Fill::Ints,
        )
    }
    /// A tensor of `shape` for data slot `slot`, if `present`.
    fn optional(&self, present: bool, shape: &[usize], slot: u64) -> Option<Tensor<f64>> {
        present.then(|| tensor(shape, self.seed ^ slot, Fill::Ints))
    }
}

fn with_optional(problem: Problem<f64>, role: Role, t: &Option<Tensor<f64>>) -> Problem<f64> {
    match t {
        Some(t) => problem.with(role, t.clone()),
        None => problem,
    }
}

fn conv_with(geometry: ConvGeometry) -> Conv2dParams {
    Conv2dParams {
        geometry,
        padding_mode: PaddingMode::Zeros,
        flip_kernel: false,
    }
}

/// The vertical and horizontal weights and biases of a spatially separable case.
struct Spatial {
    vw: Tensor<f64>,
    hw: Tensor<f64>,
    vb: Option<Tensor<f64>>,
    hb: Option<Tensor<f64>>,
}

impl Spatial {
    fn new(case: &SeparableCase) -> Self {
        let [kh, kw] = case.kernel;
        Spatial {
            vw: tensor(&[case.mid, case.c, kh, 1], case.seed ^ 1, Fill::Ints),
            hw: tensor(&[case.k, case.mid, 1, kw], case.seed ^ 2, Fill::Ints),
            vb: case.optional(case.biases[0], &[case.mid], 3),
            hb: case.optional(case.biases[1], &[case.k], 4),
        }
    }

    fn problem(&self, case: &SeparableCase, x: &Tensor<f64>) -> Problem<f64> {
        let p = SpatiallySeparable2dParams {
            geometry: case.geometry,
        };
        let problem = Problem::new(Op::SpatiallySeparable2d(p))
            .with(Role::Input, x.clone())
            .with(Role::VerticalWeight, self.vw.clone())
            .with(Role::HorizontalWeight, self.hw.clone());
        let problem = with_optional(problem, Role::VerticalBias, &self.vb);
        with_optional(problem, Role::HorizontalBias, &self.hb)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// depthwise_separable2d = 1x1 conv (pointwise) after the conv with
    /// groups = C (depthwise), each with its bias.
    #[test]
    fn depthwise_separable_is_grouped_then_pointwise(case in separable_case()) {
        let x = case.input();
        let cm = case.c * case.mid;
        let [kh, kw] = case.kernel;
        let dw = tensor(&[cm, 1, kh, kw], case.seed ^ 1, Fill::Ints);
        let pw = tensor(&[case.k, cm, 1, 1], case.seed ^ 2, Fill::Ints);
        let db = case.optional(case.biases[0], &[cm], 3);
        let pb = case.optional(case.biases[1], &[case.k], 4);
        let p = DepthwiseSeparable2dParams { geometry: case.geometry };
        let problem = Problem::new(Op::DepthwiseSeparable2d(p))
            .with(Role::Input, x.clone())
            .with(Role::DepthwiseWeight, dw.clone())
            .with(Role::PointwiseWeight, pw.clone());
        let problem = with_optional(problem, Role::DepthwiseBias, &db);
        let problem = with_optional(problem, Role::PointwiseBias, &pb);
        prop_assume!(problem.output_shape().is_ok(), "kernel larger than the padded input");
        let depthwise = conv_with(ConvGeometry { groups: case.c, ..case.geometry });
        let middle = conv(depthwise, &x, &dw, db.as_ref());
        let expected = conv(Conv2dParams::default(), &middle, &pw, pb.as_ref());
        prop_assert_eq!(run(problem), expected);
    }

    /// spatially_separable2d = conv2d with the kernel [kw] row (stride,
    /// dilation and padding of W) after conv2d with the kernel [kh] column
    /// (those of H); the intermediate is zero-padded, bias included.
    #[test]
    fn spatially_separable_is_vertical_then_horizontal(case in separable_case()) {
        let x = case.input();
        let s = Spatial::new(&case);
        let problem = s.problem(&case, &x);
        prop_assume!(problem.output_shape().is_ok(), "kernel larger than the padded input");
        let pad = case.geometry.resolve(case.hw, case.kernel, PaddingMode::Zeros).unwrap().padding;
        let [sh, sw] = case.geometry.stride;
        let [dh, dw] = case.geometry.dilation;
        let vertical = conv_with(ConvGeometry {
            stride: [sh, 1],
            padding: PaddingSpec::Explicit(Padding2d { left: 0, right: 0, ..pad }),
            dilation: [dh, 1],
            groups: 1,
        });
        let horizontal = conv_with(ConvGeometry {
            stride: [1, sw],
            padding: PaddingSpec::Explicit(Padding2d { top: 0, bottom: 0, ..pad }),
            dilation: [1, dw],
            groups: 1,
        });
        let middle = conv(vertical, &x, &s.vw, s.vb.as_ref());
        let expected = conv(horizontal, &middle, &s.hw, s.hb.as_ref());
        prop_assert_eq!(run(problem), expected);
    }

    /// spatially_separable2d = one conv2d with the outer-product kernel
    /// W[k, c, i, j] = sum_m hw[k, m, 0, j] * vw[m, c, i, 0] and bias
    /// hb[k] + sum_m vb[m] * sum_j hw[k, m, 0, j]. The vertical bias folds
    /// into one bias only where no column is padded (a padded column of the
    /// intermediate holds 0, not the bias), so it is dropped otherwise.
    #[test]
    fn spatially_separable_is_the_outer_product_kernel(case in separable_case()) {
        let x = case.input();
        let mut s = Spatial::new(&case);
        let resolved = case.geometry.resolve(case.hw, case.kernel, PaddingMode::Zeros);
        prop_assume!(resolved.is_ok(), "kernel larger than the padded input");
        let pad = resolved.unwrap().padding;
        if pad.left != 0 || pad.right != 0 {
            s.vb = None;
        }
        let [kh, kw] = case.kernel;
        let full = Tensor::from_fn(vec![case.k, case.c, kh, kw], "outer product", |i| {
            (0..case.mid).map(|m| s.hw.get(&[i[0], m, 0, i[3]]) * s.vw.get(&[m, i[1], i[2], 0])).sum()
        })
        .unwrap();
        let bias = Tensor::from_fn(vec![case.k], "folded bias", |i| {
            let vertical: f64 = (0..case.mid)
                .map(|m| {
                    let row: f64 = (0..kw).map(|j| s.hw.get(&[i[0], m, 0, j])).sum();
                    s.vb.as_ref().map_or(0.0, |vb| vb.get(&[m]) * row)
                })
                .sum();
            s.hb.as_ref().map_or(0.0, |hb| hb.get(&[i[0]])) + vertical
        })
        .unwrap();
        let expected = conv(conv_with(case.geometry), &x, &full, Some(&bias));
        prop_assert_eq!(run(s.problem(&case, &x)), expected);
    }
}
