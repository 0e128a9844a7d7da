//! `loa doctor` on the example station: one line per check, ok / warn /
//! fail with what to do; the broker line follows a real mosquitto coming
//! and going, a file the schedules name but the media lack is named, and a
//! relay source that refuses warns.

use std::path::Path;

use loa_e2e::{loa, stdout, Broker};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// The example station, airing into a WAV file, its broker at `url`.
fn station(url: &str) -> tempfile::TempDir {
    let dir = loa_e2e::example_station();
    let path = dir.path().join("station.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("main: \"device:default\""));
    assert!(yaml.contains("url: mqtt://127.0.0.1:1883"));
    let yaml = yaml
        .replace("main: \"device:default\"", "main: \"wav:out.wav\"")
        .replace("url: mqtt://127.0.0.1:1883", &format!("url: {url}"));
    std::fs::write(&path, yaml).unwrap();
    dir
}

fn doctor(dir: &Path) -> (Option<i32>, String) {
    let out = loa(BIN, &["doctor", "--config", dir.to_str().unwrap()]);
    (out.status.code(), stdout(&out))
}

fn line<'a>(text: &'a str, what: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.get(6..)
                .is_some_and(|rest| rest.starts_with(&format!("{what}:")))
        })
        .unwrap_or_else(|| panic!("no `{what}` line in:\n{text}"))
}

#[test]
fn broker_line_follows_the_broker_and_a_failure_exits_1() {
    let mut broker = Broker::start();
    let dir = station(&broker.url());
    let (code, text) = doctor(dir.path());
    assert!(line(&text, "configuration").starts_with("ok    "), "{text}");
    assert!(line(&text, "output main").starts_with("ok    "), "{text}");
    assert!(line(&text, "media").starts_with("ok    "), "{text}");
    let b = line(&text, "broker");
    assert!(b.starts_with("ok    broker: "), "{text}");
    assert!(b.contains(&broker.url()), "{b}");
    // Each relay source is fetched once; the example's point at a port that
    // refuses (no test reaches the internet): a warning, the fallback airs.
    let relay = line(&text, "relay vov1-sang item 1 source 2");
    assert!(
        relay.starts_with("warn  ") && relay.contains("unreachable: connection refused"),
        "{relay}"
    );
    assert!(
        relay.contains("the relay airs its other sources or its fallback"),
        "{relay}"
    );
    // The clock may or may not be synchronised here: it warns, never fails.
    assert!(!line(&text, "clock").starts_with("fail"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("fail")), "{text}");
    assert_eq!(code, Some(0), "{text}");
    // The WAV output was checked, not written.
    assert!(!dir.path().join("out.wav").exists());

    broker.stop();
    let (code, text) = doctor(dir.path());
    let b = line(&text, "broker");
    assert!(b.starts_with("fail  broker: "), "{text}");
    assert!(b.contains("unreachable"), "{b}");
    assert!(b.contains("start the broker"), "{b}");
    assert_eq!(code, Some(1), "{text}");
}

#[test]
fn a_missing_media_file_is_named() {
    let broker = Broker::start();
    let dir = station(&broker.url());
    // The example's morning session opens with the station's jingle.
    let rel = "ident/nhac-hieu.mp3";
    std::fs::remove_file(dir.path().join("media").join(rel)).unwrap();
    let (code, text) = doctor(dir.path());
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("warn  media: ") && l.contains(rel))
        .collect();
    assert_eq!(warned.len(), 1, "{rel} not named once in:\n{text}");
    assert!(warned[0].contains("is missing"), "{}", warned[0]);
    // A missing file is skipped at air time: a warning, not a failure.
    assert_eq!(code, Some(0), "{text}");
}
