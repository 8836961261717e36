//! Fuzz target: see `convoracle_fuzz::reference_ops`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| convoracle_fuzz::reference_ops(data));
