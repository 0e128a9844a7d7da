//! A deck at real-time pace on a `wav` output (SPEC 7a): the file grows at
//! 48 kHz, is readable while it is written, says when sample 0 aired, and
//! items are normalised with loudness measured off the audio thread.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, Media, Order, OutputSpec, Priority};

/// The deck renders blocks of 5 ms (240 frames), and the output writes a
/// block before it waits for that block's time: it may hold two blocks
/// more than the time gone by.
const AHEAD: u64 = 2 * 240;

/// Asserts a real-time output holds no more frames than the time since
/// `opening` (taken before the deck opened) allows.
fn assert_not_ahead_of_the_clock(frames: usize, opening: Instant) {
    let due = opening.elapsed().as_micros() as u64 * RATE / 1_000_000 + AHEAD;
    assert!(
        frames as u64 <= due,
        "{frames} frames written when {due} at most were due: faster than real time"
    );
}

#[test]
fn wav_output_runs_in_real_time_and_normalises_every_playlist_file() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.wav");
    let loud = dir.path().join("loud.wav");
    sine_wav(&quiet, 440.0, 1_000.0, 48_000);
    sine_wav(&loud, 440.0, 20_000.0, 48_000);
    let out = dir.path().join("air.wav");
    let before = SystemTime::now();
    let opening = Instant::now();
    let deck = Deck::open(
        &OutputSpec::Wav(out.clone()),
        DeckConfig {
            loudness_target: Some(-20.0),
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    let opened = SystemTime::now();
    let id = deck.play(Item::new(
        Media::Files {
            paths: vec![quiet.clone(), loud.clone()],
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    // Sample 0's wall time is beside the file, stamped while the deck
    // opened (to the millisecond, as the file writes it).
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("air.wav.json")).unwrap())
            .unwrap();
    assert_eq!(meta["rate"], 48_000);
    assert_eq!(meta["channels"], 2);
    let started =
        chrono::DateTime::parse_from_rfc3339(meta["started_at"].as_str().unwrap()).unwrap();
    let ms = |t: SystemTime| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis();
    assert!(
        (ms(before)..=ms(opened)).contains(&started.timestamp_millis()),
        "sample 0 stamped {started}, the deck opened between {} and {}",
        ms(before),
        ms(opened)
    );

    // While airing, the file is readable (its header is rewritten every
    // second) and never ahead of the clock: the output waits for each
    // block's time. A busy machine only makes it shorter, never longer.
    let deadline = Instant::now() + patience(Duration::from_secs(2));
    let partial = loop {
        let frames = read_wav(&out).len();
        if frames >= 48_000 {
            break frames;
        }
        assert!(
            Instant::now() < deadline,
            "the WAV stayed at {frames} frames"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_not_ahead_of_the_clock(partial, opening);

    wait_for(
        &deck,
        "the playlist's end",
        Duration::from_secs(3),
        |e| matches!(e, DeckEvent::ItemEnded { item, .. } if *item == id),
    );
    deck.close();
    let frames = read_wav(&out);
    assert_not_ahead_of_the_clock(frames.len(), opening);
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
