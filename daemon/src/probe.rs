//! Media lengths for the schedule model, measured by the audio crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loa_schedules::MediaProbe;
use tracing::warn;

/// The schedule model's `MediaProbe`, backed by loa-audio's decoder probe.
pub struct AudioProbe;

impl MediaProbe for AudioProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        loa_audio::probe::media_length(path).map_err(|e| e.reason())
    }

    fn tts_voices(&self, command: &[String]) -> Result<Option<Vec<String>>, String> {
        loa_audio::tts::engine_voices(command)
    }
}

/// Why `voice` cannot be used with the TTS engine of `command`, when the
/// engine can be asked (espeak-ng) and lacks it: what `loa say`, `loa now`
/// and remote announcements refuse, as `loa check` does in files.
pub fn missing_voice(command: &[String], voice: &str) -> Option<String> {
    let known = loa_audio::tts::engine_voices(command).ok().flatten()?;
    let program = command.first().map_or("", String::as_str);
    loa_schedules::check::missing_voice(program, voice, &known)
}

/// A file's length, as the scheduler and the simulated decks ask for it.
pub type Probe = Box<dyn Fn(&Path) -> Result<Duration, String>>;

/// An `AudioProbe` that remembers: a year of schedule asks for the same
/// files often.
pub fn caching_probe() -> Probe {
    caching(AudioProbe)
}

/// `inner`, remembered per path. A panic inside `inner` (loa-audio contains
/// its decoders' own; this is the last guard before the scheduler's loop) is
/// the file's error, logged once with its path and remembered like any other
/// answer, so that a file that breaks the probe never stops the loop and is
/// not probed again.
fn caching(inner: impl MediaProbe + 'static) -> Probe {
    let cache: Mutex<HashMap<PathBuf, Result<Duration, String>>> = Mutex::new(HashMap::new());
    Box::new(move |p: &Path| {
        // The lock is never held across a panic (see below), but a cache is
        // worth nothing next to the loop: a poisoned one is used as it is.
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = c.get(p) {
            return known.clone();
        }
        drop(c);
        let answer = guarded(&inner, p);
        c = cache.lock().unwrap_or_else(|e| e.into_inner());
        c.insert(p.to_path_buf(), answer.clone());
        answer
    })
}

/// `inner`'s answer for `path`; a panic inside it is the file's error,
/// logged with its path.
fn guarded(inner: &dyn MediaProbe, path: &Path) -> Result<Duration, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.length(path))).unwrap_or_else(
        |_| {
            let why = "the media probe failed on this file (a decoder bug); \
                       replace the file with a fresh copy"
                .to_string();
            warn!("{}: {why}", path.display());
            Err(why)
        },
    )
}

/// Media lengths that stay known while a file is unchanged (same size and
/// modification time), shared by the loop and the reload task: a reload
/// probes only the files that changed, and off the loop, so a slow disk
/// never delays a program that is about to start. The daemon's scheduler
/// asks the same cache ([`ProbeCache::probe`]): what the load measured is
/// not measured again.
#[derive(Clone, Default)]
pub struct ProbeCache {
    known: Arc<Mutex<HashMap<PathBuf, Known>>>,
}

struct Known {
    stamp: Stamp,
    length: Result<Duration, String>,
}

/// What tells a file changed without reading it.
type Stamp = Option<(u64, Option<std::time::SystemTime>)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

impl ProbeCache {
    /// The same cache as the scheduler's `Probe`.
    pub fn probe(&self) -> Probe {
        let cache = self.clone();
        Box::new(move |p: &Path| cache.length(p))
    }
}

impl MediaProbe for ProbeCache {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let now = stamp(path);
        if let Some(k) = self.known.lock().expect("probe cache").get(path) {
            // A missing file's answer stands until the file appears.
            if k.stamp == now {
                return k.length.clone();
            }
        }
        // Probed without the lock held: one slow file delays no other.
        let length = guarded(&AudioProbe, path);
        self.known.lock().expect("probe cache").insert(
            path.to_path_buf(),
            Known {
                stamp: now,
                length: length.clone(),
            },
        );
        length
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A probe whose decoder panics on `bad.mp3`, counting its calls.
    struct Panicking(Arc<AtomicUsize>);

    impl MediaProbe for Panicking {
        fn length(&self, path: &Path) -> Result<Duration, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if path.ends_with("bad.mp3") {
                panic!("index out of bounds: the len is 64 but the index is 64");
            }
            Ok(Duration::from_secs(3))
        }
    }

    #[test]
    fn a_probe_that_panics_is_the_files_error_once_and_the_rest_goes_on() {
        let calls = Arc::new(AtomicUsize::new(0));
        let probe = caching(Panicking(calls.clone()));
        let bad = Path::new("/srv/media/bad.mp3");
        let e = probe(bad).unwrap_err();
        assert!(e.contains("the media probe failed on this file"), "{e}");
        // Remembered: the file is not probed (nor reported) again.
        assert_eq!(probe(bad).unwrap_err(), e);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Other files are probed as before.
        assert_eq!(
            probe(Path::new("/srv/media/good.mp3")),
            Ok(Duration::from_secs(3))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// The AAC file that makes symphonia's decoder panic
    /// (audio/fuzz/regressions): its length comes from its frame headers, so
    /// it is planned like any other file; airing it fails its item
    /// (audio/tests/deck.rs).
    #[test]
    fn the_fuzzers_aac_finding_has_a_length() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../audio/fuzz/regressions/aac-ics-section-index-out-of-bounds");
        let d = caching_probe()(&f).unwrap();
        assert!(
            d > Duration::from_millis(900) && d < Duration::from_secs(2),
            "{d:?}"
        );
    }

    #[test]
    fn a_cached_length_is_probed_again_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let wav = |secs: u32| {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            for _ in 0..secs * 8000 {
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
        };
        wav(1);
        let cache = ProbeCache::default();
        assert_eq!(cache.length(&p), Ok(Duration::from_secs(1)));
        assert_eq!(cache.length(&p), Ok(Duration::from_secs(1)));
        wav(3);
        assert_eq!(
            cache.length(&p),
            Ok(Duration::from_secs(3)),
            "new size: probed again"
        );
        std::fs::remove_file(&p).unwrap();
        assert!(
            cache.length(&p).is_err(),
            "a file gone is not served from the cache"
        );
    }
}
