//! Property tests: every supported ISA against a double-double naive loop,
//! over sizes reaching every edge of MR, NR, KC and NC; small-integer data
//! must match bit for bit, random data within gamma_{k+2} * sum|a*b|.

mod common;

use common::{isas, Problem, TestElem};
use convoracle_kernels::{PackedA, StreamedA};
use proptest::prelude::*;

/// Sizes relative to the tile: m in 1..=2*MR+3, n in 1..=3*NR+5 (and the
/// split point), k in 1..=KC+17 (KC = 256 for every ISA).
#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    /// `None`: default blocking; `Some((kc, nc))`: small overrides that put
    /// k and n block edges inside small problems.
    small_blocks: Option<(usize, usize)>,
    split_frac: Option<f64>,
    b_transposed: bool,
    seed: u64,
}

fn cases(max_m: usize, max_n: usize) -> impl Strategy<Value = Case> {
    (
        1..=max_m,
        1..=max_n,
        prop_oneof![1..=40usize, 1..=convoracle_kernels::KC + 17],
        any::<bool>(),
        prop::option::of((1..=40usize, 1..=3 * 32 + 5usize)),
        prop::option::of(0.0..1.0f64),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(m, n, k, accumulate, small_blocks, split_frac, b_transposed, seed)| Case {
                m,
                n,
                k,
                accumulate,
                small_blocks,
                split_frac,
                b_transposed,
                seed,
            },
        )
}

fn run_case<T: TestElem>(case: &Case, int_data: bool) -> Result<(), TestCaseError> {
    let p = Problem::<T>::new(
        case.m,
        case.n,
        case.k,
        case.seed,
        int_data,
        case.b_transposed,
    );
    let mut first: Option<(String, Vec<T>)> = None;
    for isa in isas() {
        let pa = match case.small_blocks {
            None => PackedA::new(isa, p.a_view()),
            Some((kc, nc)) => PackedA::with_blocking(isa, p.a_view(), kc, nc),
        };
        let splits: Vec<usize> = case
            .split_frac
            .map(|f| (f * case.n as f64) as usize)
            .into_iter()
            .collect();
        let c = p.run(&pa, case.accumulate, &splits);
        let what = format!("{isa} {:?}", T::blocking(isa));
        // A packed panel by panel as the GEMM goes gives the same bits.
        let streamed = match case.small_blocks {
            None => StreamedA::new(isa, p.a_view()),
            Some((kc, nc)) => StreamedA::with_blocking(isa, p.a_view(), kc, nc),
        };
        prop_assert!(
            c == p.run(&streamed, case.accumulate, &splits),
            "{what}: streamed A changed bits"
        );
        p.check(&c, case.accumulate, int_data, &what)
            .map_err(TestCaseError::fail)?;
        // Splitting n never changes a bit.
        if !splits.is_empty() {
            prop_assert!(
                c == p.run(&pa, case.accumulate, &[]),
                "{what}: split changed bits"
            );
        }
        // Integer data: every ISA gives the same bits.
        if int_data {
            match &first {
                None => first = Some((what, c)),
                Some((w0, c0)) => prop_assert!(c0 == &c, "{what} differs from {w0}"),
            }
        }
    }
    Ok(())
}

const MAX_MR: usize = 12;
const MAX_NR: usize = 32;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn f32_integer_data_bit_exact(case in cases(2 * MAX_MR + 3, 3 * MAX_NR + 5)) {
        run_case::<f32>(&case, true)?;
    }

    #[test]
    fn f64_integer_data_bit_exact(case in cases(2 * MAX_MR + 3, 3 * MAX_NR + 5)) {
        run_case::<f64>(&case, true)?;
    }

    #[test]
    fn f32_random_data_within_bound(case in cases(2 * MAX_MR + 3, 3 * MAX_NR + 5)) {
        run_case::<f32>(&case, false)?;
    }

    #[test]
    fn f64_random_data_within_bound(case in cases(2 * MAX_MR + 3, 3 * MAX_NR + 5)) {
        run_case::<f64>(&case, false)?;
    }
}

/// Big problems with the default blocking: k crosses two KC edges, n
/// crosses the largest NC (1024) plus a partial panel, m several MR.
fn big<T: TestElem>(int_data: bool) {
    for &(m, n, k) in &[
        (29, 1024 + 32 + 3, 2 * convoracle_kernels::KC + 17),
        (67, 517, 300),
    ] {
        for accumulate in [false, true] {
            let p = Problem::<T>::new(m, n, k, 7 + m as u64, int_data, false);
            for isa in isas() {
                let pa = PackedA::new(isa, p.a_view());
                let c = p.run(&pa, accumulate, &[]);
                p.check(&c, accumulate, int_data, &format!("{isa} big {m}x{n}x{k}"))
                    .unwrap();
                let c2 = p.run(&pa, accumulate, &[1, 100, 513]);
                assert!(c == c2, "{isa}: split changed bits");
                let streamed = StreamedA::new(isa, p.a_view());
                assert!(
                    c == p.run(&streamed, accumulate, &[1, 100]),
                    "{isa}: streamed A changed bits"
                );
            }
        }
    }
}

