//! Stream relay: an HTTP(S) Icecast/Shoutcast stream (MP3, AAC, OGG; .m3u
//! and .pls playlists resolved) relayed to the output.
//!
//! Download and decoding run on their own thread into a 10 s ring of
//! engine-format audio; the audio thread only reads that ring, so it never
//! waits on the network. On a drop the thread reconnects with backoff for as
//! long as the item lives (the deck removes it when its window closes).
//! While the relay is dead (ring empty) or silent (below a level for a
//! while), the item's fallback files play; the relay rejoins when audio is
//! back. Only relayed audio counts as the relay's airtime.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::probe::Hint;

use crate::format::{duration_to_frames, CHANNELS, RATE};
use crate::item::{Outcome, Piece, SourceKind};
use crate::resample::{to_stereo, Resampler};
use crate::ring;
use crate::source::{scale, FilesSource, Gain, PieceLog, Rendered, Source, Tracker};

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
/// Audio buffered before (re)joining, against network jitter.
const PREBUFFER: Duration = Duration::from_millis(500);
/// Past this much buffered on rejoin, skip ahead to stay near live.
const MAX_LAG: Duration = Duration::from_secs(2);
/// Loud audio needed to come back from silence.
const LOUD_TO_REJOIN: Duration = Duration::from_millis(500);
/// Level measurement window.
const WINDOW: u64 = RATE as u64 / 10;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq)]
enum RelayState {
    Relaying,
    Dead,
    Silent,
}

struct Shared {
    stop: AtomicBool,
    connected: AtomicBool,
}

pub(crate) struct StreamSource {
    url: String,
    shared: Arc<Shared>,
    pcm: rtrb::Consumer<f32>,
    state: RelayState,
    tracker: Tracker,
    fallback_files: Vec<(std::path::PathBuf, Gain)>,
    fallback: Option<FilesSource>,
    volume: f32,
    threshold: f32,
    silence_frames: u64,
    quiet_run: u64,
    loud_run: u64,
    window_sum: f64,
    window_len: u64,
    scratch: Vec<f32>,
}

