//! Stream relays: Icecast/Shoutcast streams (MP3, AAC, OGG; .m3u and .pls
//! resolved) and HLS (master and media playlists; TS, fMP4 and packed audio;
//! AES-128), relayed to the output, with several sources per relay.
//!
//! Each source has its own thread (`feed`) that downloads, demultiplexes and
//! decodes into a 10 s ring of engine-format audio; the audio thread only
//! reads rings, so it never waits on the network. The first source is
//! wanted from the start (it connects while the item is prepared, ahead of
//! its start); when the source on air dies (its ring runs dry) or falls
//! silent, the item's fallback files play and the next source is started;
//! a source that fails keeps retrying in the background, and the relay
//! returns to the first source with audio, in list order. A source that is
//! dead from the start is treated exactly like one that dies mid-way. Only
//! relayed audio counts as a source's airtime; each source that aired has
//! its own row, and a source that was tried and never aired a failed one.

mod continuous;
mod feed;
mod hls;
mod http;
pub mod player;
pub mod probe;
mod segment;

pub use player::{Player, PlayerState, PlayerStatus};
pub use probe::{probe, SourceFormat, SourceReport};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::format::{duration_to_frames, CHANNELS, RATE};
use crate::item::{Ending, Piece, SourceKind};
use crate::ring;
use crate::source::{scale, FilesSource, Gain, Note, PieceLog, Rendered, Source, Tracker};
use feed::{Ended, FeedShared, Sink};

/// When a relay counts as dead although bytes arrive (policy.silence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SilencePolicy {
    /// Level (RMS, dBFS) under which audio counts as silence.
    pub below_dbfs: f32,
    /// How long it must stay under before the fallback plays.
    pub duration: Duration,
}

impl Default for SilencePolicy {
    fn default() -> Self {
        SilencePolicy {
            below_dbfs: -50.0,
            duration: Duration::from_secs(10),
        }
    }
}

const RING_SECONDS: usize = 10;
/// A continuous stream with more than this buffered skips ahead to stay near live.
const MAX_LAG: Duration = Duration::from_secs(2);
/// Loud audio needed before a source airs (again) after silence or death.
const LOUD_TO_REJOIN: Duration = Duration::from_millis(500);
/// Level measurement window.
const WINDOW: u64 = RATE as u64 / 10;
/// How often a waiting source's buffered audio is checked (in 5 ms blocks).
const READY_CHECK_BLOCKS: u32 = 20;
/// A relay joined at once (not handed over ahead of its start) gives its
/// first source this long to answer before the fallback airs, unless it
/// has already failed: a moment of silence, not a blip of music.
const START_GRACE: Duration = Duration::from_millis(1500);

/// Loudness over 100 ms windows: how long it has been quiet, or loud.
struct Meter {
    threshold: f32,
    window_sum: f64,
    window_len: u64,
    quiet_run: u64,
    loud_run: u64,
}

impl Meter {
    fn new(threshold: f32) -> Self {
        Meter {
            threshold,
            window_sum: 0.0,
            window_len: 0,
            quiet_run: 0,
            loud_run: 0,
        }
    }

    fn reset(&mut self) {
        self.window_sum = 0.0;
        self.window_len = 0;
        self.quiet_run = 0;
        self.loud_run = 0;
    }

    fn measure(&mut self, samples: &[f32]) {
        for f in samples.chunks_exact(CHANNELS) {
            self.window_sum += (f[0] as f64 * f[0] as f64 + f[1] as f64 * f[1] as f64) / 2.0;
            self.window_len += 1;
            if self.window_len == WINDOW {
                let rms = (self.window_sum / WINDOW as f64).sqrt() as f32;
                if rms < self.threshold {
                    self.quiet_run += WINDOW;
                    self.loud_run = 0;
                } else {
                    self.loud_run += WINDOW;
                    self.quiet_run = 0;
                }
                self.window_sum = 0.0;
                self.window_len = 0;
            }
        }
    }
}

/// One source of a relay, seen from the audio thread.
struct Feed {
    url: String,
    shared: Arc<FeedShared>,
    pcm: rtrb::Consumer<f32>,
    tracker: Tracker,
    /// Wanted at some point: a source that failed then has a row.
    tried: bool,
    /// Died (ran dry or fell silent) while on air; not failing by the
    /// thread's count, but not to be waited for either.
    dead: bool,
    /// Has the loud audio to air (checked every [`READY_CHECK_BLOCKS`]).
    ready: bool,
    checks: u32,
}

