//! `StreamedA::with_ragged_tail`: the ragged columns of the last panel go
//! to the row-dot kernel. Against the double-double naive loop (small
//! integers bit for bit, random data within the bound) for every ragged
//! width next to every whole-vector count, rows past MR and k past KC;
//! and column splits at multiples of `nr` give the bits of one call.

mod common;

use common::{isas, Problem, TestElem};
use convoracle_kernels::{Element, StreamedA, KC};

fn ragged<T: TestElem>(int_data: bool) {
    for isa in isas() {
        let b = T::blocking(isa);
        let (mr, nr) = (b.mr, b.nr);
        let lanes = nr / 2;
        let mut widths: Vec<usize> = (1..=4).collect();
        for whole in [lanes, 2 * lanes, nr + lanes] {
            widths.extend((1..=5).map(|r| whole + r));
        }
        widths.extend([49, 196]);
        for &n in &widths {
            for (m, k) in [(1, 1), (mr - 1, 17), (2 * mr + 3, KC + 17)] {
                for accumulate in [false, true] {
                    let seed = (m * 131 + n * 7 + k) as u64;
                    let p = Problem::<T>::new(m, n, k, seed, int_data, false);
                    let a = StreamedA::new(isa, p.a_view()).with_ragged_tail();
                    let what = format!("{isa} {m}x{n}x{k} accumulate {accumulate}");
                    let c = p.run(&a, accumulate, &[]);
                    p.check(&c, accumulate, int_data, &what).unwrap();
                    let cuts: Vec<usize> =
                        (1..=n / nr).map(|i| i * nr).filter(|&j| j < n).collect();
                    if !cuts.is_empty() {
                        assert!(
                            c == p.run(&a, accumulate, &cuts),
                            "{what}: split changed bits"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn f32_integer_data_bit_exact() {
    ragged::<f32>(true);
}

#[test]
fn f64_integer_data_bit_exact() {
    ragged::<f64>(true);
}

#[test]
fn f32_random_data_within_bound() {
    ragged::<f32>(false);
}

#[test]
fn f64_random_data_within_bound() {
    ragged::<f64>(false);
}

/// Without the opt-in nothing changes: the in-place A gives the packed A's
/// bits on a ragged width (the property the exact engine relies on).
#[test]
fn without_the_opt_in_streamed_matches_packed() {
    for isa in isas() {
        let nr = <f32 as Element>::blocking(isa).nr;
        let p = Problem::<f32>::new(7, nr + nr / 2 + 1, 40, 3, false, false);
        let packed = convoracle_kernels::PackedA::new(isa, p.a_view());
        let streamed = StreamedA::new(isa, p.a_view());
        assert!(
            p.run(&packed, false, &[]) == p.run(&streamed, false, &[]),
            "{isa}"
        );
    }
}
