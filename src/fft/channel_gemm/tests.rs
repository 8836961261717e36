//! Tests of the GEMM path: every form, tiling and ISA against the direct
//! loop and the pairwise engine; thread counts do not change the bits.

use super::super::conv2d::job;
use super::super::engine::tests::{backward_params, value};
use super::super::plan_cache::Caches;
use super::super::{backward, engine, fallback, sizes, transposed};
use super::*;
use convoracle_reference::{ConvShape, Padding2d, PaddingMode};

/// Small tiles of `dims` (several per axis, a few outputs each).
fn small_tiles(dims: &super::super::job::Dims) -> Tiles {
    let n = [dims.kernel[0] + 3, (dims.kernel[1] + 3).next_multiple_of(2)];
    let step = [0, 1].map(|a| n[a] + 1 - dims.kernel[a]);
    let span = [0, 1].map(|a| (dims.out[a] - 1) * dims.stride[a] + 1);
    Tiles {
        n,
        step,
        count: [0, 1].map(|a| span[a].div_ceil(step[a])),
    }
}

/// Runs `j` in every polyphase form on the GEMM path, on every ISA the
/// CPU has, with the cost model's tiles and with small tiles in
/// batches of 1, 3 (not dividing the tile count) and all, against the
/// direct loop within `tol` times the largest output; and checks the
/// pairwise engine gives the same within the same bound. Returns the
/// forms run.
fn gemm_agrees<T: Real>(j: &Job<'_, T>, tol: f64, what: &str) -> usize {
    let mut expected = vec![T::zero(); j.output_len()];
    fallback::run(j, &mut expected);
    let f64_of = |v: &T| convoracle_reference::Element::to_f64(*v);
    let nan = <T as convoracle_reference::Element>::from_f64(f64::NAN);
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(f64_of(v).abs()));
    let caches = Caches::default();
    let forms = Poly::forms(j);
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!("{what}: {isa} skipped (not supported by this CPU)");
            continue;
        }
        for poly in &forms {
            let dims = poly.dims(&j.dims());
            let chosen = sizes::choose(&dims, u64::MAX, 1, 8).expect("no memory limit");
            let small = small_tiles(&dims);
            let all = small.count[0] * small.count[1];
            for (tiles, batch) in [(chosen, 2), (small, 1), (small, 3), (small, all)] {
                let tr = Transforms::get(&caches, tiles.n);
                let spectra = engine::kernel_spectra(j, poly, &tiles, &tr);
                let mut out = vec![nan; j.output_len()];
                run_on(j, poly, &tiles, batch, &tr, &spectra, isa, &mut out);
                let mut pairs = vec![nan; j.output_len()];
                engine::run(j, poly, &tiles, 1, &tr, &spectra, &mut pairs);
                for (i, ((a, b), c)) in out.iter().zip(&expected).zip(&pairs).enumerate() {
                    let (a, b, c) = (f64_of(a), f64_of(b), f64_of(c));
                    assert!(
                        (a - b).abs() <= tol * scale && (a - c).abs() <= tol * scale,
                        "{what} on {isa}, form {}, tiles {:?} batch {batch}: element {i}: \
                         gemm {a} vs direct {b}, pairs {c}",
                        poly.describe(),
                        tiles.n
                    );
                }
            }
        }
    }
    forms.len()
}

