//! Engine figures (a bench binary that prints them; `cargo bench -p loa-audio`):
//! - CPU while playing a 48 kHz stereo MP3 on the device path (target < 1 %
//!   of one core);
//! - preemption latency, from the `play` call to the new item's first sample
//!   handed to the sound card (target < 50 ms), and with the card's own
//!   buffer delay added;
//! - virtual-clock render speed (what `loa simulate` gets).
//!
//! The device path runs on a user-mode PulseAudio null sink started with
//! scripts/pulse-env, as in the tests: no sound card needed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use loa_audio::{Deck, DeckConfig, DeckEvent, Item, Media, OutputSpec, Priority, VirtualDeck};

fn cpu_time() -> Duration {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// CPU ticks per thread name, to see where the time goes.
fn thread_ticks() -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let name = std::fs::read_to_string(t.path().join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        *out.entry(name).or_insert(0) += ticks;
    }
    out
}

fn print_threads(what: &str, before: &std::collections::BTreeMap<String, u64>, secs: f64) {
    let parts: Vec<String> = thread_ticks()
        .into_iter()
        .filter_map(|(name, ticks)| {
            let b = before.get(&name).copied().unwrap_or(0);
            // Ticks are 10 ms: ticks/secs is a percentage of one core.
            (ticks > b).then(|| format!("{name} {:.2} %", (ticks - b) as f64 / secs))
        })
        .collect();
    println!("  {what}, by thread: {}", parts.join(", "));
}

fn make_mp3(dir: &Path) -> PathBuf {
    let wav = dir.join("music.wav");
    let mp3 = dir.join("music.mp3");
    // Music-like content (tones over pink noise) so the encoder works for its bits.
    assert!(Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "2", "-b", "16"])
        .arg(&wav)
        .args([
            "synth",
            "40",
            "pinknoise",
            "vol",
            "0.2",
            ":",
            "synth",
            "40",
            "sine",
            "330",
            "vol",
            "0.3"
        ])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("lame")
        .args(["--quiet", "-b", "192"])
        .arg(&wav)
        .arg(&mp3)
        .status()
        .unwrap()
        .success());
    mp3
}

