//! A live HLS origin for the relay tests. ffmpeg, started by the test, encodes
//! a tone and segments it live (real time after a first burst, 2 s segments,
//! a sliding window of 5) into a temporary directory; a small HTTP/1.1 server
//! inside the test serves that directory and injects, at run time, the faults
//! real origins have: a missing segment, a playlist that stops advancing, a
//! connection cut half way, a link slower than real time, an outage, a
//! refused port, a restart. It logs every request so a test can say which
//! segment was fetched when. Nothing leaves 127.0.0.1.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `-hls_time`: the target duration of every origin here.
pub const TARGET: Duration = Duration::from_secs(2);
/// What a new origin encodes at once before it paces itself to real time.
const BURST: Duration = Duration::from_secs(6);
/// `-hls_list_size`.
pub const WINDOW_SEGMENTS: u64 = 5;
/// ffmpeg stops by itself after this long, so an origin whose test was
/// killed (no Drop) does not run forever; long enough for the relay bench's
/// hour (benches/relay.rs) with its joins before it.
const FFMPEG_LIMIT_SECS: u32 = 2 * 3600;

/// How the origin packs its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// MPEG-TS segments of ADTS AAC (what VOV serves).
    TsAac,
    /// fMP4 (CMAF) AAC segments behind an EXT-X-MAP init segment.
    Fmp4Aac,
    /// MPEG-TS AAC encrypted with AES-128; the key is served by the origin.
    TsAacAes128,
    /// MPEG-TS segments of MP3.
    TsMp3,
    /// Packed audio: bare ADTS .aac segments (ffmpeg's segment muxer).
    PackedAac,
}

/// What the origin airs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A sine at this frequency.
    Sine(u32),
    /// A tone that says the origin's own clock: second `s` of the stream is
    /// a sine at `steps_hz(s % STEPS)`, so an output window tells which
    /// second of the origin aired (see [`steps_clock`]).
    Steps,
}

pub const STEPS: u64 = 16;
const STEP_BASE_HZ: u64 = 400;
const STEP_HZ: u64 = 40;

/// Frequency of second `k` (mod [`STEPS`]) of [`Signal::Steps`].
pub fn steps_hz(k: u64) -> u64 {
    STEP_BASE_HZ + STEP_HZ * (k % STEPS)
}

/// A rendition of a master playlist.
#[derive(Debug, Clone, Copy)]
pub struct Rendition {
    pub hz: u32,
    pub kbps: u32,
}

#[derive(Debug, Clone, Copy)]
enum Recipe {
    Single(Encoding, Signal),
    /// Two renditions, the higher listed first (so picking the lowest is a
    /// choice, not the first line).
    Master {
        low: Rendition,
        high: Rendition,
    },
}

/// A live origin: ffmpeg writing into `dir`, served by `http`. ffmpeg is
/// killed when the origin is dropped.
pub struct Origin {
    pub http: Server,
    recipe: Recipe,
    dir: tempfile::TempDir,
    ffmpeg: Mutex<Option<Child>>,
}

impl Origin {
    /// A live media playlist `live.m3u8`; returns once it lists 3 segments.
    pub fn start(encoding: Encoding, signal: Signal) -> Origin {
        Origin::launch(Recipe::Single(encoding, signal))
    }

    /// A master playlist `master.m3u8` naming two live renditions of
    /// distinct bitrates and tones; returns once each lists 3 segments.
    pub fn master(low: Rendition, high: Rendition) -> Origin {
        Origin::launch(Recipe::Master { low, high })
    }

