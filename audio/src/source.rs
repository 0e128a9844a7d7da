//! Sources: what fills a deck's buffer for one item (files and playlists,
//! generated sounds; relays, TTS and live input live in their own modules).
//!
//! A source renders engine-format frames on the audio thread and notes where
//! its pieces (airtime rows) start and end, with sample-exact aired counts.
//! Fades are not a source's business: the deck applies them.

use std::collections::VecDeque;
use std::f32::consts::TAU;
use std::path::PathBuf;

use std::sync::Arc;

use crate::decode::FileDecoder;
use crate::format::RATE;
use crate::item::{Ending, Piece, SourceKind};
use crate::loudness::Loudness;

/// What a source notes during one render call; offsets are frames into the
/// buffer it was given.
#[derive(Debug)]
pub(crate) enum Note {
    Started(Piece),
    Ended {
        piece: Piece,
        outcome: Ending,
        aired_frames: u64,
    },
}

#[derive(Default)]
pub(crate) struct PieceLog {
    pub notes: Vec<(usize, Note)>,
}

/// Result of one render call.
#[derive(Debug, PartialEq)]
pub(crate) enum Rendered {
    /// The whole buffer was filled; more follows.
    More,
    /// The source ended after `frames` frames (the rest of the buffer is silence).
    Ended { frames: usize, outcome: Ending },
}

pub(crate) trait Source: Send {
    /// Fills interleaved stereo `out`. `audible` is false while a held relay
    /// or live input runs muted: its pieces do not count that time as aired.
    fn render(&mut self, out: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered;
    /// Relays and live inputs keep running while held (and rejoin live);
    /// everything else pauses.
    fn runs_while_held(&self) -> bool {
        false
    }
    /// The deck ends the item: close the open piece with `outcome`.
    fn close(&mut self, outcome: &Ending, offset: usize, log: &mut PieceLog);
    /// Nothing to air at all (joined after its end): the deck drops it
    /// without disturbing what airs.
    fn is_empty(&self) -> bool {
        false
    }
}

/// Follows the open piece of a source: when it first sounded and for how long.
#[derive(Default)]
pub(crate) struct Tracker {
    open: Option<(Piece, u64, bool)>,
}

impl Tracker {
    pub fn begin(&mut self, piece: Piece) {
        self.open = Some((piece, 0, false));
    }

    /// The open piece has sounded.
    pub fn started(&self) -> bool {
        matches!(self.open, Some((_, _, true)))
    }

    /// `frames` frames from `offset` were rendered.
    pub fn sounded(&mut self, offset: usize, frames: usize, audible: bool, log: &mut PieceLog) {
        if let Some((piece, aired, started)) = &mut self.open {
            if audible && frames > 0 {
                if !*started {
                    *started = true;
                    log.notes.push((offset, Note::Started(piece.clone())));
                }
                *aired += frames as u64;
            }
        }
    }

    /// Ends the open piece. A piece that never sounded leaves no row unless it
    /// failed (the operator must see the failure).
    pub fn end(&mut self, outcome: Ending, offset: usize, log: &mut PieceLog) {
        if let Some((piece, aired, started)) = self.open.take() {
            let failed = matches!(outcome, Ending::Failed(_));
            if !started && failed {
                log.notes.push((offset, Note::Started(piece.clone())));
            }
            if started || failed {
                log.notes.push((
                    offset,
                    Note::Ended {
                        piece,
                        outcome,
                        aired_frames: aired,
                    },
                ));
            }
        }
    }
}

pub(crate) fn scale(buf: &mut [f32], gain: f32) {
    if gain != 1.0 {
        for s in buf {
            *s *= gain;
        }
    }
}

/// The loudness gain of a file not opened yet.
#[derive(Clone)]
pub(crate) enum Gain {
    Fixed(f32),
    /// Looked up when the file's turn comes; measured meanwhile by a
    /// background thread (1.0 if that has not finished: never wait).
    Measured(Arc<Loudness>, f64),
}

impl Gain {
    fn resolve(&self, path: &std::path::Path) -> f32 {
        match self {
            Gain::Fixed(g) => *g,
            Gain::Measured(l, target) => l.cached_gain(path, *target).unwrap_or_else(|| {
                tracing::warn!(
                    "loudness of {} not measured in time; playing unnormalised",
                    path.display()
                );
                1.0
            }),
        }
    }
}

/// A file or a playlist (also fallbacks and TTS renders), played gaplessly.
pub(crate) struct FilesSource {
    queue: VecDeque<(PathBuf, Gain)>,
    /// Fallback playlists start over when they run out.
    repeat: Option<Vec<(PathBuf, Gain)>>,
    current: Option<(FileDecoder, f32)>,
    tracker: Tracker,
    kind: SourceKind,
    /// Row text instead of the path (the TTS text).
    label: Option<String>,
    volume: f32,
    completed_any: bool,
    last_failure: Option<String>,
}

impl FilesSource {
    /// `first`: the first file, already opened (and sought), with its gain;
    /// `rest`: files opened when their turn comes, with their gains.
    pub fn new(
        first: Option<(FileDecoder, f32)>,
        rest: Vec<(PathBuf, Gain)>,
        kind: SourceKind,
        label: Option<String>,
        volume: f32,
    ) -> Self {
        let mut tracker = Tracker::default();
        if let Some((dec, _)) = &first {
            tracker.begin(Piece {
                kind,
                source: label
                    .clone()
                    .unwrap_or_else(|| dec.path().display().to_string()),
            });
        }
        FilesSource {
            queue: rest.into(),
            repeat: None,
            current: first,
            tracker,
            kind,
            label,
            volume,
            completed_any: false,
            last_failure: None,
        }
    }

