//! Every plane conv kernel of every ISA the CPU has against the module
//! docs' sum taken term by term: bit for bit on small-integer data (every
//! partial sum exact), for every row count, strips of every vector count
//! and a tail, kernels from 1x1 to 7x5; and on random data bit for bit
//! with a naive sum that uses the same operations (fused on the SIMD
//! ISAs) in the same order, so any reordering shows.

use super::{PlaneConvKernel, PlaneConvRows};
use crate::{Element, Isa};

/// The module docs' sum, term by term, `fma` deciding fused or not.
fn naive<T: Element>(a: &PlaneConvRows<'_, T>, fma: impl Fn(T, T, T) -> T) -> Vec<T> {
    let [kh, kw] = a.kernel;
    let mut out = vec![T::ZERO; a.rows * a.out_pitch];
    for r in 0..a.rows {
        for c in 0..a.out_pitch {
            let mut s = T::ZERO;
            for i in 0..kh {
                for j in 0..kw {
                    s = fma(a.weights[i * kw + j], a.x[(r + i) * a.pitch + c + j], s);
                }
            }
            out[r * a.out_pitch + c] = s;
        }
    }
    out
}

/// Every ISA against `naive` with `plain` (multiply then add: the
/// portable kernel) or `fused` (the SIMD kernels) per term.
fn every_shape<T: Element + From<i16> + From<f32>>(
    random: bool,
    plain: impl Fn(T, T, T) -> T + Copy,
    fused: impl Fn(T, T, T) -> T + Copy,
) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!("plane conv {isa}: SKIPPED (CPU lacks it)");
            continue;
        }
        let kernel = PlaneConvKernel::<T>::new(isa);
        let lanes = kernel.lanes();
        for vectors in [1, 2, 3, 5, 6, 11] {
            let out_pitch = vectors * lanes;
            for kernel_shape in [[1, 1], [3, 3], [7, 5], [2, 9]] {
                for rows in 1..=kernel.max_rows() {
                    let [kh, kw] = kernel_shape;
                    let pitch = out_pitch + kw - 1 + 3;
                    let len = (rows + kh - 1) * pitch;
                    let mut value = |modulus: u64| {
                        let v = next();
                        if random {
                            T::from((v % 20_000) as f32 / 7_919.0 - 1.25)
                        } else {
                            T::from((v % modulus) as i16 - (modulus / 2) as i16)
                        }
                    };
                    let x: Vec<T> = (0..len).map(|_| value(9)).collect();
                    let weights: Vec<T> = (0..kh * kw).map(|_| value(7)).collect();
                    let mut out = vec![T::ZERO; rows * out_pitch];
                    let run = PlaneConvRows {
                        x: &x,
                        pitch,
                        weights: &weights,
                        kernel: kernel_shape,
                        rows,
                        out: &mut out,
                        out_pitch,
                    };
                    let want = if isa == Isa::Portable {
                        naive(&run, plain)
                    } else {
                        naive(&run, fused)
                    };
                    kernel.run(run);
                    assert!(
                        out == want,
                        "{isa} vectors {vectors} kernel {kernel_shape:?} rows {rows} random {random}"
                    );
                }
            }
        }
    }
}

#[test]
fn f32_kernels_match_the_naive_sum() {
    for random in [false, true] {
        every_shape::<f32>(random, |w, x, s| s + w * x, |w, x, s| w.mul_add(x, s));
    }
}

#[test]
fn f64_kernels_match_the_naive_sum() {
    for random in [false, true] {
        every_shape::<f64>(random, |w, x, s| s + w * x, |w, x, s| w.mul_add(x, s));
    }
}

#[test]
#[should_panic(expected = "reach past the input")]
fn a_tap_past_the_input_panics() {
    let kernel = PlaneConvKernel::<f32>::new(Isa::Portable);
    let mut out = vec![0.0f32; 4];
    kernel.run(PlaneConvRows {
        x: &[0.0; 5],
        pitch: 5,
        weights: &[1.0; 3],
        kernel: [1, 3],
        rows: 1,
        out: &mut out,
        out_pitch: 4,
    });
}
