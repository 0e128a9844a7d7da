//! What a media file is before it airs: its playing length, and the one place
//! where a file is opened and recognised (the decoder builds on [`open`]).
//!
//! The schedule side asks "how long is this file?" to plan windows and the
//! agenda; the answer comes from container headers (frame counts) and only
//! falls back to scanning packets when a format does not record its length
//! (e.g. an MP3 without a Xing/Info header). Nothing is decoded for that.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use symphonia::core::codecs::{CodecParameters, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, ReadBytes};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Why a media file cannot be used. Messages name the file and say what is
/// wrong in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{}: no such file", path.display())]
    Missing { path: PathBuf },
    #[error("{}: cannot be read: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a playable audio file (MP3, OGG/Vorbis, FLAC, WAV, AAC/M4A) or corrupt: {reason}", path.display())]
    NotAudio { path: PathBuf, reason: String },
}

impl ProbeError {
    /// The short reason without the path, for airtime rows that already name the file.
    pub fn reason(&self) -> String {
        match self {
            ProbeError::Missing { .. } => "no such file".to_string(),
            ProbeError::Unreadable { source, .. } => format!("cannot be read: {source}"),
            ProbeError::NotAudio { reason, .. } => {
                format!("not a playable audio file or corrupt: {reason}")
            }
        }
    }
}

/// A recognised media file, positioned at its start.
pub(crate) struct Opened {
    pub format: Box<dyn FormatReader>,
    pub track_id: u32,
    pub params: CodecParameters,
}