    /// Loops over `files` forever (fallback while a relay is down).
    pub fn looping(files: Vec<(PathBuf, Gain)>, volume: f32) -> Self {
        let mut s = FilesSource::new(None, files.clone(), SourceKind::File, None, volume);
        s.repeat = Some(files);
        s
    }

    fn piece(&self, path: &std::path::Path) -> Piece {
        Piece {
            kind: self.kind,
            source: self
                .label
                .clone()
                .unwrap_or_else(|| path.display().to_string()),
        }
    }

    fn final_outcome(&self) -> Ending {
        match (&self.last_failure, self.completed_any) {
            (Some(reason), false) => Ending::Failed(reason.clone()),
            _ => Ending::Completed,
        }
    }
}

impl Source for FilesSource {
    fn render(&mut self, out: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered {
        let want = out.len() / 2;
        let mut done = 0;
        // Every file of a looping fallback failing must not spin forever.
        let mut failures_in_call = 0;
        while done < want {
            if self.current.is_none() {
                if self.queue.is_empty() {
                    if let Some(files) = &self.repeat {
                        if failures_in_call >= files.len().max(1) {
                            out[done * 2..].fill(0.0);
                            return Rendered::More;
                        }
                        self.queue.extend(files.iter().cloned());
                    }
                }
                let Some((path, gain)) = self.queue.pop_front() else {
                    out[done * 2..].fill(0.0);
                    return Rendered::Ended {
                        frames: done,
                        outcome: self.final_outcome(),
                    };
                };
                self.tracker.begin(self.piece(&path));
                match FileDecoder::open(&path) {
                    Ok(dec) => self.current = Some((dec, gain.resolve(&path))),
                    Err(e) => {
                        tracing::warn!("{e}");
                        self.last_failure = Some(e.reason());
                        self.tracker.end(Ending::Failed(e.reason()), done, log);
                        failures_in_call += 1;
                        continue;
                    }
                }
            }
            let (dec, gain) = self.current.as_mut().expect("a file is open");
            let gain = *gain * self.volume;
            match dec.read(&mut out[done * 2..]) {
                Ok(0) => {
                    self.tracker.end(Ending::Completed, done, log);
                    self.completed_any = true;
                    self.current = None;
                }
                Ok(n) => {
                    scale(&mut out[done * 2..(done + n) * 2], gain);
                    self.tracker.sounded(done, n, audible, log);
                    done += n;
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    self.last_failure = Some(e.reason());
                    self.tracker.end(Ending::Failed(e.reason()), done, log);
                    self.current = None;
                    failures_in_call += 1;
                }
            }
        }
        Rendered::More
    }

    fn close(&mut self, outcome: &Ending, offset: usize, log: &mut PieceLog) {
        self.tracker.end(outcome.clone(), offset, log);
        self.current = None;
        self.queue.clear();
    }
}

/// Tone, silence and the chime: sounds made on the spot.
pub(crate) struct GenSource {
    sound: Generated,
    remaining: u64,
    pos: u64,
    tracker: Tracker,
    volume: f32,
}

pub(crate) enum Generated {
    Tone { hz: f32 },
    Silence,
    Samples(Vec<f32>),
}

impl GenSource {
    pub fn tone(hz: f32, frames: u64, volume: f32) -> Self {
        Self::new(
            Generated::Tone { hz },
            frames,
            SourceKind::Tone,
            format!("{hz} Hz"),
            volume,
        )
    }

