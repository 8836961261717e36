//! The portable plane conv kernel: safe Rust, one pixel per "vector", up
//! to 4 rows, multiply then add per term (the order of the module docs).

use super::{PcSet, PlaneConvRows};
use crate::Element;

const ROWS: usize = 4;

fn ukr<T: Element>(a: PlaneConvRows<'_, T>) {
    a.check(1, ROWS);
    let [kh, kw] = a.kernel;
    for r in 0..a.rows {
        for c in 0..a.out_pitch {
            let mut s = T::ZERO;
            for i in 0..kh {
                let row = &a.x[(r + i) * a.pitch + c..][..kw];
                for (&w, &v) in a.weights[i * kw..][..kw].iter().zip(row) {
                    s = s + w * v;
                }
            }
            a.out[r * a.out_pitch + c] = s;
        }
    }
}

/// Portable f32.
pub(crate) static F32: PcSet<f32> = PcSet {
    lanes: 1,
    max_rows: ROWS,
    ukr: ukr::<f32>,
};
/// Portable f64.
pub(crate) static F64: PcSet<f64> = PcSet {
    lanes: 1,
    max_rows: ROWS,
    ukr: ukr::<f64>,
};