impl Feed {
    fn buffered(&self) -> u64 {
        (self.pcm.slots() / CHANNELS) as u64
    }

    fn prebuffer(&self) -> u64 {
        duration_to_frames(Duration::from_millis(
            self.shared.prebuffer_ms.load(Ordering::Relaxed) as u64,
        ))
    }

    /// Audio to have buffered before airing: the source's prebuffer, three
    /// times that (at most 8 s) after it died on air, so that a source
    /// that barely answers does not flap between itself and the fallback.
    fn need(&self) -> u64 {
        let p = self.prebuffer();
        let p = if self.dead {
            (3 * p).min(duration_to_frames(Duration::from_secs(8)))
        } else {
            p
        };
        p.max(duration_to_frames(LOUD_TO_REJOIN))
    }

    fn want(&mut self) {
        if !self.shared.wanted.swap(true, Ordering::Relaxed) {
            self.tried = true;
        }
    }

    fn release(&mut self) {
        self.shared.wanted.store(false, Ordering::Relaxed);
        self.ready = false;
        let n = self.buffered() as usize;
        ring::skip(&mut self.pcm, n);
    }

    fn failing(&self) -> bool {
        self.dead || self.shared.failures.load(Ordering::Relaxed) > 0
    }

    fn finished(&self) -> bool {
        self.shared.finished.load(Ordering::Relaxed)
    }

