//! Every kernel of every ISA the CPU has against the module docs' sum
//! taken term by term: bit for bit on small-integer data (every partial
//! sum is exact, so fused or not gives the same bits), for every pixel
//! count, every stride, and several channel and tap counts; the scatter
//! moves every live channel; a tap past the input panics instead of
//! reading it.

use super::{ChannelConvKernel, ChannelConvRun, ChannelConvTaps};
use crate::{Element, Isa};

/// The module docs' sum, term by term, for `pixels` pixels of `nr`
/// channels (`a.out` is not touched).
fn naive<T: Element>(a: &ChannelConvRun<'_, T>, pixels: usize, nr: usize) -> Vec<T> {
    let (x, channels, plane, taps, stride, weights) = (
        a.x,
        a.channels,
        a.plane,
        a.taps.offsets(),
        a.stride,
        a.weights,
    );
    let mut out = vec![T::ZERO; pixels * nr];
    for p in 0..pixels {
        for j in 0..nr {
            let mut s = T::ZERO;
            for c in 0..channels {
                for (t, &off) in taps.iter().enumerate() {
                    s = s + weights[(c * taps.len() + t) * nr + j]
                        * x[c * plane + off + p * stride];
                }
            }
            out[p * nr + j] = s;
        }
    }
    out
}

fn every_shape<T: Element + From<i16>>() {
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!("channel conv {isa}: SKIPPED (CPU lacks it)");
            continue;
        }
        let kernel = ChannelConvKernel::<T>::new(isa);
        let nr = kernel.channels();
        for stride in [1, 2, 4] {
            for pixels in 1..=kernel.max_pixels() {
                for (channels, taps) in [
                    (1, vec![0]),
                    (3, vec![0, 1, 2, 9, 10, 11]),
                    (5, vec![7, 0, 3]),
                ] {
                    let plane = 64;
                    let taps = ChannelConvTaps::new(taps);
                    let len = channels * plane;
                    let x: Vec<T> = (0..len)
                        .map(|i| T::from(((i * 7) % 11) as i16 - 5))
                        .collect();
                    let weights: Vec<T> = (0..channels * taps.len() * nr)
                        .map(|i| T::from(((i * 5) % 13) as i16 - 6))
                        .collect();
                    let mut out = vec![T::ZERO; pixels * nr];
                    let run = ChannelConvRun {
                        x: &x,
                        channels,
                        plane,
                        taps: &taps,
                        stride,
                        weights: &weights,
                        out: &mut out,
                    };
                    let want = naive(&run, pixels, nr);
                    kernel.run(run);
                    assert!(
                        out == want,
                        "{isa} pixels {pixels} stride {stride} channels {channels}"
                    );
                }
            }
        }
    }
}

#[test]
fn f32_kernels_match_the_naive_sum() {
    every_shape::<f32>();
}

#[test]
fn f64_kernels_match_the_naive_sum() {
    every_shape::<f64>();
}

#[test]
#[should_panic(expected = "reach past the input")]
fn a_tap_past_the_input_panics() {
    let kernel = ChannelConvKernel::<f32>::new(Isa::Portable);
    let nr = kernel.channels();
    let mut out = vec![0.0f32; 2 * nr];
    kernel.run(ChannelConvRun {
        x: &[0.0; 4],
        channels: 1,
        plane: 4,
        taps: &ChannelConvTaps::new(vec![3]),
        stride: 1,
        weights: &vec![0.0; nr],
        out: &mut out,
    });
}

/// The scatter of every ISA moves every live channel's pixels, and no
/// more: pixel counts around the 16-pixel transposes, any number of live
/// channels, an offset into the planes.
fn scatter_moves_every_channel<T: Element + From<i16>>() {
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!("channel scatter {isa}: SKIPPED (CPU lacks it)");
            continue;
        }
        let kernel = ChannelConvKernel::<T>::new(isa);
        let nr = kernel.channels();
        for pixels in [1, 7, 15, 16, 17, 33, 40] {
            for live in [1, nr / 2, nr / 2 + 1, nr] {
                let tile: Vec<T> = (0..pixels * nr)
                    .map(|i| T::from((i % 30_000) as i16))
                    .collect();
                let at = 3;
                let sentinel = T::from(-1);
                let mut planes = vec![vec![sentinel; at + pixels + 2]; live];
                let mut dsts: Vec<&mut [T]> = planes.iter_mut().map(|p| p.as_mut_slice()).collect();
                kernel.scatter(&tile, pixels, &mut dsts, at);
                for (j, plane) in planes.iter().enumerate() {
                    for (q, &v) in plane.iter().enumerate() {
                        let want = if (at..at + pixels).contains(&q) {
                            tile[(q - at) * nr + j]
                        } else {
                            sentinel
                        };
                        assert!(
                            v == want,
                            "{isa} pixels {pixels} live {live} channel {j} at {q}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn f32_scatter_moves_every_channel() {
    scatter_moves_every_channel::<f32>();
}

#[test]
fn f64_scatter_moves_every_channel() {
    scatter_moves_every_channel::<f64>();
}
