//! `loa say`: a notice read as the station reads it, shown first with
//! `--show`, in the voice and at the rate asked, and a voice the engine
//! lacks refused with those it has.

use loa_e2e::{example_station, loa, stderr, stdout};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// Seconds of audio in a WAV `loa say --out` wrote.
fn seconds(path: &std::path::Path) -> f64 {
    let r = hound::WavReader::open(path).expect("a readable WAV");
    let spec = r.spec();
    r.duration() as f64 / spec.sample_rate as f64
}

#[test]
fn a_notice_is_shown_then_read_in_the_voice_and_at_the_rate_asked() {
    let station = example_station();
    let config = station.path().to_str().unwrap();
    let text = "UBND xã thông báo: họp lúc 7h30 ngày 20/3 tại nhà văn hóa thôn 2.";
    let wav = station.path().join("say.wav");
    let out = loa(
        BIN,
        &[
            "say",
            "--config",
            config,
            "--show",
            "--out",
            wav.to_str().unwrap(),
            text,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().next(),
        Some("Ủy ban nhân dân xã thông báo: họp lúc bảy giờ ba mươi phút ngày hai mươi tháng ba tại nhà văn hóa thôn hai.")
    );
    let normal = seconds(&wav);
    assert!(normal > 3.0, "{normal} s of speech");

    let slow = station.path().join("slow.wav");
    let out = loa(
        BIN,
        &[
            "say",
            "--config",
            config,
            "--voice",
            "vi-vn-x-south",
            "--rate",
            "100",
            "--out",
            slow.to_str().unwrap(),
            text,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let slower = seconds(&slow);
    assert!(
        slower > normal * 1.2,
        "at 100 words a minute {slower} s, at 150 {normal} s"
    );
}

#[test]
fn a_voice_the_engine_lacks_is_refused_with_those_it_has() {
    let station = example_station();
    let wav = station.path().join("say.wav");
    let out = loa(
        BIN,
        &[
            "say",
            "--config",
            station.path().to_str().unwrap(),
            "--voice",
            "vi-vn-x-sout",
            "--out",
            wav.to_str().unwrap(),
            "Kính thưa bà con",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "loa say: espeak-ng has no voice `vi-vn-x-sout`; did you mean `vi-vn-x-south`? (it has vi, vi-vn-x-central, vi-vn-x-south)"
    );
    assert!(!wav.exists(), "nothing was read");
}
