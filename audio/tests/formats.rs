//! The file formats a station plays: lengths from their headers and what
//! airs when they play (resampled from 44.1 kHz, mono spread to stereo,
//! MP3 encoder delay trimmed).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use loa_audio::{media_length, DeckConfig, DeckEvent, Ending, Item, Media, Priority};

/// A 2 s 1 kHz sine at 44.1 kHz in `ext` (made with sox, MP3 with lame).
fn fixture(dir: &Path, ext: &str, channels: &str) -> PathBuf {
    let wav = dir.join(format!("src-{channels}.wav"));
    assert!(Command::new("sox")
        .args(["-n", "-r", "44100", "-c", channels, "-b", "16"])
        .arg(&wav)
        .args(["synth", "2", "sine", "1000", "vol", "0.5"])
        .status()
        .expect("sox (scripts/install-deps)")
        .success());
    let out = dir.join(format!("tone-{channels}.{ext}"));
    let ok = if ext == "mp3" {
        Command::new("lame")
            .args(["--quiet", "-b", "128"])
            .arg(&wav)
            .arg(&out)
            .status()
    } else {
        Command::new("sox").arg(&wav).arg(&out).status()
    };
    assert!(ok.unwrap().success(), "encoding {ext}");
    out
}

#[test]
fn lengths_come_from_headers_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, ch) in [("mp3", "2"), ("ogg", "2"), ("flac", "1"), ("wav", "1")] {
        let f = fixture(dir.path(), ext, ch);
        let len = media_length(&f).unwrap();
        let err = (len.as_secs_f64() - 2.0).abs();
        assert!(err < 0.03, "{ext}: {len:?}");
    }
}