#[test]
fn big_f32_integer() {
    big::<f32>(true);
}

#[test]
fn big_f64_integer() {
    big::<f64>(true);
}

#[test]
fn big_f32_random() {
    big::<f32>(false);
}

#[test]
fn big_f64_random() {
    big::<f64>(false);
}

/// Threads own disjoint column ranges of one C concurrently.
#[test]
fn concurrent_column_ranges_match_one_call() {
    use convoracle_kernels::{gemm, MatMut};
    let p = Problem::<f32>::new(13, 700, 300, 99, false, false);
    for isa in isas() {
        let pa = PackedA::new(isa, p.a_view());
        let want = p.run(&pa, true, &[]);
        let mut c = p.c0.clone();
        let whole = MatMut::from_slice(&mut c, p.m, p.n, p.ldc);
        let (left, right) = whole.split_cols_at(333);
        let b = p.b_view();
        std::thread::scope(|s| {
            for (n0, piece) in [(0, left), (333, right)] {
                let (pa, b) = (&pa, &b);
                s.spawn(move || {
                    let mut scratch = vec![0.0f32; pa.scratch_len(piece.cols())];
                    gemm(pa, b, n0, piece, true, &mut scratch);
                });
            }
        });
        assert!(c == want, "{isa}: threads changed bits");
    }
}

/// Threads own disjoint row-panel ranges of one C concurrently (A packed
/// and read in place; the last range ends in a short panel).
#[test]
fn concurrent_row_panel_ranges_match_one_call() {
    use convoracle_kernels::{gemm_row_panels, PackA};
    let p = Problem::<f32>::new(61, 45, 530, 7, false, false);
    for isa in isas() {
        let packed = PackedA::new(isa, p.a_view());
        let streamed = StreamedA::new(isa, p.a_view());
        let want = p.run(&packed, true, &[]);
        let mr = packed.tiling().mr;
        let panels = p.m.div_ceil(mr);
        for a in [&packed as &(dyn PackA<f32> + Sync), &streamed] {
            for cut in [1, panels / 2, panels - 1] {
                let mut c = p.c0.clone();
                let (top, bottom) = c.split_at_mut(cut * mr * p.ldc);
                std::thread::scope(|s| {
                    for (range, rows) in [(0..cut, top), (cut..panels, bottom)] {
                        let b = p.b_view();
                        s.spawn(move || {
                            let height = rows.len() / p.ldc;
                            let piece =
                                convoracle_kernels::MatMut::from_slice(rows, height, p.n, p.ldc);
                            let mut scratch = vec![0.0f32; a.gemm_scratch_len(p.n)];
                            gemm_row_panels(a, &b, 0, range, piece, true, &mut scratch);
                        });
                    }
                });
                assert!(c == want, "{isa}: a row-panel split at {cut} changed bits");
            }
        }
    }
}

/// k = 0 gives zeros (or leaves C when accumulating); empty m or n is a no-op.
#[test]
fn degenerate_sizes() {
    for isa in isas() {
        for (m, n, k) in [(3, 5, 0), (0, 5, 4), (3, 0, 4)] {
            for accumulate in [false, true] {
                let p = Problem::<f64>::new(m, n, k, 1, true, false);
                let pa = PackedA::new(isa, p.a_view());
                let c = p.run(&pa, accumulate, &[]);
                p.check(&c, accumulate, true, &format!("{isa} {m}x{n}x{k}"))
                    .unwrap();
            }
        }
    }
}

/// Every column width a tile can have gives the bits of the full-width
/// tile: a call on a piece of at most one vector of columns (the SIMD
/// kernels' one-vector body) or of any other tail width, packed or in-place
/// A, over k past the k block, must equal one call over whole panels, bit
/// for bit on random data (the exact engine's rounding bound and the
/// thread-count independence rely on it).
fn tail_widths_match_full_tiles<T: TestElem>() {
    for isa in isas() {
        let nr = T::blocking(isa).nr;
        let mr = T::blocking(isa).mr;
        for (m, k) in [(mr, 1), (mr + 1, 7), (2 * mr - 1, 300)] {
            let p = Problem::<T>::new(m, 2 * nr, k, (m * 31 + k) as u64, false, false);
            for accumulate in [false, true] {
                let packed = PackedA::new(isa, p.a_view());
                let streamed = StreamedA::new(isa, p.a_view());
                let want = p.run(&packed, accumulate, &[]);
                assert!(p.run(&streamed, accumulate, &[]) == want, "{isa}: in place");
                for width in 1..nr {
                    let splits = [nr, nr + width];
                    let what = format!("{isa}: m {m}, k {k}, a {width}-column tile");
                    assert!(p.run(&packed, accumulate, &splits) == want, "{what}");
                    assert!(
                        p.run(&streamed, accumulate, &splits) == want,
                        "{what}, in place"
                    );
                }
            }
        }
    }
}

#[test]
fn f32_tail_widths_match_full_tiles() {
    tail_widths_match_full_tiles::<f32>();
}

#[test]
fn f64_tail_widths_match_full_tiles() {
    tail_widths_match_full_tiles::<f64>();
}
