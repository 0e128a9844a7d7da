//! A deck at real-time pace on a `wav` output (SPEC 7a): the file grows at
//! 48 kHz, is readable while it is written, says when sample 0 aired, and
//! items are normalised with loudness measured off the audio thread.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, Media, Order, OutputSpec, Priority};

#[test]
fn wav_output_runs_in_real_time_and_normalises_every_playlist_file() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.wav");
    let loud = dir.path().join("loud.wav");
    sine_wav(&quiet, 440.0, 1_000.0, 48_000);
    sine_wav(&loud, 440.0, 20_000.0, 48_000);
    let out = dir.path().join("air.wav");
    let before = SystemTime::now();
    let deck = Deck::open(
        &OutputSpec::Wav(out.clone()),
        DeckConfig {
            loudness_target: Some(-20.0),
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    let opened = Instant::now();
    let id = deck.play(Item::new(
        Media::Files {
            paths: vec![quiet.clone(), loud.clone()],
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    // Sample 0's wall time is beside the file.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("air.wav.json")).unwrap())
            .unwrap();
    assert_eq!(meta["rate"], 48_000);
    assert_eq!(meta["channels"], 2);
    let started =
        chrono::DateTime::parse_from_rfc3339(meta["started_at"].as_str().unwrap()).unwrap();
    let started: SystemTime = started.into();
    assert!(started.duration_since(before).unwrap_or_default() < Duration::from_millis(100));

    // While airing, the file is readable and about as long as the time gone by.
    std::thread::sleep(Duration::from_millis(1500));
    let partial = read_wav(&out).len() as f64 / 48_000.0;
    let elapsed = opened.elapsed().as_secs_f64();
    assert!(
        partial >= 0.9 && partial <= elapsed + 0.05,
        "{partial} s written after {elapsed} s"
    );

    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match deck.events().recv_timeout(Duration::from_millis(100)) {
            Ok(DeckEvent::ItemEnded { item, .. }) if item == id => break,
            _ if Instant::now() > until => panic!("playlist did not end"),
            _ => {}
        }
    }
    deck.close();
    let frames = read_wav(&out);
    assert!(
        frames.len() as f64 / 48_000.0 <= opened.elapsed().as_secs_f64() + 0.05,
        "not faster than real time"
    );
    // Both files air at the same loudness although 26 dB apart on disk.
    let first = frames.iter().position(|f| f.0 != 0).unwrap();
    let level = |range: std::ops::Range<usize>| {
        frames[range].iter().map(|f| f.0.abs()).max().unwrap() as f64
    };
    let a = level(first + 4_800..first + 43_200);
    let b = level(first + 52_800..first + 91_200);
    let db = 20.0 * (a / b).log10();
    assert!(db.abs() < 0.5, "the two files differ by {db:.2} dB on air");
}
