//! Tests of the pairwise engine: tiles and every polyphase form against
//! the direct loop.

use super::super::conv2d::job;
use super::super::plan_cache::Caches;
use super::super::{backward, fallback, sizes, transposed};
use super::*;
use convoracle_reference::{Conv2dParams, ConvGeometry, ConvShape, Padding2d, PaddingMode};

/// A view's columns are one copy only when they read one run in order
/// with nothing but zeros around it.
#[test]
fn contiguous_columns() {
    assert_eq!(contiguous(&[None, Some(3), Some(4), None]), Some((1, 3, 3)));
    assert_eq!(contiguous(&[None, None]), Some((0, 0, 0)));
    assert_eq!(contiguous(&[Some(1), Some(0), Some(1)]), None);
    assert_eq!(contiguous(&[Some(0), None, Some(1)]), None);
    assert_eq!(contiguous(&[Some(0), Some(2)]), None);
}

/// Overlap-save with several tiles per axis, strides, dilation, groups
/// and reflect padding agrees with the direct loop on the same job.
#[test]
fn tiles_agree_with_the_direct_loop() {
    let g = ConvShape {
        batch: 2,
        in_channels: 4,
        out_channels: 6,
        groups: 2,
        input: [13, 11],
        kernel: [3, 2],
        stride: [2, 1],
        dilation: [1, 2],
        padding: Padding2d {
            top: 2,
            bottom: 1,
            left: 1,
            right: 2,
        },
        output_padding: [0, 0],
        output: [7, 12],
    };
    let input: Vec<f64> = (0..2 * 4 * 13 * 11).map(value).collect();
    let weight: Vec<f64> = (0..6 * 2 * 3 * 2).map(|i| value(i + 17)).collect();
    let j = job(&g, PaddingMode::Reflect, true, &input, &weight, false);
    let mut expected = vec![0.0; j.output_len()];
    fallback::run(&j, &mut expected);
    let caches = Caches::default();
    let span: [usize; 2] = [13, 12];
    for n in [[4, 4], [6, 8], [16, 14]] {
        let step = [n[0] - 2, n[1] - 2];
        let tiles = Tiles {
            n,
            step,
            count: [span[0].div_ceil(step[0]), span[1].div_ceil(step[1])],
        };
        let tr = Transforms::get(&caches, n);
        let mut out = vec![0.0; j.output_len()];
        let poly = Poly::identity(&j);
        let spectra = kernel_spectra(&j, &poly, &tiles, &tr);
        run(&j, &poly, &tiles, 1, &tr, &spectra, &mut out);
        for (a, b) in out.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-12, "tiles {n:?}: {a} vs {b}");
        }
    }
}

/// Deterministic test data in [-1, 1) (shared with the GEMM path's tests).
pub(in crate::fft) fn value(i: usize) -> f64 {
    ((i * 7919) % 1000) as f64 / 500.0 - 1.0
}

/// conv2d parameters with `stride`, `dilation`, two groups, `mode` and a
/// flipped kernel: the forward conv whose backward jobs the tests run.
pub(in crate::fft) fn backward_params(
    stride: [usize; 2],
    dilation: [usize; 2],
    mode: PaddingMode,
) -> Conv2dParams {
    Conv2dParams {
        geometry: ConvGeometry {
            stride,
            dilation,
            groups: 2,
            ..Default::default()
        },
        padding_mode: mode,
        flip_kernel: true,
    }
}

/// Runs `j` in every polyphase form, with the cost model's tiles and
/// with small tiles (several per axis), against the direct loop.
fn every_form_agrees(j: &Job<'_, f64>, what: &str) -> usize {
    let mut expected = vec![0.0; j.output_len()];
    fallback::run(j, &mut expected);
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let caches = Caches::default();
    let forms = Poly::forms(j);
    for poly in &forms {
        let dims = poly.dims(&j.dims());
        let chosen = sizes::choose(&dims, u64::MAX, 1, 8).expect("no memory limit");
        let small = {
            let n = [dims.kernel[0] + 2, (dims.kernel[1] + 2).next_multiple_of(2)];
            let step = [0, 1].map(|a| n[a] + 1 - dims.kernel[a]);
            let span = [0, 1].map(|a| (dims.out[a] - 1) * dims.stride[a] + 1);
            Tiles {
                n,
                step,
                count: [0, 1].map(|a| span[a].div_ceil(step[a])),
            }
        };
        for (tiles, block) in [(chosen, 1), (small, 3), (chosen, dims.groups)] {
            let tr = Transforms::get(&caches, tiles.n);
            let mut out = vec![f64::NAN; j.output_len()];
            run(
                j,
                poly,
                &tiles,
                block,
                &tr,
                &kernel_spectra(j, poly, &tiles, &tr),
                &mut out,
            );
            for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() < 1e-12 * scale,
                    "{what}, form {:?}/{:?} {:?}/{:?}, tiles {:?}: element {i}: {a} vs {b}",
                    (poly.rows.classes, poly.rows.phases),
                    (poly.cols.classes, poly.cols.phases),
                    (poly.rows.stride, poly.cols.stride),
                    dims.kernel,
                    tiles.n
                );
            }
        }
    }
    forms.len()
}

