//! Network stems on the direct backend (3 input channels, large kernels,
//! strides 2 to 5: the im2col packer's strided copies) against the exact
//! reference, at odd sizes, in every padding mode, on 1 and 2 threads.

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::ProblemShape;

mod common;
use common::conv;

fn stem(
    size: [usize; 2],
    k: usize,
    kernel: usize,
    stride: usize,
    pad: i64,
    mode: PaddingMode,
) -> ProblemShape {
    let padding = PaddingSpec::Explicit(Padding2d::uniform(pad));
    let input = [1, 3, size[0], size[1]];
    conv(
        input,
        k,
        1,
        [kernel; 2],
        [stride; 2],
        [1, 1],
        padding,
        mode,
        false,
        true,
    )
}

#[test]
fn stems_at_odd_sizes_match_the_reference() {
    let direct = Direct::new();
    let modes = [
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ];
    for mode in modes {
        for spec in [
            stem([31, 29], 13, 11, 4, 0, mode),
            stem([33, 35], 7, 11, 4, 2, mode),
            stem([23, 21], 17, 7, 2, 3, mode),
            stem([19, 27], 5, 5, 3, 2, mode),
            stem([26, 25], 3, 6, 5, 1, mode),
        ] {
            for dtype in [DType::F32, DType::F64] {
                for (data, algorithm) in [
                    (DataMode::Integer, Algorithm::Exact),
                    (DataMode::Random, Algorithm::Direct),
                    (DataMode::NonFinite, Algorithm::Direct),
                ] {
                    let problem = fill(&spec, dtype, data, 5).unwrap();
                    for threads in [1, 2] {
                        let out = run_planned(&direct, &problem, &Context::new().threads(threads))
                            .unwrap();
                        let verdict = verify(&problem, &out, &Tolerance::new(algorithm)).unwrap();
                        assert!(
                            verdict.passed(),
                            "{mode:?} {dtype} {data:?}: {verdict}\n{spec:?}"
                        );
                    }
                }
            }
        }
    }
}
