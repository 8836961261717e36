//! The direct backend's GEMM with the weights read in place and the
//! ragged columns of a block's last panel on the row-dot kernel
//! (`StreamedA::with_ragged_tail`), against the exact reference on every
//! ISA the CPU has: maps whose pixel count is 1 to 4 past a whole vector
//! (7x7 = 49 = 32 + 16 + 1 on AVX-512 f32, 14x14 = 196 = 6 * 32 + 4),
//! 3x3, 1x1 and strided convs, output channels past the 12- and 6-row
//! tiles, groups, a batch, reduction past the 256 k block; integer data
//! bit-identical, random data within the direct bound, non-finite data as
//! the reference has it; 1-4 threads give the bits of one.

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode};
use convoracle::{AnyTensor, ProblemShape};
use convoracle_kernels::Isa;

mod common;
use common::{check, ALL_DATA};

/// `[n, c, h, w]` input, `k` output channels, square kernel, stride,
/// `same`-style padding, zeros mode, no flip, with bias.
fn conv(input: [usize; 4], k: usize, groups: usize, kernel: usize, stride: usize) -> ProblemShape {
    let padding = PaddingSpec::Explicit(Padding2d::uniform((kernel / 2) as i64));
    common::conv(
        input,
        k,
        groups,
        [kernel, kernel],
        [stride, stride],
        [1, 1],
        padding,
        PaddingMode::Zeros,
        false,
        true,
    )
}

fn shapes() -> Vec<ProblemShape> {
    vec![
        // 49 pixels, 300 terms (a second k block), 29 output channels.
        conv([1, 40, 7, 7], 29, 1, 3, 1),
        // 1x1 on 7x7 (the pointwise GEMM), 13 output channels.
        conv([2, 300, 7, 7], 13, 1, 1, 1),
        // Stride 2 to 7x7, two groups.
        conv([1, 64, 14, 14], 26, 2, 3, 2),
        // 18, 19 and 20 pixels: 2 to 4 past one vector of 16.
        conv([1, 33, 3, 6], 25, 1, 3, 1),
        conv([1, 33, 1, 19], 7, 1, 1, 1),
        conv([1, 33, 4, 5], 12, 1, 3, 1),
        // 36 pixels: 4 past 32; and 4 pixels alone.
        conv([1, 50, 6, 6], 31, 1, 3, 1),
        conv([1, 70, 2, 2], 19, 1, 3, 1),
        // 196 pixels: 6 panels of 32 and 4 columns.
        conv([1, 24, 14, 14], 14, 1, 3, 1),
    ]
}

#[test]
fn ragged_maps_match_the_reference_on_every_isa() {
    for isa in Isa::available() {
        let d = Direct::with_isa(isa).unwrap();
        for spec in shapes() {
            let threads = if isa == Isa::detect() { 3 } else { 1 };
            check(&d, &spec, threads, &ALL_DATA, 21).unwrap();
        }
    }
}

#[test]
fn threads_give_the_bits_of_one() {
    let direct = Direct::new();
    for spec in shapes() {
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Random, 4).unwrap();
            let run = |threads| {
                let out = run_planned(&direct, &problem, &Context::new().threads(threads));
                match out.unwrap() {
                    AnyTensor::F32(t) => t.data().iter().map(|v| v.to_bits() as u64).collect(),
                    AnyTensor::F64(t) => t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                }
            };
            let one = run(1);
            for threads in [2, 3, 4] {
                assert_eq!(one, run(threads), "{threads} threads, {dtype}, {spec:?}");
            }
        }
    }
}
