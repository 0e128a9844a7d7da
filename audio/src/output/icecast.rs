//! `icecast://USER@HOST:PORT/MOUNT?password_file=PATH`: Loa as the source
//! of an Icecast 2 mount, which IP cluster receivers play.
//!
//! The deck's blocks go into a bounded channel and the output keeps
//! real-time pace itself (an Icecast server takes a source's audio as fast
//! as it comes, so nothing downstream paces it); the MP3 encoder and the
//! socket run on their own thread, so a slow or vanished server never holds
//! the deck. The source connects with HTTP PUT (Icecast 2.4), or the older
//! SOURCE method when the server refuses PUT. A server that goes away is an
//! output fault, reconnected with backoff (1 s doubling to 30 s); what the
//! deck renders meanwhile is dropped, and so is what queued while
//! connecting, so receivers never get stale audio in a burst. Between
//! programs the mount carries encoded silence (`idle=silence`, receivers
//! stay connected) or Loa leaves it (`idle=disconnect`). Titles go to the
//! server's metadata (`/admin/metadata?mode=updinfo`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use loa_core::{IcecastSpec, Idle};
use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushNoGap, InterleavedPcm, MonoPcm};

use super::{Clock, Output, Pacer};
use crate::format::{frame_time, CHANNELS, RATE};
use crate::item::{DeckEvent, EventSink};

/// Frames the deck's blocks are gathered into before they go to the sender
/// thread (40 ms, the sound card's period): one message, one allocation and
/// one pacing sleep a period instead of a block (5 ms).
const PERIOD_FRAMES: usize = 1920;
/// Periods queued for the sender thread: about a second. Full means the
/// sender is stuck (a connect in progress); the deck drops the period
/// rather than wait.
const QUEUE_PERIODS: usize = 25;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long a connect, the server's answer or one write may take before
/// the server counts as gone.
const NET_TIMEOUT: Duration = Duration::from_secs(5);
/// How much later than it is written a frame leaves the encoder: LAME's
/// delay (576 + 529 frames) and the MP3 frame (1152) it fills first. The
/// receivers' own buffers come on top, and are theirs to know.
const ENCODER_LAG_FRAMES: u64 = 576 + 529 + 1152;

enum Msg {
    Audio(Vec<f32>),
    /// Silence that went by while the deck rested.
    Silence(u64),
    Title(String),
    /// The deck rests (true) or takes audio again (false).
    Idle(bool),
}

pub(crate) struct IcecastOutput {
    pacer: Pacer,
    started_at: SystemTime,
    queue: Option<SyncSender<Msg>>,
    sender: Option<JoinHandle<()>>,
    label: String,
    dropped: bool,
    /// The deck's blocks waiting for a whole period.
    staged: Vec<f32>,
}

impl IcecastOutput {
    /// Starts the sender thread, which connects on its own: a server that
    /// is not there yet is a fault reported as an event, never an error here.
    pub fn open(spec: &IcecastSpec, events: EventSink) -> Self {
        let started_at = SystemTime::now();
        let label = label(spec);
        let (tx, rx) = sync_channel(QUEUE_PERIODS);
        let sender = Sender::new(spec.clone(), events, started_at);
        let thread = std::thread::Builder::new()
            .name("loa-icecast".into())
            .spawn(move || sender.run(&rx))
            .expect("spawn the Icecast sender thread");
        IcecastOutput {
            pacer: Pacer::new(Clock::Real),
            started_at,
            queue: Some(tx),
            sender: Some(thread),
            label,
            dropped: false,
            staged: Vec::with_capacity(PERIOD_FRAMES * CHANNELS),
        }
    }

    /// Hands what is staged to the sender, and keeps pace with the clock.
    fn flush(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let frames = self.staged.len() / CHANNELS;
        let period = std::mem::replace(
            &mut self.staged,
            Vec::with_capacity(PERIOD_FRAMES * CHANNELS),
        );
        self.send(Msg::Audio(period));
        self.pacer.pace(frames);
    }

