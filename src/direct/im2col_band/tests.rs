//! The band packer against B's definition (the formula of the
//! [`super::super::im2col`] module docs, one element at a time) and against
//! the per-run packer, bit for bit, over random geometries: every padding
//! mode (negative padding too), flip, dilation, strides 1-4, kernels 1-11,
//! widths that are not multiples of the panel, panels of 1-32 columns,
//! blocks starting and ending inside output rows and inside channels; and
//! the shifted-rows packer of column kernels (the packer's choice there)
//! against both.

use super::super::im2col::{Im2col, Im2colGeometry};
use convoracle_kernels::{packed_b_len, PackB};
use convoracle_reference::{ConvShape, Padding2d, PaddingMode};
use proptest::prelude::*;

/// One packer problem: a group's input and the geometry.
#[derive(Debug, Clone)]
struct Case {
    channels: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// top, bottom, left, right
    pad: [i64; 4],
    mode: PaddingMode,
    flip: bool,
}

impl Case {
    fn shape(&self) -> Option<ConvShape> {
        let out = |a: usize| -> Option<usize> {
            let (size, k, s, d) = (
                self.input[a] as i64 + self.pad[2 * a] + self.pad[2 * a + 1],
                self.kernel[a] as i64,
                self.stride[a] as i64,
                self.dilation[a] as i64,
            );
            let reach = d * (k - 1) + 1;
            (size >= reach).then(|| ((size - reach) / s + 1) as usize)
        };
        let output = [out(0)?, out(1)?];
        Some(ConvShape {
            batch: 1,
            in_channels: self.channels,
            out_channels: 1,
            groups: 1,
            input: self.input,
            kernel: self.kernel,
            stride: self.stride,
            dilation: self.dilation,
            padding: Padding2d {
                top: self.pad[0],
                bottom: self.pad[1],
                left: self.pad[2],
                right: self.pad[3],
            },
            output_padding: [0, 0],
            output,
        })
    }

    /// B[k][n] by the definition.
    fn b(&self, s: &ConvShape, x: &[f32], k: usize, n: usize) -> f32 {
        let [kh, kw] = self.kernel;
        let [h, w] = self.input;
        let (c, wi, wj) = (k / (kh * kw), k % (kh * kw) / kw, k % kw);
        let (i, j) = if self.flip {
            (kh - 1 - wi, kw - 1 - wj)
        } else {
            (wi, wj)
        };
        let (oy, ox) = (n / s.output[1], n % s.output[1]);
        let y = (oy * self.stride[0] + i * self.dilation[0]) as i64 - self.pad[0];
        let xx = (ox * self.stride[1] + j * self.dilation[1]) as i64 - self.pad[2];
        // `source` is the coordinate itself inside, `None` (a zero) outside
        // in zeros mode.
        match (self.mode.source(y, h), self.mode.source(xx, w)) {
            (Some(y), Some(xx)) => x[(c * h + y) * w + xx],
            _ => 0.0,
        }
    }
}

fn mode() -> impl Strategy<Value = PaddingMode> {
    prop_oneof![
        Just(PaddingMode::Zeros),
        Just(PaddingMode::Reflect),
        Just(PaddingMode::Replicate),
        Just(PaddingMode::Circular),
    ]
}

prop_compose! {
    fn case()(
        channels in 1usize..4,
        input in [1usize..24, 1usize..40],
        kernel in [1usize..12, 1usize..12],
        stride in [1usize..5, 1usize..5],
        dilation in [1usize..4, 1usize..4],
        pad in [-2i64..6, -2i64..6, -2i64..6, -2i64..6],
        mode in mode(),
        flip in any::<bool>(),
    ) -> Case {
        Case { channels, input, kernel, stride, dilation, pad, mode, flip }
    }
}