    fn cause(&self) -> String {
        self.shared
            .cause
            .try_lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Whether the audio waiting in the ring could air: enough of it, and
    /// loud for [`LOUD_TO_REJOIN`] (peeked, not consumed).
    fn check_ready(&mut self, threshold: f32, slow_ok: bool) -> bool {
        if !self.shared.wanted.load(Ordering::Relaxed)
            || self.buffered() < self.need()
            || (!slow_ok && self.shared.slow.load(Ordering::Relaxed))
        {
            return false;
        }
        let frames = duration_to_frames(LOUD_TO_REJOIN) as usize;
        let Ok(chunk) = self.pcm.read_chunk(frames * CHANNELS) else {
            return false;
        };
        // Peeked, never committed: the audio stays for the relay to air.
        let (a, b) = chunk.as_slices();
        let mut meter = Meter::new(threshold);
        meter.measure(a);
        meter.measure(b);
        meter.loud_run >= duration_to_frames(LOUD_TO_REJOIN)
    }
}

pub(crate) struct StreamSource {
    feeds: Vec<Feed>,
    /// The source on air; None while the fallback covers.
    airing: Option<usize>,
    fallback_files: Vec<(std::path::PathBuf, Gain)>,
    fallback: Option<FilesSource>,
    volume: f32,
    threshold: f32,
    silence_frames: u64,
    meter: Meter,
    /// The first source's failure at the start has been logged.
    start_logged: bool,
    /// Frames rendered so far (the start grace).
    rendered: u64,
}

impl StreamSource {
    /// Starts a thread per source; the first connects now, the others when
    /// they are needed.
    pub fn start(
        sources: &[String],
        bandwidth: Option<u64>,
        fallback: Vec<(std::path::PathBuf, Gain)>,
        silence: SilencePolicy,
        volume: f32,
    ) -> Self {
        let feeds = sources
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let (producer, consumer) =
                    rtrb::RingBuffer::new(RATE as usize * CHANNELS * RING_SECONDS);
                let shared = Arc::new(FeedShared::new(i == 0));
                let (thread_url, thread_shared) = (url.clone(), shared.clone());
                std::thread::Builder::new()
                    .name("loa-relay".into())
                    .spawn(move || feed::run(thread_url, bandwidth, producer, thread_shared))
                    .expect("spawn relay thread");
                let mut tracker = Tracker::default();
                tracker.begin(Piece {
                    kind: SourceKind::Stream,
                    source: url.clone(),
                });
                Feed {
                    url: url.clone(),
                    shared,
                    pcm: consumer,
                    tracker,
                    tried: i == 0,
                    dead: false,
                    ready: false,
                    // The first render checks at once.
                    checks: READY_CHECK_BLOCKS - 1,
                }
            })
            .collect();
        let threshold = 10f32.powf(silence.below_dbfs / 20.0);
        StreamSource {
            feeds,
            airing: None,
            fallback_files: fallback,
            fallback: None,
            volume,
            threshold,
            silence_frames: duration_to_frames(silence.duration),
            meter: Meter::new(threshold),
            start_logged: false,
            rendered: 0,
        }
    }

    /// The source on air stops airing: the fallback covers and the next
    /// source is started.
    fn lose(&mut self, i: usize, why: &str) {
        let cause = self.feeds[i].cause();
        let cause = if cause.is_empty() {
            String::new()
        } else {
            format!(" ({cause})")
        };
        tracing::warn!(
            "relay {}: {why}{cause}; the fallback airs",
            self.feeds[i].url
        );
        self.feeds[i].dead = true;
        self.feeds[i].ready = false;
        self.feeds[i].checks = READY_CHECK_BLOCKS - 1;
        self.airing = None;
        self.meter.reset();
        if let Some(next) = self.feeds.get_mut(i + 1) {
            next.want();
        }
    }

    /// `i` goes on air at `offset`; the fallback (if it aired) is cut there.
    fn take(&mut self, i: usize, offset: usize, log: &mut PieceLog) {
        if let Some(mut f) = self.fallback.take() {
            f.close(&Ending::Cut, offset, log);
        }
        match self.airing {
            Some(c) => tracing::info!(
                "relay: back to source {} ({}) from {}",
                i + 1,
                self.feeds[i].url,
                self.feeds[c].url
            ),
            None => tracing::info!("relay {}: on air", self.feeds[i].url),
        }
        self.airing = Some(i);
        self.meter.reset();
        let feed = &mut self.feeds[i];
        feed.dead = false;
        feed.ready = false;
        // Sources after this one are not needed any more.
        for later in &mut self.feeds[i + 1..] {
            later.release();
        }
    }

    /// Keeps waiting sources live and notes which could air.
    fn watch_waiting(&mut self) {
        let airing = self.airing;
        let no_fallback = self.fallback_files.is_empty();
        for (i, f) in self.feeds.iter_mut().enumerate() {
            if Some(i) == airing || !f.shared.wanted.load(Ordering::Relaxed) {
                continue;
            }
            f.checks += 1;
            let checked = f.checks >= READY_CHECK_BLOCKS;
            if checked {
                f.checks = 0;
                // A slow link airs only when there is no fallback to keep on.
                f.ready = f.check_ready(self.threshold, no_fallback);
            }
            // A waiting source stays near live: while another source airs,
            // or when its audio was found unfit (silent), what it buffers
            // beyond its prebuffer (and the loud check) is dropped, not
            // aired later; so stale or silent audio never stands between the
            // relay and the source's live sound.
            let about_to_air = f.ready && airing.is_none_or(|c| i < c);
            let keep = f.need() + 2 * WINDOW;
            let buffered = f.buffered();
            if !about_to_air && (airing.is_some() || checked) && buffered > keep {
                ring::skip(&mut f.pcm, (buffered - keep) as usize);
            }
        }
        // With no source on air, start the next one while those before it fail.
        if self.airing.is_none() {
            for f in &mut self.feeds {
                if !f.shared.wanted.load(Ordering::Relaxed) {
                    f.want();
                    break;
                }
                if !f.failing() {
                    break;
                }
            }
        }
    }

    fn play_fallback(&mut self, out: &mut [f32], offset: usize, audible: bool, log: &mut PieceLog) {
        if self.fallback.is_none() && !self.fallback_files.is_empty() {
            self.fallback = Some(FilesSource::looping(
                self.fallback_files.clone(),
                self.volume,
            ));
        }
        let slice = &mut out[offset * CHANNELS..];
        match &mut self.fallback {
            Some(f) => {
                let mut sub = PieceLog::default();
                if let Rendered::Ended { frames, .. } = f.render(slice, audible, &mut sub) {
                    slice[frames * CHANNELS..].fill(0.0);
                }
                log.notes
                    .extend(sub.notes.into_iter().map(|(o, n)| (o + offset, n)));
            }
            None => slice.fill(0.0),
        }
    }
}