    fn send(&mut self, msg: Msg) {
        let Some(q) = &self.queue else { return };
        match q.try_send(msg) {
            Ok(()) => self.dropped = false,
            Err(TrySendError::Full(_)) => {
                if !self.dropped {
                    self.dropped = true;
                    tracing::debug!("output {}: the sender is busy; audio dropped", self.label);
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Output for IcecastOutput {
    fn write(&mut self, block: &[f32]) {
        self.staged.extend_from_slice(block);
        if self.staged.len() >= PERIOD_FRAMES * CHANNELS {
            self.flush();
        }
    }
    fn started_at(&self) -> SystemTime {
        self.started_at
    }
    fn played_frames(&self) -> u64 {
        self.pacer.frames()
    }
    fn lag_ns(&self) -> i64 {
        (ENCODER_LAG_FRAMES * 1_000_000_000 / RATE as u64) as i64
    }
    fn suspend(&mut self) -> bool {
        self.flush();
        self.send(Msg::Idle(true));
        true
    }
    fn skip(&mut self, frames: u64) {
        self.send(Msg::Silence(frames));
        self.pacer.skip(frames);
    }
    fn resume(&mut self) {
        self.send(Msg::Idle(false));
    }
    fn now_playing(&mut self, title: &str) {
        self.flush();
        self.send(Msg::Title(title.to_string()));
    }
}

impl Drop for IcecastOutput {
    /// The sender flushes the encoder and leaves the mount.
    fn drop(&mut self) {
        self.flush();
        drop(self.queue.take());
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
    }
}

/// How logs and faults name the output (never with the password).
fn label(spec: &IcecastSpec) -> String {
    format!("icecast {}", spec.public_url())
}

/// Why a connection as the mount's source failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcecastRefusal {
    /// The server cannot be reached (refused, unreachable, timed out...).
    Unreachable(String),
    /// The server refused the source user and password (HTTP 401).
    Password(String),
    /// Another source is on the mount (HTTP 403).
    InUse(String),
    /// The password file cannot be read.
    PasswordFile(String),
    /// Anything else the server answered.
    Refused(String),
}

impl std::fmt::Display for IcecastRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IcecastRefusal::Unreachable(s)
            | IcecastRefusal::Password(s)
            | IcecastRefusal::InUse(s)
            | IcecastRefusal::PasswordFile(s)
            | IcecastRefusal::Refused(s) => f.write_str(s),
        }
    }
}

/// Connects to `spec`'s mount as its source and leaves at once: what `loa
/// doctor` asks. Ok means the server took the password and the mount.
pub fn check_icecast(spec: &IcecastSpec) -> Result<(), IcecastRefusal> {
    connect_source(spec).map(drop)
}

trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// A TCP (or TLS) connection to the server, with timeouts.
fn dial(spec: &IcecastSpec) -> Result<Box<dyn Conn>, IcecastRefusal> {
    let place = format!("{}:{}", spec.host, spec.port);
    let unreachable = |e: &dyn std::fmt::Display| {
        IcecastRefusal::Unreachable(format!(
            "cannot reach the Icecast server {place}: {e} (is it running, and the address right?)"
        ))
    };
    let addrs: Vec<_> = (spec.host.as_str(), spec.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(&e))?
        .collect();
    let mut last: Option<io::Error> = None;
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, NET_TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match (tcp, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(unreachable(&e)),
        (None, None) => return Err(unreachable(&"the name has no address")),
    };
    let _ = tcp.set_read_timeout(Some(NET_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(NET_TIMEOUT));
    let _ = tcp.set_nodelay(true);
    if !spec.tls {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(spec.host.clone())
        .map_err(|e| unreachable(&format!("bad server name: {e}")))?;
    let conn = rustls::ClientConnection::new(tls_config(), name)
        .map_err(|e| unreachable(&format!("TLS: {e}")))?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

fn basic_auth(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Reads an HTTP answer's head; returns its status code and status line.
fn read_answer(conn: &mut dyn Conn) -> io::Result<(u16, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if conn.read(&mut byte)? == 0 {
            if head.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without answering",
                ));
            }
            break;
        }
        head.push(byte[0]);
        if head.len() > 16 * 1024 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, line))
}

