//! Fuzz target: see `convoracle_fuzz::direct_ops`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| convoracle_fuzz::direct_ops(data));
