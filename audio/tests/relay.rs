//! Stream relay against a local HTTP server that serves an endless MP3
//! (behind an .m3u), falls silent, goes down, then has sound again: the deck
//! must cover the silence and the drop with the fallback, reconnect, and
//! rejoin the relay when its sound is back. Never dead air.

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
    Deck, DeckConfig, DeckEvent, Ending, Item, Media, OutputSpec, Priority, SilencePolicy,
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
    // Connections that got audio, counted apart in the high bits.
    connections.fetch_add(1 << 16, Ordering::SeqCst);
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

/// A piece of `kind` making its first sound.
fn started(e: &DeckEvent, kind: SourceKind) -> bool {
    matches!(e, DeckEvent::Started { piece, .. } if piece.kind == kind)
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
    // Each step waits for what the deck says happened, never for a time: on
    // a busy machine connecting, noticing and reconnecting take longer.
    let mut events = Vec::new();
    let mut wait = |what: &str, f: &dyn Fn(&DeckEvent) -> bool| {
        wait_for(&deck, what, Duration::from_secs(5), |e| {
            events.push(e.clone());
            f(e)
        });
    };
    wait("the relay on air", &|e| started(e, SourceKind::Stream));
    // It airs a while (at least 2 s)...
    std::thread::sleep(Duration::from_secs(2));
    // ...falls silent while on air (the connection stays up): it airs the
    // silence for the 1 s window, then the fallback covers...
    server.mode.store(SILENCE, Ordering::SeqCst);
    wait("the fallback covering the silence", &|e| {
        started(e, SourceKind::File)
    });
    // ...the server goes down (the connection drops, a retry is refused)...
    let refused = server.connections.load(Ordering::SeqCst);
    server.mode.store(DOWN, Ordering::SeqCst);
    server.drop_connections();
    let until = Instant::now() + patience(Duration::from_secs(4));
    while server.connections.load(Ordering::SeqCst) & 0xffff <= refused & 0xffff {
        assert!(Instant::now() < until, "the relay never tried again");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ...and is back with sound: the relay rejoins at its next retry (its
    // backoff depends on how often it failed), cutting the fallback, and
    // airs a while again.
    server.mode.store(TONE, Ordering::SeqCst);
    wait(
        "the relay rejoining",
        &|e| matches!(e, DeckEvent::Ended { piece, .. } if piece.kind == SourceKind::File),
    );
    std::thread::sleep(Duration::from_secs(2));
    deck.stop(id);
    wait(
        "the relay's end",
        &|e| matches!(e, DeckEvent::ItemEnded { item, .. } if *item == id),
    );
    deck.close();

    let line = timeline(&read_wav(&out));
    eprintln!("{line}");
    // Rows: the relay (only relayed audio counts) and each fallback airing.
    let rows: Vec<(SourceKind, Ending, u64)> = events
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
    assert!(
        rows.iter().any(|r| r.0 == SourceKind::File),
        "the fallback covered the silence and the drop: {rows:?}"
    );
    assert!(rows
        .iter()
        .filter(|r| r.0 == SourceKind::File)
        .all(|r| r.1 == Ending::Cut));
    let relay = rows
        .iter()
        .find(|r| r.0 == SourceKind::Stream)
        .expect("relay row");
    assert_eq!(relay.1, Ending::Cut);
    // At least 2 s before the silence, its 1 s window, 2 s after the rejoin.
    let secs = relay.2 as f64 / 48_000.0;
    assert!(secs > 4.5, "relay aired {secs} s");
    // In this order: the relay aired, fell silent (aired for the silence
    // window), the fallback covered the silence and the drop, and the
    // relay's sound came back at the end.
    let first_t = line.find('T').expect("the relay aired");
    let quiet = first_t
        + line[first_t..]
            .find(&".".repeat(40))
            .expect("the silent relay aired for the silence window");
    // 2 s relayed at least (the '?' are the seams between copies of the
    // test MP3).
    let relayed = line[first_t..quiet].matches('T').count();
    assert!(relayed > 100, "relay aired 2 s before the silence: {line}");
    let fallback = quiet + line[quiet..].find('F').expect("the fallback aired");
    let last_t = line
        .rfind("TTTTTTTTTTTTTTTTTTTTTTTTT")
        .expect("relay rejoined");
    assert!(
        last_t > fallback,
        "rejoined after the silence and the drop: {line}"
    );
    // A silent or dead source does not air again until it has sound: no
    // silence after the first window.
    assert!(
        !line[fallback..last_t].contains(&".".repeat(10)),
        "the fallback covered until the sound was back: {line}"
    );
    // Never dead air beyond the silence window (1 s = 50 windows) plus
    // a 100 ms measuring window: not while it connects either (the
    // fallback covers), nor before the stop's fade.
    let body = &line[..line.len() - 40];
    let longest_quiet = body.split(|c| c != '.').map(str::len).max().unwrap_or(0);
    assert!(
        longest_quiet <= 60,
        "{longest_quiet} windows of silence: {line}"
    );
    // The first connection and the rejoin got audio.
    assert!(
        server.connections.load(Ordering::SeqCst) >> 16 >= 2,
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
    wait_for(&deck, "the relay on air", Duration::from_secs(2), |e| {
        started(e, SourceKind::Stream)
    });
    // The tone relayed for more than 1.2 s (the WAV's header follows it
    // every second).
    let until = Instant::now() + patience(Duration::from_secs(3));
    while timeline(&read_wav(&out)).matches('T').count() <= 60 {
        assert!(
            Instant::now() < until,
            "the tone was not relayed: {}",
            timeline(&read_wav(&out))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    deck.stop(id);
    deck.close();
}
