//! Stream relay against a local HTTP server that serves an endless MP3
//! (behind an .m3u), drops the connection, serves silence, then sound again:
//! the deck must reconnect, cover the drop and the silence with the fallback,
//! and rejoin the relay when it is back. Never dead air.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use loa_audio::{
    Deck, DeckConfig, DeckEvent, Item, Media, Outcome, OutputSpec, Priority, SilencePolicy,
    SourceKind,
};

const TONE: u8 = 0;
const SILENCE: u8 = 1;
const DOWN: u8 = 2;

/// A CBR MP3 without a Xing header, so copies can be concatenated endlessly.
fn mp3(dir: &Path, name: &str, synth: &[&str]) -> Vec<u8> {
    let wav = dir.join(format!("{name}.wav"));
    let mp3 = dir.join(format!("{name}.mp3"));
    let st = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "2", "-b", "16"])
        .arg(&wav)
        .args(["synth", "2"])
        .args(synth)
        .status()
        .expect("sox (scripts/install-deps)");
    assert!(st.success());
    let st = Command::new("lame")
        .args(["--quiet", "-t", "--cbr", "-b", "128"])
        .arg(&wav)
        .arg(&mp3)
        .status()
        .expect("lame (scripts/install-deps)");
    assert!(st.success());
    std::fs::read(mp3).unwrap()
}

struct Server {
    port: u16,
    mode: Arc<AtomicU8>,
    generation: Arc<AtomicU32>,
    connections: Arc<AtomicU32>,
}