/// Connects as the mount's source: PUT, then SOURCE if the server does not
/// know PUT (Icecast before 2.4.0 answers it 400 or 405).
fn connect_source(spec: &IcecastSpec) -> Result<Box<dyn Conn>, IcecastRefusal> {
    let password = spec.password().map_err(IcecastRefusal::PasswordFile)?;
    match source_request(spec, &password, "PUT")? {
        Answer::Taken(c) => Ok(c),
        Answer::Status(400 | 405, _) => match source_request(spec, &password, "SOURCE")? {
            Answer::Taken(c) => Ok(c),
            Answer::Status(code, line) => Err(refusal(spec, code, &line)),
        },
        Answer::Status(code, line) => Err(refusal(spec, code, &line)),
    }
}

enum Answer {
    Taken(Box<dyn Conn>),
    Status(u16, String),
}

fn source_request(
    spec: &IcecastSpec,
    password: &str,
    method: &str,
) -> Result<Answer, IcecastRefusal> {
    let mut conn = dial(spec)?;
    let channels = if spec.stereo { 2 } else { 1 };
    let version = if method == "PUT" { "1.1" } else { "1.0" };
    let head = format!(
        "{method} {mount} HTTP/{version}\r\n\
         Host: {host}:{port}\r\n\
         Authorization: Basic {auth}\r\n\
         User-Agent: loa/{loa}\r\n\
         Content-Type: audio/mpeg\r\n\
         ice-name: {mount}\r\n\
         ice-public: 0\r\n\
         ice-bitrate: {bitrate}\r\n\
         ice-audio-info: ice-bitrate={bitrate};ice-channels={channels};ice-samplerate={RATE}\r\n\
         \r\n",
        mount = spec.mount,
        host = spec.host,
        port = spec.port,
        auth = basic_auth(&spec.user, password),
        loa = env!("CARGO_PKG_VERSION"),
        bitrate = spec.bitrate,
    );
    let lost = |e: io::Error| {
        IcecastRefusal::Unreachable(format!(
            "the Icecast server {}:{} did not answer the source request: {e}",
            spec.host, spec.port
        ))
    };
    conn.write_all(head.as_bytes()).map_err(lost)?;
    conn.flush().map_err(lost)?;
    let (code, line) = read_answer(conn.as_mut()).map_err(lost)?;
    Ok(match code {
        100 | 200 => Answer::Taken(conn),
        _ => Answer::Status(code, line),
    })
}

fn refusal(spec: &IcecastSpec, code: u16, line: &str) -> IcecastRefusal {
    match code {
        401 => IcecastRefusal::Password(format!(
            "the Icecast server refused the source password for {}@{}:{}{} ({line}): check {} and the server's <source-password>",
            spec.user,
            spec.host,
            spec.port,
            spec.mount,
            spec.password_file.display()
        )),
        403 => IcecastRefusal::InUse(format!(
            "the Icecast server would not give {} to Loa ({line}): another source is on it, or the server is full",
            spec.mount
        )),
        _ => IcecastRefusal::Refused(format!(
            "the Icecast server {}:{} refused the source for {} ({line})",
            spec.host, spec.port, spec.mount
        )),
    }
}

