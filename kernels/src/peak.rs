//! The machine's fused multiply-add peak, measured: a loop of independent
//! FMA chains (enough to cover latency x ports) for one ISA and element
//! type, written in inline assembly so the compiler cannot spill or merge
//! them. Used by the benchmark example to report a fraction of peak.

use crate::{Element, Isa};
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    /// 24 zmm chains (zmm0..23) per step, or 12 ymm chains (ymm0..11):
    /// 4-cycle latency x 2 FMA ports needs 8.
    macro_rules! fma_asm {
        ($name:ident, $feat:literal, $op:literal, $r:literal, $src:literal, [$($i:literal)*], [$($reg:tt)*]) => {
            /// Runs `iters` loop steps; each is one FMA per chain.
            #[target_feature(enable = $feat)]
            unsafe fn $name(iters: u64) {
                if iters == 0 {
                    return;
                }
                // SAFETY: the caller guarantees the target feature; the asm
                // only touches the declared clobbered vector registers and
                // the counter, reads no memory and leaves the stack alone.
                unsafe {
                    asm!(
                        $(concat!("vxorps ", $r, $i, ", ", $r, $i, ", ", $r, $i),)*
                        concat!("vxorps ", $src, ", ", $src, ", ", $src),
                        "2:",
                        $(concat!($op, " ", $r, $i, ", ", $src, ", ", $src),)*
                        "dec {n}",
                        "jnz 2b",
                        n = inout(reg) iters => _,
                        $(out($reg) _,)*
                        out("xmm31") _,
                        options(nostack, nomem),
                    );
                }
            }
        };
    }

    fma_asm!(z_f32, "avx512f", "vfmadd231ps", "zmm", "zmm31",
        [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23],
        ["zmm0" "zmm1" "zmm2" "zmm3" "zmm4" "zmm5" "zmm6" "zmm7" "zmm8" "zmm9" "zmm10" "zmm11"
         "zmm12" "zmm13" "zmm14" "zmm15" "zmm16" "zmm17" "zmm18" "zmm19" "zmm20" "zmm21" "zmm22" "zmm23"]);
    fma_asm!(z_f64, "avx512f", "vfmadd231pd", "zmm", "zmm31",
        [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23],
        ["zmm0" "zmm1" "zmm2" "zmm3" "zmm4" "zmm5" "zmm6" "zmm7" "zmm8" "zmm9" "zmm10" "zmm11"
         "zmm12" "zmm13" "zmm14" "zmm15" "zmm16" "zmm17" "zmm18" "zmm19" "zmm20" "zmm21" "zmm22" "zmm23"]);
    fma_asm!(y_f32, "avx2,fma", "vfmadd231ps", "ymm", "ymm15",
        [0 1 2 3 4 5 6 7 8 9 10 11],
        ["ymm0" "ymm1" "ymm2" "ymm3" "ymm4" "ymm5" "ymm6" "ymm7" "ymm8" "ymm9" "ymm10" "ymm11" "ymm15"]);
    fma_asm!(y_f64, "avx2,fma", "vfmadd231pd", "ymm", "ymm15",
        [0 1 2 3 4 5 6 7 8 9 10 11],
        ["ymm0" "ymm1" "ymm2" "ymm3" "ymm4" "ymm5" "ymm6" "ymm7" "ymm8" "ymm9" "ymm10" "ymm11" "ymm15"]);

    /// Runs the loop for (isa, element bytes); returns the flops done.
    pub(super) fn run(isa: crate::Isa, bytes: usize, iters: u64) -> Option<f64> {
        use crate::Isa::*;
        if !isa.is_supported() {
            return None;
        }
        let (lanes, chains) = match (isa, bytes) {
            // SAFETY (all four arms): isa.is_supported() was checked above,
            // so the CPU has the features the function is compiled for.
            // SAFETY: see above.
            (Avx512, 4) => (16, 24, unsafe { z_f32(iters) }),
            // SAFETY: see above.
            (Avx512, _) => (8, 24, unsafe { z_f64(iters) }),
            // SAFETY: see above.
            (Avx2Fma, 4) => (8, 12, unsafe { y_f32(iters) }),
            // SAFETY: see above.
            (Avx2Fma, _) => (4, 12, unsafe { y_f64(iters) }),
            (Portable, _) => return None,
        }
        .into_pair();
        Some(2.0 * (lanes * chains) as f64 * iters as f64)
    }

    /// Drops the unit result of a timed call.
    trait IntoPair {
        fn into_pair(self) -> (usize, usize);
    }
    impl IntoPair for (usize, usize, ()) {
        fn into_pair(self) -> (usize, usize) {
            (self.0, self.1)
        }
    }
}

/// Measured FMA peak of `isa` for `T` on one core, in GFLOP/s (2 flops per
/// lane per FMA): best of repeated ~20 ms runs for about `millis` ms.
/// `None` for [`Isa::Portable`] or an unsupported ISA.
pub fn fma_peak_gflops<T: Element>(isa: Isa, millis: u64) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of::<T>();
        let mut iters = 1u64 << 16;
        let mut best = 0.0f64;
        let start = Instant::now();
        loop {
            let t = Instant::now();
            let flops = x86::run(isa, bytes, iters)?;
            let s = t.elapsed().as_secs_f64();
            best = best.max(flops / s / 1e9);
            if s < 0.02 {
                iters *= 2;
            }
            if start.elapsed().as_millis() >= millis as u128 {
                return Some(best);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, millis, Instant::now());
        None
    }
}
