//! Fuzz target: see `convoracle_fuzz::case_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| convoracle_fuzz::case_json(data));
