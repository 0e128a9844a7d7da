//! station.yaml and two schedule files (NUL-separated) through `check_dir`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| loa_schedules_fuzz::load_config(data));
