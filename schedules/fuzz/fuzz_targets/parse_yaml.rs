//! Any text through `loa_schedules::yaml::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| loa_schedules_fuzz::parse_yaml(data));
