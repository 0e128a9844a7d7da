//! A relay source's own thread: it connects when the relay wants it,
//! downloads and decodes into a ring of engine-format audio, and retries
//! with backoff when the source fails, for as long as the item lives.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::format::CHANNELS;
use crate::ring;

const FIRST_RETRY: Duration = Duration::from_millis(500);
/// A source that stays down is tried this often: while it is down the
/// fallback airs, so coming back soon matters more than sparing the server
/// a request (a playlist) every few seconds.
const MAX_RETRY: Duration = Duration::from_secs(4);
/// Held back from the ring so that a discontinuity can fade it out.
const TAIL_FRAMES: usize = 480;

/// What a source's thread and the relay on the audio thread share.
pub(crate) struct FeedShared {
    pub stop: AtomicBool,
    /// The relay wants this source running (it airs, or may soon).
    pub wanted: AtomicBool,
    /// Audio is flowing from the current connection.
    pub connected: AtomicBool,
    /// Failed attempts since audio last flowed.
    pub failures: AtomicU32,
    /// A continuous stream: the relay trims a backlog to stay near live.
    /// HLS paces itself by its playlist, so nothing is dropped.
    pub trims_backlog: AtomicBool,
    /// Audio to have buffered before the relay (re)joins this source.
    pub prebuffer_ms: AtomicU32,
    /// The source ended (`#EXT-X-ENDLIST`) and all its audio is in the ring.
    pub finished: AtomicBool,
    /// The link is slower than the stream (HLS segments take longer to
    /// download than to play): the relay keeps the fallback on rather than
    /// flapping between it and a source that cannot keep up.
    pub slow: AtomicBool,
    /// Why the source last failed (the log and the airtime row).
    pub cause: Mutex<String>,
}

impl FeedShared {
    pub fn new(wanted: bool) -> Self {
        FeedShared {
            stop: AtomicBool::new(false),
            wanted: AtomicBool::new(wanted),
            connected: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            trims_backlog: AtomicBool::new(true),
            prebuffer_ms: AtomicU32::new(500),
            finished: AtomicBool::new(false),
            slow: AtomicBool::new(false),
            cause: Mutex::new(String::new()),
        }
    }

    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && self.wanted.load(Ordering::Relaxed)
    }
}

/// Why a session stopped without failing.
pub(crate) enum Ended {
    /// The relay no longer wants this source, or the item ended.
    Released,
    /// A playlist with `#EXT-X-ENDLIST` played to its end.
    Finished,
}

/// Where decoded audio goes: the ring, a little behind, so that a
/// discontinuity (an origin restart, a reconnection) can fade out what came
/// before and fade in what follows instead of clicking.
pub(crate) struct Sink<'a> {
    ring: &'a mut rtrb::Producer<f32>,
    shared: &'a FeedShared,
    tail: Vec<f32>,
    fade_in: usize,
    /// Audio reached the ring in this session.
    pub delivered: bool,
}

impl<'a> Sink<'a> {
    pub fn new(ring: &'a mut rtrb::Producer<f32>, shared: &'a FeedShared) -> Self {
        Sink {
            ring,
            shared,
            tail: Vec::with_capacity(TAIL_FRAMES * CHANNELS * 4),
            fade_in: 0,
            delivered: false,
        }
    }

    /// HLS: the source paces itself by its playlist (nothing is trimmed) and
    /// the relay rejoins it once `prebuffer_ms` is buffered.
    pub fn set_prebuffer(&self, ms: u32) {
        self.shared.prebuffer_ms.store(ms, Ordering::Relaxed);
        self.shared.trims_backlog.store(false, Ordering::Relaxed);
    }

    /// Whether the link keeps up with the stream.
    pub fn set_slow(&self, slow: bool) {
        self.shared.slow.store(slow, Ordering::Relaxed);
    }

    /// A continuous stream: the relay keeps it near live.
    pub fn continuous(&self) {
        self.shared.prebuffer_ms.store(500, Ordering::Relaxed);
        self.shared.trims_backlog.store(true, Ordering::Relaxed);
    }

    /// False once the relay no longer wants the audio.
    pub fn running(&self) -> bool {
        self.shared.running() && !self.ring.is_abandoned()
    }

