//! Media lengths for the schedule model, measured by the audio crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loa_schedules::MediaProbe;

/// The schedule model's `MediaProbe`, backed by loa-audio's decoder probe.
pub struct AudioProbe;

impl MediaProbe for AudioProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        loa_audio::probe::media_length(path).map_err(|e| e.reason())
    }
}

/// A file's length, as the scheduler and the simulated decks ask for it.
pub type Probe = Box<dyn Fn(&Path) -> Result<Duration, String>>;

/// An `AudioProbe` that remembers: a year of schedule asks for the same
/// files often.
pub fn caching_probe() -> Probe {
    let cache: Mutex<HashMap<PathBuf, Result<Duration, String>>> = Mutex::new(HashMap::new());
    Box::new(move |p: &Path| {
        let mut c = cache.lock().expect("probe cache");
        c.entry(p.to_path_buf())
            .or_insert_with(|| AudioProbe.length(p))
            .clone()
    })
}

/// Media lengths that stay known while a file is unchanged (same size and
/// modification time), shared by the loop and the reload task: a reload
/// probes only the files that changed, and off the loop, so a slow disk
/// never delays a program that is about to start.
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

impl MediaProbe for ProbeCache {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let now = stamp(path);
        if let Some(k) = self.known.lock().expect("probe cache").get(path) {
            if k.stamp == now && now.is_some() {
                return k.length.clone();
            }
        }
        // Probed without the lock held: one slow file delays no other.
        let length = AudioProbe.length(path);
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