/// Sets the mount's now-playing title, with the source's own credentials.
fn update_title(spec: &IcecastSpec, title: &str) -> Result<(), String> {
    let password = spec.password()?;
    let mut conn = dial(spec).map_err(|e| e.to_string())?;
    // Icecast unescapes %XX only: a space as `+` would stay a `+`.
    let escape = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let (song, mount) = (escape(title), escape(&spec.mount));
    let head = format!(
        "GET /admin/metadata?mode=updinfo&charset=UTF-8&mount={mount}&song={song} HTTP/1.0\r\n\
         Host: {}:{}\r\n\
         Authorization: Basic {}\r\n\
         User-Agent: loa/{}\r\n\
         \r\n",
        spec.host,
        spec.port,
        basic_auth(&spec.user, &password),
        env!("CARGO_PKG_VERSION"),
    );
    conn.write_all(head.as_bytes())
        .and_then(|_| conn.flush())
        .map_err(|e| e.to_string())?;
    let (code, line) = read_answer(conn.as_mut()).map_err(|e| e.to_string())?;
    if code == 200 {
        Ok(())
    } else {
        Err(format!("the server answered {line}"))
    }
}

/// The sender thread: encodes, sends, reconnects.
struct Sender {
    spec: IcecastSpec,
    label: String,
    events: EventSink,
    started_at: SystemTime,
    /// Frames of the deck's timeline received (for the events' `at`).
    frames: u64,
    encoder: Encoder,
    mono: Vec<f32>,
    mp3: Vec<u8>,
    conn: Option<Box<dyn Conn>>,
    down: Option<Down>,
    /// `idle=disconnect` and the deck rests: off the mount, no fault.
    away: bool,
    /// `idle=silence` and the deck rests: silence is encoded here as the
    /// wall clock goes (since when, frames made), so that receivers get it
    /// evenly rather than a second at a time as the resting deck counts it.
    quiet: Option<(Instant, u64)>,
    title: Option<String>,
    title_sent: bool,
}

struct Down {
    since: Instant,
    next_retry: Instant,
    backoff: Duration,
    reason: String,
}

impl Sender {
    fn new(spec: IcecastSpec, events: EventSink, started_at: SystemTime) -> Self {
        let encoder = new_encoder(&spec);
        Sender {
            label: label(&spec),
            spec,
            events,
            started_at,
            frames: 0,
            encoder,
            mono: Vec::new(),
            mp3: Vec::new(),
            conn: None,
            down: None,
            away: false,
            quiet: None,
            title: None,
            title_sent: false,
        }
    }