    /// Queues 48 kHz stereo audio, waiting while the ring is full.
    pub fn push(&mut self, pcm: &[f32]) -> Result<(), Ended> {
        if pcm.is_empty() {
            return Ok(());
        }
        let start = self.tail.len();
        self.tail.extend_from_slice(pcm);
        if self.fade_in > 0 {
            let frames = (self.tail.len() - start) / CHANNELS;
            let from = TAIL_FRAMES - self.fade_in;
            for (i, f) in self.tail[start..]
                .chunks_exact_mut(CHANNELS)
                .take(frames.min(self.fade_in))
                .enumerate()
            {
                let g = (from + i) as f32 / TAIL_FRAMES as f32;
                f.iter_mut().for_each(|s| *s *= g);
            }
            self.fade_in -= frames.min(self.fade_in);
        }
        let keep = TAIL_FRAMES * CHANNELS;
        if self.tail.len() > keep {
            let n = self.tail.len() - keep;
            self.write(n)?;
        }
        Ok(())
    }

    /// The audio before this point and after it do not join: fade out the
    /// held tail, fade in what comes next.
    pub fn discontinuity(&mut self) -> Result<(), Ended> {
        let frames = self.tail.len() / CHANNELS;
        for (i, f) in self.tail.chunks_exact_mut(CHANNELS).enumerate() {
            let g = 1.0 - (i + 1) as f32 / frames.max(1) as f32;
            f.iter_mut().for_each(|s| *s *= g);
        }
        let n = self.tail.len();
        self.write(n)?;
        self.fade_in = TAIL_FRAMES;
        Ok(())
    }

    /// Everything held goes to the ring (the end of a finished playlist).
    pub fn flush(&mut self) -> Result<(), Ended> {
        let n = self.tail.len();
        self.write(n)
    }

    /// Writes the first `n` held samples, waiting for room.
    fn write(&mut self, n: usize) -> Result<(), Ended> {
        let mut done = 0;
        while done < n {
            if !self.running() {
                self.tail.drain(..done);
                return Err(Ended::Released);
            }
            let k = ring::push(self.ring, &self.tail[done..n]);
            if k == 0 {
                // Full: the relay is ahead of the output.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            done += k;
            if !self.delivered {
                self.delivered = true;
                self.shared.connected.store(true, Ordering::Relaxed);
                self.shared.failures.store(0, Ordering::Relaxed);
            }
        }
        self.tail.drain(..n);
        Ok(())
    }
}

/// Sleeps `d`, or less if the relay lets go of the source.
pub(crate) fn pause(shared: &FeedShared, ring: &rtrb::Producer<f32>, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if !shared.running() || ring.is_abandoned() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
    true
}

/// Sleeps `d` while the sink's relay still wants it; false if it let go.
pub(crate) fn pause_sink(sink: &Sink<'_>, d: Duration) -> bool {
    pause(sink.shared, sink.ring, d)
}

/// The thread of one source: connect while wanted, retry with backoff.
pub(crate) fn run(
    url: String,
    bandwidth: Option<u64>,
    mut ring: rtrb::Producer<f32>,
    shared: Arc<FeedShared>,
) {
    let agent = super::http::agent();
    let mut hls = super::hls::HlsState::default();
    let mut backoff = FIRST_RETRY;
    let mut outage: Option<Instant> = None;
    loop {
        // Idle until wanted; gone when the item is.
        while !shared.wanted.load(Ordering::Relaxed) {
            if shared.stop.load(Ordering::Relaxed) || ring.is_abandoned() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if shared.stop.load(Ordering::Relaxed) || ring.is_abandoned() {
            return;
        }
        let mut sink = Sink::new(&mut ring, &shared);
        if outage.is_some() {
            // What came before a reconnection does not join what follows.
            sink.fade_in = TAIL_FRAMES;
        }
        let result = super::session(&agent, &url, bandwidth, &mut hls, &mut sink);
        let delivered = sink.delivered;
        let _ = sink.flush();
        shared.connected.store(false, Ordering::Relaxed);
        if delivered {
            backoff = FIRST_RETRY;
            if let Some(since) = outage.take() {
                tracing::info!(
                    "relay {url}: audio again after {} s",
                    since.elapsed().as_secs()
                );
            }
        }
        match result {
            Ok(Ended::Finished) => {
                tracing::info!("relay {url}: the playlist ended; played to its end");
                shared.finished.store(true, Ordering::Relaxed);
                return;
            }
            Ok(Ended::Released) => continue,
            Err(cause) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut c) = shared.cause.lock() {
                    c.clone_from(&cause);
                }
                if outage.is_none() {
                    // Once per outage: a source that stays down must not
                    // flood the journal.
                    tracing::warn!("relay {url}: {cause}; retrying in the background");
                    outage = Some(Instant::now());
                } else {
                    tracing::debug!("relay {url}: {cause}");
                }
                // Jitter, so that the stations relaying one origin do not
                // all come back to it in the same instant.
                let wait = backoff.mul_f64(0.8 + fastrand::f64() * 0.4);
                if !pause(&shared, &ring, wait) && shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                backoff = (backoff * 2).min(MAX_RETRY);
            }
        }
    }
}
