//! Any bytes as a media file: probed for its length, then decoded whole.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    loa_audio_fuzz::probe_decode(data);
});
