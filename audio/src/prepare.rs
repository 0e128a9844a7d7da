//! Turning an [`Item`] into a ready [`Source`]: resolving `newest` globs,
//! shuffling, seeking into playlists, rendering TTS, measuring loudness,
//! opening relays and capture devices. Runs off the audio thread, before the
//! item reaches its deck, so that what fails here fails the item without
//! disturbing what is on air.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::deck::DeckConfig;
use crate::decode::FileDecoder;
use crate::format::duration_to_frames;
use crate::item::{Ending, Item, Media, Order, Piece, SourceKind};
use crate::live::LiveSource;
use crate::loudness::Loudness;
use crate::probe::media_length;
use crate::source::{FilesSource, Gain, GenSource, PieceLog, Rendered, Source};
use crate::stream::StreamSource;

/// A source ready to air, and the files that already failed on the way.
pub(crate) struct Prepared {
    pub source: Box<dyn Source>,
    pub failures: Vec<(Piece, String)>,
}

/// Why an item cannot air at all.
pub(crate) struct PrepFailure {
    pub failures: Vec<(Piece, String)>,
    pub reason: String,
}

fn file_piece(p: &Path) -> Piece {
    Piece {
        kind: SourceKind::File,
        source: p.display().to_string(),
    }
}

/// `background`: measure the loudness of later files on a background thread
/// (real-time decks: a long uncached playlist must not delay its start);
/// otherwise measure everything now (virtual decks: deterministic). `now` is
/// the deck's time (the wall clock, or the virtual clock of `loa simulate`
/// and tests): a `newest` file's age is measured against it.
pub(crate) fn prepare(
    item: &Item,
    config: &DeckConfig,
    loudness: &Arc<Loudness>,
    background: bool,
    now: SystemTime,
) -> Result<Prepared, PrepFailure> {
    let gains = Gains {
        loudness,
        target: item.loudness_target.unwrap_or(config.loudness_target),
        background,
    };
    let volume = item.volume.clamp(0.0, 4.0);
    let ready = |source: Box<dyn Source>| Prepared {
        source,
        failures: Vec::new(),
    };
    match &item.media {
        Media::Files { paths, order } => {
            let mut paths = paths.clone();
            if *order == Order::Shuffle {
                fastrand::shuffle(&mut paths);
            }
            files(paths, item.offset, volume, &gains, SourceKind::File, None)
        }
        Media::Newest { pattern, max_age } => {
            let path = newest(pattern, *max_age, now).map_err(|reason| PrepFailure {
                failures: vec![(file_piece(pattern), reason.clone())],
                reason,
            })?;
            files(
                vec![path],
                item.offset,
                volume,
                &gains,
                SourceKind::File,
                None,
            )
        }
        Media::Tts { text, voice } => {
            let piece = Piece {
                kind: SourceKind::Tts,
                source: text.clone(),
            };
            let fail = |reason: String| PrepFailure {
                failures: vec![(piece.clone(), reason.clone())],
                reason,
            };
            let cache = match &config.cache_dir {
                Some(d) => d.clone(),
                None => std::env::temp_dir().join("loa-cache"),
            };
            let wav = crate::tts::render(&config.tts, text, voice, &cache)
                .map_err(|e| fail(e.to_string()))?;
            files(
                vec![wav],
                item.offset,
                volume,
                &gains,
                SourceKind::Tts,
                Some(text.clone()),
            )
            .map_err(|f| fail(f.reason))
        }
        Media::Tone { hz, length } => {
            let mut g = GenSource::tone(*hz, duration_to_frames(*length), volume);
            g.skip(duration_to_frames(item.offset));
            Ok(ready(Box::new(g)))
        }
        Media::Silence(length) => {
            let mut g = GenSource::silence(duration_to_frames(*length));
            g.skip(duration_to_frames(item.offset));
            Ok(ready(Box::new(g)))
        }
        Media::Chime => Ok(ready(Box::new(GenSource::chime(volume)))),
        Media::Stream {
            sources,
            bandwidth,
            fallback,
        } => {
            if sources.is_empty() {
                return Err(PrepFailure {
                    failures: Vec::new(),
                    reason: "the relay names no source".into(),
                });
            }
            let fallback = gains.later(fallback);
            Ok(ready(Box::new(StreamSource::start(
                sources,
                *bandwidth,
                fallback,
                config.silence,
                volume,
            ))))
        }
        Media::Live { input } => {
            let piece = Piece {
                kind: SourceKind::Live,
                source: input.clone(),
            };
            let live = LiveSource::open(input, volume).map_err(|e| PrepFailure {
                failures: vec![(piece, e.to_string())],
                reason: e.to_string(),
            })?;
            Ok(ready(Box::new(live)))
        }
    }
}

