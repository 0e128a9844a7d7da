//! Fixtures for the engine's tests: position-coded WAV files whose every
//! frame says which file it came from and where, so a test can read the
//! output WAV and tell exactly what aired on each sample; sine WAVs; waiting
//! for a real-time deck's events; a live HLS origin (`hls_origin`) and the
//! timeline that tells which tone aired when.
#![allow(
    dead_code,
    reason = "each test binary and bench that includes this module uses part of it"
)]

pub mod hls_origin;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loa_audio::{Deck, DeckConfig, DeckEvent, OutputSpec, VirtualDeck};

pub const RATE: u64 = 48_000;
const SPAN: i64 = 30_000;

/// A 48 kHz stereo WAV of `frames` frames: left = position mod 30000,
/// right = tag * 100 + position / 30000.
pub fn coded_wav(path: &Path, tag: i16, frames: u64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames as i64 {
        w.write_sample((i % SPAN) as i16).unwrap();
        w.write_sample(tag * 100 + (i / SPAN) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// A 48 kHz stereo WAV of `frames` frames of a sine at `hz`, peaking at
/// `amplitude` (in 16-bit units).
pub fn sine_wav(path: &Path, hz: f32, amplitude: f32, frames: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        let s = ((i as f32 * hz * std::f32::consts::TAU / 48_000.0).sin() * amplitude) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// (tag, position) of an output frame made of exactly one coded file frame.
pub fn decode(frame: (i16, i16)) -> Option<(i16, u64)> {
    let (l, r) = frame;
    if r < 100 || l < 0 {
        return None;
    }
    Some((r / 100, ((r % 100) as i64 * SPAN + l as i64) as u64))
}

pub fn read_wav(path: &Path) -> Vec<(i16, i16)> {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().sample_rate, 48_000);
    assert_eq!(r.spec().channels, 2);
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    s.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

/// A fixed epoch, so event times are exact.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

pub fn at(frames: u64) -> SystemTime {
    epoch() + loa_audio::format::frames_to_duration(frames)
}

pub fn wav_deck(dir: &Path, config: DeckConfig) -> (VirtualDeck, PathBuf) {
    let out = dir.join("out.wav");
    let deck = VirtualDeck::open(&OutputSpec::Wav(out.clone()), config, epoch()).unwrap();
    (deck, out)
}

pub fn drain(deck: &VirtualDeck) -> Vec<DeckEvent> {
    deck.events().try_iter().collect()
}

/// Index of the first output frame from `from` on that is `(tag, pos)`.
pub fn find(frames: &[(i16, i16)], from: usize, tag: i16, pos: u64) -> Option<usize> {
    (from..frames.len()).find(|&i| decode(frames[i]) == Some((tag, pos)))
}

/// Asserts output frames [start, start+len) are file `tag` from `pos` on.
pub fn assert_run(frames: &[(i16, i16)], start: usize, len: usize, tag: i16, pos: u64) {
    for k in 0..len {
        assert_eq!(
            decode(frames[start + k]),
            Some((tag, pos + k as u64)),
            "output frame {} should be file {tag} frame {}",
            start + k,
            pos + k as u64
        );
    }
}

/// How long a test waits for something that takes `usual` on an idle
/// machine: a bound on waiting that fails a test only when the thing never
/// happens, never a figure (the benches print those). CI runs every test
/// binary at once on two cores: the usual time doubled, plus 30 s.
pub fn patience(usual: Duration) -> Duration {
    usual * 2 + Duration::from_secs(30)
}

/// The first event of a real-time deck that `f` accepts, expected within
/// `usual` (waiting up to [`patience`] for it).
pub fn wait_for(
    deck: &Deck,
    what: &str,
    usual: Duration,
    mut f: impl FnMut(&DeckEvent) -> bool,
) -> DeckEvent {
    let limit = patience(usual);
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(e) = deck.events().recv_timeout(Duration::from_millis(50)) {
            if f(&e) {
                return e;
            }
        }
    }
    panic!("no {what} within {limit:?}");
}

/// Output frames in a timeline window: 20 ms.
pub const WINDOW: usize = 960;

/// Samples below this (about -58 dBFS) are silence to [`tone_timeline`].
const SILENT: i16 = 40;

/// One letter per 20 ms window of an output WAV: the letter of the tone of
/// `tones` (letter, Hz) it carries, 'F' the position-coded file tagged
/// `fallback_tag` (see [`coded_wav`]), '.' silence, '?' anything else (a
/// fade, a seam, a crossfade, another sound).
pub fn tone_timeline(frames: &[(i16, i16)], tones: &[(char, f32)], fallback_tag: i16) -> String {
    frames
        .chunks(WINDOW)
        .map(|w| {
            if w.iter()
                .filter(|f| matches!(decode(**f), Some((t, _)) if t == fallback_tag))
                .count()
                > WINDOW * 15 / 16
            {
                return 'F';
            }
            if w.iter().all(|f| f.0.abs() < SILENT) {
                return '.';
            }
            // Crossings of the band around zero that counts as silence: the
            // sign of samples within it is noise (an encoder's priming, a
            // fade's tail), not the tone.
            let (mut crossings, mut sign) = (0.0f32, None);
            for f in w.iter().filter(|f| f.0.abs() >= SILENT) {
                let negative = f.0 < 0;
                if sign.is_some_and(|s| s != negative) {
                    crossings += 1.0;
                }
                sign = Some(negative);
            }
            // Two crossings a cycle; a window is 1/50 s.
            tones
                .iter()
                .find(|(_, hz)| (crossings - hz / 25.0).abs() <= 2.0)
                .map_or('?', |(c, _)| *c)
        })
        .collect()
}
