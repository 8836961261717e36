//! Every supported ISA against the sum written out, term by term in the
//! kernel's order (fused multiply-add on the SIMD ISAs, multiply then add on
//! the portable one): bit for bit on random data, over pixel counts around
//! the 8-pixel block, strides 1-3, dilation, dense and gapped offsets.

use super::*;
use proptest::prelude::*;
use std::io::Write;
use std::sync::Once;

/// The ISAs to test; the unsupported ones are reported once on stderr.
fn isas() -> Vec<Isa> {
    static REPORT: Once = Once::new();
    REPORT.call_once(|| {
        let mut err = std::io::stderr();
        for isa in Isa::ALL {
            let status = if isa.is_supported() {
                "testing"
            } else {
                "SKIPPING (CPU lacks it)"
            };
            let _ = writeln!(err, "depthwise kernel: isa {isa}: {status}");
        }
    });
    Isa::available()
}

trait Fma: Element {
    fn fma(self, b: Self, c: Self) -> Self;
    fn from_f64(v: f64) -> Self;
}
impl Fma for f32 {
    fn fma(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl Fma for f64 {
    fn fma(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

#[derive(Debug, Clone)]
struct Case {
    pixels: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    dilation: usize,
    /// Extra tile columns between tap rows (a padded row pitch).
    pitch_extra: usize,
    seed: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        1usize..26,
        1usize..6,
        1usize..8,
        1usize..4,
        1usize..3,
        0usize..3,
        any::<u64>(),
    )
        .prop_map(
            |(pixels, kh, kw, stride, dilation, pitch_extra, seed)| Case {
                pixels,
                kh,
                kw,
                stride,
                dilation,
                pitch_extra,
                seed,
            },
        )
}

fn run<T: Fma>(case: &Case, isa: Isa) -> Result<(), TestCaseError> {
    let kernel = DepthwiseKernel::<T>::new(isa);
    let l = kernel.lanes();
    let width = (case.pixels - 1) * case.stride + (case.kw - 1) * case.dilation + 1;
    let pitch = (width + case.pitch_extra) * l;
    let height = (case.kh - 1) * case.dilation + 1;
    let mut state = case.seed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        T::from_f64(((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
    };
    let tile: Vec<T> = (0..height * pitch).map(|_| next()).collect();
    let weights: Vec<T> = (0..case.kh * case.kw * l).map(|_| next()).collect();
    let rows: Vec<usize> = (0..case.kh).map(|i| i * case.dilation * pitch).collect();
    let cols: Vec<usize> = (0..case.kw).map(|j| j * case.dilation * l).collect();
    let step = case.stride * l;
    let mut out = vec![T::from_f64(f64::NAN); case.pixels * l];
    kernel.row(DepthwiseRow {
        tile: &tile,
        rows: &rows,
        cols: &cols,
        step,
        weights: &weights,
        out: &mut out,
    });
    for p in 0..case.pixels {
        for lane in 0..l {
            let mut acc = T::ZERO;
            for (i, &r) in rows.iter().enumerate() {
                for (j, &c) in cols.iter().enumerate() {
                    let w = weights[(i * case.kw + j) * l + lane];
                    let x = tile[r + c + p * step + lane];
                    acc = if isa == Isa::Portable {
                        acc + w * x
                    } else {
                        w.fma(x, acc)
                    };
                }
            }
            prop_assert_eq!(out[p * l + lane], acc, "{} pixel {} lane {}", isa, p, lane);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_isa_sums_the_taps_in_order(case in cases()) {
        for isa in isas() {
            run::<f32>(&case, isa)?;
            run::<f64>(&case, isa)?;
        }
    }
}

#[test]
#[should_panic(expected = "reach past the tile")]
fn offsets_past_the_tile_panic() {
    let kernel = DepthwiseKernel::<f32>::new(Isa::detect());
    let l = kernel.lanes();
    let tile = vec![0.0f32; 3 * l];
    let mut out = vec![0.0f32; 2 * l];
    kernel.row(DepthwiseRow {
        tile: &tile,
        rows: &[0],
        cols: &[0, 2 * l],
        step: l,
        weights: &vec![0.0; 2 * l],
        out: &mut out,
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn interleave_and_deinterleave_move_every_lane(
        len in 0usize..40,
        lanes_used in 0usize..17,
        gap in 0usize..50,
        with_bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        for isa in isas() {
            moves::<f32>(isa, len, lanes_used, gap, with_bias, seed)?;
            moves::<f64>(isa, len, lanes_used, gap, with_bias, seed)?;
        }
    }
}

fn moves<T: Fma>(
    isa: Isa,
    len: usize,
    lanes_used: usize,
    gap: usize,
    with_bias: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let kernel = DepthwiseKernel::<T>::new(isa);
    let l = kernel.lanes();
    let value = |i: usize| T::from_f64((i as u64 ^ (seed % 1000)) as f64 * 0.5);
    // Lane starts out of order and repeated (a channel multiplier).
    let starts: Vec<usize> = (0..l)
        .map(|lane| ((lane * 7) % l / 2) * (len + gap))
        .collect();
    let src: Vec<T> = (0..l * (len + gap) + len).map(value).collect();
    let mut dst = vec![T::from_f64(f64::NAN); len * l + 3];
    kernel.interleave(&src, &starts, len, &mut dst);
    for t in 0..len {
        for lane in 0..l {
            prop_assert_eq!(
                dst[t * l + lane],
                src[starts[lane] + t],
                "{} interleave",
                isa
            );
        }
    }
    let used = lanes_used.min(l);
    let bias: Vec<T> = (0..used).map(|i| T::from_f64(i as f64 + 0.25)).collect();
    let mut planes: Vec<Vec<T>> = (0..used).map(|_| vec![T::ZERO; gap + len]).collect();
    let mut dsts: Vec<&mut [T]> = planes.iter_mut().map(|p| &mut p[..]).collect();
    let b = with_bias.then_some(&bias[..]);
    kernel.deinterleave(&dst, len, &mut dsts, gap, b);
    for (lane, plane) in planes.iter().enumerate() {
        prop_assert!(
            plane[..gap].iter().all(|&v| v == T::ZERO),
            "{} wrote before at",
            isa
        );
        for t in 0..len {
            let want = dst[t * l + lane];
            let want = if with_bias { want + bias[lane] } else { want };
            prop_assert_eq!(plane[gap + t], want, "{} deinterleave", isa);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Patches with rows contiguous in the source (`src_pitch == len`, one
    /// run across rows: the transposes' flat path) and not, runs shorter and
    /// longer than a vector, destination rows with gaps.
    #[test]
    fn interleave_patch_moves_every_row_and_lane(
        len in 0usize..40,
        rows in 0usize..6,
        src_extra in prop_oneof![Just(0usize), 1usize..9],
        dst_extra in 0usize..3,
        seed in any::<u64>(),
    ) {
        for isa in isas() {
            patch::<f32>(isa, len, rows, src_extra, dst_extra, seed)?;
            patch::<f64>(isa, len, rows, src_extra, dst_extra, seed)?;
        }
    }
}

fn patch<T: Fma>(
    isa: Isa,
    len: usize,
    rows: usize,
    src_extra: usize,
    dst_extra: usize,
    seed: u64,
) -> Result<(), TestCaseError> {
    let kernel = DepthwiseKernel::<T>::new(isa);
    let l = kernel.lanes();
    let p = Patch {
        len,
        rows,
        src_pitch: len + src_extra,
        dst_pitch: (len + dst_extra) * l,
    };
    let value = |i: usize| T::from_f64((i as u64 ^ (seed % 1000)) as f64 * 0.5);
    let plane = rows * p.src_pitch + 1;
    // Lane starts out of order and repeated (a channel multiplier).
    let starts: Vec<usize> = (0..l).map(|lane| ((lane * 7) % l / 2) * plane).collect();
    let src: Vec<T> = (0..l * plane).map(value).collect();
    let sentinel = T::from_f64(-1.0);
    let mut dst = vec![sentinel; rows * p.dst_pitch + 5];
    kernel.interleave_patch(&src, &starts, p, &mut dst);
    for (e, &got) in dst.iter().enumerate() {
        let pitch = p.dst_pitch.max(1);
        let (r, rest) = (e / pitch, e % pitch);
        let want = if r < rows && rest < len * l {
            src[starts[rest % l] + r * p.src_pitch + rest / l]
        } else {
            sentinel
        };
        prop_assert_eq!(got, want, "{} patch at {}", isa, e);
    }
    Ok(())
}

#[test]
fn patches_past_src_or_dst_panic() {
    for isa in isas() {
        let kernel = DepthwiseKernel::<f32>::new(isa);
        let l = kernel.lanes();
        let p = Patch {
            len: 4,
            rows: 2,
            src_pitch: 4,
            dst_pitch: 4 * l,
        };
        let src = vec![0.0f32; 8];
        let starts = vec![0; l];
        let short_src = std::panic::catch_unwind(|| {
            let mut dst = vec![0.0f32; 8 * l];
            kernel.interleave_patch(&src[..7], &starts, p, &mut dst);
        });
        assert!(short_src.is_err(), "{isa}: src");
        let short_dst = std::panic::catch_unwind(|| {
            let mut dst = vec![0.0f32; 8 * l - 1];
            kernel.interleave_patch(&src, &starts, p, &mut dst);
        });
        assert!(short_dst.is_err(), "{isa}: dst");
    }
}
