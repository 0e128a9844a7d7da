//! Replays the committed seeds (audio/tests/fixtures) and every reproducer in
//! regressions/ through the harness, without libFuzzer:
//!
//!     cd audio/fuzz && cargo test --no-default-features
//!
//! Built without the feature `uncontained`, loa-audio contains a decoder's panic: a
//! regression must come back as an error, never as a panic, and within
//! REGRESSION_BUDGET.

use std::path::Path;

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"));
    v.sort();
    v
}

/// Every seed is audio that plays: the fuzzer starts from inputs that reach
/// the decoders, not only the probe.
#[test]
fn seeds_play() {
    let seeds = files("seeds/probe_decode");
    assert!(seeds.len() >= 6, "{seeds:?}");
    for p in seeds {
        let data = std::fs::read(&p).unwrap();
        let said = loa_audio_fuzz::probe_decode(&data);
        eprintln!("{}: {said}", p.display());
        assert!(said.ends_with("decoded"), "{}: {said}", p.display());
    }
}

const REGRESSION_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

#[test]
fn regressions() {
    let mut failures = Vec::new();
    for p in files("regressions") {
        let data = std::fs::read(&p).unwrap();
        let t = std::time::Instant::now();
        match std::panic::catch_unwind(|| loa_audio_fuzz::probe_decode(&data)) {
            Ok(said) => {
                eprintln!("{}: {said} ({:.2?})", p.display(), t.elapsed());
                if t.elapsed() > REGRESSION_BUDGET {
                    failures.push(format!("{} took {:.2?}", p.display(), t.elapsed()));
                }
            }
            Err(_) => failures.push(format!("{} panics through loa-audio", p.display())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
