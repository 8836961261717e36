//! Small cases worked out by hand, one or more per op and per padding word
//! and mode. Each expected value is derived in the comment beside it; the
//! values are chosen (powers of ten as weights) so that every tap's
//! contribution is visible as its own digit.

use convoracle_reference::{
    compute, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DepthwiseSeparable2dParams, Element, Error, Op, Padding2d, PaddingMode,
    PaddingSpec, Problem, Role, SpatiallySeparable2dParams, Tensor,
};

fn t<T: Element>(shape: &[usize], data: &[T]) -> Tensor<T> {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

fn run<T: Element>(problem: Problem<T>) -> Vec<T> {
    compute(&problem).unwrap().output.into_data()
}

fn pad(top: i64, bottom: i64, left: i64, right: i64) -> PaddingSpec {
    PaddingSpec::Explicit(Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

fn geometry(stride: [usize; 2], padding: PaddingSpec, dilation: [usize; 2]) -> ConvGeometry {
    ConvGeometry {
        stride,
        padding,
        dilation,
        groups: 1,
    }
}

/// conv2d of a 1-row image with a 1-row kernel.
fn conv_row(p: Conv2dParams, x: &[f64], w: &[f64]) -> Vec<f64> {
    run(Problem::new(Op::Conv2d(p))
        .with(Role::Input, t(&[1, 1, 1, x.len()], x))
        .with(Role::Weight, t(&[1, 1, 1, w.len()], w)))
}

#[test]
fn conv2d_valid_with_bias_and_magnitude() {
    // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], bias 0.5:
    // (0,0): 1*1 + 2*2 + 4*3 + 5*4 = 37;  (0,1): 2 + 6 + 15 + 24 = 47
    // (1,0): 4 + 10 + 21 + 32 = 67;       (1,1): 5 + 12 + 24 + 36 = 77
    let p = Conv2dParams {
        geometry: geometry([1, 1], PaddingSpec::Valid, [1, 1]),
        ..Conv2dParams::default()
    };
    let problem = Problem::new(Op::Conv2d(p))
        .with(
            Role::Input,
            t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]),
        )
        .with(Role::Weight, t(&[1, 1, 2, 2], &[1., 2., 3., 4.]))
        .with(Role::Bias, t(&[1], &[0.5]));
    let out = compute(&problem).unwrap();
    assert_eq!(out.output.data(), &[37.5, 47.5, 67.5, 77.5]);
    // All terms are positive, so S_i equals the value itself.
    assert_eq!(out.magnitude.data(), &[37.5, 47.5, 67.5, 77.5]);
}

#[test]
fn conv2d_same_upper_and_same_lower() {
    // in 5, kernel 4, stride 2: out ceil(5/2) = 3, total pad (3-1)*2 + 4 - 5 = 3.
    // w = [1, 10, 100, 1000]; out[t] = p[2t] + 10 p[2t+1] + 100 p[2t+2] + 1000 p[2t+3].
    let x = [1., 2., 3., 4., 5.];
    let w = [1., 10., 100., 1000.];
    let with = |padding| Conv2dParams {
        geometry: geometry([1, 2], padding, [1, 1]),
        ..Conv2dParams::default()
    };
    // same_upper: 1 left, 2 right, p = [0,1,2,3,4,5,0,0]:
    // 0 + 10 + 200 + 3000 = 3210; 2 + 30 + 400 + 5000 = 5432; 4 + 50 = 54.
    assert_eq!(
        conv_row(with(PaddingSpec::SameUpper), &x, &w),
        [3210., 5432., 54.]
    );
    // same_lower: 2 left, 1 right, p = [0,0,1,2,3,4,5,0]:
    // 100 + 2000 = 2100; 1 + 20 + 300 + 4000 = 4321; 3 + 40 + 500 = 543.
    assert_eq!(
        conv_row(with(PaddingSpec::SameLower), &x, &w),
        [2100., 4321., 543.]
    );
}

#[test]
fn conv2d_explicit_asymmetric_padding() {
    // x = [[1,2],[3,4]], w = [[1,10],[100,1000]], top 1, bottom 0, left 0, right 1:
    // p = [[0,0,0],[1,2,0],[3,4,0]], output 2x2:
    // (0,0): 0 + 0 + 100*1 + 1000*2 = 2100   (0,1): 0 + 0 + 100*2 + 0 = 200
    // (1,0): 1 + 10*2 + 100*3 + 1000*4 = 4321 (1,1): 2 + 0 + 100*4 + 0 = 402
    let p = Conv2dParams {
        geometry: geometry([1, 1], pad(1, 0, 0, 1), [1, 1]),
        ..Conv2dParams::default()
    };
    let out = run(Problem::new(Op::Conv2d(p))
        .with(Role::Input, t(&[1, 1, 2, 2], &[1., 2., 3., 4.]))
        .with(Role::Weight, t(&[1, 1, 2, 2], &[1., 10., 100., 1000.])));
    assert_eq!(out, [2100., 200., 4321., 402.]);
}

#[test]
fn conv2d_each_padding_mode() {
    // x = [1,2,3,4], w = [1,10,100], 2 columns of padding each side:
    // out[t] = p[t] + 10 p[t+1] + 100 p[t+2], 6 outputs.
    let cases = [
        // p = [0,0,1,2,3,4,0,0]: 100, 10+200, 1+20+300, 2+30+400, 3+40, 4
        (PaddingMode::Zeros, [100., 210., 321., 432., 43., 4.]),
        // p = [3,2,1,2,3,4,3,2]: 3+20+100, 2+10+200, 321, 432, 3+40+300, 4+30+200
        (PaddingMode::Reflect, [123., 212., 321., 432., 343., 234.]),
        // p = [1,1,1,2,3,4,4,4]: 1+10+100, 1+10+200, 321, 432, 3+40+400, 4+40+400
        (PaddingMode::Replicate, [111., 211., 321., 432., 443., 444.]),
        // p = [3,4,1,2,3,4,1,2]: 3+40+100, 4+10+200, 321, 432, 3+40+100, 4+10+200
        (PaddingMode::Circular, [143., 214., 321., 432., 143., 214.]),
    ];
    for (mode, expected) in cases {
        let p = Conv2dParams {
            geometry: geometry([1, 1], pad(0, 0, 2, 2), [1, 1]),
            padding_mode: mode,
            flip_kernel: false,
        };
        let got = conv_row(p, &[1., 2., 3., 4.], &[1., 10., 100.]);
        assert_eq!(got, expected, "{}", mode.name());
    }
}

#[test]
fn conv2d_flip_kernel_groups_and_dilation() {
    // flip: the kernel [1,10,100] is applied as [100,10,1]:
    // 100 + 20 + 3 = 123; 200 + 30 + 4 = 234.
    let flip = Conv2dParams {
        flip_kernel: true,
        ..Conv2dParams::default()
    };
    assert_eq!(
        conv_row(flip, &[1., 2., 3., 4.], &[1., 10., 100.]),
        [123., 234.]
    );
    // groups 2, dilation 2 on W: channel 0 [1,2,3] with [1,10] -> 1 + 10*3 = 31;
    // channel 1 [4,5,6] with [100,1000] -> 100*4 + 1000*6 = 6400.
    let p = Conv2dParams {
        geometry: ConvGeometry {
            dilation: [1, 2],
            groups: 2,
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    };
    let out = run(Problem::new(Op::Conv2d(p))
        .with(Role::Input, t(&[1, 2, 1, 3], &[1., 2., 3., 4., 5., 6.]))
        .with(Role::Weight, t(&[2, 1, 1, 2], &[1., 10., 100., 1000.])));
    assert_eq!(out, [31., 6400.]);
}

#[test]
fn conv2d_cancellation_is_exact_f64() {
    // 2^60 + 1 - 2^60 = 1 exactly; any f64 loop in this order gives 0.
    let big = 2f64.powi(60);
    let out = conv_row(Conv2dParams::default(), &[big, 1., -big], &[1., 1., 1.]);
    assert_eq!(out, [1.0]);
}

#[test]
fn conv2d_f32_rounds_once() {
    // Exact value 1 + 2^-24 + 2^-80 lies just above the tie between 1 and
    // 1 + 2^-23, so it rounds up. Summing in f32 gives 1 (the tie goes to
    // even, then 2^-80 is lost), and so does rounding an f64 sum to f32
    // (the f64 sum is the tie 1 + 2^-24).
    let x = [1.0f32, 2f32.powi(-24), 2f32.powi(-80)];
    assert!(x[2] > 0.0 && x[2].is_normal(), "2^-80 is a normal f32");
    let out = run(Problem::new(Op::Conv2d(Conv2dParams::default()))
        .with(Role::Input, t(&[1, 1, 1, 3], &x))
        .with(Role::Weight, t(&[1, 1, 1, 3], &[1.0f32; 3])));
    assert_eq!(out, [1.0 + f32::EPSILON]);
    assert_eq!((x[0] + x[1]) + x[2], 1.0, "the naive f32 sum differs");
}

fn transpose_row(p: ConvTranspose2dParams, x: &[f64], w: &[f64]) -> Vec<f64> {
    run(Problem::new(Op::ConvTranspose2d(p))
        .with(Role::Input, t(&[1, 1, 1, x.len()], x))
        .with(Role::Weight, t(&[1, 1, 1, w.len()], w)))
}

#[test]
fn conv_transpose2d_stride_padding_output_padding() {
    // x = [1,2], w = [1,10,100], stride 2: x0 scatters [1,10,100] at 0..3,
    // x1 scatters [2,20,200] at 2..5: full output [1, 10, 102, 20, 200].
    let stride = ConvTranspose2dParams {
        stride: [1, 2],
        ..ConvTranspose2dParams::default()
    };
    let x = [1., 2.];
    let w = [1., 10., 100.];
    assert_eq!(transpose_row(stride, &x, &w), [1., 10., 102., 20., 200.]);
    // padding 1 on W crops one column each side: [10, 102, 20].
    let padded = ConvTranspose2dParams {
        padding: Padding2d::symmetric(0, 1),
        ..stride
    };
    assert_eq!(transpose_row(padded, &x, &w), [10., 102., 20.]);
    // output_padding 1 (or output_size 4) restores the last column: [10, 102, 20, 200].
    let extra = ConvTranspose2dParams {
        output_padding: [0, 1],
        ..padded
    };
    assert_eq!(transpose_row(extra, &x, &w), [10., 102., 20., 200.]);
    let sized = ConvTranspose2dParams {
        output_size: Some([1, 4]),
        ..padded
    };
    assert_eq!(transpose_row(sized, &x, &w), [10., 102., 20., 200.]);
    // dilation 2, w = [1,10]: x0 lands at 0 and 2, x1 at 1 and 3: [1, 2, 10, 20].
    let dilated = ConvTranspose2dParams {
        dilation: [1, 2],
        ..ConvTranspose2dParams::default()
    };
    assert_eq!(transpose_row(dilated, &x, &[1., 10.]), [1., 2., 10., 20.]);
}

#[test]
fn conv_transpose2d_weight_layout_groups_and_bias() {
    // 1x1 pixels, x = [3, 5], weight [C=2, K/groups=2, 1, 1] = [[1,2],[3,4]].
    let x = t(&[1, 2, 1, 1], &[3., 5.]);
    let w = t(&[2, 2, 1, 1], &[1., 2., 3., 4.]);
    // groups 1: out[k] = x0*w[0,k] + x1*w[1,k] + b[k]: 3 + 15 + 0.5 = 18.5, 6 + 20 - 1 = 25.
    let one = Problem::new(Op::ConvTranspose2d(ConvTranspose2dParams::default()))
        .with(Role::Input, x.clone())
        .with(Role::Weight, w.clone())
        .with(Role::Bias, t(&[2], &[0.5, -1.]));
    assert_eq!(run(one), [18.5, 25.]);
    // groups 2: K = 4; channel 0 feeds k 0,1 (3*1, 3*2), channel 1 k 2,3 (5*3, 5*4).
    let grouped = ConvTranspose2dParams {
        groups: 2,
        ..ConvTranspose2dParams::default()
    };
    let two = Problem::new(Op::ConvTranspose2d(grouped))
        .with(Role::Input, x)
        .with(Role::Weight, w);
    assert_eq!(run(two), [3., 6., 15., 20.]);
}

fn backward_input_row(p: Conv2dParams, size: usize, g: &[f64], w: &[f64]) -> Vec<f64> {
    let params = Conv2dBackwardInputParams {
        conv: p,
        input_size: [1, size],
    };
    run(Problem::new(Op::Conv2dBackwardInput(params))
        .with(Role::GradOutput, t(&[1, 1, 1, g.len()], g))
        .with(Role::Weight, t(&[1, 1, 1, w.len()], w)))
}

#[test]
fn conv2d_backward_input_zero_padding_stride_and_flip() {
    // forward: out[o] = x[o] + 10 x[o+1], 4 inputs, 3 outputs; g = [1,2,3]:
    // dx0 = 1; dx1 = 10*1 + 2 = 12; dx2 = 10*2 + 3 = 23; dx3 = 10*3 = 30.
    let plain = Conv2dParams::default();
    assert_eq!(
        backward_input_row(plain, 4, &[1., 2., 3.], &[1., 10.]),
        [1., 12., 23., 30.]
    );
    // flipped: out[o] = 10 x[o] + x[o+1]: dx = [10, 1 + 20, 2 + 30, 3].
    let flip = Conv2dParams {
        flip_kernel: true,
        ..plain
    };
    assert_eq!(
        backward_input_row(flip, 4, &[1., 2., 3.], &[1., 10.]),
        [10., 21., 32., 3.]
    );
    // stride 2 over 5 inputs: out0 = x0 + 10 x1, out1 = x2 + 10 x3; x4 unread.
    // g = [1,2]: dx = [1, 10, 2, 20, 0].
    let strided = Conv2dParams {
        geometry: geometry([1, 2], PaddingSpec::default(), [1, 1]),
        ..plain
    };
    assert_eq!(
        backward_input_row(strided, 5, &[1., 2.], &[1., 10.]),
        [1., 10., 2., 20., 0.]
    );
}

#[test]
fn conv2d_backward_input_padding_modes_route_to_the_source() {
    // 3 inputs, w = [1,10,100], 1 column of padding each side, g = [1,2,3];
    // out[o] = p[o] + 10 p[o+1] + 100 p[o+2].
    let cases = [
        // p = [x1,x0,x1,x2,x1]: out0 = 101 x1 + 10 x0, out1 = x0 + 10 x1 + 100 x2,
        // out2 = 101 x1 + 10 x2: dx0 = 10 + 2 = 12, dx1 = 101 + 20 + 303 = 424,
        // dx2 = 200 + 30 = 230.
        (PaddingMode::Reflect, [12., 424., 230.]),
        // p = [x0,x0,x1,x2,x2]: out0 = 11 x0 + 100 x1, out1 = x0 + 10 x1 + 100 x2,
        // out2 = x1 + 110 x2: dx0 = 11 + 2 = 13, dx1 = 100 + 20 + 3 = 123,
        // dx2 = 200 + 330 = 530.
        (PaddingMode::Replicate, [13., 123., 530.]),
        // p = [x2,x0,x1,x2,x0]: out0 = x2 + 10 x0 + 100 x1, out1 = x0 + 10 x1 + 100 x2,
        // out2 = x1 + 10 x2 + 100 x0: dx0 = 10 + 2 + 300 = 312,
        // dx1 = 100 + 20 + 3 = 123, dx2 = 1 + 200 + 30 = 231.
        (PaddingMode::Circular, [312., 123., 231.]),
        // p = [0,x0,x1,x2,0]: dx0 = 10 + 2 = 12, dx1 = 100 + 20 + 3 = 123,
        // dx2 = 200 + 30 = 230.
        (PaddingMode::Zeros, [12., 123., 230.]),
    ];
    for (mode, expected) in cases {
        let p = Conv2dParams {
            geometry: geometry([1, 1], pad(0, 0, 1, 1), [1, 1]),
            padding_mode: mode,
            flip_kernel: false,
        };
        let got = backward_input_row(p, 3, &[1., 2., 3.], &[1., 10., 100.]);
        assert_eq!(got, expected, "{}", mode.name());
    }
}

fn backward_weight_row(p: Conv2dParams, kernel: usize, x: &[f64], g: &[f64]) -> Vec<f64> {
    let params = Conv2dBackwardWeightParams {
        conv: p,
        kernel_size: [1, kernel],
    };
    run(Problem::new(Op::Conv2dBackwardWeight(params))
        .with(Role::Input, t(&[1, 1, 1, x.len()], x))
        .with(Role::GradOutput, t(&[1, 1, 1, g.len()], g)))
}

#[test]
fn conv2d_backward_weight_cases() {
    // dW[j] = sum_o g[o] x[o + j]; x = [1,2,3,4], g = [1,10,100]:
    // dW0 = 1 + 20 + 300 = 321, dW1 = 2 + 30 + 400 = 432.
    let x = [1., 2., 3., 4.];
    let plain = Conv2dParams::default();
    assert_eq!(
        backward_weight_row(plain, 2, &x, &[1., 10., 100.]),
        [321., 432.]
    );
    // flip: weight element j multiplies tap 1 - j: [432, 321].
    let flip = Conv2dParams {
        flip_kernel: true,
        ..plain
    };
    assert_eq!(
        backward_weight_row(flip, 2, &x, &[1., 10., 100.]),
        [432., 321.]
    );
    // reflect, 1 column each side, x = [1,2,3] -> p = [2,1,2,3,2], kernel 3, g = [1,10,100]:
    // dW0 = 2 + 10 + 200 = 212, dW1 = 1 + 20 + 300 = 321, dW2 = 2 + 30 + 200 = 232.
    let reflect = Conv2dParams {
        geometry: geometry([1, 1], pad(0, 0, 1, 1), [1, 1]),
        padding_mode: PaddingMode::Reflect,
        flip_kernel: false,
    };
    assert_eq!(
        backward_weight_row(reflect, 3, &[1., 2., 3.], &[1., 10., 100.]),
        [212., 321., 232.]
    );
    // stride 2, x = [1..5], kernel 2 -> 2 outputs, g = [1,10]:
    // dW0 = 1*1 + 10*3 = 31, dW1 = 1*2 + 10*4 = 42.
    let strided = Conv2dParams {
        geometry: geometry([1, 2], PaddingSpec::default(), [1, 1]),
        ..plain
    };
    assert_eq!(
        backward_weight_row(strided, 2, &[1., 2., 3., 4., 5.], &[1., 10.]),
        [31., 42.]
    );
}

#[test]
fn conv2d_backward_weight_groups() {
    // groups 2, 1x1 kernel: dW[0,0] = 1*1 + 2*10 = 21 (channel 0 with grad 0),
    // dW[1,0] = 3*100 + 4*1000 = 4300 (channel 1 with grad 1); shape [2, 1, 1, 1].
    let p = Conv2dBackwardWeightParams {
        conv: Conv2dParams {
            geometry: ConvGeometry {
                groups: 2,
                ..ConvGeometry::default()
            },
            ..Conv2dParams::default()
        },
        kernel_size: [1, 1],
    };
    let out = compute(
        &Problem::new(Op::Conv2dBackwardWeight(p))
            .with(Role::Input, t(&[1, 2, 1, 2], &[1., 2., 3., 4.]))
            .with(Role::GradOutput, t(&[1, 2, 1, 2], &[1., 10., 100., 1000.])),
    )
    .unwrap();
    assert_eq!(out.output.shape(), &[2, 1, 1, 1]);
    assert_eq!(out.output.data(), &[21., 4300.]);
}

#[test]
fn depthwise_separable2d_cases() {
    // x channels [1,2,3], [4,5,6]; depthwise [1,10] and [100,1000], bias [0.5, -1]:
    // q0 = [1 + 20, 2 + 30] + 0.5 = [21.5, 32.5]; q1 = [400 + 5000, 500 + 6000] - 1 = [5399, 6499].
    // pointwise [2, 3], bias 7: 43 + 16197 + 7 = 16247; 65 + 19497 + 7 = 19569.
    let p = Problem::new(Op::DepthwiseSeparable2d(
        DepthwiseSeparable2dParams::default(),
    ))
    .with(Role::Input, t(&[1, 2, 1, 3], &[1., 2., 3., 4., 5., 6.]))
    .with(
        Role::DepthwiseWeight,
        t(&[2, 1, 1, 2], &[1., 10., 100., 1000.]),
    )
    .with(Role::DepthwiseBias, t(&[2], &[0.5, -1.]))
    .with(Role::PointwiseWeight, t(&[1, 2, 1, 1], &[2., 3.]))
    .with(Role::PointwiseBias, t(&[1], &[7.]));
    assert_eq!(run(p), [16247., 19569.]);
    // multiplier 2: both depthwise channels read the one input channel [1,2,3]:
    // q0 = [21, 32], q1 = [100 + 2000, 200 + 3000] = [2100, 3200]; pointwise [1, 1]: [2121, 3232].
    let m = Problem::new(Op::DepthwiseSeparable2d(
        DepthwiseSeparable2dParams::default(),
    ))
    .with(Role::Input, t(&[1, 1, 1, 3], &[1., 2., 3.]))
    .with(
        Role::DepthwiseWeight,
        t(&[2, 1, 1, 2], &[1., 10., 100., 1000.]),
    )
    .with(Role::PointwiseWeight, t(&[1, 2, 1, 1], &[1., 1.]));
    assert_eq!(run(m), [2121., 3232.]);
}

#[test]
fn depthwise_separable2d_does_not_round_the_intermediate() {
    // depthwise 1*1 + 2^-24 = 1 + 2^-24 (rounded to f32: the tie goes to 1);
    // pointwise 1 * that + 2^-80. Exact: 1 + 2^-24 + 2^-80 -> 1 + 2^-23.
    let p = Problem::new(Op::DepthwiseSeparable2d(
        DepthwiseSeparable2dParams::default(),
    ))
    .with(Role::Input, t(&[1, 1, 1, 1], &[1.0f32]))
    .with(Role::DepthwiseWeight, t(&[1, 1, 1, 1], &[1.0f32]))
    .with(Role::DepthwiseBias, t(&[1], &[2f32.powi(-24)]))
    .with(Role::PointwiseWeight, t(&[1, 1, 1, 1], &[1.0f32]))
    .with(Role::PointwiseBias, t(&[1], &[2f32.powi(-80)]));
    assert_eq!(run(p), [1.0 + f32::EPSILON]);
}

#[test]
fn spatially_separable2d_cases() {
    // x = [[1,2,3],[4,5,6],[7,8,9]], vertical [1,10], horizontal [1,100]:
    // v rows: [1+40, 2+50, 3+60] = [41,52,63], [4+70, 5+80, 6+90] = [74,85,96];
    // out: [41 + 5200, 52 + 6300] = [5241, 6352], [74 + 8500, 85 + 9600] = [8574, 9685].
    let p = Problem::new(Op::SpatiallySeparable2d(
        SpatiallySeparable2dParams::default(),
    ))
    .with(
        Role::Input,
        t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]),
    )
    .with(Role::VerticalWeight, t(&[1, 1, 2, 1], &[1., 10.]))
    .with(Role::HorizontalWeight, t(&[1, 1, 1, 2], &[1., 100.]));
    assert_eq!(run(p), [5241., 6352., 8574., 9685.]);
}