/// How files get their loudness gains toward `target`.
struct Gains<'a> {
    loudness: &'a Arc<Loudness>,
    target: Option<f64>,
    /// Later files are measured on a background thread (see [`prepare`]).
    background: bool,
}

impl Gains<'_> {
    /// The gain of a file opened now.
    fn now(&self, path: &Path) -> f32 {
        self.loudness.gain(path, self.target)
    }

    /// The gains of files opened when their turn comes.
    fn later(&self, paths: &[PathBuf]) -> Vec<(PathBuf, Gain)> {
        match self.target {
            None => paths
                .iter()
                .map(|p| (p.clone(), Gain::Fixed(1.0)))
                .collect(),
            Some(t) if self.background => {
                let (l, list) = (self.loudness.clone(), paths.to_vec());
                std::thread::Builder::new()
                    .name("loa-loudness".into())
                    .spawn(move || l.warm(list.iter().map(PathBuf::as_path)))
                    .ok();
                paths
                    .iter()
                    .map(|p| (p.clone(), Gain::Measured(self.loudness.clone(), t)))
                    .collect()
            }
            Some(t) => paths
                .iter()
                .map(|p| (p.clone(), Gain::Fixed(self.loudness.gain(p, Some(t)))))
                .collect(),
        }
    }
}

/// Files played in order from `offset` (which may cross files).
fn files(
    paths: Vec<PathBuf>,
    offset: Duration,
    volume: f32,
    gains: &Gains<'_>,
    kind: SourceKind,
    label: Option<String>,
) -> Result<Prepared, PrepFailure> {
    let mut failures = Vec::new();
    let mut offset = offset;
    let mut start = 0;
    if !offset.is_zero() {
        // Skip whole files that end before the offset; they are not aired.
        while start < paths.len() {
            match media_length(&paths[start]) {
                Ok(len) if offset >= len => {
                    offset -= len;
                    start += 1;
                }
                _ => break,
            }
        }
        if start == paths.len() {
            return Ok(Prepared {
                source: Box::new(Finished),
                failures,
            });
        }
    }
    let piece = |p: &Path| Piece {
        kind,
        source: label.clone().unwrap_or_else(|| p.display().to_string()),
    };
    // The first playable file opens now, so a missing single file fails the
    // item before it can disturb what airs.
    let mut first = None;
    let mut idx = start;
    while idx < paths.len() {
        let p = &paths[idx];
        idx += 1;
        let opened = FileDecoder::open(p).and_then(|mut d| {
            d.seek(offset)?;
            Ok(d)
        });
        offset = Duration::ZERO;
        match opened {
            Ok(d) => {
                first = Some((d, gains.now(p)));
                break;
            }
            Err(e) => {
                tracing::warn!("{e}");
                failures.push((piece(p), e.reason()));
            }
        }
    }
    let Some(first) = first else {
        let reason = failures
            .last()
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| "no files to play".to_string());
        return Err(PrepFailure { failures, reason });
    };
    let rest = gains.later(&paths[idx..]);
    Ok(Prepared {
        source: Box::new(FilesSource::new(Some(first), rest, kind, label, volume)),
        failures,
    })
}

/// The file a `newest:` item plays: the newest matching `pattern`, unless
/// older than `max_age` at `now` (the deck's clock, never read here).
pub(crate) fn newest(
    pattern: &Path,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Result<PathBuf, String> {
    let (path, modified) = loa_core::newest(&pattern.to_string_lossy())?;
    match loa_core::too_old(&path, modified, max_age, now) {
        Some(why) => Err(why),
        None => Ok(path),
    }
}

/// An item joined after its end: nothing to air.
struct Finished;

impl Source for Finished {
    fn render(&mut self, out: &mut [f32], _audible: bool, _log: &mut PieceLog) -> Rendered {
        out.fill(0.0);
        Rendered::Ended {
            frames: 0,
            outcome: Ending::NotAired,
        }
    }
    fn close(&mut self, _outcome: &Ending, _offset: usize, _log: &mut PieceLog) {}
    fn is_empty(&self) -> bool {
        true
    }
}