impl StreamSource {
    /// Starts the relay's download thread; audio flows once connected.
    pub fn start(
        url: &str,
        fallback: Vec<(std::path::PathBuf, Gain)>,
        silence: SilencePolicy,
        volume: f32,
    ) -> Self {
        let (producer, consumer) = rtrb::RingBuffer::new(RATE as usize * CHANNELS * RING_SECONDS);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            connected: AtomicBool::new(false),
        });
        let thread_shared = shared.clone();
        let thread_url = url.to_string();
        std::thread::Builder::new()
            .name("loa-relay".into())
            .spawn(move || relay_thread(&thread_url, producer, &thread_shared))
            .expect("spawn relay thread");
        let mut tracker = Tracker::default();
        tracker.begin(Piece {
            kind: SourceKind::Stream,
            source: url.to_string(),
        });
        StreamSource {
            url: url.to_string(),
            shared,
            pcm: consumer,
            // Dead until the first audio is buffered: fallback covers the connect.
            state: RelayState::Dead,
            tracker,
            fallback_files: fallback,
            fallback: None,
            volume,
            threshold: 10f32.powf(silence.below_dbfs / 20.0),
            silence_frames: duration_to_frames(silence.duration),
            quiet_run: 0,
            loud_run: 0,
            window_sum: 0.0,
            window_len: 0,
            scratch: Vec::new(),
        }
    }

    fn buffered_frames(&self) -> u64 {
        (self.pcm.slots() / CHANNELS) as u64
    }

    /// Tracks the relay's level over 100 ms windows.
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

    fn read_pcm(&mut self, out: &mut [f32]) -> usize {
        ring::pop(&mut self.pcm, out) / CHANNELS
    }

    fn go_to_fallback(&mut self, state: RelayState, why: &str) {
        tracing::warn!("relay {}: {why}; playing the fallback", self.url);
        self.state = state;
        self.quiet_run = 0;
        self.loud_run = 0;
        if self.fallback.is_none() && !self.fallback_files.is_empty() {
            self.fallback = Some(FilesSource::looping(
                self.fallback_files.clone(),
                self.volume,
            ));
        }
    }

    fn rejoin(&mut self, offset: usize, log: &mut PieceLog) {
        tracing::info!("relay {}: back on air", self.url);
        self.state = RelayState::Relaying;
        self.quiet_run = 0;
        self.loud_run = 0;
        if let Some(mut f) = self.fallback.take() {
            f.close(&Outcome::Cut, offset, log);
        }
    }

    fn play_fallback(&mut self, out: &mut [f32], offset: usize, audible: bool, log: &mut PieceLog) {
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
        if audible {
            // The relay's row opens when the item first airs, relayed or not.
            self.tracker.sounded(0, 0, audible, log);
        }
        match self.state {
            RelayState::Relaying => {
                // A server whose clock runs fast slowly fills the ring: drop
                // back to a second behind live now and then (a rare jump)
                // rather than drifting minutes behind.
                if self.buffered_frames()
                    > duration_to_frames(MAX_LAG) + duration_to_frames(PREBUFFER)
                {
                    let excess = self.buffered_frames() - duration_to_frames(MAX_LAG) / 2;
                    ring::skip(&mut self.pcm, excess as usize);
                    tracing::debug!("relay {}: {excess} frames behind live dropped", self.url);
                }
                let got = self.read_pcm(out);
                scale(&mut out[..got * CHANNELS], self.volume);
                self.measure(&out[..got * CHANNELS]);
                self.tracker.sounded(0, got, audible, log);
                if got < want {
                    self.go_to_fallback(RelayState::Dead, "no audio from the relay");
                    self.play_fallback(out, got, audible, log);
                } else if self.quiet_run >= self.silence_frames {
                    self.go_to_fallback(RelayState::Silent, "the relay is silent");
                }
            }
            RelayState::Dead => {
                self.play_fallback(out, 0, audible, log);
                let buffered = self.buffered_frames();
                if self.shared.connected.load(Ordering::Relaxed)
                    && buffered >= duration_to_frames(PREBUFFER)
                {
                    // Stay near live: drop what piled up beyond a second.
                    let excess = buffered.saturating_sub(duration_to_frames(MAX_LAG) / 2);
                    if buffered > duration_to_frames(MAX_LAG) {
                        ring::skip(&mut self.pcm, excess as usize);
                    }
                    self.rejoin(want, log);
                }
            }
            RelayState::Silent => {
                self.play_fallback(out, 0, audible, log);
                let mut tmp = std::mem::take(&mut self.scratch);
                tmp.resize(out.len(), 0.0);
                let got = self.read_pcm(&mut tmp);
                scale(&mut tmp[..got * CHANNELS], self.volume);
                self.measure(&tmp[..got * CHANNELS]);
                self.scratch = tmp;
                if got < want {
                    self.state = RelayState::Dead;
                } else if self.loud_run >= duration_to_frames(LOUD_TO_REJOIN) {
                    self.rejoin(want, log);
                }
            }
        }
        Rendered::More
    }

    fn runs_while_held(&self) -> bool {
        true
    }

    fn close(&mut self, outcome: &Outcome, offset: usize, log: &mut PieceLog) {
        if let Some(mut f) = self.fallback.take() {
            f.close(outcome, offset, log);
        }
        self.tracker.end(outcome.clone(), offset, log);
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for StreamSource {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Downloads and decodes until stopped, reconnecting with backoff.
fn relay_thread(url: &str, mut to_deck: rtrb::Producer<f32>, shared: &Shared) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_recv_response(Some(Duration::from_secs(10)))
        // A server that stops sending for this long counts as a drop.
        .timeout_per_read(Some(Duration::from_secs(5)))
        // Each (re)connection is fresh: a pooled socket the server already
        // closed (after a playlist, say) would cost a failed attempt.
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into();
    let mut backoff = FIRST_RETRY;
    let mut logged = false;
    while !shared.stop.load(Ordering::Relaxed) && !to_deck.is_abandoned() {
        let started = Instant::now();
        let result = relay_once(&agent, url, &mut to_deck, shared);
        shared.connected.store(false, Ordering::Relaxed);
        if shared.stop.load(Ordering::Relaxed) || to_deck.is_abandoned() {
            return;
        }
        // A connection that carried audio for a while resets the backoff.
        if started.elapsed() > Duration::from_secs(10) {
            backoff = FIRST_RETRY;
            logged = false;
        }
        let why = match result {
            Ok(()) => "the server closed the stream".to_string(),
            Err(e) => e,
        };
        if !logged {
            tracing::warn!("relay {url}: {why}; reconnecting");
            logged = true;
        } else {
            tracing::debug!("relay {url}: {why}");
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        backoff = (backoff * 2).min(MAX_RETRY);
    }
}

/// The audio body of a relay and its content type.
type Body = (Box<dyn Read + Send + Sync>, String);

/// Connects to `url`, resolving .m3u/.pls playlists (a few levels deep).
fn connect(agent: &ureq::Agent, url: &str) -> Result<Body, String> {
    let mut url = url.to_string();
    for _ in 0..4 {
        let resp = match agent.get(&url).header("Icy-MetaData", "0").call() {
            Ok(r) => r,
            // Shoutcast v1 answers "ICY 200 OK", which is not HTTP.
            Err(ureq::Error::Protocol(_)) if url.starts_with("http://") => {
                return icy_connect(&url);
            }
            Err(e) => return Err(format!("cannot connect: {e}")),
        };
        let ctype = content_type(&resp);
        let lower = url.to_ascii_lowercase();
        let path = lower.split(['?', '#']).next().unwrap_or("");
        let is_pls = ctype.contains("scpls") || path.ends_with(".pls");
        let is_m3u = ctype.contains("mpegurl") || path.ends_with(".m3u") || path.ends_with(".m3u8");
        if !(is_pls || is_m3u) {
            return Ok((Box::new(resp.into_body().into_reader()), ctype));
        }
        let mut text = String::new();
        resp.into_body()
            .into_reader()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read playlist: {e}"))?;
        url = playlist_entry(&text, is_pls).ok_or("the playlist names no stream URL")?;
    }
    Err("too many nested playlists".into())
}

/// A plain HTTP/1.0 request over TCP, for servers whose status line is
/// "ICY 200 OK" (Shoutcast v1).
fn icy_connect(url: &str) -> Result<Body, String> {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let rest = url.strip_prefix("http://").ok_or("not an http:// URL")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    write!(
        sock,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nIcy-MetaData: 0\r\nUser-Agent: loa\r\n\r\n"
    )
    .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut reader = BufReader::new(sock);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| format!("no answer: {e}"))?;
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        return Err(format!("the server answered `{}`", status.trim()));
    }
    let mut ctype = String::new();
    for _ in 0..100 {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| format!("bad answer: {e}"))?;
        let line = line.trim();
        if line.is_empty() {
            return Ok((Box::new(reader), ctype));
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-type") {
                ctype = v.trim().to_ascii_lowercase();
            }
        }
    }
    Err("the server's headers never end".into())
}

