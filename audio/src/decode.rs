//! File decoding to the engine format (stereo f32 at 48 kHz), with seeking.
//!
//! Used by every source that plays files (files, playlists, fallbacks, TTS
//! renders) and by loudness analysis, so a file that plays is also a file
//! that can be measured, and the same errors come out of both.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};
use symphonia::core::units::Time;

use crate::contain::contained;
use crate::probe::{self, ProbeError};
use crate::resample::{to_stereo, Resampler};

/// Consecutive undecodable packets tolerated before the file counts as corrupt.
const MAX_BAD_PACKETS: u32 = 20;

pub(crate) struct FileDecoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    channels: usize,
    source_rate: u32,
    /// Frames the container says the file has (at its own rate), if known.
    n_frames: Option<u64>,
    /// Source frames consumed so far, counting from the file's start.
    source_pos: u64,
    /// Source frames still to drop after an accurate seek.
    skip: u64,
    resampler: Resampler,
    /// Decoded engine-format samples not yet handed out.
    pending: Vec<f32>,
    pending_pos: usize,
    scratch_in: Vec<f32>,
    scratch_stereo: Vec<f32>,
    sample_buf: Option<SampleBuffer<f32>>,
    ended: bool,
    /// An error met after some frames were already handed out; reported on
    /// the next read so those frames still air.
    deferred: Option<ProbeError>,
}

impl FileDecoder {
    /// Opens `path` (a panic of the demultiplexer or decoder on it is its
    /// error, as in [`FileDecoder::read`] and [`FileDecoder::seek`]).
    pub fn open(path: &Path) -> Result<Self, ProbeError> {
        contained(
            || Self::open_inner(path),
            |why| probe::decoder_failed(path, why),
        )
    }

    fn open_inner(path: &Path) -> Result<Self, ProbeError> {
        let opened = probe::open(path)?;
        let decoder = symphonia::default::get_codecs()
            .make(&opened.params, &DecoderOptions::default())
            .map_err(|e| probe::symphonia_error(path, e))?;
        let source_rate = opened.params.sample_rate.unwrap_or(crate::format::RATE);
        let channels = opened
            .params
            .channels
            .map(|c| c.count())
            .unwrap_or(2)
            .max(1);
        Ok(FileDecoder {
            path: path.to_path_buf(),
            format: opened.format,
            decoder,
            track_id: opened.track_id,
            channels,
            source_rate,
            n_frames: opened.params.n_frames,
            source_pos: 0,
            skip: 0,
            resampler: Resampler::new(source_rate),
            pending: Vec::new(),
            pending_pos: 0,
            scratch_in: Vec::new(),
            scratch_stereo: Vec::new(),
            sample_buf: None,
            ended: false,
            deferred: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves to `offset` from the start, exactly to the frame for formats
    /// that allow it (WAV, FLAC; MP3 and AAC to the frame after decoding up
    /// to it).
    pub fn seek(&mut self, offset: Duration) -> Result<(), ProbeError> {
        let path = self.path.clone();
        let mut panicked = false;
        let r = contained(
            || self.seek_inner(offset),
            |why| {
                panicked = true;
                probe::decoder_failed(&path, why)
            },
        );
        if panicked {
            self.broken();
        }
        r
    }

    fn seek_inner(&mut self, offset: Duration) -> Result<(), ProbeError> {
        if offset.is_zero() {
            return Ok(());
        }
        let target = (offset.as_secs_f64() * self.source_rate as f64).round() as u64;
        if let Some(n) = self.n_frames {
            if target >= n {
                self.ended = true;
                return Ok(());
            }
        }
        let time = Time::new(offset.as_secs(), offset.subsec_nanos() as f64 / 1e9);
        match self.format.seek(
            SeekMode::Accurate,
            SeekTo::Time {
                time,
                track_id: Some(self.track_id),
            },
        ) {
            Ok(seeked) => {
                self.decoder.reset();
                let tb = self
                    .format
                    .tracks()
                    .iter()
                    .find(|t| t.id == self.track_id)
                    .and_then(|t| t.codec_params.time_base);
                let to_frames = |ts: u64| match tb {
                    Some(tb) => {
                        let t = tb.calc_time(ts);
                        ((t.seconds as f64 + t.frac) * self.source_rate as f64).round() as u64
                    }
                    None => ts,
                };
                let actual = to_frames(seeked.actual_ts);
                self.source_pos = actual;
                self.skip = target.saturating_sub(actual);
            }
            Err(SymphoniaError::SeekError(_)) | Err(SymphoniaError::Unsupported(_)) => {
                // Not seekable (rare): decode from the start and drop frames.
                self.skip = target;
            }
            Err(e) => return Err(probe::symphonia_error(&self.path, e)),
        }
        self.resampler.reset();
        self.pending.clear();
        self.pending_pos = 0;
        Ok(())
    }

    /// Fills `out` (interleaved stereo) with the next frames; returns the
    /// number of frames written, fewer than asked only at the end of the file.
    /// Errors say why the file cannot go on (truncated, damaged).
    /// A panic inside the decoder ends the file with an error, like a
    /// damaged file (the frames already handed out have aired).
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, ProbeError> {
        let path = self.path.clone();
        let mut panicked = false;
        let r = contained(
            || self.read_inner(out),
            |why| {
                panicked = true;
                probe::decoder_failed(&path, why)
            },
        );
        if panicked {
            self.broken();
        }
        r
    }

    /// After a panic the file is over: the demultiplexer and decoder are
    /// never called again (their state is unknown).
    fn broken(&mut self) {
        self.ended = true;
        self.pending.clear();
        self.pending_pos = 0;
        self.deferred = None;
    }

    fn read_inner(&mut self, out: &mut [f32]) -> Result<usize, ProbeError> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let want = out.len() / 2;
        let mut done = 0;
        while done < want {
            let avail = (self.pending.len() - self.pending_pos) / 2;
            if avail > 0 {
                let n = avail.min(want - done);
                out[done * 2..(done + n) * 2]
                    .copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + n * 2]);
                self.pending_pos += n * 2;
                done += n;
                continue;
            }
            if self.ended {
                break;
            }
            self.pending.clear();
            self.pending_pos = 0;
            if let Err(e) = self.decode_next() {
                if done == 0 {
                    return Err(e);
                }
                self.deferred = Some(e);
                break;
            }
        }
        Ok(done)
    }

