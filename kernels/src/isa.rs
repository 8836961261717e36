//! Instruction-set levels and their run-time detection.

use std::fmt;

/// An instruction-set level a microkernel is written for.
///
/// Ordered from the most to the least capable. A level can always be
/// forced *down* (e.g. to test the AVX2 kernels on an AVX-512 machine), never
/// up: constructing a [`crate::PackedA`] for a level the CPU does not support
/// panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F (x86-64): 512-bit registers, 32 of them.
    Avx512,
    /// AVX2 + FMA3 (x86-64): 256-bit registers, 16 of them.
    Avx2Fma,
    /// Plain safe Rust, no SIMD intrinsics; runs everywhere.
    Portable,
}

/// Environment variable that caps [`Isa::detect`]: `avx512`, `avx2` or
/// `portable` (case-insensitive). Unknown values are ignored.
pub const ISA_ENV_VAR: &str = "CONVORACLE_ISA";

impl Isa {
    /// Every level, most capable first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

    /// Whether the running CPU can execute this level's kernels.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The levels the running CPU supports, most capable first (always ends
    /// with [`Isa::Portable`]).
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The best supported level, capped by the environment variable
    /// [`ISA_ENV_VAR`] when it names a level.
    pub fn detect() -> Isa {
        let cap = std::env::var(ISA_ENV_VAR)
            .ok()
            .and_then(|s| Isa::from_name(&s))
            .unwrap_or(Isa::Avx512);
        Isa::ALL
            .into_iter()
            .find(|i| i.rank() <= cap.rank() && i.is_supported())
            .unwrap_or(Isa::Portable)
    }

    /// Parses `avx512`, `avx2` (or `avx2fma`) and `portable`, case-insensitive.
    pub fn from_name(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx512f" => Some(Isa::Avx512),
            "avx2" | "avx2fma" | "avx2+fma" | "fma" => Some(Isa::Avx2Fma),
            "portable" | "scalar" | "none" => Some(Isa::Portable),
            _ => None,
        }
    }

    /// A short lowercase name (`avx512`, `avx2+fma`, `portable`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Portable => "portable",
        }
    }

    /// Capability rank: higher is more capable.
    fn rank(self) -> u8 {
        match self {
            Isa::Avx512 => 2,
            Isa::Avx2Fma => 1,
            Isa::Portable => 0,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_always_available_and_detect_is_supported() {
        assert_eq!(Isa::available().last(), Some(&Isa::Portable));
        assert!(Isa::detect().is_supported());
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
        }
    }
}
