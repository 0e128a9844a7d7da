//! Media lengths for the schedule model, measured by the audio crate.

use std::path::Path;
use std::time::Duration;

/// The schedule model's `MediaProbe`, backed by loa-audio's decoder probe.
pub struct AudioProbe;

impl loa_schedules::MediaProbe for AudioProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        loa_audio::probe::media_length(path).map_err(|e| e.reason())
    }
}