fn conv_shape(
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding2d,
    groups: usize,
) -> ConvShape {
    let output = [0, 1].map(|a| {
        let (before, after) = if a == 0 {
            (padding.top, padding.bottom)
        } else {
            (padding.left, padding.right)
        };
        let padded = input[a] as i64 + before + after;
        let extent = ((kernel[a] - 1) * dilation[a] + 1) as i64;
        ((padded - extent) / stride[a] as i64 + 1) as usize
    });
    ConvShape {
        batch: 2,
        in_channels: 2 * groups,
        out_channels: 3 * groups,
        groups,
        input,
        kernel,
        stride,
        dilation,
        padding,
        output_padding: [0, 0],
        output,
    }
}

/// conv2d with dilation 2-4 under every padding mode, strides 2-3,
/// odd sizes and groups: every polyphase form is the direct loop's sum.
#[test]
fn every_form_of_strided_and_dilated_convs_agrees() {
    let modes = [
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ];
    let mut forms = 0;
    for (case, (stride, dilation)) in [
        ([1, 1], [2, 2]),
        ([1, 1], [3, 4]),
        ([2, 3], [1, 1]),
        ([3, 2], [2, 1]),
        ([2, 2], [4, 2]),
        ([3, 3], [3, 3]),
    ]
    .into_iter()
    .enumerate()
    {
        for (m, &mode) in modes.iter().enumerate() {
            let padding = Padding2d {
                top: 2 + (m as i64 % 2),
                bottom: 3,
                left: 1 + case as i64 % 3,
                right: 2,
            };
            let groups = 1 + case % 2;
            let g = conv_shape([13, 11], [3, 2], stride, dilation, padding, groups);
            let input: Vec<f64> = (0..2 * g.in_channels * 13 * 11).map(value).collect();
            let weight: Vec<f64> = (0..g.out_channels * 2 * 3 * 2)
                .map(|i| value(i + 17))
                .collect();
            let j = job(&g, mode, case % 2 == 1, &input, &weight, false);
            forms += every_form_agrees(&j, &format!("{mode:?} s {stride:?} d {dilation:?}"));
        }
    }
    assert!(forms > 4 * 6 * 2, "some shapes have no polyphase form");
}

/// conv_transpose2d with strides, dilation and output_padding, and
/// conv2d's two backward passes (their jobs have upsampled planes or
/// kernels): every polyphase form is the direct loop's sum.
#[test]
fn every_form_of_transposed_and_backward_jobs_agrees() {
    for (stride, dilation, output_padding) in [
        ([2, 2], [1, 1], [0, 1]),
        ([3, 2], [2, 1], [1, 0]),
        ([2, 3], [3, 2], [1, 2]),
    ] {
        let padding = Padding2d {
            top: 1,
            bottom: 0,
            left: 2,
            right: 1,
        };
        let (input, kernel) = ([5, 7], [3, 4]);
        let output = [0, 1].map(|a| {
            let (before, after) = if a == 0 { (1, 0) } else { (2, 1) };
            (input[a] - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 + output_padding[a]
                - before
                - after
        });
        let g = ConvShape {
            batch: 1,
            in_channels: 4,
            out_channels: 6,
            groups: 2,
            input,
            kernel,
            stride,
            dilation,
            padding,
            output_padding,
            output,
        };
        let x: Vec<f64> = (0..4 * 5 * 7).map(value).collect();
        let w: Vec<f64> = (0..4 * 3 * 3 * 4).map(|i| value(i + 5)).collect();
        let what = format!("transposed s {stride:?} d {dilation:?} op {output_padding:?}");
        every_form_agrees(&transposed::job(&g, false, &x, &w), &what);

        // The forward conv of the same sizes, backward.
        let f = conv_shape([11, 12], kernel, stride, dilation, padding, 2);
        let params = backward_params(stride, dilation, PaddingMode::Reflect);
        let grad: Vec<f64> = (0..2 * 6 * f.output[0] * f.output[1]).map(value).collect();
        let x: Vec<f64> = (0..2 * 4 * 11 * 12).map(|i| value(i + 3)).collect();
        let w: Vec<f64> = (0..6 * 2 * 3 * 4).map(|i| value(i + 5)).collect();
        let adjoint = transposed::adjoint(&f);
        every_form_agrees(
            &transposed::job(&adjoint, true, &grad, &w),
            &format!("backward input s {stride:?} d {dilation:?}"),
        );
        every_form_agrees(
            &backward::weight_job(&params, &f, &x, &grad),
            &format!("backward weight s {stride:?} d {dilation:?}"),
        );
    }
}