    fn run(mut self, rx: &Receiver<Msg>) {
        self.connect(rx);
        loop {
            let wait = if self.quiet.is_some() { 50 } else { 250 };
            match rx.recv_timeout(Duration::from_millis(wait)) {
                Ok(msg) => self.take(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.conn.is_none() && !self.away {
                let due = self
                    .down
                    .as_ref()
                    .is_none_or(|d| Instant::now() >= d.next_retry);
                if due {
                    self.connect(rx);
                }
            }
            if self.conn.is_some() && !self.title_sent {
                self.send_title();
            }
            self.make_silence();
        }
        self.leave();
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Audio(block) => {
                self.frames += (block.len() / CHANNELS) as u64;
                if self.conn.is_some() {
                    self.encode_and_send(&block);
                }
            }
            // Counted only: the silence itself is made here, on the clock.
            Msg::Silence(frames) => self.frames += frames,
            Msg::Title(t) => {
                self.title = Some(t);
                self.title_sent = false;
            }
            Msg::Idle(resting) => match self.spec.idle {
                Idle::Disconnect => {
                    self.away = resting;
                    if resting {
                        self.leave();
                        tracing::info!("output {}: nothing airs; left the mount", self.label);
                    }
                }
                Idle::Silence => self.quiet = resting.then(|| (Instant::now(), 0)),
            },
        }
    }

    fn encode_and_send(&mut self, block: &[f32]) {
        self.mp3.clear();
        let frames = block.len() / CHANNELS;
        self.mp3
            .reserve(mp3lame_encoder::max_required_buffer_size(frames));
        let encoded = if self.spec.stereo {
            self.encoder
                .encode_to_vec(InterleavedPcm(block), &mut self.mp3)
        } else {
            self.mono.clear();
            self.mono
                .extend(block.chunks_exact(CHANNELS).map(|f| (f[0] + f[1]) * 0.5));
            self.encoder
                .encode_to_vec(MonoPcm(&self.mono), &mut self.mp3)
        };
        if let Err(e) = encoded {
            tracing::warn!("output {}: the MP3 encoder failed: {e:?}", self.label);
            return;
        }
        if self.mp3.is_empty() {
            return;
        }
        let sent = match self.conn.as_mut() {
            Some(c) => c.write_all(&self.mp3),
            None => return,
        };
        if let Err(e) = sent {
            self.conn = None;
            self.fail(format!(
                "the Icecast server {}:{} went away: {e}",
                self.spec.host, self.spec.port
            ));
        }
    }

    /// While the deck rests on `idle=silence`: the silence due by now.
    fn make_silence(&mut self) {
        let Some((since, made)) = self.quiet else {
            return;
        };
        let due = crate::format::duration_to_frames(since.elapsed());
        let zeros = [0.0f32; 1152 * CHANNELS];
        let mut left = due.saturating_sub(made);
        while left > 0 && self.conn.is_some() {
            let n = left.min(1152) as usize;
            self.encode_and_send(&zeros[..n * CHANNELS]);
            left -= n as u64;
        }
        self.quiet = Some((since, due));
    }

    /// Tries once; on failure reports (once per outage) and backs off.
    fn connect(&mut self, rx: &Receiver<Msg>) {
        match connect_source(&self.spec) {
            Ok(conn) => {
                self.conn = Some(conn);
                self.title_sent = false;
                // A fresh encoder: no tail of the audio before the outage.
                self.encoder = new_encoder(&self.spec);
                // What queued while connecting is stale: dropped, its
                // frames counted, the rest (titles, idle) applied.
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        Msg::Audio(b) => self.frames += (b.len() / CHANNELS) as u64,
                        Msg::Silence(n) => self.frames += n,
                        other => self.take(other),
                    }
                }
                match self.down.take() {
                    Some(d) => {
                        let gap = d.since.elapsed();
                        tracing::info!(
                            "output {}: back on the mount after {:.1} s",
                            self.label,
                            gap.as_secs_f64()
                        );
                        self.events.send(DeckEvent::OutputRestored {
                            gap,
                            at: frame_time(self.started_at, self.frames),
                        });
                    }
                    None => tracing::info!("output {}: on the mount", self.label),
                }
            }
            Err(e) => match self.down.as_mut() {
                Some(d) => {
                    tracing::debug!("output {}: still down: {e}", self.label);
                    d.backoff = (d.backoff * 2).min(MAX_RETRY);
                    d.next_retry = Instant::now() + d.backoff;
                    if d.reason != e.to_string() {
                        // A different cause (the server is back but refuses
                        // the password): said once, as the fault's reason.
                        d.reason = e.to_string();
                        tracing::error!("output {}: {e}", self.label);
                        self.events.send(DeckEvent::OutputFailed {
                            reason: format!("{}: {e}", self.label),
                            at: frame_time(self.started_at, self.frames),
                        });
                    }
                }
                None => self.fail(e.to_string()),
            },
        }
    }

    fn fail(&mut self, reason: String) {
        tracing::error!("output {}: {reason}; reconnecting with backoff", self.label);
        self.events.send(DeckEvent::OutputFailed {
            reason: format!("{}: {reason}", self.label),
            at: frame_time(self.started_at, self.frames),
        });
        self.down = Some(Down {
            since: Instant::now(),
            next_retry: Instant::now() + FIRST_RETRY,
            backoff: FIRST_RETRY,
            reason,
        });
    }

    /// On its own thread: a slow server never holds the audio.
    fn send_title(&mut self) {
        self.title_sent = true;
        let Some(title) = self.title.clone() else {
            return;
        };
        let spec = self.spec.clone();
        let label = self.label.clone();
        let _ = std::thread::Builder::new()
            .name("loa-icecast-title".into())
            .spawn(move || {
                if let Err(e) = update_title(&spec, &title) {
                    tracing::warn!("output {label}: cannot set the title: {e}");
                }
            });
    }

    /// Sends the encoder's tail and closes the connection.
    fn leave(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let mut tail = Vec::with_capacity(7200);
            if self.encoder.flush_to_vec::<FlushNoGap>(&mut tail).is_ok() {
                let _ = c.write_all(&tail);
            }
            let _ = c.flush();
        }
        self.encoder = new_encoder(&self.spec);
    }
}

