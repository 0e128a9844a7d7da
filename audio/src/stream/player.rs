//! A live stream played straight to an output, a fixed buffer behind the
//! server: what an IP cluster receiver (`loa receive`) does with the mount it
//! is told to play.
//!
//! The download is a relay source's own thread (`feed`: connects, decodes,
//! reconnects with backoff); this module only keeps its ring at most one
//! buffer deep. Audio older than that (the server's burst on connecting, a
//! backlog after a stall) is dropped, so after any reconnection the output
//! rejoins the live stream instead of playing what is stale. While nothing
//! is wanted, or the ring ran dry and fills again, the output gets silence,
//! so its timeline (a WAV file's included) keeps to the wall clock.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::feed::{self, FeedShared};
use crate::format::{duration_to_frames, CHANNELS, RATE};
use crate::output::Output;
use crate::ring;

/// Samples written to the output at a time (20 ms).
const BLOCK_FRAMES: usize = RATE as usize / 50;
/// The ring may run this far past the buffer before the excess is dropped
/// (a jitter margin, so a normal burst of packets does not skip).
const SLACK: Duration = Duration::from_millis(500);
const RING_SECONDS: usize = 12;

/// What the player is doing, as a receiver reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerState {
    /// Nothing to play.
    Stopped,
    /// Told to play: connecting, filling the buffer or reconnecting.
    Connecting,
    /// Audio from the stream is at the output.
    Playing,
}

impl PlayerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerState::Stopped => "stopped",
            PlayerState::Connecting => "connecting",
            PlayerState::Playing => "playing",
        }
    }
}

/// A snapshot of the player.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerStatus {
    pub state: PlayerState,
    pub url: Option<String>,
    /// Audio waiting ahead of the output.
    pub buffered: Duration,
    /// Why the stream last failed (cleared when audio flows again).
    pub error: Option<String>,
}

struct Shared {
    wanted: Mutex<Option<String>>,
    /// The gain, as f32 bits.
    gain: AtomicU32,
    status: Mutex<PlayerStatus>,
    stop: AtomicBool,
}

