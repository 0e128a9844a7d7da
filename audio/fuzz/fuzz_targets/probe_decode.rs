//! Any bytes as a media file: probed for its length, then decoded whole,
//! as the daemon does it (a decoder's panic is the file's error), or, with
//! the feature `uncontained`, with every decoder panic a finding.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: loa_audio_fuzz::panics_as_the_daemon_sees_them(),
    |data: &[u8]| {
        loa_audio_fuzz::probe_decode(data);
    }
);