fn new_encoder(spec: &IcecastSpec) -> Encoder {
    let mut b = Builder::new().expect("LAME allocates its encoder");
    let bitrate = match spec.bitrate {
        8 => Bitrate::Kbps8,
        16 => Bitrate::Kbps16,
        24 => Bitrate::Kbps24,
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => Bitrate::Kbps64,
    };
    let channels = if spec.stereo { 2 } else { 1 };
    let mode = if spec.stereo {
        mp3lame_encoder::Mode::JointStereo
    } else {
        mp3lame_encoder::Mode::Mono
    };
    b.set_num_channels(channels).expect("1 or 2 channels");
    b.set_sample_rate(RATE).expect("48 kHz");
    b.set_brate(bitrate).expect("an MPEG bit rate");
    b.set_mode(mode).expect("mono or joint stereo");
    b.set_vbr_mode(mp3lame_encoder::VbrMode::Off).expect("CBR");
    b.set_quality(mp3lame_encoder::Quality::Good)
        .expect("quality 5");
    b.set_to_write_vbr_tag(false).expect("no Xing tag");
    b.build().expect("LAME takes these settings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    fn spec(port: u16, dir: &std::path::Path) -> IcecastSpec {
        std::fs::write(dir.join("pass"), "s3cret\n").unwrap();
        let written =
            format!("icecast://loa@127.0.0.1:{port}/x.mp3?password_file=pass&channels=stereo");
        match loa_core::OutputSpec::parse(&written, dir).unwrap() {
            loa_core::OutputSpec::Icecast(s) => s,
            other => panic!("{other:?}"),
        }
    }

    /// The head of one request the fake server got, and its connection.
    fn request(server: &TcpListener) -> (Vec<String>, TcpStream) {
        let (conn, _) = server.accept().unwrap();
        let mut r = io::BufReader::new(conn.try_clone().unwrap());
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            head.push(line.trim().to_string());
        }
        (head, conn)
    }

    #[test]
    fn a_server_without_put_is_asked_with_source() {
        let dir = std::env::temp_dir().join(format!("loa-ice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let spec = spec(server.local_addr().unwrap().port(), &dir);
        let old = std::thread::spawn(move || {
            let (put, mut c) = request(&server);
            c.write_all(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
                .unwrap();
            drop(c);
            let (source, mut c) = request(&server);
            c.write_all(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
            (put, source, c)
        });
        let conn = connect_source(&spec);
        let (put, source, _c) = old.join().unwrap();
        assert!(conn.is_ok());
        assert_eq!(put[0], "PUT /x.mp3 HTTP/1.1");
        assert_eq!(source[0], "SOURCE /x.mp3 HTTP/1.0");
        let auth = format!("Authorization: Basic {}", basic_auth("loa", "s3cret"));
        for head in [&put, &source] {
            assert!(head.contains(&auth), "{head:?}");
            assert!(head.contains(&"Content-Type: audio/mpeg".to_string()));
            assert!(head.contains(&"ice-bitrate: 64".to_string()), "{head:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wrong_password_is_named_as_such() {
        let dir = std::env::temp_dir().join(format!("loa-ice-401-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let spec = spec(server.local_addr().unwrap().port(), &dir);
        let t = std::thread::spawn(move || {
            let (_, mut c) = request(&server);
            c.write_all(b"HTTP/1.0 401 Authentication Required\r\n\r\n")
                .unwrap();
        });
        let e = check_icecast(&spec).unwrap_err();
        t.join().unwrap();
        assert!(matches!(e, IcecastRefusal::Password(_)), "{e}");
        assert!(e.to_string().contains("pass"), "names the file: {e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
