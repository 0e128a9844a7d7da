//! The deck on a virtual clock through a `wav` output: what airs on which
//! sample, and what the airtime log is told.

mod common;

use std::time::Duration;

use common::*;
use loa_audio::{DeckConfig, DeckEvent, Ending, Item, Media, Order, Priority, SourceKind};

fn ended(events: &[DeckEvent]) -> Vec<(String, Ending, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            DeckEvent::Ended {
                piece,
                outcome,
                aired_frames,
                ..
            } => Some((piece.source.clone(), outcome.clone(), *aired_frames)),
            _ => None,
        })
        .collect()
}

fn item_end(events: &[DeckEvent], id: loa_audio::ItemId) -> (Ending, std::time::SystemTime) {
    events
        .iter()
        .find_map(|e| match e {
            DeckEvent::ItemEnded { item, outcome, at } if *item == id => {
                Some((outcome.clone(), *at))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no end for {id} in {events:#?}"))
}

#[test]
fn playlist_plays_gaplessly_and_logs_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    coded_wav(&a, 1, 48_000);
    coded_wav(&b, 2, 24_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let id = deck.play(Item::new(
        Media::Files {
            paths: vec![a.clone(), b.clone()],
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    assert!(deck.run_until_idle(Duration::from_secs(5)));
    deck.advance(Duration::from_millis(100));
    deck.flush();
    let frames = read_wav(&out);
    assert_run(&frames, 0, 48_000, 1, 0);
    // b follows on the very next sample.
    assert_run(&frames, 48_000, 24_000, 2, 0);
    assert!(
        frames[72_000..].iter().all(|f| *f == (0, 0)),
        "silence after"
    );

    let events = drain(&deck);
    assert_eq!(
        events[0],
        DeckEvent::Started {
            item: id,
            piece: loa_audio::Piece {
                kind: SourceKind::File,
                source: a.display().to_string()
            },
            at: at(0)
        }
    );
    assert_eq!(
        ended(&events),
        vec![
            (a.display().to_string(), Ending::Completed, 48_000),
            (b.display().to_string(), Ending::Completed, 24_000)
        ]
    );
    assert!(events.iter().any(|e| matches!(e,
        DeckEvent::Started { piece, at: t, .. } if piece.source == b.display().to_string() && *t == at(48_000))));
    assert_eq!(item_end(&events, id), (Ending::Completed, at(72_000)));
}

#[test]
fn joining_late_seeks_across_playlist_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    coded_wav(&a, 1, 48_000);
    coded_wav(&b, 2, 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    // 1.2 s into a 1 s + 1 s playlist: 0.2 s into b.
    let id = deck.play(
        Item::new(
            Media::Files {
                paths: vec![a.clone(), b.clone()],
                order: Order::Sequential,
            },
            Priority::Normal,
        )
        .from_offset(Duration::from_millis(1200)),
    );
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let frames = read_wav(&out);
    assert_run(&frames, 0, 38_400, 2, 9_600);
    let events = drain(&deck);
    // a was never aired: no row for it.
    assert_eq!(
        ended(&events),
        vec![(b.display().to_string(), Ending::Completed, 38_400)]
    );
    assert_eq!(item_end(&events, id).1, at(38_400));

    // Seeking inside one file lands on the exact sample too.
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(Media::file(&a), Priority::Normal).from_offset(Duration::from_millis(250)));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    assert_run(&read_wav(&out), 0, 36_000, 1, 12_000);
}

#[test]
fn higher_priority_preempts_and_the_file_resumes_where_it_paused() {
    let dir = tempfile::tempdir().unwrap();
    let news = dir.path().join("ban-tin.wav");
    coded_wav(&news, 1, 4 * 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let n = deck.play(Item::new(Media::file(&news), Priority::Normal));
    // An emergency tone of 1 s arrives at 1 s.
    let e = deck.play(
        Item::new(
            Media::Tone {
                hz: 1000.0,
                length: Duration::from_secs(1),
            },
            Priority::Emergency,
        )
        .starting_at(at(48_000)),
    );
    deck.run_until_idle(Duration::from_secs(10));
    deck.flush();
    let frames = read_wav(&out);
    assert_run(&frames, 0, 48_000, 1, 0);
    // The news faded out within 300 ms: from 1.3 s on only the tone sounds,
    // and the news resumes after the tone exactly where its fade ended.
    let resume_at = 96_000;
    let fade_in = 480;
    let paused_at = 48_000 + 12_000; // a 250 ms fade
    assert_run(
        &frames,
        resume_at + fade_in,
        192_000 - paused_at as usize - fade_in,
        1,
        paused_at + fade_in as u64,
    );
    assert!(paused_at - 48_000 <= 14_400);
    // The tone really aired in between.
    let tone_peak = frames[62_400..96_000]
        .iter()
        .map(|f| f.0.abs())
        .max()
        .unwrap();
    assert!(tone_peak > 16_000, "tone peak {tone_peak}");

    let events = drain(&deck);
    assert_eq!(item_end(&events, e), (Ending::Completed, at(96_000)));
    // One row for the news, kept open through the pause, completed, with
    // every sample that sounded (fade-out and fade-in included).
    assert_eq!(
        ended(&events),
        vec![
            ("1000 Hz".to_string(), Ending::Completed, 48_000),
            (news.display().to_string(), Ending::Completed, 192_000)
        ]
    );
    let end = 96_000 + (192_000 - paused_at);
    assert_eq!(item_end(&events, n), (Ending::Completed, at(end)));
}

#[test]
fn hard_end_fades_over_one_second_and_is_silent_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("nhac.wav");
    coded_wav(&music, 1, 4 * 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let id = deck.play(Item::new(Media::file(&music), Priority::Filler).ending_at(at(96_000)));
    deck.advance(Duration::from_secs(3));
    deck.flush();
    let frames = read_wav(&out);
    assert_run(&frames, 0, 48_000, 1, 0);
    // Mid-fade the level is about half; at the end it is nothing.
    let mid = frames[72_000].0 as f64 / (72_000 % 30_000) as f64;
    assert!((mid - 0.5).abs() < 0.01, "gain at mid-fade {mid}");
    assert!(frames[95_999].0.abs() <= 1, "{:?}", &frames[95_990..96_010]);
    assert!(
        frames[48_000..96_000].iter().all(|f| f.0 >= 0),
        "no overshoot below zero"
    );
    assert!(frames[96_000..].iter().all(|f| *f == (0, 0)));
    let events = drain(&deck);
    assert_eq!(
        ended(&events),
        vec![(music.display().to_string(), Ending::Cut, 96_000)]
    );
    assert_eq!(item_end(&events, id), (Ending::Cut, at(96_000)));
}

#[test]
fn loudness_brings_a_quiet_file_up_to_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&quiet, spec).unwrap();
    for i in 0..48_000 * 3 {
        let s = ((i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 1600.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let config = DeckConfig {
        loudness_target: Some(-16.0),
        cache_dir: Some(dir.path().join("cache")),
        ..Default::default()
    };
    let (mut deck, out) = wav_deck(dir.path(), config);
    deck.play(Item::new(Media::file(&quiet), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let measured = loa_audio::Loudness::new(None).measure(&out).unwrap();
    let lufs = measured.integrated_lufs.unwrap();
    assert!((lufs - -16.0).abs() < 0.5, "aired at {lufs} LUFS");
    // An item can opt out: same file, untouched.
    let (mut deck, out) = wav_deck(
        dir.path(),
        DeckConfig {
            loudness_target: Some(-16.0),
            ..Default::default()
        },
    );
    deck.play(Item::new(Media::file(&quiet), Priority::Normal).with_loudness(None));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let raw = loa_audio::Loudness::new(None).measure(&out).unwrap();
    assert!(raw.integrated_lufs.unwrap() < -25.0);
}

#[test]
fn broken_files_fail_their_item_and_the_deck_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    coded_wav(&good, 1, 24_000);
    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(
        &garbage,
        (0..20_000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // A WAV cut in half: its header promises 2 s, 1 s is there.
    let truncated = dir.path().join("truncated.wav");
    coded_wav(&truncated, 2, 96_000);
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..44 + 48_000 * 4]).unwrap();
    let missing = dir.path().join("missing.mp3");

    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let m = deck.play(Item::new(Media::file(&missing), Priority::Normal));
    let g = deck.play(Item::new(Media::file(&garbage), Priority::Normal));
    deck.advance(Duration::from_millis(10));
    let events = drain(&deck);
    match item_end(&events, m).0 {
        Ending::Failed(reason) => assert_eq!(reason, "no such file"),
        o => panic!("{o:?}"),
    }
    assert!(
        matches!(item_end(&events, g).0, Ending::Failed(r) if r.contains("not a playable audio file"))
    );

    let t = deck.play(Item::new(Media::file(&truncated), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(5));
    // A playlist with a missing file skips it and plays the rest.
    let p = deck.play(Item::new(
        Media::Files {
            paths: vec![missing.clone(), good.clone()],
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let events = drain(&deck);
    match item_end(&events, t).0 {
        Ending::Failed(reason) => assert!(reason.contains("truncated"), "{reason}"),
        o => panic!("{o:?}"),
    }
    let rows = ended(&events);
    assert!(
        matches!(&rows[0], (s, Ending::Failed(_), 48_000) if s.ends_with("truncated.wav")),
        "{rows:?}"
    );
    assert!(
        matches!(&rows[1], (s, Ending::Failed(r), 0) if s.ends_with("missing.mp3") && r == "no such file")
    );
    assert_eq!(
        rows[2],
        (good.display().to_string(), Ending::Completed, 24_000)
    );
    assert_eq!(item_end(&events, p).0, Ending::Completed);
    let frames = read_wav(&out);
    // The truncated file's second that exists aired in full, then the good file.
    assert_run(&frames, 480, 48_000, 2, 0);
    let start = find(&frames, 48_480, 1, 0).expect("the good file aired");
    assert_run(&frames, start, 24_000, 1, 0);
}

/// An AAC file that makes symphonia's AAC decoder panic (index out of
/// bounds in its section data; found by the probe_decode fuzz target,
/// audio/fuzz/README.md): its item fails with the file's path in the
/// warning and the reason in the airtime row, and the deck, its thread and
/// the next item go on.
#[test]
fn a_file_that_makes_the_decoder_panic_fails_its_item_and_the_deck_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("thong-bao-hong.aac");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/aac-ics-section-index-out-of-bounds"),
        &bad,
    )
    .unwrap();
    let good = dir.path().join("good.wav");
    coded_wav(&good, 1, 24_000);
    // The probe reads only headers and frame lengths: the file has a length
    // (it is planned like any other) and fails when it airs.
    assert!(loa_audio::media_length(&bad).is_ok());
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let b = deck.play(Item::new(Media::file(&bad), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(10));
    let g = deck.play(Item::new(Media::file(&good), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(10));
    deck.flush();
    let events = drain(&deck);
    match item_end(&events, b).0 {
        Ending::Failed(reason) => assert!(
            reason.contains("the decoder failed on it (index out of bounds"),
            "{reason}"
        ),
        o => panic!("{o:?}"),
    }
    assert_eq!(item_end(&events, g).0, Ending::Completed);
    let rows = ended(&events);
    assert!(
        matches!(&rows[0], (s, Ending::Failed(_), _) if s.ends_with("thong-bao-hong.aac")),
        "{rows:?}"
    );
    // What decoded before the panic aired; then the good file, whole.
    let frames = read_wav(&out);
    let start = find(&frames, rows[0].2 as usize, 1, 0).expect("the good file aired");
    assert_run(&frames, start, 24_000, 1, 0);
}

#[test]
fn stop_cuts_with_a_short_fade_and_unstarted_items_are_not_aired() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.wav");
    coded_wav(&f, 1, 96_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let a = deck.play(Item::new(Media::file(&f), Priority::Normal));
    let later = deck.play(Item::new(Media::file(&f), Priority::Normal).starting_at(at(200_000)));
    deck.advance(Duration::from_millis(500));
    deck.stop(a);
    deck.stop(later);
    deck.advance(Duration::from_millis(500));
    deck.flush();
    let events = drain(&deck);
    assert_eq!(item_end(&events, a), (Ending::Cut, at(24_000 + 12_000)));
    assert_eq!(item_end(&events, later).0, Ending::NotAired);
    assert_eq!(
        ended(&events),
        vec![(f.display().to_string(), Ending::Cut, 36_000)]
    );
    let frames = read_wav(&out);
    assert!(frames[36_000..].iter().all(|f| *f == (0, 0)));
}

#[test]
fn lower_item_waits_behind_a_higher_one_and_equal_newcomer_preempts() {
    let dir = tempfile::tempdir().unwrap();
    let hi = dir.path().join("hi.wav");
    let lo = dir.path().join("lo.wav");
    let eq = dir.path().join("eq.wav");
    coded_wav(&hi, 1, 48_000);
    coded_wav(&lo, 2, 48_000);
    coded_wav(&eq, 3, 24_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let h = deck.play(Item::new(Media::file(&hi), Priority::Priority));
    let l = deck.play(Item::new(Media::file(&lo), Priority::Filler));
    // An equal-priority item sent at 0.5 s takes over (the daemon sends one
    // only when its if_busy says preempt).
    let q = deck.play(Item::new(Media::file(&eq), Priority::Priority).starting_at(at(24_000)));
    deck.run_until_idle(Duration::from_secs(10));
    deck.flush();
    let frames = read_wav(&out);
    assert_run(&frames, 0, 24_000, 1, 0);
    let events = drain(&deck);
    assert_eq!(item_end(&events, q), (Ending::Completed, at(48_000)));
    // hi resumes after eq at 36_000 (its fade), then lo starts from 0 with no gap.
    let hi_end = 48_000 + 480 + (48_000 - 36_000 - 480);
    assert_run(
        &frames,
        48_000 + 480,
        48_000 - 36_000 - 480,
        1,
        36_000 + 480,
    );
    assert_eq!(item_end(&events, h), (Ending::Completed, at(hi_end as u64)));
    assert_run(&frames, hi_end, 48_000, 2, 0);
    assert_eq!(
        item_end(&events, l),
        (Ending::Completed, at(hi_end as u64 + 48_000))
    );
}

#[test]
fn tone_silence_chime_and_tts_air_with_their_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let config = DeckConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..Default::default()
    };
    let (mut deck, out) = wav_deck(dir.path(), config);
    let c = deck.play(Item::new(Media::Chime, Priority::Normal));
    deck.run_until_idle(Duration::from_secs(5));
    let s = deck.play(Item::new(
        Media::Silence(Duration::from_secs(1)),
        Priority::Normal,
    ));
    deck.run_until_idle(Duration::from_secs(5));
    let t = deck.play(Item::new(
        Media::Tts {
            text: "Kính thưa bà con".into(),
            voice: loa_core::Voice::default(),
        },
        Priority::Normal,
    ));
    deck.run_until_idle(Duration::from_secs(30));
    deck.flush();
    let events = drain(&deck);
    for id in [c, s, t] {
        assert_eq!(item_end(&events, id).0, Ending::Completed);
    }
    let kinds: Vec<SourceKind> = events
        .iter()
        .filter_map(|e| match e {
            DeckEvent::Ended { piece, .. } => Some(piece.kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![SourceKind::Chime, SourceKind::Silence, SourceKind::Tts]
    );
    let frames = read_wav(&out);
    let chime_peak = frames[..48_000].iter().map(|f| f.0.abs()).max().unwrap();
    assert!(
        (15_000..=16_500).contains(&chime_peak),
        "chime peak {chime_peak}"
    );
    let chime_end = ended(&events)[0].2 as usize;
    assert!(frames[chime_end..chime_end + 48_000]
        .iter()
        .all(|f| *f == (0, 0)));
    let speech = &frames[chime_end + 48_000..];
    assert!(speech.iter().any(|f| f.0.abs() > 3000), "speech is audible");
}

#[test]
fn newest_picks_the_latest_file_and_refuses_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("ban-tin-2026-11-23.wav");
    let new = dir.path().join("ban-tin-2026-11-24.wav");
    coded_wav(&new, 2, 4_800);
    coded_wav(&old, 1, 4_800);
    // Ages count on the deck's clock (virtual here), never the wall clock:
    // the newer file a minute old, the older a day. The older name is
    // written last; only modification times count.
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let modified = |p: &std::path::Path, ago: u64| {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(deck.now() - Duration::from_secs(ago))
            .unwrap();
    };
    modified(&new, 60);
    modified(&old, 86_400);
    let pattern = dir.path().join("ban-tin-*.wav");
    let n = deck.play(Item::new(
        Media::Newest {
            pattern: pattern.clone(),
            max_age: Some(Duration::from_secs(3600)),
        },
        Priority::Normal,
    ));
    deck.run_until_idle(Duration::from_secs(2));
    deck.flush();
    assert_run(&read_wav(&out), 0, 4_800, 2, 0);
    let events = drain(&deck);
    assert_eq!(item_end(&events, n).0, Ending::Completed);

    std::fs::remove_file(&new).unwrap();
    let stale = deck.play(Item::new(
        Media::Newest {
            pattern,
            max_age: Some(Duration::from_secs(3600)),
        },
        Priority::Normal,
    ));
    deck.advance(Duration::from_millis(10));
    let events = drain(&deck);
    match item_end(&events, stale).0 {
        Ending::Failed(reason) => assert!(reason.contains("max_age"), "{reason}"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn shuffled_playlist_plays_every_file_once_back_to_back() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (1..=5)
        .map(|k| {
            let p = dir.path().join(format!("song-{k}.wav"));
            coded_wav(&p, k, 4_800);
            p
        })
        .collect();
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(
        Media::Files {
            paths,
            order: Order::Shuffle,
        },
        Priority::Filler,
    ));
    deck.run_until_idle(Duration::from_secs(2));
    deck.flush();
    let frames = read_wav(&out);
    let mut tags: Vec<i16> = (0..5)
        .map(|k| {
            let (tag, pos) = decode(frames[k * 4_800]).expect("a file starts here");
            assert_eq!(pos, 0);
            assert_run(&frames, k * 4_800, 4_800, tag, 0);
            tag
        })
        .collect();
    tags.sort();
    assert_eq!(tags, vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_hard_end_moved_later_during_its_fade_brings_the_sound_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.wav");
    coded_wav(&f, 1, 4 * 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let id = deck.play(Item::new(Media::file(&f), Priority::Normal).ending_at(at(96_000)));
    deck.advance(Duration::from_millis(1500));
    // Mid-fade, the window is extended (a reload moved the program's end).
    deck.end_at(id, at(192_000));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let frames = read_wav(&out);
    // Full level again from 1.5 s + 10 ms until the new fade at 3 s.
    assert_run(&frames, 72_480, 144_000 - 72_480, 1, 72_480);
    let events = drain(&deck);
    assert_eq!(item_end(&events, id), (Ending::Cut, at(192_000)));
}

#[test]
fn joining_after_the_end_airs_nothing_and_disturbs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.wav");
    coded_wav(&f, 1, 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(Media::file(&f), Priority::Filler));
    deck.advance(Duration::from_millis(100));
    let late = deck
        .play(Item::new(Media::file(&f), Priority::Emergency).from_offset(Duration::from_secs(5)));
    deck.run_until_idle(Duration::from_secs(2));
    deck.flush();
    assert_run(&read_wav(&out), 0, 48_000, 1, 0);
    assert_eq!(item_end(&drain(&deck), late).0, Ending::NotAired);
}

#[test]
fn program_and_master_volume_scale_what_airs() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.wav");
    coded_wav(&f, 1, 96_000);
    let (mut deck, out) = wav_deck(
        dir.path(),
        DeckConfig {
            volume: 0.5,
            ..Default::default()
        },
    );
    deck.play(Item::new(Media::file(&f), Priority::Normal).with_volume(0.5));
    deck.advance(Duration::from_secs(1));
    // The operator turns the master up at 1 s: a short ramp, then full.
    deck.set_volume(1.0);
    deck.run_until_idle(Duration::from_secs(3));
    deck.flush();
    let frames = read_wav(&out);
    // 0.5 x 0.5 for the first second, 0.5 after.
    let ratio = |i: usize| frames[i].0 as f64 / (i % 30_000) as f64;
    assert!((ratio(20_000) - 0.25).abs() < 0.001, "{}", ratio(20_000));
    assert!((ratio(70_000) - 0.5).abs() < 0.001, "{}", ratio(70_000));
}

#[test]
fn a_follower_takes_its_items_place_on_the_sample_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let news = dir.path().join("ban-tin.wav");
    let first = dir.path().join("canh-bao-1.wav");
    let second = dir.path().join("canh-bao-2.wav");
    coded_wav(&news, 1, 4 * 48_000);
    coded_wav(&first, 2, 48_000);
    coded_wav(&second, 3, 48_000);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let n = deck.play(Item::new(Media::file(&news), Priority::Normal));
    // A higher program of two items from 1 s: the second is given at once,
    // to follow the first, as the scheduler does.
    let a = deck.play(Item::new(Media::file(&first), Priority::Emergency).starting_at(at(48_000)));
    let b = deck.play(Item::new(Media::file(&second), Priority::Emergency).following(a));
    deck.run_until_idle(Duration::from_secs(10));
    deck.flush();
    let frames = read_wav(&out);
    // Past the news's fade-out the first item airs alone; the second starts
    // on the very sample the first ends: the news paused beneath them does
    // not sound in between.
    assert_run(&frames, 62_400, 33_600, 2, 14_400);
    assert_run(&frames, 96_000, 48_000, 3, 0);
    let events = drain(&deck);
    assert_eq!(item_end(&events, a), (Ending::Completed, at(96_000)));
    assert_eq!(item_end(&events, b), (Ending::Completed, at(144_000)));
    let news_starts = events
        .iter()
        .filter(|e| matches!(e, DeckEvent::Started { item, .. } if *item == n))
        .count();
    assert_eq!(news_starts, 1, "the news started once: {events:#?}");
    // It resumes after the second item, and airs its whole length.
    assert_eq!(
        ended(&events)
            .into_iter()
            .find(|(s, ..)| *s == news.display().to_string()),
        Some((news.display().to_string(), Ending::Completed, 192_000))
    );

    // A follower given after its item left takes its place at once; one
    // whose item is stopped takes over from the stop.
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    let a = deck.play(Item::new(Media::file(&first), Priority::Normal));
    deck.advance(Duration::from_millis(1500));
    let b = deck.play(Item::new(Media::file(&second), Priority::Normal).following(a));
    let c = deck.play(Item::new(Media::file(&news), Priority::Normal).following(b));
    deck.advance(Duration::from_millis(500));
    deck.stop(b);
    assert!(deck.run_until_idle(Duration::from_secs(10)));
    deck.flush();
    let events = drain(&deck);
    assert_eq!(item_end(&events, a).0, Ending::Completed);
    assert_eq!(item_end(&events, b).0, Ending::Cut);
    assert_eq!(item_end(&events, c).0, Ending::Completed);
    let frames = read_wav(&out);
    assert_run(&frames, 0, 48_000, 2, 0);
    assert!(find(&frames, 48_000, 3, 0).is_some(), "b aired");
    // c airs whole, from its first sample, once b has faded out.
    let c_at = find(&frames, 96_000, 1, 0).expect("c aired after b's stop");
    assert_run(&frames, c_at, 4 * 48_000, 1, 0);
}
