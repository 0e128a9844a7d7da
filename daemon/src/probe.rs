//! Media lengths for the schedule model, measured by the audio crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