    fn launch(recipe: Recipe) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let http = Server::start(dir.path());
        let origin = Origin {
            http,
            recipe,
            dir,
            ffmpeg: Mutex::new(None),
        };
        if let Recipe::Single(Encoding::TsAacAes128, _) = recipe {
            // The key URI is relative: the relay resolves it against the
            // playlist, as it does segments.
            std::fs::write(origin.dir.path().join("key.bin"), b"loa-test-key-128").unwrap();
            std::fs::write(
                origin.dir.path().join("key.info"),
                format!("key.bin\n{}\n", origin.dir.path().join("key.bin").display()),
            )
            .unwrap();
        }
        *origin.ffmpeg.lock().unwrap() = Some(origin.spawn(None));
        origin.wait_ready();
        origin
    }

    /// A stream that has ended: `seconds` of a sine, TS AAC, in a media
    /// playlist closed by EXT-X-ENDLIST (ffmpeg has finished and exited).
    pub fn ended(hz: u32, seconds: u32) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "warning",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg(format!("sine=frequency={hz}:sample_rate=48000"))
            .args(["-t", &seconds.to_string(), "-ac", "2", "-ar", "48000"])
            .args(["-c:a", "aac", "-b:a", "48k", "-f", "hls", "-hls_time", "2"])
            .args(["-hls_list_size", "0", "-hls_segment_filename", "seg%05d.ts"])
            .arg("live.m3u8")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .status()
            .expect("ffmpeg (scripts/install-deps)");
        assert!(status.success(), "ffmpeg made the ended stream");
        Origin {
            http: Server::start(dir.path()),
            recipe: Recipe::Single(Encoding::TsAac, Signal::Sine(hz)),
            dir,
            ffmpeg: Mutex::new(None),
        }
    }

    /// Seconds of audio the media playlist lists now (its EXTINFs).
    pub fn listed_seconds(&self) -> f64 {
        let text =
            std::fs::read_to_string(self.dir.path().join(self.media_playlists()[0])).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| {
                d.trim_end_matches(',')
                    .split(',')
                    .next()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap()
            })
            .sum()
    }

    /// The URL a relay is given: the master playlist or the media playlist.
    pub fn url(&self) -> String {
        self.http.url(match self.recipe {
            Recipe::Single(..) => "live.m3u8",
            Recipe::Master { .. } => "master.m3u8",
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills ffmpeg (as a crash would: no last segment, no end tag) and
    /// starts a new one in the same directory that appends to the playlist
    /// after an EXT-X-DISCONTINUITY, airing `signal` from then on. Returns at
    /// once; the new ffmpeg lists its first segment about a target duration
    /// later.
    pub fn restart(&self, signal: Signal) {
        let Recipe::Single(encoding, _) = self.recipe else {
            panic!("restart is for a single-rendition origin");
        };
        assert_ne!(
            encoding,
            Encoding::PackedAac,
            "restart is for ffmpeg's hls muxer"
        );
        let mut slot = self.ffmpeg.lock().unwrap();
        if let Some(mut child) = slot.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        *slot = Some(self.spawn(Some(signal)));
    }

    /// Number of the newest segment the media playlist lists now (the low
    /// rendition's for a master).
    pub fn newest(&self) -> u64 {
        let text =
            std::fs::read_to_string(self.dir.path().join(self.media_playlists()[0])).unwrap();
        newest_segment(&text).expect("the playlist lists segments")
    }

    /// Name of the segment `k` places after the newest one listed now (not
    /// yet fetched by anyone: ffmpeg is still writing or has not begun it).
    pub fn upcoming(&self, k: u64) -> String {
        let (prefix, ext) = match self.recipe {
            Recipe::Single(e, _) => ("seg", segment_extension(e)),
            Recipe::Master { .. } => ("r1_", "ts"),
        };
        format!("{prefix}{:05}.{ext}", self.newest() + k)
    }

    /// BANDWIDTH of each rendition the master playlist lists, by URI.
    pub fn bandwidths(&self) -> Vec<(String, u64)> {
        let text = std::fs::read_to_string(self.dir.path().join("master.m3u8")).unwrap();
        let mut out = vec![];
        let mut bandwidth = None;
        for line in text.lines() {
            if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
                bandwidth = attrs
                    .split(',')
                    .find_map(|a| a.strip_prefix("BANDWIDTH="))
                    .map(|b| b.parse::<u64>().unwrap());
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                out.push((line.trim().to_string(), bandwidth.take().unwrap()));
            }
        }
        out
    }

    fn media_playlists(&self) -> Vec<&'static str> {
        match self.recipe {
            Recipe::Single(..) => vec!["live.m3u8"],
            Recipe::Master { .. } => vec!["r1.m3u8", "r0.m3u8"],
        }
    }

    fn spawn(&self, restart: Option<Signal>) -> Child {
        let dir = self.dir.path();
        let d = |name: &str| dir.join(name).display().to_string();
        let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "warning"]
            .map(String::from)
            .to_vec();
        let signals = match self.recipe {
            Recipe::Single(_, signal) => vec![restart.unwrap_or(signal)],
            Recipe::Master { low, high } => vec![Signal::Sine(high.hz), Signal::Sine(low.hz)],
        };
        // Each signal paced to real time (as `-re` would), except that a new
        // origin encodes its first BURST at once: it lists 3 segments
        // within a second instead of after 6 s of every test's time. A
        // restarted one is live from its first sample.
        let graph: Vec<String> = signals
            .iter()
            .enumerate()
            .map(|(i, signal)| {
                let source = match signal {
                    Signal::Sine(hz) => format!("sine=frequency={hz}:sample_rate=48000"),
                    Signal::Steps => format!(
                        "aevalsrc=exprs='0.25*sin(2*PI*({STEP_BASE_HZ}+{STEP_HZ}*mod(floor(t),{STEPS}))*t)':s=48000"
                    ),
                };
                if restart.is_some() {
                    return format!("{source},arealtime[o{i}]");
                }
                let burst = BURST.as_secs();
                format!(
                    "{source},asplit[a{i}][b{i}];[a{i}]atrim=end={burst}[p{i}];\
                     [b{i}]atrim=start={burst},asetpts=PTS-STARTPTS,arealtime[l{i}];\
                     [p{i}][l{i}]concat=n=2:v=0:a=1[o{i}]"
                )
            })
            .collect();
        args.extend(["-filter_complex".into(), graph.join(";")]);
        for i in 0..signals.len() {
            args.extend(["-map".into(), format!("[o{i}]")]);
        }
        let mut hls_flags = "delete_segments+omit_endlist".to_string();
        if restart.is_some() {
            hls_flags.push_str("+append_list+discont_start");
        }
        args.extend(["-t".into(), FFMPEG_LIMIT_SECS.to_string()]);
        args.extend(["-ac", "2", "-ar", "48000"].map(String::from));
        let hls = |args: &mut Vec<String>| {
            args.extend(["-f", "hls", "-hls_time"].map(String::from));
            args.push(TARGET.as_secs().to_string());
            args.push("-hls_list_size".into());
            args.push(WINDOW_SEGMENTS.to_string());
            args.push("-hls_flags".into());
            args.push(hls_flags.clone());
        };
        match self.recipe {
            Recipe::Single(encoding, _) => {
                let codec = match encoding {
                    Encoding::TsMp3 => "libmp3lame",
                    _ => "aac",
                };
                args.extend(["-c:a", codec, "-b:a", "48k"].map(String::from));
                let segments = d(&format!("seg%05d.{}", segment_extension(encoding)));
                if encoding == Encoding::PackedAac {
                    args.extend(
                        [
                            "-f",
                            "segment",
                            "-segment_time",
                            "2",
                            "-segment_format",
                            "adts",
                        ]
                        .map(String::from),
                    );
                    args.extend(["-segment_list".into(), d("live.m3u8")]);
                    args.extend(
                        [
                            "-segment_list_type",
                            "m3u8",
                            "-segment_list_size",
                            "5",
                            "-segment_list_flags",
                            "+live",
                        ]
                        .map(String::from),
                    );
                    args.push(segments);
                } else {
                    hls(&mut args);
                    if encoding == Encoding::Fmp4Aac {
                        args.extend(
                            [
                                "-hls_segment_type",
                                "fmp4",
                                "-hls_fmp4_init_filename",
                                "init.mp4",
                            ]
                            .map(String::from),
                        );
                    }
                    if encoding == Encoding::TsAacAes128 {
                        args.extend(["-hls_key_info_file".into(), d("key.info")]);
                    }
                    args.extend(["-hls_segment_filename".into(), segments, d("live.m3u8")]);
                }
            }
            Recipe::Master { low, high } => {
                args.extend(["-c:a".into(), "aac".into()]);
                args.extend(["-b:a:0".into(), format!("{}k", high.kbps)]);
                args.extend(["-b:a:1".into(), format!("{}k", low.kbps)]);
                args.extend(
                    [
                        "-var_stream_map",
                        "a:0 a:1",
                        "-master_pl_name",
                        "master.m3u8",
                    ]
                    .map(String::from),
                );
                hls(&mut args);
                args.extend([
                    "-hls_segment_filename".into(),
                    d("r%v_%05d.ts"),
                    d("r%v.m3u8"),
                ]);
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ffmpeg.log"))
            .unwrap();
        // Not in a process group of its own: a Ctrl-C on `cargo test` then
        // stops ffmpeg too. Drop kills it; -t bounds it if Drop never runs.
        Command::new("ffmpeg")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ffmpeg (scripts/install-deps)")
    }

    /// Waits until every media playlist lists 3 segments (the burst), so a
    /// relay can join 3 target durations from the end.
    fn wait_ready(&self) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self.media_playlists().iter().all(|p| {
                std::fs::read_to_string(self.dir.path().join(p))
                    .map(|t| t.matches("#EXTINF").count() >= 3)
                    .unwrap_or(false)
            }) && (matches!(self.recipe, Recipe::Single(..))
                || self.dir.path().join("master.m3u8").exists());
            if ready {
                return;
            }
            let exited = self
                .ffmpeg
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().unwrap());
            if exited.is_some() || Instant::now() > until {
                let log =
                    std::fs::read_to_string(self.dir.path().join("ffmpeg.log")).unwrap_or_default();
                panic!("the ffmpeg origin did not list 3 segments ({exited:?}): {log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "requests to {}:\n{}",
                self.url(),
                self.http.describe_requests()
            );
        }
        if let Some(mut child) = self.ffmpeg.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn segment_extension(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Fmp4Aac => "m4s",
        Encoding::PackedAac => "aac",
        _ => "ts",
    }
}