#[test]
fn spatially_separable2d_padded_columns_carry_no_vertical_bias() {
    // x = [1,2], vertical [1] + bias 5: v = [6, 7]; horizontal [1,1,1] with one
    // zero column each side: [0+6+7, 6+7+0] = 13, plus bias 0.25 = 13.25 each
    // (a bias inside the padding would give 18.25).
    let p = SpatiallySeparable2dParams {
        geometry: geometry([1, 1], pad(0, 0, 1, 1), [1, 1]),
    };
    let p = Problem::new(Op::SpatiallySeparable2d(p))
        .with(Role::Input, t(&[1, 1, 1, 2], &[1., 2.]))
        .with(Role::VerticalWeight, t(&[1, 1, 1, 1], &[1.]))
        .with(Role::VerticalBias, t(&[1], &[5.]))
        .with(Role::HorizontalWeight, t(&[1, 1, 1, 3], &[1., 1., 1.]))
        .with(Role::HorizontalBias, t(&[1], &[0.25]));
    assert_eq!(run(p), [13.25, 13.25]);
}

#[test]
fn malformed_problems_are_errors_not_panics() {
    // output_padding must stay below max(stride, dilation) = 1.
    let bad = ConvTranspose2dParams {
        output_padding: [0, 1],
        ..ConvTranspose2dParams::default()
    };
    let e = compute(
        &Problem::new(Op::ConvTranspose2d(bad))
            .with(Role::Input, t(&[1, 1, 1, 2], &[1., 2.]))
            .with(Role::Weight, t(&[1, 1, 1, 2], &[1., 1.])),
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
    // grad_output of the wrong spatial size for input_size [1, 4] and kernel 2.
    let p = Conv2dBackwardInputParams {
        conv: Conv2dParams::default(),
        input_size: [1, 4],
    };
    let e = compute(
        &Problem::new(Op::Conv2dBackwardInput(p))
            .with(Role::GradOutput, t(&[1, 1, 1, 2], &[1., 2.]))
            .with(Role::Weight, t(&[1, 1, 1, 2], &[1., 1.])),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
}