/// Opens `path`, recognises its container and picks its first audio track;
/// checks that a decoder exists for the codec, so that "not audio" is
/// reported here rather than mid-air.
pub(crate) fn open(path: &Path) -> Result<Opened, ProbeError> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if meta.is_dir() {
        return Err(ProbeError::NotAudio {
            path: path.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    // Lengths the headers claim that the file cannot hold would make the
    // reader allocate them (crate::claims): refused before it is read.
    let mut head = [0u8; 16];
    let n = io::Read::read(&mut file, &mut head).map_err(|e| io_error(path, e))?;
    crate::claims::check(&mut file, meta.len(), &head[..n]).map_err(|reason| {
        ProbeError::NotAudio {
            path: path.to_path_buf(),
            reason,
        }
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_opts = FormatOptions {
        // Gapless trims encoder delay and padding so playlists join seamlessly
        // and lengths are exact.
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| symphonia_error(path, e))?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .ok_or_else(|| ProbeError::NotAudio {
            path: path.to_path_buf(),
            reason: "no audio track".into(),
        })?;
    let params = track.codec_params.clone();
    let track_id = track.id;
    symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| symphonia_error(path, e))?;
    Ok(Opened {
        format,
        track_id,
        params,
    })
}

/// The playing length of an audio file (MP3, OGG/Vorbis, FLAC, WAV, AAC/M4A).
/// A file that makes the demultiplexer panic is `NotAudio`, like any other
/// damaged file.
pub fn media_length(path: &Path) -> Result<Duration, ProbeError> {
    crate::contain::contained(|| length(path), |why| decoder_failed(path, why))
}

/// The error for a file whose demultiplexer or decoder panicked.
pub(crate) fn decoder_failed(path: &Path, why: String) -> ProbeError {
    ProbeError::NotAudio {
        path: path.to_path_buf(),
        reason: format!("damaged audio data: the decoder failed on it ({why})"),
    }
}

fn length(path: &Path) -> Result<Duration, ProbeError> {
    let mut opened = open(path)?;
    let rate = opened.params.sample_rate.unwrap_or(0) as u64;
    if rate == 0 {
        return Err(ProbeError::NotAudio {
            path: path.to_path_buf(),
            reason: "no sample rate".into(),
        });
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
    let frames = match opened.params.n_frames {
        // A header that claims more than a second of audio per byte of
        // file (no codec compresses even silence that far) is damaged or
        // forged (the fuzzer's MP3 finding claimed 26 million years in 249
        // bytes): the packets are counted instead. (PCM is bounded exactly
        // below.)
        Some(n) if n / rate > bytes && !is_pcm(opened.params.codec) => {
            scan_frames(path, &mut opened)?
        }
        // A header that claims more audio than the file holds (a recording
        // cut short, or a forged header) is not believed.
        Some(n) => n.min(most_frames(path, opened)),
        None => scan_frames(path, &mut opened)?,
    };
    Ok(frames_to_duration(frames, rate))
}

/// The most frames the bytes after the header can hold, for PCM (WAV,
/// AIFF: a fixed number of bits per sample); unbounded for other codecs.
fn most_frames(path: &Path, opened: Opened) -> u64 {
    let params = &opened.params;
    let bits = params.bits_per_coded_sample.or(params.bits_per_sample);
    let channels = params.channels.map(|c| c.count() as u64);
    let (Some(bits), Some(channels), Ok(meta)) = (bits, channels, std::fs::metadata(path)) else {
        return u64::MAX;
    };
    if bits == 0 || channels == 0 || !is_pcm(params.codec) {
        return u64::MAX;
    }
    // After probing, the reader stands at the start of the audio data.
    let data_at = opened.format.into_inner().pos();
    meta.len().saturating_sub(data_at).saturating_mul(8) / (bits as u64 * channels)
}

fn is_pcm(codec: symphonia::core::codecs::CodecType) -> bool {
    use symphonia::core::codecs::*;
    [
        CODEC_TYPE_PCM_S8,
        CODEC_TYPE_PCM_U8,
        CODEC_TYPE_PCM_S16LE,
        CODEC_TYPE_PCM_S16BE,
        CODEC_TYPE_PCM_U16LE,
        CODEC_TYPE_PCM_U16BE,
        CODEC_TYPE_PCM_S24LE,
        CODEC_TYPE_PCM_S24BE,
        CODEC_TYPE_PCM_U24LE,
        CODEC_TYPE_PCM_U24BE,
        CODEC_TYPE_PCM_S32LE,
        CODEC_TYPE_PCM_S32BE,
        CODEC_TYPE_PCM_U32LE,
        CODEC_TYPE_PCM_U32BE,
        CODEC_TYPE_PCM_F32LE,
        CODEC_TYPE_PCM_F32BE,
        CODEC_TYPE_PCM_F64LE,
        CODEC_TYPE_PCM_F64BE,
        CODEC_TYPE_PCM_ALAW,
        CODEC_TYPE_PCM_MULAW,
    ]
    .contains(&codec)
}

/// Counts frames by reading packets (demuxing only, no decoding).
fn scan_frames(path: &Path, opened: &mut Opened) -> Result<u64, ProbeError> {
    let mut frames = 0u64;
    loop {
        match opened.format.next_packet() {
            Ok(p) if p.track_id() == opened.track_id => frames = frames.saturating_add(p.dur),
            Ok(_) => {}
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(symphonia_error(path, e)),
        }
    }
    // Packet durations are in the track's time base; convert to frames.
    if let (Some(tb), Some(rate)) = (opened.params.time_base, opened.params.sample_rate) {
        let t = tb.calc_time(frames);
        let secs = t.seconds as f64 + t.frac;
        return Ok((secs * rate as f64).round() as u64);
    }
    Ok(frames)
}

pub(crate) fn frames_to_duration(frames: u64, rate: u64) -> Duration {
    let secs = frames / rate;
    let rem = frames % rate;
    Duration::new(secs, (rem * 1_000_000_000 / rate) as u32)
}

/// Maps an I/O error on `path` to a missing or unreadable file.
pub(crate) fn io_error(path: &Path, e: io::Error) -> ProbeError {
    if e.kind() == io::ErrorKind::NotFound {
        ProbeError::Missing {
            path: path.to_path_buf(),
        }
    } else {
        ProbeError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Maps a demuxer/decoder error to what it means for the operator.
pub(crate) fn symphonia_error(path: &Path, e: SymphoniaError) -> ProbeError {
    let reason = match e {
        SymphoniaError::IoError(ref io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "the file ends too early (truncated)".to_string()
        }
        SymphoniaError::IoError(io) => {
            return ProbeError::Unreadable {
                path: path.to_path_buf(),
                source: io,
            }
        }
        SymphoniaError::Unsupported(what) => format!("unsupported format or codec ({what})"),
        SymphoniaError::DecodeError(what) => format!("damaged audio data ({what})"),
        other => other.to_string(),
    };
    ProbeError::NotAudio {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, frames: u32) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * channels as u32 {
            w.write_sample(((i % 200) as i16 - 100) * 100).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn wav_length_comes_from_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ban-tin.wav");
        // 2.5 s of 44.1 kHz stereo.
        write_wav(&p, 44_100, 2, 110_250);
        assert_eq!(media_length(&p).unwrap(), Duration::from_millis(2500));
        let m = dir.path().join("mono.wav");
        write_wav(&m, 48_000, 1, 48_000 * 3 + 24_000);
        assert_eq!(media_length(&m).unwrap(), Duration::from_millis(3500));
    }

    /// A WAV header that claims a gigabyte of audio over a tenth of a
    /// second of it: the length is what the file holds, not 6 h.
    #[test]
    fn a_header_claiming_more_than_the_file_holds_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("forged.wav");
        // 24 kHz mono 16-bit: 48,000 bytes a second; 4,800 bytes of audio.
        let (rate, block) = (24_000u32, 2u16);
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(36u32 + (1 << 30)).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&rate.to_le_bytes());
        wav.extend_from_slice(&(rate * block as u32).to_le_bytes());
        wav.extend_from_slice(&block.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(1u32 << 30).to_le_bytes());
        wav.extend(std::iter::repeat_n(0u8, 4800));
        std::fs::write(&p, &wav).unwrap();
        assert_eq!(media_length(&p).unwrap(), Duration::from_millis(100));
        // Only the header: no audio at all.
        std::fs::write(&p, &wav[..44]).unwrap();
        assert_eq!(media_length(&p).unwrap(), Duration::ZERO);
    }

    /// An MP3 whose Info header claims 4 billion frames (5 years) in 1.4 KB:
    /// its length is what its packets hold.
    #[test]
    fn a_frame_count_the_bytes_cannot_hold_is_not_believed() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut mp3 = std::fs::read(fixtures.join("tiny.mp3")).unwrap();
        let truth = media_length(&fixtures.join("tiny.mp3")).unwrap();
        assert!(truth > Duration::from_millis(200) && truth < Duration::from_millis(400));
        let info = mp3.windows(4).position(|w| w == b"Info").unwrap();
        mp3[info + 8..info + 12].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("forged.mp3");
        std::fs::write(&p, &mp3).unwrap();
        let d = media_length(&p).unwrap();
        assert!(d < Duration::from_secs(1), "{d:?}");
    }

    #[test]
    fn missing_file_is_named_as_missing() {
        let err = media_length(Path::new("/nonexistent/nhac-hieu.mp3")).unwrap_err();
        assert!(matches!(err, ProbeError::Missing { .. }));
        assert_eq!(err.to_string(), "/nonexistent/nhac-hieu.mp3: no such file");
    }

    #[test]
    fn text_file_is_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.mp3");
        std::fs::write(
            &p,
            "this is not an mp3, just some text the operator renamed\n".repeat(50),
        )
        .unwrap();
        let err = media_length(&p).unwrap_err();
        assert!(matches!(err, ProbeError::NotAudio { .. }), "{err}");
        assert!(err.to_string().contains("notes.mp3"), "{err}");
        let d = media_length(dir.path()).unwrap_err();
        assert!(matches!(d, ProbeError::NotAudio { .. }), "{d}");
    }
}
