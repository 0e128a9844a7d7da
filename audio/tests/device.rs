//! The real device path with no sound card: a user-mode PulseAudio null sink
//! behind ALSA (scripts/pulse-env), the deck on `device:default`, and what
//! aired captured from the sink's monitor with parecord.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{patience, sine_wav, wait_for};
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, Media, Order, OutputSpec, Priority};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pulse-env")
}

struct Pulse {
    dir: PathBuf,
}

impl Pulse {
    fn start(dir: &Path) -> Pulse {
        let st = Command::new(script())
            .arg("start")
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "pulse-env: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        Pulse {
            dir: dir.to_path_buf(),
        }
    }
    fn stop(&self) {
        Command::new(script())
            .arg("stop")
            .arg(&self.dir)
            .status()
            .unwrap();
    }
    fn server(&self) -> String {
        format!("unix:{}/native", self.dir.display())
    }
    /// Starts capturing the sink's monitor to `to`, and returns once the
    /// capture runs (its file grows).
    fn record(&self, to: &Path) -> Child {
        let child = Command::new("parecord")
            .args(["--server", &self.server(), "-d", "loa_null.monitor"])
            .args([
                "--rate=48000",
                "--channels=2",
                "--format=s16le",
                "--file-format=wav",
            ])
            .arg(to)
            .spawn()
            .unwrap();
        captured_more(to, 0, 0.1);
        child
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Bytes of a capture in progress (parecord writes as it records).
fn captured(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Waits until the capture at `path` holds `secs` more audio than
/// `from` bytes: what sounded before the call has reached the file.
fn captured_more(path: &Path, from: u64, secs: f64) -> u64 {
    // 48 kHz, two 16-bit channels; the header is 44 bytes.
    let want = from.max(44) + (secs * 48_000.0 * 4.0) as u64;
    let until = Instant::now() + patience(Duration::from_secs(2));
    loop {
        let now = captured(path);
        if now >= want {
            return now;
        }
        assert!(
            Instant::now() < until,
            "the capture {} stayed at {now} bytes",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_recording(mut child: Child) {
    // SIGTERM lets parecord finish the WAV header.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    child.wait().unwrap();
}

/// Frequency of each 10 ms window of the left channel (0 for silence).
fn pitch_track(frames: &[(i16, i16)]) -> Vec<u32> {
    frames
        .chunks(480)
        .map(|w| {
            if w.iter().map(|f| f.0.unsigned_abs()).max().unwrap_or(0) < 1000 {
                return 0;
            }
            let crossings = w
                .windows(2)
                .filter(|p| (p[0].0 < 0) != (p[1].0 < 0))
                .count();
            (crossings as u32 * 100 / 2 + 5) / 10 * 10
        })
        .collect()
}

/// Length in windows of the longest run of windows near `hz`, and where it starts.
fn run_of(track: &[u32], hz: u32) -> (usize, usize) {
    let near = |f: u32| f.abs_diff(hz) <= hz / 10;
    let (mut best, mut best_start, mut cur, mut start) = (0, 0, 0, 0);
    for (i, &f) in track.iter().enumerate() {
        if near(f) {
            if cur == 0 {
                start = i;
            }
            cur += 1;
            if cur > best {
                best = cur;
                best_start = start;
            }
        } else {
            cur = 0;
        }
    }
    (best, best_start)
}

#[test]
fn device_airs_a_playlist_gaplessly_comes_back_after_the_audio_server_dies_and_cuts_for_an_emergency(
) {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(&dir.path().join("pulse"));
    // What the player gets from scripts/pulse-env (never PULSE_SERVER).
    std::env::set_var("XDG_CONFIG_HOME", dir.path().join("pulse/config"));
    std::env::remove_var("PULSE_SERVER");

    let low = dir.path().join("low.wav");
    let high = dir.path().join("high.wav");
    sine_wav(&low, 440.0, 16_000.0, 28_800);
    sine_wav(&high, 880.0, 16_000.0, 28_800);
    let capture = dir.path().join("aired.wav");
    let rec = pulse.record(&capture);
    let deck = Deck::open(&OutputSpec::Device("default".into()), DeckConfig::default()).unwrap();
    let id = deck.play(Item::new(
        Media::Files {
            paths: vec![low.clone(), high.clone()],
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    let mut events = vec![];
    wait_for(&deck, "end of the playlist", Duration::from_secs(10), |e| {
        events.push(e.clone());
        matches!(e, DeckEvent::ItemEnded { item, .. } if *item == id)
    });
    // The end of the playlist and a moment of silence after it captured.
    captured_more(&capture, captured(&capture), 0.3);
    stop_recording(rec);

    // Gapless where the deck decides it: the second file's first sample is
    // the one after the first file's last (sample positions, not a capture
    // a busy machine may stutter).
    let at = |start: bool, path: &Path| {
        events
            .iter()
            .find_map(|e| match e {
                DeckEvent::Started { piece, at, .. }
                    if start && piece.source == path.display().to_string() =>
                {
                    Some(*at)
                }
                DeckEvent::Ended {
                    piece,
                    at,
                    aired_frames,
                    ..
                } if !start && piece.source == path.display().to_string() => {
                    assert_eq!(*aired_frames, 28_800, "{events:?}");
                    Some(*at)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{} not in {events:?}", path.display()))
    };
    assert_eq!(at(false, &low), at(true, &high), "a gap: {events:?}");

    // What the sound card played: 0.6 s of each (60 windows), in order. A
    // starved machine may stutter (a window or two lost to a seam): counted,
    // not required in one run.
    let track = pitch_track(&common::read_wav(&capture));
    let near = |hz: u32| track.iter().filter(|f| f.abs_diff(hz) <= hz / 10).count();
    let (low_len, low_start) = run_of(&track, 440);
    let (high_len, high_start) = run_of(&track, 880);
    eprintln!(
        "aired: 440 Hz {low_len} windows from {low_start}, 880 Hz {high_len} from {high_start}"
    );
    for hz in [440, 880] {
        assert!(
            (55..=61).contains(&near(hz)),
            "{hz} Hz aired for {} windows: {track:?}",
            near(hz)
        );
    }
    assert!(high_start > low_start, "440 Hz, then 880 Hz: {track:?}");

    // The audio server dies mid-air: the deck reports it, keeps time, and
    // reopens the device when it is back.
    let tone = deck.play(Item::new(
        Media::Tone {
            hz: 1000.0,
            length: Duration::from_secs(60),
        },
        Priority::Normal,
    ));
    wait_for(
        &deck,
        "the tone",
        Duration::from_secs(2),
        |e| matches!(e, DeckEvent::Started { item, .. } if *item == tone),
    );
    let stopping = Instant::now();
    pulse.stop();
    let failed = wait_for(&deck, "output failure", Duration::from_secs(10), |e| {
        matches!(e, DeckEvent::OutputFailed { .. })
    });
    let noticed = Instant::now();
    eprintln!("{failed:?}");
    let restarting = Instant::now();
    let _pulse_again = Pulse::start(&dir.path().join("pulse"));
    let restored = wait_for(&deck, "output restored", Duration::from_secs(30), |e| {
        matches!(e, DeckEvent::OutputRestored { .. })
    });
    eprintln!("{restored:?}");
    // The gap it reports is the outage as the deck saw it: from after the
    // server went away to after it was back (ordering, not a figure).
    if let DeckEvent::OutputRestored { gap, .. } = restored {
        assert!(
            gap >= restarting.duration_since(noticed) && gap <= stopping.elapsed(),
            "a gap of {gap:?}: the server was down for {:?} of the {:?} since it stopped",
            restarting.duration_since(noticed),
            stopping.elapsed()
        );
    }
    // A second of what airs now: the tone again.
    let capture2 = dir.path().join("after.wav");
    let rec = pulse.record(&capture2);
    captured_more(&capture2, captured(&capture2), 1.0);
    stop_recording(rec);
    let track = pitch_track(&common::read_wav(&capture2));
    let tone_len = track.iter().filter(|f| f.abs_diff(1000) <= 100).count();
    assert!(
        tone_len >= 40,
        "the tone airs again after the restart: {track:?}"
    );

    // An emergency over the tone: the card drops what it holds of the tone
    // (the deck is woken, not waiting for the card's next period), so the
    // emergency is heard right after the call instead of after the card's
    // buffer and the server's (some 300 ms at 100 ms periods). The tone
    // resumes after it.
    let capture3 = dir.path().join("preempted.wav");
    let rec = pulse.record(&capture3);
    let _ = deck.events().try_iter().count();
    let called = std::time::SystemTime::now();
    let alarm = deck.play(Item::new(
        Media::Tone {
            hz: 500.0,
            length: Duration::from_millis(600),
        },
        Priority::Emergency,
    ));
    let started = wait_for(
        &deck,
        "the emergency",
        Duration::from_secs(2),
        |e| matches!(e, DeckEvent::Started { item, .. } if *item == alarm),
    );
    let DeckEvent::Started { at, .. } = started else {
        unreachable!("matched above")
    };
    wait_for(
        &deck,
        "the emergency's end",
        Duration::from_secs(2),
        |e| matches!(e, DeckEvent::ItemEnded { item, .. } if *item == alarm),
    );
    captured_more(&capture3, captured(&capture3), 0.8);
    stop_recording(rec);
    deck.stop(tone);
    let heard_after = at.duration_since(called).unwrap_or_default();
    eprintln!("the emergency heard {heard_after:?} after the call");
    assert!(
        heard_after < Duration::from_millis(100),
        "the emergency was heard {heard_after:?} after the call: the card kept what it held"
    );
    let track = pitch_track(&common::read_wav(&capture3));
    let (alarm_len, alarm_start) = run_of(&track, 500);
    // 600 ms, the first of it over the tone's 300 ms fade.
    assert!(
        (25..=61).contains(&alarm_len),
        "the emergency aired for {alarm_len} windows: {track:?}"
    );
    let resumed = track[alarm_start + alarm_len..]
        .iter()
        .filter(|f| f.abs_diff(1000) <= 100)
        .count();
    assert!(resumed >= 10, "the tone resumes after it: {track:?}");
    deck.close();
}
