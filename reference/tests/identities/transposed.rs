//! The transposed conv and the backward passes as other ops: conv_transpose2d
//! is the input gradient of the matching conv2d, and the weight gradient is
//! a correlation of the input with the output gradient.

use super::common::*;
use convoracle_reference::{
    compute, Conv2dParams, ConvGeometry, ConvTranspose2dParams, Op, Padding2d, PaddingMode,
    PaddingSpec, Problem, Role, Tensor,
};
use proptest::prelude::*;

/// A conv_transpose2d problem: C = groups*a input channels, K = groups*b
/// output channels; `output_padding` stays below the stride, so that the
/// matching conv2d maps the transposed output back to the input's size.
#[derive(Debug, Clone)]
struct TransposeCase {
    n: usize,
    groups: usize,
    a: usize,
    b: usize,
    hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding2d,
    output_padding: [usize; 2],
    seed: u64,
}

fn transpose_case() -> impl Strategy<Value = TransposeCase> {
    (
        (1usize..=2, 1usize..=2, 1usize..=2, 1usize..=2),
        (pair(1, 4), pair(1, 3), pair(1, 3), pair(1, 2)),
        (padding(), pair(0, 2), any::<u64>()),
    )
        .prop_map(
            |((n, groups, a, b), (hw, kernel, stride, dilation), (padding, extra, seed))| {
                TransposeCase {
                    n,
                    groups,
                    a,
                    b,
                    hw,
                    kernel,
                    stride,
                    dilation,
                    padding,
                    output_padding: [extra[0] % stride[0], extra[1] % stride[1]],
                    seed,
                }
            },
        )
}

/// `t` with its first two dimensions swapped.
fn swap01(t: &Tensor<f64>) -> Tensor<f64> {
    let s = t.shape();
    Tensor::from_fn(vec![s[1], s[0], s[2], s[3]], "swapped", |i| {
        t.get(&[i[1], i[0], i[2], i[3]])
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// conv_transpose2d(x, w) with weight [C, K/g, kh, kw] is dL/dinput of
    /// the conv2d from K to C channels whose weight [C, K/g, kh, kw] is the
    /// same tensor, with the same stride, padding, dilation and groups, for
    /// grad_output x and input_size the transposed output size. Both are the
    /// exact sum of the same products: bitwise equal in f64 and in f32.
    #[test]
    fn conv_transpose2d_is_the_input_gradient_of_conv2d(case in transpose_case()) {
        let (c, k) = (case.groups * case.a, case.groups * case.b);
        let [kh, kw] = case.kernel;
        let x = tensor(&[case.n, c, case.hw[0], case.hw[1]], case.seed, Fill::Floats);
        let w = tensor(&[c, case.b, kh, kw], case.seed ^ 1, Fill::Floats);
        let transposed = ConvTranspose2dParams {
            stride: case.stride,
            padding: case.padding,
            dilation: case.dilation,
            groups: case.groups,
            output_padding: case.output_padding,
            output_size: None,
        };
        let problem = Problem::new(Op::ConvTranspose2d(transposed))
            .with(Role::Input, x.clone())
            .with(Role::Weight, w.clone());
        let shape = problem.output_shape();
        prop_assume!(shape.is_ok(), "padding crops the whole output");
        let shape = shape.unwrap();
        prop_assert_eq!(&shape[..2], &[case.n, k]);
        let forward = Conv2dParams {
            geometry: ConvGeometry {
                stride: case.stride,
                padding: PaddingSpec::Explicit(case.padding),
                dilation: case.dilation,
                groups: case.groups,
            },
            padding_mode: PaddingMode::Zeros,
            flip_kernel: false,
        };
        let size = [shape[2], shape[3]];
        let y = run(problem.clone());
        prop_assert_eq!(bits(&backward_input(forward, size, &x, &w)), bits(&y));

        // The same in f32: both round the same exact sum once.
        let narrow = |t: &Tensor<f64>| t.map(|v| v as f32);
        let transposed32 = Problem::new(problem.op.clone())
            .with(Role::Input, narrow(&x))
            .with(Role::Weight, narrow(&w));
        let backward32 = Problem::new(Op::Conv2dBackwardInput(
            convoracle_reference::Conv2dBackwardInputParams { conv: forward, input_size: size },
        ))
        .with(Role::GradOutput, narrow(&x))
        .with(Role::Weight, narrow(&w));
        let y32 = compute(&transposed32).unwrap().output;
        let dx32 = compute(&backward32).unwrap().output;
        let bits32 = |t: &Tensor<f32>| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits32(&dx32), bits32(&y32));
    }

    /// With stride 1, dilation 1 and one group, dL/dw[k, c, i, j] =
    /// sum_n sum_(oy, ox) g[n, k, oy, ox] * x_padded[n, c, oy - pt + i, ox - pl + j]
    /// is conv2d of x (batch and channels swapped) with g as the weight
    /// (batch and channels swapped), under the same padding.
    #[test]
    fn backward_weight_is_a_correlation_of_input_and_grad(
        (n, c, k) in (1usize..=2, 1usize..=3, 1usize..=3),
        [h, w] in pair(1, 5),
        [kh, kw] in pair(1, 3),
        pad in padding(),
        seed in any::<u64>(),
    ) {
        let ho = h as i64 + pad.top + pad.bottom - kh as i64 + 1;
        let wo = w as i64 + pad.left + pad.right - kw as i64 + 1;
        prop_assume!(ho >= 1 && wo >= 1, "kernel larger than the padded input");
        let p = Conv2dParams {
            geometry: ConvGeometry { padding: PaddingSpec::Explicit(pad), ..ConvGeometry::default() },
            ..Conv2dParams::default()
        };
        let x = tensor(&[n, c, h, w], seed, Fill::Floats);
        let g = tensor(&[n, k, ho as usize, wo as usize], seed ^ 3, Fill::Floats);
        let dw = backward_weight(p, [kh, kw], &x, &g);
        let correlation = conv(p, &swap01(&x), &swap01(&g), None);
        prop_assert_eq!(bits(&dw), bits(&swap01(&correlation)));
    }
}
