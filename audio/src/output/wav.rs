//! `wav:PATH`: a 48 kHz stereo 16-bit WAV written continuously, silence
//! included, with its header rewritten every second so that the file is
//! always readable; `PATH.json` gives the wall time of sample 0 (SPEC 7a).

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Clock, Output, OutputError, Pacer};
use crate::format::{CHANNELS, RATE};
use crate::item::{DeckEvent, EventSink};

const HEADER_LEN: u64 = 44;

pub(crate) struct WavOutput {
    path: PathBuf,
    file: BufWriter<File>,
    pacer: Pacer,
    started_at: SystemTime,
    data_bytes: u64,
    frames_since_header: u64,
    bytes: Vec<u8>,
    events: EventSink,
    failing: bool,
}

impl WavOutput {
    pub fn create(path: &Path, clock: Clock, events: EventSink) -> Result<Self, OutputError> {
        let err = |source| OutputError::Wav {
            path: path.to_path_buf(),
            source,
        };
        let started_at = match clock {
            Clock::Real => SystemTime::now(),
            Clock::Virtual { epoch } => epoch,
        };
        let mut file = BufWriter::new(File::create(path).map_err(err)?);
        file.write_all(&header(0)).map_err(err)?;
        file.flush().map_err(err)?;
        let stamp = chrono::DateTime::<chrono::Utc>::from(started_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let meta = serde_json::json!({"started_at": stamp, "rate": RATE, "channels": CHANNELS});
        let mut json_path = path.as_os_str().to_owned();
        json_path.push(".json");
        std::fs::write(&json_path, format!("{meta}\n")).map_err(err)?;
        Ok(WavOutput {
            path: path.to_path_buf(),
            file,
            pacer: Pacer::new(clock),
            started_at,
            data_bytes: 0,
            frames_since_header: 0,
            bytes: Vec::new(),
            events,
            failing: false,
        })
    }

    fn append(&mut self, block: &[f32]) -> io::Result<()> {
        self.bytes.clear();
        for &s in block {
            // ×32768 inverts the decoders' ÷32768, so 16-bit material passes bit-exact.
            let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.write_all(&self.bytes)?;
        self.data_bytes += self.bytes.len() as u64;
        self.frames_since_header += (block.len() / CHANNELS) as u64;
        if self.frames_since_header >= RATE as u64 {
            self.frames_since_header = 0;
            self.rewrite_header()?;
        }
        Ok(())
    }

    fn rewrite_header(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut();
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&header(self.data_bytes))?;
        f.seek(SeekFrom::Start(HEADER_LEN + self.data_bytes))?;
        Ok(())
    }
}

impl Output for WavOutput {
    fn write(&mut self, block: &[f32]) {
        match self.append(block) {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("output wav:{}: writing again", self.path.display());
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                // Once per failure, not per block.
                self.failing = true;
                tracing::error!("output wav:{}: cannot write: {e}", self.path.display());
                let at = crate::format::frame_time(self.started_at, self.pacer.frames());
                self.events.send(DeckEvent::OutputFailed {
                    reason: format!("cannot write {}: {e}", self.path.display()),
                    at,
                });
            }
            Err(_) => {}
        }
        self.pacer.pace(block.len() / CHANNELS);
    }
    fn started_at(&self) -> SystemTime {
        self.started_at
    }
    fn played_frames(&self) -> u64 {
        self.pacer.frames()
    }
    fn finish(&mut self) {
        let _ = self.rewrite_header().and_then(|_| self.file.flush());
    }
    /// The file keeps its timeline (sample n is at `started_at + n / RATE`):
    /// the silence that went by is written when the deck says so, at most
    /// a second at a time, instead of block by block.
    fn suspend(&mut self) -> bool {
        true
    }
    fn skip(&mut self, frames: u64) {
        let zeros = [0.0f32; 1024 * CHANNELS];
        let mut left = frames;
        while left > 0 {
            let n = left.min(1024);
            if self.append(&zeros[..n as usize * CHANNELS]).is_err() {
                // Reported by the next write; the timeline goes on.
                break;
            }
            left -= n;
        }
        self.pacer.skip(frames);
    }
}

impl Drop for WavOutput {
    fn drop(&mut self) {
        self.finish();
    }
}

fn header(data_bytes: u64) -> [u8; HEADER_LEN as usize] {
    let data = data_bytes.min(u32::MAX as u64 - 36) as u32;
    let block_align = (CHANNELS * 2) as u16;
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&(CHANNELS as u16).to_le_bytes());
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(RATE * block_align as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}
