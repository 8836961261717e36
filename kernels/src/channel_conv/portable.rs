//! The portable channel-vector conv kernel: safe Rust, 16 channels, up to
//! 8 pixels, multiply then add per term (the order of the module docs).

use super::{cc_table, CcSet, CcUkr, ChannelConvRun};
use crate::Element;

/// Output channels per call.
const NR: usize = 16;
/// Most pixels per call.
const PIXELS: usize = 8;

fn ukr<T: Element, const P: usize, const S: usize>(a: ChannelConvRun<'_, T>) {
    let pixels = a.check(NR, PIXELS);
    assert!(pixels == P && a.stride == S, "channel conv: wrong kernel");
    let mut acc = [[T::ZERO; NR]; P];
    let mut w = a.weights.chunks_exact(NR);
    for c in 0..a.channels {
        let xc = &a.x[c * a.plane..];
        for &t in a.taps.offsets() {
            let Some(wv) = w.next() else { return };
            for (i, row) in acc.iter_mut().enumerate() {
                let v = xc[t + i * S];
                for (s, &wj) in row.iter_mut().zip(wv) {
                    *s = *s + wj * v;
                }
            }
        }
    }
    for (dst, row) in a.out.chunks_exact_mut(NR).zip(&acc) {
        dst.copy_from_slice(row);
    }
}

fn ukr_f32<const P: usize, const S: usize>(a: ChannelConvRun<'_, f32>) {
    ukr::<f32, P, S>(a)
}

fn ukr_f64<const P: usize, const S: usize>(a: ChannelConvRun<'_, f64>) {
    ukr::<f64, P, S>(a)
}

const F32_S1: [CcUkr<f32>; PIXELS] = cc_table!(ukr_f32, 8, 1);
const F32_S2: [CcUkr<f32>; PIXELS] = cc_table!(ukr_f32, 8, 2);
const F32_S4: [CcUkr<f32>; PIXELS] = cc_table!(ukr_f32, 8, 4);
const F64_S1: [CcUkr<f64>; PIXELS] = cc_table!(ukr_f64, 8, 1);
const F64_S2: [CcUkr<f64>; PIXELS] = cc_table!(ukr_f64, 8, 2);
const F64_S4: [CcUkr<f64>; PIXELS] = cc_table!(ukr_f64, 8, 4);

/// Portable f32.
pub(crate) static F32: CcSet<f32> = CcSet {
    channels: NR,
    max_pixels: PIXELS,
    ukr: [&F32_S1, &F32_S2, &F32_S4],
    scatter: super::scatter::scalar::<f32>,
};
/// Portable f64.
pub(crate) static F64: CcSet<f64> = CcSet {
    channels: NR,
    max_pixels: PIXELS,
    ukr: [&F64_S1, &F64_S2, &F64_S4],
    scatter: super::scatter::scalar::<f64>,
};
