//! depthwise_separable2d on the direct backend, run by row bands (the
//! depthwise kernel's output for a band of rows goes straight into the 1x1
//! GEMM): against the exact reference on every ISA this CPU has (integer
//! data bit-identical, random data within the direct bound, non-finite
//! data), on shapes whose bands end mid-plane (rows of 1 to 20 pixels and
//! of 100, several bands per plane), channel counts off the lane width,
//! multipliers 1-3, strides 1-2, dilation, no biases or both, batches of
//! 1-2; and the same bits on 1, 2 and 3 threads.

use convoracle::backend::{run_planned, Context};
use convoracle::reference::{
    ConvGeometry, DType, DepthwiseSeparable2dParams, Op, Padding2d, PaddingSpec, Role,
};
use convoracle::suite::{fill, DataMode};
use convoracle::{AnyTensor, ProblemShape};
use proptest::prelude::*;

mod common;
use common::{backends, check, ALL_DATA};

/// One depthwise_separable2d shape.
#[derive(Debug, Clone, Copy)]
struct Sep {
    n: usize,
    c: usize,
    multiplier: usize,
    k: usize,
    hw: [usize; 2],
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad: i64,
    bias: bool,
}

fn spec(s: Sep) -> ProblemShape {
    let geometry = ConvGeometry {
        stride: [s.stride, s.stride],
        padding: PaddingSpec::Explicit(Padding2d::uniform(s.pad)),
        dilation: [s.dilation, s.dilation],
        groups: 1,
    };
    let mid = s.c * s.multiplier;
    let p = ProblemShape::new(Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
        geometry,
    }))
    .with(Role::Input, &[s.n, s.c, s.hw[0], s.hw[1]])
    .with(Role::DepthwiseWeight, &[mid, 1, s.kernel, s.kernel])
    .with(Role::PointwiseWeight, &[s.k, mid, 1, 1]);
    if s.bias {
        p.with(Role::DepthwiseBias, &[mid])
            .with(Role::PointwiseBias, &[s.k])
    } else {
        p
    }
}

prop_compose! {
    fn seps()(
        n in 1usize..3,
        c in 2usize..20,
        multiplier in 1usize..4,
        k in 1usize..20,
        h in 1usize..12,
        w in prop_oneof![4 => 1usize..21, 1 => Just(100usize)],
        kernel in 1usize..4,
        stride in 1usize..3,
        dilation in 1usize..3,
        pad in 0i64..3,
        bias in any::<bool>(),
    ) -> Sep {
        Sep { n, c, multiplier, k, hw: [h, w], kernel, stride, dilation, pad, bias }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 500, ..ProptestConfig::default() })]

    #[test]
    fn banded_separable_matches_the_reference(s in seps(), threads in 1usize..4) {
        let spec = spec(s);
        prop_assume!(spec.output_shape().is_ok());
        for direct in backends() {
            check(&direct, &spec, threads, &ALL_DATA, 5)?;
        }
    }
}

/// A plane of several bands (100-pixel rows: 5 rows a band), 17 and 33
/// channels (one past 16 and 32 lanes), on every ISA and thread count.
#[test]
fn several_bands_per_plane_match_the_reference_and_each_other() {
    let shapes = [
        Sep {
            n: 2,
            c: 17,
            multiplier: 1,
            k: 9,
            hw: [23, 100],
            kernel: 3,
            stride: 1,
            dilation: 1,
            pad: 1,
            bias: true,
        },
        Sep {
            n: 1,
            c: 11,
            multiplier: 3,
            k: 5,
            hw: [40, 41],
            kernel: 3,
            stride: 2,
            dilation: 2,
            pad: 2,
            bias: false,
        },
    ];
    for s in shapes {
        let spec = spec(s);
        for direct in backends() {
            check(&direct, &spec, 1, &ALL_DATA, 9).unwrap();
            for dtype in [DType::F32, DType::F64] {
                let problem = fill(&spec, dtype, DataMode::Random, 4).unwrap();
                let run = |t| run_planned(&direct, &problem, &Context::new().threads(t)).unwrap();
                let one = bits(&run(1));
                for threads in [2, 3] {
                    assert!(one == bits(&run(threads)), "{} {threads}", direct.isa());
                }
            }
        }
    }
}

fn bits(t: &AnyTensor) -> Vec<u64> {
    match t {
        AnyTensor::F32(t) => t.data().iter().map(|v| v.to_bits() as u64).collect(),
        AnyTensor::F64(t) => t.data().iter().map(|v| v.to_bits()).collect(),
    }
}