/// Packs block `(k0, kc, n0, nc)` of `s` with panels of `nr` both ways and
/// checks both against the definition, every element's bits (the panels
/// start stale: NaN).
fn check(
    case: &Case,
    s: &ConvShape,
    (k0, kc, n0, nc): (usize, usize, usize, usize),
    nr: usize,
) -> Result<(), TestCaseError> {
    let geometry = Im2colGeometry::new(s, case.flip, case.mode);
    let [h, w] = case.input;
    let x: Vec<f32> = (0..case.channels * h * w).map(|v| 1.0 + v as f32).collect();
    let packer = Im2col::new(&geometry, &x);
    let len = packed_b_len(kc, nc, nr);
    let mut band = vec![f32::NAN; len];
    // The band whether or not it pays here (it always fits in these).
    prop_assert!(packer.pack_band((k0, kc), (n0, nc), nr, &mut band));
    let mut chosen = vec![f32::NAN; len];
    packer.pack(k0, kc, n0, nc, nr, &mut chosen);
    prop_assert_eq!(
        chosen.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        band.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "the packer's choice"
    );
    let mut runs = vec![f32::NAN; len];
    packer.pack_runs(k0, kc, n0, nc, nr, &mut runs);
    for q in 0..nc.div_ceil(nr) * nr {
        for p in 0..kc {
            let at = (q / nr) * nr * kc + p * nr + q % nr;
            let want = if q < nc {
                case.b(s, &x, k0 + p, n0 + q)
            } else {
                0.0
            };
            prop_assert_eq!(
                band[at].to_bits(),
                want.to_bits(),
                "band: B[{}][{}] of block {:?} nr {}",
                k0 + p,
                n0 + q,
                (k0, kc, n0, nc),
                nr
            );
            prop_assert_eq!(runs[at].to_bits(), want.to_bits(), "per-run packer");
        }
    }
    Ok(())
}

/// The block `(k0, kc, n0, nc)` of B the fractions pick: any start, any
/// length that fits.
fn block_of(case: &Case, s: &ConvShape, block: [f64; 4]) -> (usize, usize, usize, usize) {
    let (rows, cols) = (case.channels * s.taps(), s.output[0] * s.output[1]);
    let k0 = (block[0] * rows as f64) as usize % rows;
    let kc = 1 + (block[1] * (rows - k0) as f64) as usize % (rows - k0);
    let n0 = (block[2] * cols as f64) as usize % cols;
    let nc = 1 + (block[3] * (cols - n0) as f64) as usize % (cols - n0);
    (k0, kc, n0, nc)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn band_panels_are_b_by_its_definition(
        case in case(),
        block in [0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0],
        nr in prop_oneof![Just(32usize), 1usize..32],
    ) {
        let Some(s) = case.shape() else {
            return Ok(());
        };
        check(&case, &s, block_of(&case, &s, block), nr)?;
    }
}

prop_compose! {
    /// Kernels one column wide reading whole rows (zeros mode, stride 1,
    /// no left or right padding): the shifted-rows packer's cases.
    fn column_case()(
        channels in 1usize..4,
        input in [1usize..24, 1usize..40],
        kh in 1usize..12,
        dilation in [1usize..4, 1usize..4],
        pad in [-2i64..6, -2i64..6],
        flip in any::<bool>(),
    ) -> Case {
        Case {
            channels,
            input,
            kernel: [kh, 1],
            stride: [1, 1],
            dilation,
            pad: [pad[0], pad[1], 0, 0],
            mode: PaddingMode::Zeros,
            flip,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn column_kernels_pack_b_by_its_definition(
        case in column_case(),
        block in [0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0],
        nr in prop_oneof![Just(32usize), 1usize..32],
    ) {
        let Some(s) = case.shape() else {
            return Ok(());
        };
        check(&case, &s, block_of(&case, &s, block), nr)?;
    }
}

#[test]
fn whole_layers_pack_like_the_per_run_packer() {
    // The stems and 3x3 rows of the benchmarks, shrunk in channels, whole
    // blocks of the GEMM's 256 x 512 blocking.
    let layers = [
        // (channels, size, kernel, stride, pad)
        (3, 227, 11, 4, 0),
        (3, 224, 7, 2, 3),
        (4, 56, 3, 1, 1),
        (4, 14, 3, 1, 1),
        (4, 56, 3, 2, 1),
        (4, 27, 5, 1, 2),
        (4, 13, 3, 1, 1),
        (4, 56, 1, 2, 0),
    ];
    for (channels, size, k, stride, pad) in layers {
        for mode in [PaddingMode::Zeros, PaddingMode::Reflect] {
            let case = Case {
                channels,
                input: [size, size],
                kernel: [k, k],
                stride: [stride, stride],
                dilation: [1, 1],
                pad: [pad; 4],
                mode,
                flip: false,
            };
            let s = case.shape().expect("a valid layer");
            let (rows, cols) = (channels * k * k, s.output[0] * s.output[1]);
            for k0 in (0..rows).step_by(256) {
                for n0 in (0..cols).step_by(512) {
                    let block = (k0, 256.min(rows - k0), n0, 512.min(cols - n0));
                    check(&case, &s, block, 32).expect("the same panels");
                }
            }
        }
    }
}