/// Whether `name` is a media segment (not a playlist, key or init segment).
pub fn is_segment(name: &str) -> bool {
    [".ts", ".m4s", ".aac", ".mp3"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The sequence number in a segment's name (`seg00012.ts`, `r1_00012.ts`).
pub fn segment_number(name: &str) -> Option<u64> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    stem[stem.len() - digits..].parse().ok()
}

/// Number of the last segment a media playlist lists.
pub fn newest_segment(playlist: &str) -> Option<u64> {
    if !playlist.contains("#EXTINF") {
        return None;
    }
    playlist
        .lines()
        .rfind(|l| !l.starts_with('#') && !l.trim().is_empty())
        .and_then(|l| segment_number(l.trim()))
}

/// A URL on 127.0.0.1 where nothing listens: connections are refused.
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/live.m3u8")
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    /// The file asked for (the path without its leading `/` and query).
    pub name: String,
    pub status: u16,
    /// The body was cut half way (see [`Server::cut_next`]).
    pub cut: bool,
    /// For a media playlist: the number of the newest segment it listed.
    pub newest: Option<u64>,
}

#[derive(Default)]
struct Faults {
    unavailable: bool,
    missing: HashSet<String>,
    /// Playlists as they were when frozen, served instead of the live ones.
    frozen: Option<HashMap<String, Vec<u8>>>,
    cut_next: u32,
    /// Bytes per second for every body.
    throttle: Option<u64>,
}