fn conv(
    channels: [usize; 2],
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> ConvShape {
    let padding = Padding2d {
        top: 1,
        bottom: 2,
        left: 2,
        right: 1,
    };
    let output = [0, 1].map(|a| {
        let pad = 3;
        let extent = (kernel[a] - 1) * dilation[a] + 1;
        (input[a] + pad - extent) / stride[a] + 1
    });
    ConvShape {
        batch: 2,
        in_channels: channels[0] * groups,
        out_channels: channels[1] * groups,
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

/// Many-channel conv2d (channels not multiples of the microkernel's
/// tile), groups, strides and dilation under two padding modes, f64
/// and f32: the GEMM path is the direct loop's sum in every form.
#[test]
fn gemm_path_agrees_with_the_direct_loop() {
    let mut forms = 0;
    for (case, (channels, stride, dilation, groups)) in [
        ([13, 14], [1, 1], [1, 1], 1),
        ([9, 7], [2, 2], [1, 1], 2),
        ([11, 13], [1, 2], [2, 1], 1),
        ([7, 25], [3, 1], [1, 3], 2),
    ]
    .into_iter()
    .enumerate()
    {
        let g = conv(channels, [15, 13], [3, 2], stride, dilation, groups);
        let mode = if case % 2 == 0 {
            PaddingMode::Zeros
        } else {
            PaddingMode::Reflect
        };
        let x: Vec<f64> = (0..2 * g.in_channels * 15 * 13).map(value).collect();
        let w: Vec<f64> = (0..g.out_channels * channels[0] * 6)
            .map(|i| value(i + 17))
            .collect();
        let what = format!("conv {channels:?} s {stride:?} d {dilation:?} g {groups}");
        let j = job(&g, mode, case % 2 == 1, &x, &w, false);
        forms += gemm_agrees(&j, 1e-12, &what);
        let (x32, w32): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|&v| v as f32).collect(),
            w.iter().map(|&v| v as f32).collect(),
        );
        let j = job(&g, mode, case % 2 == 1, &x32, &w32, false);
        gemm_agrees(&j, 2e-5, &format!("{what} f32"));
    }
    assert!(forms > 4, "no polyphase forms");
}

/// conv_transpose2d and both backward passes with many channels: the
/// GEMM path is the direct loop's sum in every form.
#[test]
fn gemm_path_of_transposed_and_backward_jobs_agrees() {
    let (stride, dilation) = ([2, 3], [2, 1]);
    let padding = Padding2d {
        top: 1,
        bottom: 0,
        left: 2,
        right: 1,
    };
    let (input, kernel, output_padding) = ([5, 6], [3, 4], [1, 2]);
    let output = [0, 1].map(|a| {
        let (before, after) = if a == 0 { (1, 0) } else { (2, 1) };
        (input[a] - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 + output_padding[a]
            - before
            - after
    });
    let g = ConvShape {
        batch: 1,
        in_channels: 18,
        out_channels: 10,
        groups: 2,
        input,
        kernel,
        stride,
        dilation,
        padding,
        output_padding,
        output,
    };
    let x: Vec<f64> = (0..18 * 5 * 6).map(value).collect();
    let w: Vec<f64> = (0..18 * 5 * 3 * 4).map(|i| value(i + 5)).collect();
    gemm_agrees(&transposed::job(&g, false, &x, &w), 1e-12, "transposed");

    let f = conv([9, 8], [11, 12], kernel, stride, dilation, 2);
    let params = backward_params(stride, dilation, PaddingMode::Zeros);
    let grad: Vec<f64> = (0..2 * 16 * f.output[0] * f.output[1]).map(value).collect();
    let x: Vec<f64> = (0..2 * 18 * 11 * 12).map(|i| value(i + 3)).collect();
    let w: Vec<f64> = (0..16 * 9 * 3 * 4).map(|i| value(i + 5)).collect();
    let adjoint = transposed::adjoint(&f);
    gemm_agrees(
        &transposed::job(&adjoint, true, &grad, &w),
        1e-12,
        "backward input",
    );
    gemm_agrees(
        &backward::weight_job(&params, &f, &x, &grad),
        1e-12,
        "backward weight",
    );
}

/// The GEMM path gives the same bits on one thread and on three.
#[test]
fn threads_do_not_change_the_result() {
    let g = conv([17, 19], [21, 18], [3, 3], [1, 1], [1, 1], 1);
    let x: Vec<f32> = (0..2 * 17 * 21 * 18).map(|i| value(i) as f32).collect();
    let w: Vec<f32> = (0..19 * 17 * 9).map(|i| value(i + 1) as f32).collect();
    let j = job(&g, PaddingMode::Zeros, false, &x, &w, false);
    let poly = Poly::identity(&j);
    let tiles = small_tiles(&poly.dims(&j.dims()));
    let caches = Caches::default();
    let tr = Transforms::get(&caches, tiles.n);
    let runs: Vec<Vec<f32>> = [1, 3]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a pool");
            let mut out = vec![0.0f32; j.output_len()];
            pool.install(|| {
                let spectra = engine::kernel_spectra(&j, &poly, &tiles, &tr);
                run(&j, &poly, &tiles, 5, &tr, &spectra, &mut out)
            });
            out
        })
        .collect();
    assert!(runs[0]
        .iter()
        .zip(&runs[1])
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