/// One connection: resolve playlists, then decode into `to_deck` until the
/// stream ends or fails.
fn relay_once(
    agent: &ureq::Agent,
    url: &str,
    to_deck: &mut rtrb::Producer<f32>,
    shared: &Shared,
) -> Result<(), String> {
    let (reader, ctype) = connect(agent, url)?;
    let mut hint = Hint::new();
    if ctype.contains("mpeg") || ctype.contains("mp3") {
        hint.with_extension("mp3");
    } else if ctype.contains("aac") {
        hint.with_extension("aac");
    } else if ctype.contains("ogg") {
        hint.with_extension("ogg");
    }
    let mss = MediaSourceStream::new(Box::new(ReadOnlySource::new(reader)), Default::default());
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &Default::default(), &Default::default())
        .map_err(|e| format!("not a playable stream: {e}"))?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or("the stream has no audio track")?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &Default::default())
        .map_err(|e| format!("unsupported stream codec: {e}"))?;
    let mut rate = track.codec_params.sample_rate.unwrap_or(RATE);
    let mut resampler = Resampler::new(rate);
    let mut stereo = Vec::new();
    let mut pcm = Vec::new();
    let mut bad = 0;
    shared.connected.store(true, Ordering::Relaxed);
    loop {
        if shared.stop.load(Ordering::Relaxed) || to_deck.is_abandoned() {
            return Ok(());
        }
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) => return Err(format!("connection lost: {e}")),
            Err(e) => return Err(format!("stream error: {e}")),
        };
        if packet.track_id() != track.id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => {
                bad = 0;
                d
            }
            Err(SymphoniaError::DecodeError(_)) if bad < 50 => {
                bad += 1;
                continue;
            }
            Err(e) => return Err(format!("cannot decode the stream: {e}")),
        };
        let spec = *decoded.spec();
        let mut sb =
            symphonia::core::audio::SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        sb.copy_interleaved_ref(decoded);
        if spec.rate != 0 && spec.rate != rate {
            // HE-AAC and some relays change rate mid-stream.
            rate = spec.rate;
            resampler = Resampler::new(rate);
        }
        stereo.clear();
        to_stereo(sb.samples(), spec.channels.count().max(1), &mut stereo);
        pcm.clear();
        resampler.process(&stereo, &mut pcm);
        let mut rest = &pcm[..];
        while !rest.is_empty() {
            if shared.stop.load(Ordering::Relaxed) || to_deck.is_abandoned() {
                return Ok(());
            }
            let n = ring::push(to_deck, rest);
            if n == 0 {
                // Full: the relay is ahead of the output; TCP holds the rest.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            rest = &rest[n..];
        }
    }
}

fn content_type(resp: &ureq::http::Response<ureq::Body>) -> String {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The first stream URL in an M3U or PLS playlist.
fn playlist_entry(text: &str, pls: bool) -> Option<String> {
    text.lines().map(str::trim).find_map(|line| {
        let candidate = if pls {
            let (key, value) = line.split_once('=')?;
            key.trim()
                .to_ascii_lowercase()
                .starts_with("file")
                .then_some(value.trim())?
        } else {
            line
        };
        (candidate.starts_with("http://") || candidate.starts_with("https://"))
            .then(|| candidate.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_resolve_to_their_first_stream() {
        let m3u = "#EXTM3U\n#EXTINF:-1,VOV1\nhttp://example.invalid/vov1.mp3\nhttp://b.invalid/x\n";
        assert_eq!(
            playlist_entry(m3u, false).as_deref(),
            Some("http://example.invalid/vov1.mp3")
        );
        let pls =
            "[playlist]\nNumberOfEntries=1\nFile1=https://example.invalid/vov1.aac\nTitle1=VOV1\n";
        assert_eq!(
            playlist_entry(pls, true).as_deref(),
            Some("https://example.invalid/vov1.aac")
        );
        assert_eq!(playlist_entry("#EXTM3U\n", false), None);
    }
}
