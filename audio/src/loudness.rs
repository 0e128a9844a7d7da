//! Loudness normalisation: EBU R128 integrated loudness, measured once per
//! file and cached (keyed by path, size and modification time), turned into
//! a gain toward the station's target (policy.loudness, in LUFS).
//!
//! Measuring decodes the whole file, so it runs while an item is prepared,
//! never on the audio thread; [`Loudness::warm`] lets the daemon measure
//! media ahead of air time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::decode::FileDecoder;
use crate::format::{db_to_gain, CHANNELS, RATE};
use crate::probe::{self, ProbeError};

/// Never raise a file by more than this (a near-silent file stays quiet).
const MAX_BOOST_DB: f64 = 20.0;
const MAX_CUT_DB: f64 = 30.0;
/// Sample peaks stay below this after the gain.
const PEAK_CEILING_DBFS: f64 = -1.0;

/// What a file measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Integrated loudness in LUFS; None for digital silence.
    pub integrated_lufs: Option<f64>,
    /// Highest sample peak in dBFS.
    pub peak_dbfs: f64,
}

impl Measure {
    /// Linear gain that brings this file toward `target` LUFS without
    /// pushing its peaks over -1 dBFS.
    pub fn gain_toward(&self, target: f64) -> f32 {
        let Some(lufs) = self.integrated_lufs else {
            return 1.0;
        };
        let mut db = (target - lufs).clamp(-MAX_CUT_DB, MAX_BOOST_DB);
        if db > 0.0 {
            db = db.min((PEAK_CEILING_DBFS - self.peak_dbfs).max(0.0));
        }
        db_to_gain(db)
    }
}

/// Measures files, remembering results in memory and under the cache directory.
pub struct Loudness {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, Measure>>,
}

impl Loudness {
    /// `cache_dir`: the state cache (paths.state/cache); None keeps results in memory only.
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Loudness {
            dir: cache_dir.map(|d| d.join("loudness")),
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The gain for `path` toward `target` (None: 1.0). A file that cannot
    /// be measured gets 1.0; playing it reports what is wrong.
    pub fn gain(&self, path: &Path, target: Option<f64>) -> f32 {
        match target {
            None => 1.0,
            Some(t) => match self.measure(path) {
                Ok(m) => m.gain_toward(t),
                Err(e) => {
                    tracing::debug!("loudness: {e}");
                    1.0
                }
            },
        }
    }

    /// The gain for `path` if it was already measured (memory only, never
    /// decodes): for the audio thread, which must not wait on an analysis.
    pub fn cached_gain(&self, path: &Path, target: f64) -> Option<f32> {
        let key = cache_key(path).ok()?;
        let m = self.memory.lock().ok()?.get(&key).copied()?;
        Some(m.gain_toward(target))
    }

    /// Measures `path`, or returns the cached measure of the same file
    /// (same path, size and modification time).
    pub fn measure(&self, path: &Path) -> Result<Measure, ProbeError> {
        let key = cache_key(path)?;
        if let Some(m) = self.memory.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(m);
        }
        let file = self.dir.as_ref().map(|d| d.join(format!("{key}.json")));
        if let Some(m) = file.as_deref().and_then(read_cached) {
            self.remember(key, m);
            return Ok(m);
        }
        let m = analyse(path)?;
        if let Some(file) = file {
            let json = serde_json::json!({
                "path": path.display().to_string(),
                "integrated_lufs": m.integrated_lufs,
                "peak_dbfs": m.peak_dbfs,
            });
            // A cache that cannot be written only costs time.
            let tmp = file.with_extension("tmp");
            let written = file
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .and_then(|_| std::fs::write(&tmp, json.to_string()))
                .and_then(|_| std::fs::rename(&tmp, &file));
            if let Err(e) = written {
                tracing::warn!("loudness cache {}: {e}", file.display());
            }
        }
        self.remember(key, m);
        Ok(m)
    }