impl Server {
    fn start(tone: Vec<u8>, silence: Vec<u8>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(TONE));
        let generation = Arc::new(AtomicU32::new(0));
        let connections = Arc::new(AtomicU32::new(0));
        let (m, g, c) = (mode.clone(), generation.clone(), connections.clone());
        let (tone, silence) = (Arc::new(tone), Arc::new(silence));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, g, c, t, s) = (
                    m.clone(),
                    g.clone(),
                    c.clone(),
                    tone.clone(),
                    silence.clone(),
                );
                std::thread::spawn(move || serve(stream, port, &m, &g, &c, &t, &s));
            }
        });
        Server {
            port,
            mode,
            generation,
            connections,
        }
    }
    /// Drops every open stream connection.
    fn drop_connections(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

fn serve(
    mut stream: TcpStream,
    port: u16,
    mode: &AtomicU8,
    generation: &AtomicU32,
    connections: &AtomicU32,
    tone: &[u8],
    silence: &[u8],
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
    }
    if request.contains("/live.m3u") {
        let body = format!("#EXTM3U\n#EXTINF:-1,VOV test\nhttp://127.0.0.1:{port}/stream\n");
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: audio/x-mpegurl\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    connections.fetch_add(1, Ordering::SeqCst);
    if mode.load(Ordering::SeqCst) == DOWN {
        let _ = stream.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let gen = generation.load(Ordering::SeqCst);
    let _ =
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: test\r\n\r\n");
    // 128 kbit/s: 16,000 bytes a second; a one-second burst, then real time.
    let mut sent = 0usize;
    let start = Instant::now();
    let mut pos = 0usize;
    loop {
        if generation.load(Ordering::SeqCst) != gen {
            return; // the drop
        }
        let due = 16_000 + start.elapsed().as_millis() as usize * 16;
        if sent >= due {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let src = if mode.load(Ordering::SeqCst) == TONE {
            tone
        } else {
            silence
        };
        let n = 384.min(src.len() - pos % src.len());
        let from = pos % src.len();
        if stream.write_all(&src[from..from + n]).is_err() {
            return;
        }
        pos += n;
        sent += n;
    }
}

/// Windows of 20 ms: 'T' the relay's 440 Hz tone, 'F' the fallback file,
/// '.' silence, '?' anything else (crossfades).
fn timeline(frames: &[(i16, i16)]) -> String {
    frames
        .chunks(960)
        .map(|w| {
            if w.iter()
                .filter(|f| matches!(decode(**f), Some((7, _))))
                .count()
                > 900
            {
                'F'
            } else if w.iter().all(|f| f.0.abs() < 40) {
                '.'
            } else {
                let crossings = w
                    .windows(2)
                    .filter(|p| (p[0].0 < 0) != (p[1].0 < 0))
                    .count();
                if (15..=20).contains(&crossings) {
                    'T'
                } else {
                    '?'
                }
            }
        })
        .collect()
}

#[test]
fn relay_reconnects_covers_drops_and_silence_with_the_fallback_and_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3(dir.path(), "tone", &["sine", "440", "vol", "0.5"]);
    let silence = mp3(dir.path(), "silence", &["sine", "440", "vol", "0"]);
    let fallback = dir.path().join("nhac-nen.wav");
    coded_wav(&fallback, 7, 48_000 * 30);
    let server = Server::start(tone, silence);

    let out = dir.path().join("relay.wav");
    let config = DeckConfig {
        silence: SilencePolicy {
            below_dbfs: -50.0,
            duration: Duration::from_secs(1),
        },
        ..Default::default()
    };
    let deck = Deck::open(&OutputSpec::Wav(out.clone()), config).unwrap();
    let id = deck.play(Item::new(
        Media::Stream {
            sources: vec![format!("http://127.0.0.1:{}/live.m3u", server.port)],
            bandwidth: None,
            fallback: vec![fallback.clone()],
        },
        Priority::Normal,
    ));
    std::thread::sleep(Duration::from_secs(3));
    // The relay drops and stays down for 2 s (longer than the 1 s it had
    // buffered; the retries come 0.5, 1.5 and 3.5 s after the drop)...
    server.mode.store(DOWN, Ordering::SeqCst);
    server.drop_connections();
    std::thread::sleep(Duration::from_secs(2));
    // ...comes back carrying silence (from the 3.5 s retry on)...
    server.mode.store(SILENCE, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(4));
    // ...then sound again.
    server.mode.store(TONE, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    deck.stop(id);
    std::thread::sleep(Duration::from_millis(400));
    let events: Vec<DeckEvent> = deck.events().try_iter().collect();
    deck.close();

    let line = timeline(&read_wav(&out));
    eprintln!("{line}");
    // Rows: the relay (only relayed audio counts) and each fallback airing.
    let rows: Vec<(SourceKind, Outcome, u64)> = events
        .iter()
        .filter_map(|e| match e {
            DeckEvent::Ended {
                piece,
                outcome,
                aired_frames,
                ..
            } => Some((piece.kind, outcome.clone(), *aired_frames)),
            _ => None,
        })
        .collect();
    eprintln!("{rows:?}");
    let fallbacks = rows.iter().filter(|r| r.0 == SourceKind::File).count();
    assert!(
        fallbacks >= 2,
        "fallback for the drop and for the silence: {rows:?}"
    );
    assert!(rows
        .iter()
        .filter(|r| r.0 == SourceKind::File)
        .all(|r| r.1 == Outcome::Cut));
    let relay = rows
        .iter()
        .find(|r| r.0 == SourceKind::Stream)
        .expect("relay row");
    assert_eq!(relay.1, Outcome::Cut);
    let secs = relay.2 as f64 / 48_000.0;
    assert!(secs > 4.0 && secs < 10.0, "relay aired {secs} s of 13");
    // The relay aired, then the fallback covered the drop, then the relay
    // (silent, for at most the silence window), the fallback again, and the
    // relay's sound at the end.
    let first_t = line.find('T').expect("the relay aired");
    // While it connects the fallback may cover a moment; then it relays.
    assert!(first_t < 50, "the relay aired within a second: {line}");
    let t_run_end = first_t + line[first_t..].find('F').expect("the fallback aired");
    // ~3 s relayed plus the second it had buffered (the '?' are the seams
    // between copies of the test MP3).
    let relayed = line[first_t..t_run_end].matches('T').count();
    assert!(relayed > 150, "relay aired ~4 s before the drop: {line}");
    let after_drop = &line[t_run_end..];
    // Back with silence: relayed for the 1 s window, then the fallback again.
    let silent = after_drop
        .find(&".".repeat(40))
        .expect("the silent relay aired");
    assert!(
        after_drop[silent..].contains('F'),
        "fallback after the silence window: {line}"
    );
    let last_t = line
        .rfind("TTTTTTTTTTTTTTTTTTTTTTTTT")
        .expect("relay rejoined");
    assert!(
        last_t > t_run_end + 150,
        "rejoined after the silence: {line}"
    );
    // Never dead air beyond the silence window (1 s = 50 windows) plus
    // the 500 ms rejoin buffer.
    let body = &line[first_t..line.len() - 40];
    let longest_quiet = body.split(|c| c != '.').map(str::len).max().unwrap_or(0);
    assert!(
        longest_quiet <= 80,
        "{longest_quiet} windows of silence: {line}"
    );
    // First connection, refused retries while down, the silent one.
    assert!(
        server.connections.load(Ordering::SeqCst) >= 3,
        "reconnected"
    );
}

#[test]
fn a_shoutcast_v1_server_answering_icy_200_is_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let tone = mp3(dir.path(), "tone", &["sine", "440", "vol", "0.5"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let _ = stream
                .write_all(b"ICY 200 OK\r\nicy-name: VOV test\r\ncontent-type: audio/mpeg\r\n\r\n");
            // 2 s of tone at about real time, then the server hangs up.
            for chunk in tone.chunks(1_600) {
                if stream.write_all(chunk).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let out = dir.path().join("icy.wav");
    let deck = Deck::open(&OutputSpec::Wav(out.clone()), DeckConfig::default()).unwrap();
    let id = deck.play(Item::new(
        Media::Stream {
            sources: vec![format!("http://127.0.0.1:{port}/;stream.mp3")],
            bandwidth: None,
            fallback: vec![],
        },
        Priority::Normal,
    ));
    std::thread::sleep(Duration::from_millis(2500));
    deck.stop(id);
    std::thread::sleep(Duration::from_millis(300));
    deck.close();
    let line = timeline(&read_wav(&out));
    assert!(
        line.matches('T').count() > 60,
        "the tone was relayed: {line}"
    );
}