#[test]
fn every_format_airs_at_48k_stereo_with_its_full_length() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, ch) in [("mp3", "2"), ("ogg", "2"), ("flac", "1")] {
        let f = fixture(dir.path(), ext, ch);
        let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
        let id = deck.play(Item::new(Media::file(&f), Priority::Normal));
        deck.run_until_idle(Duration::from_secs(5));
        deck.flush();
        let events: Vec<DeckEvent> = deck.events().try_iter().collect();
        let aired = events
            .iter()
            .find_map(|e| match e {
                DeckEvent::Ended {
                    outcome: Ending::Completed,
                    aired_frames,
                    ..
                } => Some(*aired_frames),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{ext}: {events:?}"));
        assert!(
            (aired as i64 - 96_000).abs() < 1_500,
            "{ext}: aired {aired} frames"
        );
        assert!(events.iter().any(|e| matches!(e, DeckEvent::ItemEnded { item, outcome: Ending::Completed, .. } if *item == id)));
        let frames = read_wav(&out);
        // 1 kHz at 48 kHz: 2,000 zero crossings a second, both channels alike.
        let mid = &frames[24_000..72_000];
        let crossings = mid
            .windows(2)
            .filter(|p| (p[0].0 < 0) != (p[1].0 < 0))
            .count();
        assert!(
            (1_990..=2_010).contains(&crossings),
            "{ext}: {crossings} crossings"
        );
        // Lossless mono spreads exactly to both channels; lossy stays close.
        let tolerance = if ext == "flac" { 0 } else { 800 };
        let worst = mid
            .iter()
            .map(|f| (f.0 as i32 - f.1 as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= tolerance, "{ext}: channels differ by {worst}");
        let peak = mid.iter().map(|f| f.0.abs()).max().unwrap();
        assert!((15_500..=17_000).contains(&peak), "{ext}: peak {peak}");
    }
}

/// Where `source[at..at + 480]` best matches `out` within 200 frames of
/// `at` (cross-correlation on the left channel), as an offset.
fn alignment(source: &[(i16, i16)], out: &[(i16, i16)], at: usize) -> i64 {
    let seg = &source[at..at + 480];
    (-200i64..=200)
        .filter(|d| at as i64 + d >= 0 && at as i64 + d + 480 <= out.len() as i64)
        .max_by_key(|d| {
            let o = &out[(at as i64 + d) as usize..];
            seg.iter()
                .zip(o)
                .map(|(a, b)| a.0 as i64 * b.0 as i64)
                .sum::<i64>()
        })
        .unwrap()
}

#[test]
fn a_lame_mp3_decodes_aligned_with_its_source() {
    // White noise, so that an alignment is unambiguous (a tone repeats
    // every period), the same each run (-R); 48 kHz, so that no resampler
    // stands between.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("noise.wav");
    let mp3 = dir.path().join("noise.mp3");
    assert!(Command::new("sox")
        .args(["-R", "-n", "-r", "48000", "-c", "2", "-b", "16"])
        .arg(&wav)
        .args(["synth", "2", "whitenoise", "vol", "0.3"])
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
    let source = read_wav(&wav);
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(Media::file(&mp3), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let events: Vec<DeckEvent> = deck.events().try_iter().collect();
    let aired = events
        .iter()
        .find_map(|e| match e {
            DeckEvent::Ended { aired_frames, .. } => Some(*aired_frames),
            _ => None,
        })
        .unwrap();
    let out = read_wav(&out);
    // Every sample where the source has it, none cut at the head (the
    // decoder's own delay trimmed exactly, as mpg123 and ffmpeg do), and
    // the file's length to the frame.
    for at in [0, 2_400, 48_000, 95_000] {
        assert_eq!(alignment(&source, &out, at), 0, "source frame {at}");
    }
    assert_eq!(aired, source.len() as u64, "aired frames");
}

#[test]
fn aac_in_m4a_has_its_length_and_airs() {
    let m4a = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tone-1s.m4a");
    let len = media_length(&m4a).unwrap();
    assert!((len.as_secs_f64() - 1.0).abs() < 0.05, "{len:?}");
    let dir = tempfile::tempdir().unwrap();
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(Media::file(&m4a), Priority::Normal));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let frames = read_wav(&out);
    let mid = &frames[9_600..38_400];
    let crossings = mid
        .windows(2)
        .filter(|p| (p[0].0 < 0) != (p[1].0 < 0))
        .count();
    assert!(
        (1_190..=1_210).contains(&crossings),
        "{crossings} crossings in 0.6 s"
    );
    let peak = mid.iter().map(|f| f.0.abs()).max().unwrap();
    assert!(peak > 12_000, "peak {peak}");
}

#[test]
fn mp3_without_a_header_frame_count_still_has_a_length() {
    let dir = tempfile::tempdir().unwrap();
    let wav = fixture(dir.path(), "wav", "2");
    let mp3 = dir.path().join("raw.mp3");
    // -t: no Xing/Info frame, as many stream rips and old encoders write.
    assert!(Command::new("lame")
        .args(["--quiet", "-t", "-b", "128"])
        .arg(&wav)
        .arg(&mp3)
        .status()
        .unwrap()
        .success());
    let len = media_length(&mp3).unwrap();
    // Without the header, encoder delay and padding count (< 0.1 s).
    assert!((2.0..2.1).contains(&len.as_secs_f64()), "{len:?}");
}

#[test]
fn an_mp3_album_split_in_two_plays_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.wav");
    assert!(Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "2", "-b", "16"])
        .arg(&whole)
        .args(["synth", "2", "sine", "500", "vol", "0.5"])
        .status()
        .unwrap()
        .success());
    let mut parts: Vec<PathBuf> = Vec::new();
    for (i, (start, len)) in [("0", "1"), ("1", "1")].iter().enumerate() {
        let wav = dir.path().join(format!("part{i}.wav"));
        assert!(Command::new("sox")
            .arg(&whole)
            .arg(&wav)
            .args(["trim", start, len])
            .status()
            .unwrap()
            .success());
        let mp3 = dir.path().join(format!("part{i}.mp3"));
        assert!(Command::new("lame")
            .args(["--quiet", "-b", "192"])
            .arg(&wav)
            .arg(&mp3)
            .status()
            .unwrap()
            .success());
        parts.push(mp3);
    }
    let (mut deck, out) = wav_deck(dir.path(), DeckConfig::default());
    deck.play(Item::new(
        Media::Files {
            paths: parts,
            order: loa_audio::Order::Sequential,
        },
        Priority::Normal,
    ));
    deck.run_until_idle(Duration::from_secs(5));
    deck.flush();
    let frames = read_wav(&out);
    let sounding = frames.iter().rposition(|f| f.0 != 0).unwrap() as f64 / 48_000.0;
    assert!((sounding - 2.0).abs() < 0.02, "{sounding} s aired");
    // Every millisecond from 10 ms to 1.95 s carries the sine: the encoder
    // delay and padding at the junction were trimmed, not aired as silence.
    for ms in 10..1_950 {
        let w = &frames[ms * 48..(ms + 1) * 48];
        let peak = w.iter().map(|f| f.0.unsigned_abs()).max().unwrap();
        assert!(peak > 8_000, "a dip at {ms} ms (peak {peak})");
    }
}
