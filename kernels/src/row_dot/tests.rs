//! Every kernel of every SIMD ISA the CPU has against the term-by-term
//! sum: bit for bit on small-integer data (every partial sum is exact) for
//! every tile shape and k at the vector and k-block edges, with row
//! strides wider than k; on random data within the bound of any summation
//! order, and with the same bits whichever rows and columns a call covers
//! (what lets threads split C); non-finite values propagate.

use super::RowDotKernel;
use crate::{Element, Isa, MatMut, MatRef};

/// `C = A * Bt^T` term by term, in f64.
fn naive<T: Element + Into<f64>>(
    a: &[T],
    lda: usize,
    bt: &[T],
    ldb: usize,
    [m, n, k]: [usize; 3],
) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|p| a[i * lda + p].into() * bt[j * ldb + p].into())
                .sum();
        }
    }
    c
}

/// The kernels of the SIMD ISAs this CPU has (the others reported
/// skipped).
fn kernels<T: Element>() -> Vec<RowDotKernel<T>> {
    let mut out = Vec::new();
    for isa in Isa::ALL {
        if !isa.is_supported() {
            println!("row dot {isa}: SKIPPED (CPU lacks it)");
            continue;
        }
        match RowDotKernel::<T>::new(isa) {
            Some(kernel) => out.push(kernel),
            None => println!("row dot {isa}: no kernel (portable ISA)"),
        }
    }
    out
}

/// Exactly the elements an `rows x k` view with row stride `ld` covers.
fn operand<T: Element + From<i16>>(rows: usize, k: usize, ld: usize, seed: usize) -> Vec<T> {
    (0..(rows - 1) * ld + k)
        .map(|e| T::from((((e + seed) * 7) % 13) as i16 - 6))
        .collect()
}

fn integer_data_is_exact<T: Element + From<i16> + Into<f64>>() {
    for kernel in kernels::<T>() {
        let (mr, nr) = kernel.tile();
        let (lanes, kc) = (kernel.lanes(), kernel.kc());
        for k in [
            1,
            lanes - 1,
            lanes,
            lanes + 1,
            3 * lanes + 2,
            kc - 1,
            kc,
            kc + 1,
            2 * kc + lanes + 3,
        ] {
            for (m, n) in [
                (1, 1),
                (mr, nr),
                (mr + 1, nr + 1),
                (2 * mr - 1, 2 * nr + 1),
                (3, 13),
            ] {
                let (lda, ldb) = (k + 3, k);
                let a: Vec<T> = operand(m, k, lda, 1);
                let bt: Vec<T> = operand(n, k, ldb, 5);
                let mut c = vec![T::from(99); m * n];
                kernel.run(
                    MatRef::row_major(&a, m, k, lda),
                    MatRef::row_major(&bt, n, k, ldb),
                    MatMut::from_slice(&mut c, m, n, n),
                );
                let want = naive(&a, lda, &bt, ldb, [m, n, k]);
                let got: Vec<f64> = c.iter().map(|&v| v.into()).collect();
                assert_eq!(got, want, "{} m {m} n {n} k {k}", kernel.isa());
            }
        }
    }
}

#[test]
fn integer_data_is_exact_f32() {
    integer_data_is_exact::<f32>();
}

#[test]
fn integer_data_is_exact_f64() {
    integer_data_is_exact::<f64>();
}

/// A small deterministic generator of values in [-1, 1).
fn random(len: usize, mut state: u64) -> Vec<f64> {
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn random_data_within_the_bound_and_the_same_bits_for_any_tile_range() {
    for kernel in kernels::<f32>() {
        let (m, n, k) = (17, 11, kernel.kc() + 37);
        let a: Vec<f32> = random(m * k, 1).iter().map(|&v| v as f32).collect();
        let bt: Vec<f32> = random(n * k, 2).iter().map(|&v| v as f32).collect();
        let mut c = vec![0.0f32; m * n];
        kernel.run(
            MatRef::row_major(&a, m, k, k),
            MatRef::row_major(&bt, n, k, k),
            MatMut::from_slice(&mut c, m, n, n),
        );
        let exact = naive(&a, k, &bt, k, [m, n, k]);
        let gamma = k as f64 * f32::EPSILON as f64 / 2.0 / (1.0 - k as f64 * f32::EPSILON as f64);
        for i in 0..m {
            for j in 0..n {
                let mag: f64 = (0..k)
                    .map(|p| (a[i * k + p] as f64 * bt[j * k + p] as f64).abs())
                    .sum();
                let err = (c[i * n + j] as f64 - exact[i * n + j]).abs();
                assert!(
                    err <= gamma * mag,
                    "{} ({i}, {j}): error {err}",
                    kernel.isa()
                );
            }
        }
        // Rows 5..14 and columns 3..10 alone, as a thread would compute them.
        let (rows, cols) = (5..14, 3..10);
        let (h, w) = (rows.len(), cols.len());
        let mut part = vec![0.0f32; h * w];
        kernel.run(
            MatRef::row_major(&a[rows.start * k..], h, k, k),
            MatRef::row_major(&bt[cols.start * k..], w, k, k),
            MatMut::from_slice(&mut part, h, w, w),
        );
        for (r, i) in rows.clone().enumerate() {
            for (s, j) in cols.clone().enumerate() {
                assert_eq!(
                    part[r * w + s].to_bits(),
                    c[i * n + j].to_bits(),
                    "{}",
                    kernel.isa()
                );
            }
        }
    }
}

#[test]
fn non_finite_values_propagate() {
    for kernel in kernels::<f64>() {
        let (m, n, k) = (3, 2, 21);
        let mut a: Vec<f64> = operand(m, k, k, 0);
        let mut bt: Vec<f64> = operand(n, k, k, 3);
        a[k + 20] = f64::INFINITY; // row 1, in the masked tail vector
        bt[4] = 0.0;
        a[4] = f64::NAN; // row 0
        bt[k + 20] = 2.0;
        bt[20] = 0.0; // inf * 0 for (1, 0)
        let mut c = vec![0.0f64; m * n];
        kernel.run(
            MatRef::row_major(&a, m, k, k),
            MatRef::row_major(&bt, n, k, k),
            MatMut::from_slice(&mut c, m, n, n),
        );
        let want = naive(&a, k, &bt, k, [m, n, k]);
        for (got, want) in c.iter().zip(&want) {
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{}: {got} against {want}",
                kernel.isa()
            );
        }
        assert!(c[0].is_nan() && c[n].is_nan() && c[n + 1] == f64::INFINITY);
    }
}

#[test]
fn empty_k_gives_zeros() {
    for kernel in kernels::<f32>() {
        let mut c = vec![7.0f32; 6];
        kernel.run(
            MatRef::row_major(&[], 2, 0, 0),
            MatRef::row_major(&[], 3, 0, 0),
            MatMut::from_slice(&mut c, 2, 3, 3),
        );
        assert_eq!(c, [0.0; 6]);
    }
}
