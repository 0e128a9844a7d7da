//! The harness of the `probe_decode` fuzz target: bytes that claim to be a
//! media file go through what Loa does with a file an operator drops into
//! the media directory, through Loa's own functions: the length probe
//! (`media_length`, which a reload and `loa check` ask for) and a full
//! decode (`Loudness::measure` decodes every frame with the decoder that
//! airs the file).
//!
//! By default the target runs the daemon's path: loa-audio contains a
//! decoder's panic (`audio/src/contain.rs`) and the file is that item's
//! error, so a crash is one the daemon would have. With the feature
//! `uncontained` loa-audio lets those panics through, so that the fuzzer
//! sees every panic a file can cause inside symphonia or Loa.

use std::cell::RefCell;
use std::path::PathBuf;

/// The extensions a file may carry (symphonia takes them as a hint about
/// the container); the input's length picks one, so that a seed keeps its
/// bytes and its kind of name.
const EXTENSIONS: [&str; 7] = ["mp3", "ogg", "flac", "wav", "m4a", "aac", "bin"];

thread_local! {
    /// One directory per fuzzing thread, made once.
    static DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// libFuzzer's harness aborts on any panic, even one caught inside Loa.
/// On the daemon's path a contained panic is not a finding: the hook stays
/// quiet and the harness still aborts on a panic that escapes Loa. With
/// `uncontained` the harness's hook stays.
pub fn panics_as_the_daemon_sees_them() {
    #[cfg(not(feature = "uncontained"))]
    std::panic::set_hook(Box::new(|_| {}));
}

/// Writes `data` to a file and probes and decodes it; returns what the
/// probe said (for the replay test's report).
pub fn probe_decode(data: &[u8]) -> String {
    let dir = DIR.with(|d| {
        d.borrow_mut()
            .get_or_insert_with(|| {
                let n = std::process::id();
                let t = format!("{:?}", std::thread::current().id())
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>();
                let dir = std::env::temp_dir().join(format!("loa-audio-fuzz-{n}-{t}"));
                std::fs::create_dir_all(&dir).expect("a temporary directory");
                dir
            })
            .clone()
    });
    let ext = EXTENSIONS[data.len() % EXTENSIONS.len()];
    let path = dir.join(format!("input.{ext}"));
    std::fs::write(&path, data).expect("the input file");
    let length = loa_audio::probe::media_length(&path);
    // A fresh meter without a cache directory: every input is decoded.
    let measure = loa_audio::Loudness::new(None).measure(&path);
    let _ = std::fs::remove_file(&path);
    match (length, measure) {
        (Ok(l), Ok(_)) => format!("{l:?}, decoded"),
        (Ok(l), Err(e)) => format!("{l:?}, decode failed: {}", e.reason()),
        (Err(e), _) => format!("not audio: {}", e.reason()),
    }
}