struct State {
    dir: PathBuf,
    stop: AtomicBool,
    refusing: AtomicBool,
    faults: Mutex<Faults>,
    log: Mutex<Vec<Request>>,
}

/// HTTP/1.1 on 127.0.0.1 serving a directory, one thread per connection,
/// `Connection: close`; faults are switched on and off while it runs.
pub struct Server {
    port: u16,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            dir: dir.to_path_buf(),
            stop: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(vec![]),
        });
        let s = state.clone();
        let accept = std::thread::spawn(move || accept_loop(listener, port, &s));
        Server {
            port,
            state,
            accept: Some(accept),
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// 503 Service Unavailable for every request while on.
    pub fn set_unavailable(&self, on: bool) {
        self.faults().unavailable = on;
    }

    /// While on, the port is closed: connections are refused. Off: the same
    /// port listens again.
    pub fn set_refusing(&self, on: bool) {
        self.state.refusing.store(on, Ordering::SeqCst);
        // The accept loop notices within 5 ms.
        std::thread::sleep(Duration::from_millis(20));
    }

    /// 404 for `name` from now on.
    pub fn lose(&self, name: &str) {
        self.faults().missing.insert(name.to_string());
    }

    /// Serves `name` again after [`Server::lose`].
    pub fn restore(&self, name: &str) {
        self.faults().missing.remove(name);
    }

    /// The playlists stop advancing: they are served as they are now (the
    /// segments they list still are) until [`Server::thaw`].
    pub fn freeze(&self) {
        let mut snapshot = HashMap::new();
        for e in std::fs::read_dir(&self.state.dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".m3u8") {
                snapshot.insert(name.clone(), read_playlist(&e.path()).unwrap());
            }
        }
        self.faults().frozen = Some(snapshot);
    }

    pub fn thaw(&self) {
        self.faults().frozen = None;
    }

    /// The next `n` segment responses send the full Content-Length but only
    /// half the body, then close the connection.
    pub fn cut_next(&self, n: u32) {
        self.faults().cut_next = n;
    }

    /// Sends every body at `bytes_per_second` (None: as fast as it can).
    pub fn throttle(&self, bytes_per_second: Option<u64>) {
        self.faults().throttle = bytes_per_second;
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// Empties the request log (a long bench measures the relay's memory,
    /// not the log's).
    pub fn forget_requests(&self) {
        let mut log = self.state.log.lock().unwrap();
        log.clear();
        log.shrink_to_fit();
    }

    /// The request log, one line each: milliseconds since the first
    /// request, status, name (and the newest segment a playlist listed).
    pub fn describe_requests(&self) -> String {
        let log = self.state.log.lock().unwrap();
        let Some(start) = log.first().map(|r| r.at) else {
            return "no requests".into();
        };
        log.iter()
            .map(|r| {
                let ms = r.at.duration_since(start).as_millis();
                let newest = r.newest.map_or(String::new(), |n| format!(" (newest {n})"));
                let cut = if r.cut { " (cut)" } else { "" };
                format!("{ms:>6} {} {}{newest}{cut}\n", r.status, r.name)
            })
            .collect()
    }

    /// How many times `name` was asked for.
    pub fn fetches(&self, name: &str) -> usize {
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.name == name)
            .count()
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.state.faults.lock().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Accepts without blocking so that the listener can be closed (refusing)
/// and bound again on the same port, and the loop can stop.
fn accept_loop(listener: TcpListener, port: u16, state: &Arc<State>) {
    listener.set_nonblocking(true).unwrap();
    let mut listener = Some(listener);
    while !state.stop.load(Ordering::SeqCst) {
        let refusing = state.refusing.load(Ordering::SeqCst);
        if refusing {
            listener = None;
        } else if listener.is_none() {
            // std sets SO_REUSEADDR, so the port binds again at once.
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                l.set_nonblocking(true).unwrap();
                listener = Some(l);
            }
        }
        match listener.as_ref().map(|l| l.accept()) {
            Some(Ok((stream, _))) => {
                let s = state.clone();
                std::thread::spawn(move || serve(stream, &s));
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).unwrap_or(0) == 0 {
        return;
    }
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/");
    let name = path
        .trim_start_matches('/')
        .split('?')
        .next()
        .unwrap_or("")
        .to_string();

    let (status, body, cut) = {
        let mut faults = state.faults.lock().unwrap();
        let body = if faults.unavailable {
            Err(503)
        } else if faults.missing.contains(&name) || name.is_empty() || name.contains(['/', '\\']) {
            Err(404)
        } else if let Some(b) = faults.frozen.as_ref().and_then(|f| f.get(&name)) {
            Ok(b.clone())
        } else if name.ends_with(".m3u8") {
            read_playlist(&state.dir.join(&name)).ok_or(404)
        } else {
            std::fs::read(state.dir.join(&name)).map_err(|_| 404)
        };
        match body {
            Ok(b) => {
                let cut = is_segment(&name) && faults.cut_next > 0;
                if cut {
                    faults.cut_next -= 1;
                }
                (200, b, cut)
            }
            Err(code) => (code, vec![], false),
        }
    };
    let newest = if status == 200 && name.ends_with(".m3u8") {
        newest_segment(&String::from_utf8_lossy(&body))
    } else {
        None
    };
    state.log.lock().unwrap().push(Request {
        at: Instant::now(),
        name: name.clone(),
        status,
        cut,
        newest,
    });

    let (reason, content_type) = match status {
        200 => ("OK", content_type(&name)),
        404 => ("Not Found", "text/plain"),
        _ => ("Service Unavailable", "text/plain"),
    };
    let mut out = &stream;
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if out.write_all(head.as_bytes()).is_err() || method == "HEAD" {
        return;
    }
    if cut {
        let _ = out.write_all(&body[..body.len() / 2]);
        let _ = out.flush();
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut sent = 0;
    while sent < body.len() && !state.stop.load(Ordering::SeqCst) {
        let rate = state.faults.lock().unwrap().throttle;
        // A tenth of a second's worth at a time while throttled.
        let n = rate
            .map_or(body.len(), |r| (r as usize / 10).max(1))
            .min(body.len() - sent);
        if out.write_all(&body[sent..sent + n]).is_err() {
            return;
        }
        sent += n;
        if rate.is_some() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = out.flush();
}

/// A playlist as a whole: ffmpeg's hls muxer renames it into place, but the
/// segment muxer rewrites it in place, so a torn read is read again (a file
/// that is no playlist at all is served as it is).
fn read_playlist(path: &Path) -> Option<Vec<u8>> {
    let mut body = std::fs::read(path).ok()?;
    for _ in 0..20 {
        if body.starts_with(b"#EXTM3U") && body.ends_with(b"\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        body = std::fs::read(path).ok()?;
    }
    Some(body)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        Some("m4s") | Some("mp4") => "audio/mp4",
        Some("aac") => "audio/aac",
        Some("mp3") => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// Reads [`Signal::Steps`] back from an output WAV: for each place where the
/// tone steps from one second of the origin to another, the output frame and
/// the origin's second (unwrapped, counting from the first step heard, which
/// is numbered by its frequency: exact while the origin is under
/// [`STEPS`] seconds old). Windows of 0.1 s; a step counts once two windows
/// in a row carry it, so a window across a step (two tones mixed) or a seam
/// is never read as a third step.
pub fn steps_clock(frames: &[(i16, i16)]) -> Vec<(u64, u64)> {
    const W: usize = 4_800;
    let mut out = vec![];
    let mut current: Option<u64> = None; // the origin's second, unwrapped
    let mut candidate: Option<(usize, u64)> = None; // (window, step)
    for (i, w) in frames.chunks_exact(W).enumerate() {
        let Some(k) = step_of(w) else {
            candidate = None;
            continue;
        };
        if current.is_some_and(|c| c % STEPS == k) {
            candidate = None;
            continue;
        }
        match candidate {
            Some((j, step)) if step == k && j + 1 == i => {
                let second = match current {
                    None => k,
                    // The unwrapped second with this step nearest the last.
                    Some(c) => {
                        let base = c - c % STEPS;
                        [base.saturating_sub(STEPS) + k, base + k, base + STEPS + k]
                            .into_iter()
                            .min_by_key(|s| s.abs_diff(c))
                            .unwrap()
                    }
                };
                if current.is_some() {
                    out.push(((j * W) as u64, second));
                }
                current = Some(second);
                candidate = None;
            }
            _ => candidate = Some((i, k)),
        }
    }
    out
}

/// The step a 0.1 s window carries, if it is a clean one.
fn step_of(w: &[(i16, i16)]) -> Option<u64> {
    if w.iter().all(|f| f.0.abs() < 40) {
        return None;
    }
    let crossings = w
        .windows(2)
        .filter(|p| (p[0].0 < 0) != (p[1].0 < 0))
        .count() as f64;
    // 2 crossings a cycle, 10 windows a second.
    let hz = crossings * 5.0;
    let k = ((hz - STEP_BASE_HZ as f64) / STEP_HZ as f64).round();
    ((0.0..STEPS as f64).contains(&k) && (hz - steps_hz(k as u64) as f64).abs() <= 15.0)
        .then_some(k as u64)
}