    fn decode_next(&mut self) -> Result<(), ProbeError> {
        let mut bad = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return self.finish();
                }
                Err(SymphoniaError::ResetRequired) => return self.finish(),
                Err(e) => return Err(probe::symphonia_error(&self.path, e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymphoniaError::DecodeError(what)) => {
                    bad += 1;
                    if bad > MAX_BAD_PACKETS {
                        return Err(ProbeError::NotAudio {
                            path: self.path.clone(),
                            reason: format!("damaged audio data ({what})"),
                        });
                    }
                    continue;
                }
                Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return self.finish();
                }
                Err(e) => return Err(probe::symphonia_error(&self.path, e)),
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            let needed = decoded.capacity();
            let sb = match &mut self.sample_buf {
                Some(sb) if sb.capacity() >= needed * spec.channels.count() => sb,
                _ => self
                    .sample_buf
                    .insert(SampleBuffer::new(needed as u64, spec)),
            };
            sb.copy_interleaved_ref(decoded);
            let ch = spec.channels.count().max(1);
            self.channels = ch;
            let samples = &sb.samples()[..frames * ch];
            // Gapless: the decoder has already dropped the encoder delay
            // and padding the packet's trim names (symphonia's MP3 and
            // Vorbis decoders trim; the demultiplexers of the others set
            // no trim). Trimming here again cut the first 47 frames of
            // every LAME-encoded MP3 and its last ones.
            let mut slice = samples;
            let n = frames as u64;
            self.source_pos += n;
            if self.skip > 0 {
                let drop = self.skip.min(n) as usize;
                self.skip -= drop as u64;
                slice = &slice[drop * ch..];
            }
            if slice.is_empty() {
                continue;
            }
            self.scratch_in.clear();
            self.scratch_in.extend_from_slice(slice);
            self.scratch_stereo.clear();
            to_stereo(&self.scratch_in, ch, &mut self.scratch_stereo);
            self.resampler
                .process(&self.scratch_stereo, &mut self.pending);
            if !self.pending.is_empty() {
                return Ok(());
            }
        }
    }

    fn finish(&mut self) -> Result<(), ProbeError> {
        self.ended = true;
        self.resampler.flush(&mut self.pending);
        if let Some(n) = self.n_frames {
            // 100 ms of slack: some containers round their frame counts.
            let slack = self.source_rate as u64 / 10;
            if self.source_pos + slack < n {
                let rate = self.source_rate as f64;
                return Err(ProbeError::NotAudio {
                    path: self.path.clone(),
                    reason: format!(
                        "the file ends too early (truncated at {:.1} s of {:.1} s)",
                        self.source_pos as f64 / rate,
                        n as f64 / rate
                    ),
                });
            }
        }
        Ok(())
    }
}
