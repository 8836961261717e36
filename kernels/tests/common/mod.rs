//! Shared helpers for the kernel tests: data, naive references, ISA list.
#![allow(dead_code)]

use convoracle_kernels::{gemm, Element, Isa, MatMut, MatRef, PackA};
use std::io::Write;
use std::sync::Once;

/// The ISAs to test; the unsupported ones are reported once on stderr,
/// bypassing libtest's capture so the skip is always visible.
pub fn isas() -> Vec<Isa> {
    static REPORT: Once = Once::new();
    REPORT.call_once(|| {
        let mut err = std::io::stderr();
        for isa in Isa::ALL {
            let status = if isa.is_supported() {
                "testing"
            } else {
                "SKIPPING (CPU lacks it)"
            };
            let _ = writeln!(err, "convoracle-kernels: isa {isa}: {status}");
        }
    });
    Isa::available()
}

/// SplitMix64.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Integer in -r..=r.
    pub fn int(&mut self, r: i64) -> f64 {
        (self.next() % (2 * r as u64 + 1)) as i64 as f64 - r as f64
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Conversion used by the tests.
pub trait TestElem: Element {
    const EPS: f64;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}
impl TestElem for f32 {
    const EPS: f64 = f32::EPSILON as f64 / 2.0;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl TestElem for f64 {
    const EPS: f64 = f64::EPSILON / 2.0;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// One problem: A (m x k, row-major, lda = k + 1), B (k x n, row-major or
/// stored transposed), C (m x n, ldc = n + 3).
pub struct Problem<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Vec<T>,
    pub b: Vec<T>,
    pub b_transposed: bool,
    pub c0: Vec<T>,
    pub ldc: usize,
}

impl<T: TestElem> Problem<T> {
    pub fn new(
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
        int_data: bool,
        b_transposed: bool,
    ) -> Self {
        let mut rng = Rng(seed);
        let mut gen = |len: usize| -> Vec<T> {
            (0..len)
                .map(|_| T::from_f64(if int_data { rng.int(8) } else { rng.unit() }))
                .collect()
        };
        let ldc = n + 3;
        let a = gen(m * (k + 1));
        let b = gen(k * n);
        let c0 = gen(m * ldc);
        Problem {
            m,
            n,
            k,
            a,
            b,
            b_transposed,
            c0,
            ldc,
        }
    }

    pub fn a_view(&self) -> MatRef<'_, T> {
        MatRef::new(&self.a, self.m, self.k, self.k + 1, 1)
    }

    pub fn b_view(&self) -> MatRef<'_, T> {
        if self.b_transposed {
            MatRef::row_major(&self.b, self.n, self.k, self.k).t()
        } else {
            MatRef::row_major(&self.b, self.k, self.n, self.n)
        }
    }

    /// Runs the kernel: `splits` column cut points (ascending), one gemm call
    /// per piece, like threads would.
    pub fn run(&self, pa: &impl PackA<T>, accumulate: bool, splits: &[usize]) -> Vec<T> {
        let mut c = self.c0.clone();
        let b = self.b_view();
        let mut rest = MatMut::from_slice(&mut c, self.m, self.n, self.ldc);
        let mut start = 0;
        for &cut in splits.iter().chain(std::iter::once(&self.n)) {
            let (piece, tail) = rest.split_cols_at(cut - start);
            let mut scratch = vec![T::ZERO; pa.gemm_scratch_len(piece.cols())];
            gemm(pa, &b, start, piece, accumulate, &mut scratch);
            rest = tail;
            start = cut;
        }
        c
    }

    /// Exact-enough reference per element: (value, sum of |terms|), computed
    /// in double-double.
    pub fn reference(&self, accumulate: bool) -> Vec<(f64, f64)> {
        let (a, b) = (self.a_view(), self.b_view());
        let mut out = Vec::with_capacity(self.m * self.n);
        for i in 0..self.m {
            for j in 0..self.n {
                let (mut hi, mut lo, mut abs) = (0.0f64, 0.0f64, 0.0f64);
                let mut add = |x: f64, y: f64| {
                    let p = x * y;
                    let pe = x.mul_add(y, -p);
                    let s = hi + p;
                    let bb = s - hi;
                    let e = (hi - (s - bb)) + (p - bb);
                    hi = s;
                    lo += e + pe;
                    abs += p.abs();
                };
                if accumulate {
                    add(self.c0[i * self.ldc + j].to_f64(), 1.0);
                }
                for p in 0..self.k {
                    add(a.get(i, p).to_f64(), b.get(p, j).to_f64());
                }
                out.push((hi + lo, abs));
            }
        }
        out
    }

    /// Checks `c`: bit-exact for integer data (`exact`), else within
    /// gamma_{k+2} * sum|terms| (plus the reference's own tiny error).
    /// Also checks the padding columns past n were left alone.
    pub fn check(&self, c: &[T], accumulate: bool, exact: bool, what: &str) -> Result<(), String> {
        let r = self.reference(accumulate);
        let nk = (self.k + 2) as f64;
        let gamma = nk * T::EPS / (1.0 - nk * T::EPS);
        for i in 0..self.m {
            for j in 0..self.ldc {
                let got = c[i * self.ldc + j];
                if j >= self.n {
                    if got != self.c0[i * self.ldc + j] {
                        return Err(format!("{what}: padding C[{i}][{j}] changed"));
                    }
                    continue;
                }
                let (want, abs) = r[i * self.n + j];
                if exact {
                    if got != T::from_f64(want) {
                        return Err(format!(
                            "{what}: C[{i}][{j}] = {got:?}, want {want} exactly"
                        ));
                    }
                } else {
                    let bound = gamma * abs + abs * 1e-25;
                    let err = (got.to_f64() - want).abs();
                    if err > bound || !err.is_finite() {
                        return Err(format!("{what}: C[{i}][{j}] = {got:?}, want {want}, err {err:e} > bound {bound:e}"));
                    }
                }
            }
        }
        Ok(())
    }
}