fn pulse(dir: &Path, action: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pulse-env");
    let st = Command::new(script).arg(action).arg(dir).output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let dir = tempfile::tempdir().unwrap();
    let mp3 = make_mp3(dir.path());
    let pulse_dir = dir.path().join("pulse");
    pulse(&pulse_dir, "start");
    std::env::set_var("XDG_CONFIG_HOME", pulse_dir.join("config"));
    std::env::remove_var("PULSE_SERVER");

    let deck = Deck::open(&OutputSpec::Device("default".into()), DeckConfig::default()).unwrap();
    // Idle deck (silence to the card) as a baseline.
    std::thread::sleep(Duration::from_secs(1));
    let (c0, t0, th0) = (cpu_time(), Instant::now(), thread_ticks());
    std::thread::sleep(Duration::from_secs(10));
    let idle = cpu_time().saturating_sub(c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    print_threads("idle deck", &th0, t0.elapsed().as_secs_f64());

    let music = deck.play(Item::new(Media::file(&mp3), Priority::Normal));
    std::thread::sleep(Duration::from_secs(1));
    let (c0, t0, th0) = (cpu_time(), Instant::now(), thread_ticks());
    std::thread::sleep(Duration::from_secs(20));
    let playing = cpu_time().saturating_sub(c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    print_threads("playing", &th0, t0.elapsed().as_secs_f64());
    println!("cpu, 48 kHz stereo 192 kbit/s MP3 on device:default: {playing:.2} % of one core (idle deck {idle:.2} %)");

    // Preemption: an emergency tone over a quiet one, 30 times, at random
    // phases of the card's period, with the sink's monitor recorded: where
    // each emergency starts in the recording is when it was heard. The
    // recording's clock is set by a scheduled tone before them (a start the
    // deck compensates, heard on its instant), and one after them shows
    // whether the scheduled starts are still on time after the cuts.
    deck.stop(music);
    // The music's fade and what the card holds of it, gone by.
    std::thread::sleep(Duration::from_secs(1));
    // parec's output read as it comes, each read stamped with the wall
    // time: the lowest (arrival - sample time) over the recording is when
    // its sample 0 sounded, to within the recorder's own delay.
    let mut parec = Command::new("parec")
        .arg("--server")
        .arg(format!("unix:{}", pulse_dir.join("native").display()))
        .args(["-d", "loa_null.monitor", "--raw", "--format=float32le"])
        .args(["--rate=48000", "--channels=2", "--latency-msec=10"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("parec (pulseaudio-utils)");
    let mut out = parec.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let (mut bytes, mut offsets) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 1 << 14];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            let now = SystemTime::now();
            bytes.extend_from_slice(&buf[..n]);
            let frames = (bytes.len() / 8) as f64;
            let arrival = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            offsets.push(arrival - frames / 48_000.0);
        }
        (bytes, offsets)
    });
    let quiet = deck.play(
        Item::new(
            Media::Tone {
                hz: 200.0,
                length: Duration::from_secs(120),
            },
            Priority::Normal,
        )
        .with_volume(0.05),
    );
    let marker = |at: SystemTime| {
        let mut item = Item::new(
            Media::Tone {
                hz: 2000.0,
                length: Duration::from_millis(300),
            },
            Priority::Emergency,
        );
        item.start_at = Some(at);
        deck.play(item);
    };
    let first_mark = SystemTime::now() + Duration::from_secs(2);
    marker(first_mark);
    std::thread::sleep(Duration::from_secs(3));
    let mut to_callback = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..30 {
        let _ = deck.events().try_iter().count();
        let called = Instant::now();
        calls.push(SystemTime::now());
        let id = deck.play(Item::new(
            Media::Tone {
                hz: 1000.0,
                length: Duration::from_millis(300),
            },
            Priority::Emergency,
        ));
        let started = loop {
            match deck.events().recv_timeout(Duration::from_secs(5)).unwrap() {
                DeckEvent::Started { item, at, .. } if item == id => break at,
                _ => {}
            }
        };
        // `Started` is when it is heard; its frame is counted from the
        // deck's heard epoch.
        let frame = loa_audio::format::duration_to_frames(
            started.duration_since(deck.heard_epoch()).unwrap(),
        );
        while deck.heard_frames() <= frame {
            std::thread::sleep(Duration::from_micros(200));
        }
        to_callback.push(called.elapsed().as_secs_f64() * 1000.0);
        // The next call at a random point of the card's period: a fixed
        // pause would land every call at the same one or two phases, and
        // the maximum would say nothing of the worst case.
        std::thread::sleep(Duration::from_millis(700 + fastrand::u64(0..100)));
    }
    let last_mark = SystemTime::now() + Duration::from_secs(2);
    marker(last_mark);
    std::thread::sleep(Duration::from_secs(3));
    deck.stop(quiet);
    let _ = parec.kill();
    let _ = parec.wait();
    let (bytes, offsets) = reader.join().unwrap();
    let sample0 = offsets.iter().copied().fold(f64::MAX, f64::min) * 1000.0;
    let spread = offsets.iter().copied().fold(f64::MIN, f64::max) * 1000.0 - sample0;
    let left: Vec<f32> = bytes
        .chunks_exact(8)
        .map(|f| f32::from_le_bytes([f[0], f[1], f[2], f[3]]))
        .collect();
    // Onsets: the first sample above the quiet tone after 100 ms below.
    let mut onsets = Vec::new();
    let mut below = usize::MAX;
    for (i, x) in left.iter().enumerate() {
        if x.abs() > 0.1 {
            if below >= 4_800 {
                onsets.push(i);
            }
            below = 0;
        } else {
            below = below.saturating_add(1);
        }
    }
    assert_eq!(
        onsets.len(),
        32,
        "two marks and 30 emergencies in the recording: {onsets:?}"
    );
    // The sink's clock, set by the first mark: a scheduled start is heard
    // on its instant (../shared/peers measures that to a fraction of a
    // millisecond); the recorder's own clock reads a few ms early.
    let epoch_ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0
    };
    let by_recorder = sample0 + onsets[0] as f64 / 48.0 - epoch_ms(first_mark);
    let at_ms = |i: usize| epoch_ms(first_mark) + (i as f64 - onsets[0] as f64) / 48.0;
    let mut to_speaker: Vec<f64> = calls
        .iter()
        .zip(&onsets[1..31])
        .map(|(c, &i)| at_ms(i) - epoch_ms(*c))
        .collect();
    let last = at_ms(onsets[31]) - epoch_ms(last_mark);
    println!(
        "preemption latency, call to first sample handed to the card: median {:.1} ms, max {:.1} ms (30 runs)",
        percentile(&mut to_callback, 0.5),
        percentile(&mut to_callback, 1.0)
    );
    println!(
        "preemption latency, call to first sample at the sink (recorded): median {:.1} ms, max {:.1} ms",
        percentile(&mut to_speaker, 0.5),
        percentile(&mut to_speaker, 1.0)
    );
    println!(
        "a scheduled start after the 30 cuts, against one before them: {last:+.1} ms (by the recorder's clock the one before was heard at {by_recorder:+.1} ms; its reads spread over {spread:.1} ms)"
    );
    deck.close();
    pulse(&pulse_dir, "stop");

    // Virtual clock: a playlist of the MP3 rendered to null as fast as possible.
    let mut v = VirtualDeck::open(
        &OutputSpec::Null,
        DeckConfig::default(),
        SystemTime::UNIX_EPOCH,
    )
    .unwrap();
    v.play(Item::new(Media::file(&mp3), Priority::Normal));
    let t0 = Instant::now();
    v.advance(Duration::from_secs(40));
    let speed = 40.0 / t0.elapsed().as_secs_f64();
    println!(
        "virtual clock: 40 s of MP3 rendered in {:.2} s ({speed:.0}x real time)",
        t0.elapsed().as_secs_f64()
    );
}