/// Plays one live stream at a time on an output (its own thread).
pub struct Player {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Player {
    /// Starts writing to `output` (silence until told to play), keeping
    /// `buffer` of audio ahead of it.
    pub fn start(output: Box<dyn Output>, buffer: Duration) -> Player {
        let shared = Arc::new(Shared {
            wanted: Mutex::new(None),
            gain: AtomicU32::new(1.0f32.to_bits()),
            status: Mutex::new(PlayerStatus {
                state: PlayerState::Stopped,
                url: None,
                buffered: Duration::ZERO,
                error: None,
            }),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("loa-player".into())
            .spawn(move || run(output, buffer, &s))
            .expect("spawn player thread");
        Player {
            shared,
            thread: Some(thread),
        }
    }

    /// Plays `url` (from its live point); `None` stops.
    pub fn play(&self, url: Option<String>) {
        if let Ok(mut w) = self.shared.wanted.lock() {
            *w = url;
        }
    }

    /// The gain, 0..1 (ramped over a block, no click).
    pub fn set_gain(&self, gain: f32) {
        self.shared
            .gain
            .store(gain.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    pub fn status(&self) -> PlayerStatus {
        self.shared
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Stops the thread and finishes the output (a WAV file's header).
    pub fn close(mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One download, seen from the player's thread.
struct Stream {
    url: String,
    feed: Arc<FeedShared>,
    pcm: rtrb::Consumer<f32>,
    /// Filling the buffer before (re)joining.
    filling: bool,
}

impl Stream {
    fn open(url: String) -> Stream {
        let (producer, pcm) = rtrb::RingBuffer::new(RATE as usize * CHANNELS * RING_SECONDS);
        let feed = Arc::new(FeedShared::new(true));
        let (u, f) = (url.clone(), feed.clone());
        std::thread::Builder::new()
            .name("loa-receive-feed".into())
            .spawn(move || feed::run(u, None, producer, f))
            .expect("spawn stream thread");
        Stream {
            url,
            feed,
            pcm,
            filling: true,
        }
    }

    fn buffered(&self) -> usize {
        self.pcm.slots() / CHANNELS
    }

    fn cause(&self) -> Option<String> {
        let c = self.feed.cause.lock().ok()?.clone();
        (!c.is_empty() && !self.feed.connected.load(Ordering::Relaxed)).then_some(c)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The download thread sees it and ends (the ring is abandoned too).
        self.feed.stop.store(true, Ordering::Relaxed);
    }
}

fn run(mut output: Box<dyn Output>, buffer: Duration, shared: &Shared) {
    let buffer_frames = duration_to_frames(buffer).max(BLOCK_FRAMES as u64) as usize;
    let slack = duration_to_frames(SLACK) as usize;
    let mut block = vec![0.0f32; BLOCK_FRAMES * CHANNELS];
    let mut stream: Option<Stream> = None;
    let mut gain = f32::from_bits(shared.gain.load(Ordering::Relaxed));
    while !shared.stop.load(Ordering::Relaxed) {
        let wanted = shared.wanted.lock().map(|w| w.clone()).unwrap_or_default();
        if wanted.as_deref() != stream.as_ref().map(|s| s.url.as_str()) {
            stream = wanted.map(Stream::open);
        }
        block.fill(0.0);
        let mut state = PlayerState::Stopped;
        if let Some(s) = &mut stream {
            let buffered = s.buffered();
            if s.filling {
                // Only the newest buffer's worth waits: what came before
                // (a burst, a backlog) is stale and never plays.
                if buffered > buffer_frames {
                    ring::skip(&mut s.pcm, buffered - buffer_frames);
                }
                if s.buffered() >= buffer_frames {
                    s.filling = false;
                }
            } else if buffered > buffer_frames + slack {
                ring::skip(&mut s.pcm, buffered - buffer_frames);
            }
            if s.filling {
                state = PlayerState::Connecting;
            } else {
                let got = ring::pop(&mut s.pcm, &mut block);
                if got < block.len() {
                    // Ran dry: the stream stalled or broke. Silence until the
                    // buffer is full again, from the live point.
                    s.filling = true;
                    state = PlayerState::Connecting;
                } else {
                    state = PlayerState::Playing;
                }
            }
        }
        let target = f32::from_bits(shared.gain.load(Ordering::Relaxed));
        let frames = block.len() / CHANNELS;
        for (i, f) in block.chunks_exact_mut(CHANNELS).enumerate() {
            let g = gain + (target - gain) * (i + 1) as f32 / frames as f32;
            f.iter_mut().for_each(|x| *x *= g);
        }
        gain = target;
        if let Ok(mut st) = shared.status.lock() {
            st.state = state;
            st.url = stream.as_ref().map(|s| s.url.clone());
            st.buffered = stream.as_ref().map_or(Duration::ZERO, |s| {
                Duration::from_secs_f64(s.buffered() as f64 / RATE as f64)
            });
            st.error = match (&stream, state) {
                (Some(s), PlayerState::Connecting) => s.cause(),
                _ => None,
            };
        }
        output.ready();
        output.write(&block);
    }
    drop(stream);
    output.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{open_output, Clock, OutputSpec};

    /// Stopped, the output still keeps time (playing a real mount is
    /// tested end to end, tests/tests/receivers.rs).
    #[test]
    fn a_stopped_player_writes_silence_in_real_time_and_reports_stopped() {
        let dir = std::env::temp_dir().join(format!("loa-player-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wav = dir.join("out.wav");
        let (tx, _rx) = std::sync::mpsc::channel();
        let out = open_output(&OutputSpec::Wav(wav.clone()), Clock::Real, tx).unwrap();
        let p = Player::start(out, Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(300));
        let s = p.status();
        assert_eq!(s.state, PlayerState::Stopped);
        assert_eq!(s.url, None);
        p.close();
        let r = hound::WavReader::open(&wav).unwrap();
        assert!(r.duration() > RATE / 10, "{} frames", r.duration());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One MP3 stream (64 kb/s mono), encoded as it goes, as a source's.
    struct Mp3 {
        enc: mp3lame_encoder::Encoder,
        phase: f32,
    }

    impl Mp3 {
        fn new() -> Mp3 {
            let mut b = mp3lame_encoder::Builder::new().unwrap();
            b.set_num_channels(1).unwrap();
            b.set_sample_rate(RATE).unwrap();
            b.set_brate(mp3lame_encoder::Bitrate::Kbps64).unwrap();
            b.set_to_write_vbr_tag(false).unwrap();
            Mp3 {
                enc: b.build().unwrap(),
                phase: 0.0,
            }
        }

        /// The next `secs` of the stream: a tone of `hz`.
        fn tone(&mut self, hz: f32, secs: f32) -> Vec<u8> {
            let n = (secs * RATE as f32) as usize;
            let pcm: Vec<f32> = (0..n)
                .map(|_| {
                    self.phase = (self.phase + hz / RATE as f32).fract();
                    0.5 * (2.0 * std::f32::consts::PI * self.phase).sin()
                })
                .collect();
            let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(n));
            self.enc
                .encode_to_vec(mp3lame_encoder::MonoPcm(&pcm), &mut out)
                .unwrap();
            out
        }
    }

    fn power(w: &[f32], hz: f64) -> f64 {
        let k = 2.0 * (2.0 * std::f64::consts::PI * hz / RATE as f64).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in w {
            let s = x as f64 + k * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    }

    /// A server's burst on connecting (5 s of 440 Hz at once, as Icecast's
    /// burst-on-connect sends what it holds) and then live audio (880 Hz at
    /// real time): the player keeps only its buffer's worth of the burst,
    /// never the stale seconds before, and goes on live.
    #[test]
    fn of_a_burst_only_the_newest_buffer_plays_then_the_live_stream() {
        use std::io::{Read, Write};
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/m.mp3", server.local_addr().unwrap());
        std::thread::spawn(move || {
            let Ok((mut c, _)) = server.accept() else {
                return;
            };
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let mut mp3 = Mp3::new();
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n");
            let _ = c.write_all(&mp3.tone(440.0, 5.0));
            for _ in 0..40 {
                if c.write_all(&mp3.tone(880.0, 0.1)).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let dir = std::env::temp_dir().join(format!("loa-player-burst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wav = dir.join("out.wav");
        let (tx, _rx) = std::sync::mpsc::channel();
        let out = open_output(&OutputSpec::Wav(wav.clone()), Clock::Real, tx).unwrap();
        let p = Player::start(out, Duration::from_secs(1));
        p.play(Some(url));
        std::thread::sleep(Duration::from_millis(3500));
        let st = p.status();
        assert_eq!(st.state, PlayerState::Playing, "{st:?}");
        p.close();
        let mut r = hound::WavReader::open(&wav).unwrap();
        let mono: Vec<f32> = r
            .samples::<i16>()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .chunks_exact(2)
            .map(|f| (f[0] as f32 + f[1] as f32) / 65536.0)
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        // 100 ms windows: which tone, in order.
        let tones: Vec<u32> = mono
            .chunks_exact(RATE as usize / 10)
            .filter(|w| w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32 > 1e-3)
            .map(|w| {
                if power(w, 440.0) > power(w, 880.0) {
                    440
                } else {
                    880
                }
            })
            .collect();
        let stale = tones.iter().take_while(|&&t| t == 440).count();
        assert!(
            (5..=15).contains(&stale),
            "about a buffer (1 s) of the 5 s burst, then live: {tones:?}"
        );
        assert!(
            tones[stale..].iter().all(|&t| t == 880) && tones.len() - stale >= 10,
            "{tones:?}"
        );
    }
}