impl Source for StreamSource {
    fn render(&mut self, out: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered {
        let want = out.len() / CHANNELS;
        self.watch_waiting();
        // The first source with audio, in list order, airs: a source before
        // the one on air that is back takes over.
        let limit = self.airing.unwrap_or(self.feeds.len());
        if let Some(j) = (0..limit).find(|&j| self.feeds[j].ready) {
            self.take(j, 0, log);
        }
        let rendered = self.rendered;
        self.rendered += want as u64;
        let Some(c) = self.airing else {
            let aired = self.feeds.iter().any(|f| f.tracker.started());
            if !aired
                && rendered < duration_to_frames(START_GRACE)
                && !self.feeds.iter().any(|f| f.failing())
            {
                out.fill(0.0);
                return Rendered::More;
            }
            if !self.start_logged {
                self.start_logged = true;
                if self.feeds.iter().any(|f| f.failing()) {
                    tracing::warn!(
                        "relay {}: no audio at the start ({}); the fallback airs",
                        self.feeds[0].url,
                        self.feeds[0].cause()
                    );
                }
            }
            self.play_fallback(out, 0, audible, log);
            return Rendered::More;
        };
        let feed = &mut self.feeds[c];
        if feed.shared.trims_backlog.load(Ordering::Relaxed)
            && feed.buffered() > duration_to_frames(MAX_LAG) + feed.prebuffer()
        {
            // A server whose clock runs fast slowly fills the ring: drop
            // back to a second behind live now and then (a rare jump)
            // rather than drifting minutes behind.
            let excess = feed.buffered() - duration_to_frames(MAX_LAG) / 2;
            ring::skip(&mut feed.pcm, excess as usize);
            tracing::debug!("relay {}: {excess} frames behind live dropped", feed.url);
        }
        let got = ring::pop(&mut feed.pcm, out) / CHANNELS;
        scale(&mut out[..got * CHANNELS], self.volume);
        self.meter.measure(&out[..got * CHANNELS]);
        let feed = &mut self.feeds[c];
        feed.tracker.sounded(0, got, audible, log);
        if got < want {
            if feed.finished() && feed.buffered() == 0 {
                // A playlist with an end played to it.
                out[got * CHANNELS..].fill(0.0);
                return Rendered::Ended {
                    frames: got,
                    outcome: Ending::Completed,
                };
            }
            self.lose(c, "no audio from the relay");
            self.play_fallback(out, got, audible, log);
        } else if self.meter.quiet_run >= self.silence_frames {
            self.lose(c, "the relay is silent");
        }
        Rendered::More
    }

    fn runs_while_held(&self) -> bool {
        true
    }

    fn close(&mut self, outcome: &Ending, offset: usize, log: &mut PieceLog) {
        if let Some(mut f) = self.fallback.take() {
            f.close(outcome, offset, log);
        }
        // Each source that aired ends with the item; each one tried that
        // never aired says why; and a relay that never aired at all has a
        // failed row, so that no program passes without one.
        let none_aired = self.feeds.iter().all(|f| !f.tracker.started());
        for (i, f) in self.feeds.iter_mut().enumerate() {
            f.shared.stop.store(true, Ordering::Relaxed);
            if f.tracker.started() {
                f.tracker.end(outcome.clone(), offset, log);
                continue;
            }
            let cause = f.cause();
            let why = if f.tried && !cause.is_empty() {
                format!("never aired: {cause}")
            } else if none_aired && i == 0 {
                if f.shared.connected.load(Ordering::Relaxed) || f.buffered() > 0 {
                    "never aired: silent (below policy.silence) until the window closed".into()
                } else {
                    "never aired: no audio before the window closed".into()
                }
            } else {
                continue;
            };
            // An end without a start: the row of a source that never
            // sounded spans the item, not an instant at its end.
            log.notes.push((
                offset,
                Note::Ended {
                    piece: Piece {
                        kind: SourceKind::Stream,
                        source: f.url.clone(),
                    },
                    outcome: Ending::Failed(why),
                    aired_frames: 0,
                },
            ));
        }
    }
}

impl Drop for StreamSource {
    fn drop(&mut self) {
        for f in &self.feeds {
            f.shared.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// What a source's first answer is.
enum Answer {
    /// A playlist's text: HLS, or an .m3u/.pls naming the stream.
    Playlist {
        text: String,
        pls: bool,
    },
    Body(continuous::Body),
}

/// Requests `url` and tells a playlist from a stream body.
fn answer(agent: &ureq::Agent, url: &str) -> Result<Answer, String> {
    let resp = match http::get(agent, url, &[("Icy-MetaData", "0")]) {
        Ok(r) => r,
        // Shoutcast v1 answers "ICY 200 OK", which is not HTTP.
        Err(ureq::Error::Protocol(_)) if url.starts_with("http://") => {
            return continuous::icy_connect(url).map(Answer::Body)
        }
        Err(e) => return Err(http::describe(&e)),
    };
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let lower = url.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    let pls = ctype.contains("scpls") || path.ends_with(".pls");
    let m3u = ctype.contains("mpegurl") || path.ends_with(".m3u") || path.ends_with(".m3u8");
    if !(pls || m3u) {
        return Ok(Answer::Body(continuous::body(resp)));
    }
    let mut resp = resp;
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(http::PLAYLIST_LIMIT)
        .read_to_vec()
        .map_err(|e| format!("cannot read the playlist: {}", http::describe(&e)))?;
    let text =
        String::from_utf8(bytes).map_err(|_| "the playlist is not UTF-8 text".to_string())?;
    Ok(Answer::Playlist { text, pls })
}

/// One connection of a source: resolve playlists, then relay until the
/// source fails (Err), the relay lets go, or a finished playlist ends.
fn session(
    agent: &ureq::Agent,
    url: &str,
    bandwidth: Option<u64>,
    hls_state: &mut hls::HlsState,
    sink: &mut Sink<'_>,
) -> Result<Ended, String> {
    let mut url = url.to_string();
    for _ in 0..4 {
        match answer(agent, &url)? {
            Answer::Body(body) => return continuous::run(body, sink),
            Answer::Playlist { text, pls } => {
                if !pls && hls::is_hls(&text) {
                    return hls::run(agent, &url, &text, bandwidth, hls_state, sink);
                }
                let next = continuous::playlist_entry(&text, pls)
                    .ok_or("the playlist names no stream URL")?;
                url = http::join(&url, &next)?;
            }
        }
    }
    Err("too many nested playlists".into())
}

/// See [`probe::probe`].
fn probe_source(
    url: &str,
    bandwidth: Option<u64>,
    timeout: Duration,
) -> Result<SourceReport, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (url, started) = (url.to_string(), Instant::now());
    std::thread::Builder::new()
        .name("loa-probe".into())
        .spawn(move || {
            let _ = tx.send(probe_now(&url, bandwidth, started));
        })
        .map_err(|e| format!("cannot start the check: {e}"))?;
    rx.recv_timeout(timeout)
        .map_err(|_| format!("no audio within {} s", timeout.as_secs()))?
}

fn probe_now(url: &str, bandwidth: Option<u64>, started: Instant) -> Result<SourceReport, String> {
    let agent = http::agent();
    let mut url = url.to_string();
    for _ in 0..4 {
        match answer(&agent, &url)? {
            Answer::Body(body) => {
                let kbps = body.bitrate_kbps;
                let mut opened = continuous::open(body)?;
                let (mut resampler, mut stereo, mut pcm, mut bad) =
                    (None, Vec::new(), Vec::new(), 0);
                let (rate, channels) = continuous::next_audio(
                    &mut opened,
                    &mut resampler,
                    &mut stereo,
                    &mut pcm,
                    &mut bad,
                )?
                .ok_or("the stream ended before any audio")?;
                return Ok(SourceReport {
                    format: SourceFormat::Icecast,
                    codec: opened.codec.to_string(),
                    bitrate: kbps.map(|k| k * 1000),
                    segment: None,
                    sample_rate: Some(rate),
                    channels: Some(channels),
                    first_audio: started.elapsed(),
                    resolved: None,
                });
            }
            Answer::Playlist { text, pls } => {
                if !pls && hls::is_hls(&text) {
                    return hls::probe(&agent, &url, &text, bandwidth, started);
                }
                let next = continuous::playlist_entry(&text, pls)
                    .ok_or("the playlist names no stream URL")?;
                url = http::join(&url, &next)?;
            }
        }
    }
    Err("too many nested playlists".into())
}