    pub fn silence(frames: u64) -> Self {
        let secs = frames as f64 / RATE as f64;
        Self::new(
            Generated::Silence,
            frames,
            SourceKind::Silence,
            format!("{secs} s"),
            1.0,
        )
    }

    pub fn chime(volume: f32) -> Self {
        let samples = chime_samples();
        let frames = (samples.len() / 2) as u64;
        Self::new(
            Generated::Samples(samples),
            frames,
            SourceKind::Chime,
            "builtin".into(),
            volume,
        )
    }

    fn new(sound: Generated, frames: u64, kind: SourceKind, source: String, volume: f32) -> Self {
        let mut tracker = Tracker::default();
        tracker.begin(Piece { kind, source });
        GenSource {
            sound,
            remaining: frames,
            pos: 0,
            tracker,
            volume,
        }
    }

    /// Starts `frames` into the sound (joining late).
    pub fn skip(&mut self, frames: u64) {
        let n = frames.min(self.remaining);
        self.pos += n;
        self.remaining -= n;
    }
}

impl Source for GenSource {
    fn render(&mut self, out: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered {
        let want = out.len() / 2;
        let n = (want as u64).min(self.remaining) as usize;
        for i in 0..n {
            let t = self.pos + i as u64;
            let (l, r) = match &self.sound {
                Generated::Tone { hz } => {
                    // Phase from the frame index: exact after any pause.
                    let phase = (t as f64 * *hz as f64 / RATE as f64).fract() as f32;
                    let s = (phase * TAU).sin() * 0.5;
                    (s, s)
                }
                Generated::Silence => (0.0, 0.0),
                Generated::Samples(v) => (v[t as usize * 2], v[t as usize * 2 + 1]),
            };
            out[i * 2] = l * self.volume;
            out[i * 2 + 1] = r * self.volume;
        }
        self.tracker.sounded(0, n, audible, log);
        self.pos += n as u64;
        self.remaining -= n as u64;
        if n < want {
            out[n * 2..].fill(0.0);
            self.tracker.end(Ending::Completed, n, log);
            return Rendered::Ended {
                frames: n,
                outcome: Ending::Completed,
            };
        }
        Rendered::More
    }

    fn close(&mut self, outcome: &Ending, offset: usize, log: &mut PieceLog) {
        self.tracker.end(outcome.clone(), offset, log);
    }
}

/// The built-in attention chime: a soft "ding-dong" (E5 then C5, a major
/// third down, bell-like partials, gentle decay), about 1.6 s, peak -6 dBFS.
fn chime_samples() -> Vec<f32> {
    let total = (RATE as f32 * crate::BUILTIN_CHIME.as_secs_f32()) as usize;
    let mut mono = vec![0f32; total];
    for (start_s, hz) in [(0.0f32, 659.25f32), (0.45, 523.25)] {
        let start = (start_s * RATE as f32) as usize;
        for (i, s) in mono[start..].iter_mut().enumerate() {
            let t = i as f32 / RATE as f32;
            let attack = (t / 0.005).min(1.0);
            let env = attack * (-t / 0.35).exp();
            let v = (TAU * hz * t).sin()
                + 0.35 * (TAU * 2.0 * hz * t).sin() * (-t / 0.15).exp()
                + 0.12 * (TAU * 3.0 * hz * t).sin() * (-t / 0.08).exp();
            *s += v * env;
        }
    }
    let peak = mono.iter().fold(0f32, |m, s| m.max(s.abs())).max(1e-6);
    // Fade the tail so the chime ends on silence, not a click.
    let tail = (RATE as f32 * 0.1) as usize;
    for i in 0..tail {
        mono[total - tail + i] *= 1.0 - i as f32 / tail as f32;
    }
    mono.iter().flat_map(|s| [s / peak * 0.5; 2]).collect()
}