    /// Measures `paths` now (e.g. after a reload, in a background thread),
    /// so that their first airing does not wait for the analysis.
    pub fn warm<'a>(&self, paths: impl IntoIterator<Item = &'a Path>) {
        for p in paths {
            let _ = self.measure(p);
        }
    }

    fn remember(&self, key: String, m: Measure) {
        if let Ok(mut mem) = self.memory.lock() {
            mem.insert(key, m);
        }
    }
}

fn cache_key(path: &Path) -> Result<String, ProbeError> {
    let meta = std::fs::metadata(path).map_err(|e| probe::io_error(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(path.as_os_str().as_encoded_bytes());
    h.update(meta.len().to_le_bytes());
    h.update(mtime.to_le_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn read_cached(file: &Path) -> Option<Measure> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    Some(Measure {
        integrated_lufs: v.get("integrated_lufs")?.as_f64(),
        peak_dbfs: v.get("peak_dbfs")?.as_f64()?,
    })
}

/// Decodes the whole file through the same decoder that plays it.
fn analyse(path: &Path) -> Result<Measure, ProbeError> {
    let mut dec = FileDecoder::open(path)?;
    let mut meter = ebur128::EbuR128::new(
        CHANNELS as u32,
        RATE,
        ebur128::Mode::I | ebur128::Mode::SAMPLE_PEAK,
    )
    .expect("valid meter parameters");
    let mut buf = vec![0f32; 4096 * CHANNELS];
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let _ = meter.add_frames_f32(&buf[..n * CHANNELS]);
        if n < 4096 {
            break;
        }
    }
    let lufs = meter.loudness_global().ok().filter(|l| l.is_finite());
    let peak = (0..CHANNELS as u32)
        .filter_map(|c| meter.sample_peak(c).ok())
        .fold(0f64, f64::max);
    Ok(Measure {
        integrated_lufs: lufs,
        peak_dbfs: if peak > 0.0 {
            20.0 * peak.log10()
        } else {
            -120.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine_wav(path: &Path, amplitude: f32, secs: u32) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..48_000 * secs {
            let s = (i as f32 * 1000.0 * std::f32::consts::TAU / 48_000.0).sin() * amplitude;
            let v = (s * 32767.0) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn quiet_file_is_raised_toward_target_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let quiet = dir.path().join("quiet.wav");
        // A sine peaking at -26 dBFS: -29 dB RMS per channel, +3 dB for stereo.
        sine_wav(&quiet, 0.05, 3);
        let l = Loudness::new(Some(cache.clone()));
        let m = l.measure(&quiet).unwrap();
        let lufs = m.integrated_lufs.unwrap();
        assert!((lufs - -26.0).abs() < 0.5, "{lufs}");
        let g = l.gain(&quiet, Some(-16.0));
        let db = 20.0 * (g as f64).log10();
        assert!((db - (-16.0 - lufs)).abs() < 0.01, "gain {db} dB");
        // The measure is on disk: a fresh cache finds it without decoding.
        assert_eq!(
            std::fs::read_dir(cache.join("loudness")).unwrap().count(),
            1
        );
        let again = Loudness::new(Some(cache));
        let cached = again.measure(&quiet).unwrap();
        assert!((cached.integrated_lufs.unwrap() - lufs).abs() < 1e-9);
        assert!((cached.peak_dbfs - m.peak_dbfs).abs() < 1e-9);
    }

    #[test]
    fn loud_file_is_not_pushed_into_clipping() {
        let m = Measure {
            integrated_lufs: Some(-30.0),
            peak_dbfs: -3.0,
        };
        // +14 dB wanted, only +2 dB fits under the -1 dBFS ceiling.
        let db = 20.0 * (m.gain_toward(-16.0) as f64).log10();
        assert!((db - 2.0).abs() < 0.01, "{db}");
        let silent = Measure {
            integrated_lufs: None,
            peak_dbfs: -120.0,
        };
        assert_eq!(silent.gain_toward(-16.0), 1.0);
    }
}
